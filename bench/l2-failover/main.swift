// Layer 2 failover benchmark, from the client's point of view: KubeSim, the controller and two
// `ironlb speaker` processes in node namespaces on a bridge (TestSupport's InteropLab), a client
// that has resolved the Service's VIP, and `ip -ts monitor neigh` in the client. One run: the
// VIP's owner gets SIGTERM (or SIGKILL); the figure is the time from the signal to the kernel
// event that points the client's neighbour entry at the survivor's MAC. The client sends nothing
// meanwhile: only the takeover announcement can move the entry. The killed speaker is then
// restarted and the next run waits until it answers again.
//
// Physical reference, measured in the same run, interleaved with the SIGTERM runs: an address the
// kernel answers for is moved from one namespace to another (ip addr del, ip addr add, one
// gratuitous ARP with `arping -U -S`), timed the same way. It is the floor for a planned move on this
// machine (three short processes and one frame). SIGKILL has no such reference: the kernel has no
// failure detector; its figure is compared with the window the Lease timings predict.
//
// With probes (the default install, issue 12) it also measures: the owner frozen (SIGSTOP) and the
// owner's link cut (its veth down), timed the same way; a speaker restarted (SIGTERM, started again)
// while the client ARPs every VIP every 100 ms (`arping -D -W 0.1`: the longest run of unanswered
// requests per VIP); and a fresh start of every speaker with the Services allocated (the first
// answer per VIP after the speakers start).
//
// Usage (root): swift build -c release --product ironlb
//               swift build -c release --product bench-l2-failover
//               .build/release/bench-l2-failover [RUNS=5] [PROFILE=default|fast|large] [PROBES=on|off]
// It runs the `ironlb` built beside it (the release binary as shipped) and says which build it is.
import Foundation
import TestSupport

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func fail(_ message: String, _ lab: InteropLab? = nil) -> Never {
    print("bench-l2-failover: \(message)")
    lab?.dumpLogs()
    lab?.tearDown()
    exit(1)
}

guard geteuid() == 0, let ironlb = BuiltProducts.executable("ironlb") else {
    print("bench-l2-failover needs root and the ironlb executable built beside it (swift build --product ironlb)")
    exit(2)
}
for tool in ["arping", "ip", "bash"] where Shell.which(tool) == nil { print("bench-l2-failover needs \(tool)"); exit(2) }
let arguments = Array(CommandLine.arguments.dropFirst())
let runs = max(1, Int(arguments.first ?? "") ?? 5)
let profile = arguments.dropFirst().first ?? "default"
let probes = (arguments.dropFirst(2).first ?? "on") != "off"
// (renew interval, renew deadline, lease duration) in seconds; the hand-off delay is the deadline
// plus one second (SpeakerCommand). The profiles of docs/design/layer2-leases.md.
let profiles: [String: (renew: Double, deadline: Double, lease: Double)] = [
    "fast": (2, 5, 8), "default": (5, 11, 15), "large": (10, 21, 26),
]
guard let timings = profiles[profile] else { print("unknown profile \(profile): fast, default or large"); exit(2) }
let timingArguments = ["--retry-period", "\(Int(timings.renew))s", "--renew-deadline", "\(Int(timings.deadline))s", "--lease-duration", "\(Int(timings.lease))s"]
let config = """
address-pools:
- {name: lan, protocol: layer2, addresses: [192.0.2.200-192.0.2.209]}
"""
let nodeAddresses = ["node1": "192.0.2.11", "node2": "192.0.2.12"]
let referenceIP = "192.0.2.150"

let lab = try InteropLab(ironlb: ironlb)
for (name, address) in nodeAddresses.sorted(by: { $0.key < $1.key }) { try lab.addNode(name, address: address) }
try lab.addNode("client", address: "192.0.2.50")
try lab.addNode("ref1", address: "192.0.2.21")
try lab.addNode("ref2", address: "192.0.2.22")
let client = lab.nodes["client"]!
func mac(_ node: String) -> String {
    ((try? lab.nodes[node]!.check(["cat", "/sys/class/net/eth0/address"])) ?? "").trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
}
let macs = Dictionary(uniqueKeysWithValues: ["node1", "node2", "ref1", "ref2"].map { ($0, mac($0)) })

try await lab.startControlPlane(config: config, nodes: ["node1", "node2"])
if probes { try await lab.enableProbes(nodeAddresses: nodeAddresses) }
for (name, address) in nodeAddresses { try lab.startSpeaker(name, address: address, arguments: timingArguments) }
// "bench" is the Service the failover runs time; the others give the restart and start-up runs
// VIPs on both nodes.
let serviceNames = ["bench", "bench-2", "bench-3", "bench-4"]
for name in serviceNames {
    _ = try lab.api("POST", "/api/v1/namespaces/default/services",
                    InteropLab.json(["metadata": ["name": name], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]]))
    _ = try lab.addEndpoints(name, nodes: ["node1"])   // a pod runs: IronLB announces only Services with endpoints
}
guard await poll(timeout: 60, { serviceNames.allSatisfy { lab.ingressIP($0) != nil } }), let vip = lab.ingressIP("bench") else { fail("no IP for the Services", lab) }
let vips = serviceNames.compactMap { lab.ingressIP($0) }

/// The distinct MACs answering `arping` from the client.
func arping(_ ip: String) -> Set<String> {
    guard let output = try? client.run(["arping", "-c", "1", "-w", "2", "-i", "eth0", ip], timeout: 10) else { return [] }
    return Set(output.stdout.split(separator: "\n").compactMap { line -> String? in
        guard line.contains("bytes from ") else { return nil }
        return line.split(separator: " ").dropFirst(3).first.map { $0.lowercased() }
    })
}

/// The client's neighbour entry for `ip`: its MAC, or nil.
func neighbour(_ ip: String) -> String? {
    guard let line = try? client.check(["ip", "neigh", "show", ip, "dev", "eth0"]) else { return nil }
    let fields = line.split(separator: " ")
    guard let index = fields.firstIndex(of: "lladdr"), index + 1 < fields.count else { return nil }
    return fields[index + 1].lowercased()
}

/// Makes the client's kernel resolve `ip` (a datagram to the discard port) until its entry is `mac`.
func resolve(_ ip: String, to mac: String) async -> Bool {
    await poll(timeout: 10, interval: 0.2) {
        _ = try? client.run(["bash", "-c", "echo probe > /dev/udp/\(ip)/9"], timeout: 5)
        return neighbour(ip) == mac
    }
}

// The client's neighbour events, with the kernel's timestamps (wall clock, local time).
let monitor = try ManagedProcess(["ip", "-ts", "monitor", "neigh"], namespace: client, logDirectory: lab.directory)
lab.processes["monitor"] = monitor
let stamp = DateFormatter()
stamp.locale = Locale(identifier: "en_US_POSIX")
stamp.timeZone = TimeZone.current
stamp.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"

/// The time of the first neighbour event after `start` that points `ip` at `mac`.
func moved(_ ip: String, to mac: String, after start: Date, timeout: Double) async -> Date? {
    var found: Date?
    _ = await poll(timeout: timeout, interval: 0.02) {
        for line in monitor.stdout.split(separator: "\n") where line.contains("] \(ip) dev eth0 lladdr \(mac) ") {
            // "[2026-11-23T19:27:09.129953] 192.0.2.200 dev eth0 lladdr 02:.. STALE"
            guard line.hasPrefix("["), let close = line.firstIndex(of: "]") else { continue }
            let text = line[line.index(after: line.startIndex)..<close]
            let parts = text.split(separator: ".")
            guard parts.count == 2, let whole = stamp.date(from: String(parts[0])), let micros = Double(parts[1]) else { continue }
            let at = whole.addingTimeInterval(micros / 1e6)
            if at >= start { found = at; return true }
        }
        return false
    }
    return found
}

/// Waits until both speakers run and exactly one answers; returns (owner, survivor).
func steady() async -> (String, String) {
    var answers: Set<String> = []
    let settled = await poll(timeout: timings.deadline + 60, interval: 0.5) {
        answers = arping(vip)
        return answers.count == 1
    }
    guard settled, let owner = macs.first(where: { answers.contains($0.value) })?.key, owner.hasPrefix("node") else {
        fail("the VIP \(vip) is not answered by exactly one node: \(answers)", lab)
    }
    return (owner, owner == "node1" ? "node2" : "node1")
}

/// Restarts `node`'s speaker and waits until it may answer again (its Lease held past the hand-off
/// delay, or its claim granted), and for the hand-back announcement to settle.
func restart(_ node: String) async {
    try? lab.startSpeaker(node, address: nodeAddresses[node]!, arguments: timingArguments)
    answeringMarks.counts[node] = 1
    await waitAnswering(node)
}

func waitAnswering(_ node: String) async {
    let process = lab.processes[node]!
    guard await poll(timeout: timings.deadline + 60, interval: 0.2, { process.stderr.components(separatedBy: "this node may answer").count > answeringMarks.counts[node, default: 0] }) else {
        fail("\(node)'s speaker did not come back", lab)
    }
    answeringMarks.counts[node] = process.stderr.components(separatedBy: "this node may answer").count
    try? await Task.sleep(for: .seconds(1))
}
/// Per node, how many "may answer" lines its log had when last seen (a new one means it answers again).
final class Marks: @unchecked Sendable { var counts: [String: Int] = [:] }
let answeringMarks = Marks()

/// One kernel reference run: move `referenceIP` from ref1 to ref2 (or back) and announce it.
/// Returns the time from the start of the move, and from the start of `arping` alone.
func referenceRun(_ round: Int) async -> (move: Double, announcement: Double) {
    let (from, to) = round % 2 == 0 ? ("ref1", "ref2") : ("ref2", "ref1")
    guard await resolve(referenceIP, to: macs[from]!) else { fail("the client did not resolve \(referenceIP) to \(from)", lab) }
    try? await Task.sleep(for: .seconds(1.5))  // past the entry's ARP locktime (1 s)
    let start = Date()
    _ = try? lab.nodes[from]!.check(["ip", "addr", "del", "\(referenceIP)/32", "dev", "eth0"])
    _ = try? lab.nodes[to]!.check(["ip", "addr", "add", "\(referenceIP)/32", "dev", "eth0"])
    let announced = Date()
    _ = try? lab.nodes[to]!.run(["arping", "-U", "-S", referenceIP, "-c", "1", "-i", "eth0", referenceIP], timeout: 10)
    guard let at = await moved(referenceIP, to: macs[to]!, after: start, timeout: 10) else { fail("reference: the entry did not move", lab) }
    return (at.timeIntervalSince(start), at.timeIntervalSince(announced))
}

func logTime(_ process: ManagedProcess?, _ text: String, after: Date) -> Date? { process?.logTime(text, after: after) }
/// Per SIGTERM run: signal -> owner stops, owner stops -> survivor takes over, takeover -> client event.
final class TermProfile: @unchecked Sendable { var runs: [(stop: Double, takeover: Double, announce: Double)] = [] }
let termProfile = TermProfile()

enum Fault { case signal(Int32), linkDown }

func name(_ fault: Fault) -> String {
    switch fault {
    case .signal(SIGTERM): return "SIGTERM"
    case .signal(SIGKILL): return "SIGKILL"
    case .signal(SIGSTOP): return "SIGSTOP"
    case .signal(let other): return "signal \(other)"
    case .linkDown: return "veth down"
    }
}

/// One IronLB run: hit the owner, time the move, bring the owner back.
func ironlbRun(_ fault: Fault) async -> Double {
    let (owner, survivor) = await steady()
    guard await resolve(vip, to: macs[owner]!) else { fail("the client did not resolve \(vip) to \(owner)", lab) }
    // Past the entry's ARP locktime (1 s); a crash lands anywhere in the renew period.
    let spread: Double
    if case .signal(SIGTERM) = fault { spread = 0 } else { spread = Double.random(in: 0..<timings.renew) }
    try? await Task.sleep(for: .seconds(1.5 + spread))
    answeringMarks.counts[owner] = lab.processes[owner]!.stderr.components(separatedBy: "this node may answer").count
    let start = Date()
    switch fault {
    case .signal(let signal): lab.processes[owner]!.signal(signal)
    case .linkDown: _ = try? lab.lan.check(["ip", "link", "set", "p-\(owner)", "down"])
    }
    guard let at = await moved(vip, to: macs[survivor]!, after: start, timeout: timings.lease + 30) else {
        fail("after \(name(fault)) of \(owner) the client's entry did not move to \(survivor)", lab)
    }
    // Where a planned failover's time goes, from the speakers' own logs (ms resolution): the
    // signal to the owner's "stops answering" (signal handling, the ServiceGroup's shutdown
    // order), to the survivor's "nodeAssigned" (the release write, the API server, the watch
    // event, the survivor's decision), to the client's neighbour event (the gratuitous ARP).
    if case .signal(SIGTERM) = fault, let stopped = logTime(lab.processes[owner], "this node stops answering", after: start),
       let taken = logTime(lab.processes[survivor], "nodeAssigned", after: start) {
        termProfile.runs.append((stopped.timeIntervalSince(start), taken.timeIntervalSince(stopped), at.timeIntervalSince(taken)))
    }
    switch fault {
    case .signal(SIGSTOP):
        lab.processes[owner]!.signal(SIGCONT)
        await waitAnswering(owner)
    case .linkDown:
        _ = try? lab.lan.check(["ip", "link", "set", "p-\(owner)", "up"])
        await waitAnswering(owner)
    case .signal:
        _ = await lab.processes[owner]!.exited(timeout: 30)
        await restart(owner)
    }
    return at.timeIntervalSince(start)
}

/// `arping -D` from the client at every VIP, one request each 100 ms, `count` requests.
func arpingAll(count: Int) throws -> [String: ManagedProcess] {
    var probes: [String: ManagedProcess] = [:]
    for ip in vips {
        probes[ip] = try ManagedProcess(["arping", "-D", "-W", "0.1", "-c", "\(count)", "-i", "eth0", ip], namespace: client, logDirectory: lab.directory)
    }
    return probes
}

/// Per VIP, the "!" (answered) and "." (unanswered) marks `arping -D` printed.
func marks(_ probes: [String: ManagedProcess], timeout: Double) -> [String: [Character]] {
    probes.mapValues { process in
        _ = process.waitForExit(timeout: timeout)
        return process.stdout.filter { $0 == "!" || $0 == "." }.map { $0 }
    }
}

/// Restart runs: node1's speaker gets SIGTERM and is started again at once, while the client
/// ARPs every VIP; the longest run of unanswered requests per VIP, in seconds.
func restartRun(_ node: String) async throws -> Double {
    _ = await steady()
    let probes = try arpingAll(count: 150)
    try? await Task.sleep(for: .seconds(2))
    _ = lab.processes[node]!.stop(signal: SIGTERM, timeout: 30)
    try lab.startSpeaker(node, address: nodeAddresses[node]!, arguments: timingArguments)
    answeringMarks.counts[node] = 1
    await waitAnswering(node)
    try? await Task.sleep(for: .seconds(2))
    var longest = 0
    for (ip, seen) in marks(probes, timeout: 30) {
        var run = 0
        for mark in seen {
            run = mark == "." ? run + 1 : 0
            longest = max(longest, run)
        }
        if !seen.contains("!") { fail("\(ip) was never answered during the restart", lab) }
    }
    return Double(longest) * 0.1
}

/// Start-up runs: every speaker stopped (SIGTERM), then all started together while the client
/// ARPs every VIP; the time until the last VIP's first answer.
func freshStartRun() async throws -> Double {
    _ = await steady()
    for node in nodeAddresses.keys.sorted() { _ = lab.processes[node]!.stop(signal: SIGTERM, timeout: 30) }
    try? await Task.sleep(for: .seconds(1))
    let probes = try arpingAll(count: 300)
    try? await Task.sleep(for: .seconds(0.5))
    let before = probes.mapValues { $0.stdout.filter { $0 == "!" || $0 == "." }.count }
    for (node, address) in nodeAddresses.sorted(by: { $0.key < $1.key }) { try lab.startSpeaker(node, address: address, arguments: timingArguments) }
    for node in nodeAddresses.keys.sorted() { answeringMarks.counts[node] = 1 }
    for node in nodeAddresses.keys.sorted() { await waitAnswering(node) }
    var slowest = 0.0
    for (ip, seen) in marks(probes, timeout: 60) {
        let after = seen.dropFirst(before[ip] ?? 0)
        guard let first = after.firstIndex(of: "!") else { fail("\(ip) was never answered after the start", lab) }
        slowest = max(slowest, Double(first - after.startIndex + 1) * 0.1)
    }
    return slowest
}

try client.check(["true"])
try lab.nodes["ref1"]!.check(["ip", "addr", "add", "\(referenceIP)/32", "dev", "eth0"])
var reference: [Double] = [], announcement: [Double] = [], term: [Double] = [], killed: [Double] = []
var stopped: [Double] = [], linkDown: [Double] = [], restartGaps: [Double] = [], startups: [Double] = []
for round in 0..<runs {
    let kernel = await referenceRun(round)
    reference.append(kernel.move)
    announcement.append(kernel.announcement)
    term.append(await ironlbRun(.signal(SIGTERM)))
}
for _ in 0..<runs { killed.append(await ironlbRun(.signal(SIGKILL))) }
if probes {
    for _ in 0..<runs { stopped.append(await ironlbRun(.signal(SIGSTOP))) }
    for _ in 0..<runs { linkDown.append(await ironlbRun(.linkDown)) }
    for round in 0..<runs { restartGaps.append(try await restartRun(round % 2 == 0 ? "node1" : "node2")) }
    for _ in 0..<runs { startups.append(try await freshStartRun()) }
}
lab.tearDown()

func ms(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }
#if DEBUG
let build = "debug"
#else
let build = "release"
#endif
let handoff = timings.deadline + (probes ? 4 : 1)
print("layer 2 failover, client's view (time from the signal to the neighbour event moving \(vip) to the survivor's MAC), \(runs) runs each, \(build) build")
print("  speaker: \(ironlb) (built beside this benchmark: the \(build) binary)")
print(String(format: "  speaker Lease timings (%@): renew %.0f s, renew deadline %.0f s, lease %.0f s, hand-off delay %.0f s", profile, timings.renew, timings.deadline, timings.lease, handoff))
print("  SIGTERM: median \(ms(median(term))) (min \(ms(term.min()!)), max \(ms(term.max()!)))")
print("  kernel reference (address moved between namespaces, arping -U -S): median \(ms(median(reference))) (min \(ms(reference.min()!)), max \(ms(reference.max()!)))")
print("    of which the announcement alone (arping started -> event): median \(ms(median(announcement)))")
print(String(format: "  ratio SIGTERM / kernel reference: %.1f", median(term) / median(reference)))
if !termProfile.runs.isEmpty {
    print("    SIGTERM profile from the speakers' logs (median of \(termProfile.runs.count)): signal -> owner stops answering \(ms(median(termProfile.runs.map(\.stop)))), "
          + "-> survivor starts announcing (release write, watch event) \(ms(median(termProfile.runs.map(\.takeover)))), "
          + "-> client's neighbour event (gratuitous ARP) \(ms(median(termProfile.runs.map(\.announce))))")
}
func seconds(_ values: [Double]) -> String {
    String(format: "median %.2f s (min %.2f s, max %.2f s)", median(values), values.min()!, values.max()!)
}
if probes {
    // Every case next to the kernel reference of the same run (the address move above), with
    // the issue-12 target it is held to.
    let kernel = median(reference)
    func line(_ label: String, _ values: [Double], target: String, met: Bool) {
        print("  \(label): \(seconds(values)); kernel reference \(ms(kernel)), ratio \(String(format: "%.1f", median(values) / kernel)); target \(target): \(met ? "met" : "NOT MET")")
    }
    print("  probes on (failure detector, claims); runs per case: \(runs)")
    line("SIGTERM", term, target: "median <= 50 ms", met: median(term) <= 0.05)
    line("SIGKILL", killed, target: "median <= 1 s, max <= 2 s", met: median(killed) <= 1 && killed.max()! <= 2)
    line("SIGSTOP", stopped, target: "median <= 3 s", met: median(stopped) <= 3)
    line("veth down", linkDown, target: "median <= 3 s", met: median(linkDown) <= 3)
    line("restart (SIGTERM, started again), longest unanswered run per VIP over \(vips.count) VIPs, arping every 100 ms", restartGaps,
         target: "max <= 500 ms", met: restartGaps.max()! <= 0.5)
    line("fresh start of every speaker, first answer of the slowest of \(vips.count) VIPs", startups, target: "max <= 2 s", met: startups.max()! <= 2)
    print("  per run (s): SIGTERM \(term.map { String(format: "%.3f", $0) }), SIGKILL \(killed.map { String(format: "%.2f", $0) }), SIGSTOP \(stopped.map { String(format: "%.2f", $0) }), veth down \(linkDown.map { String(format: "%.2f", $0) }), restart \(restartGaps.map { String(format: "%.1f", $0) }), fresh start \(startups.map { String(format: "%.1f", $0) })")
} else {
    print(String(format: "  SIGKILL: median %.2f s (min %.2f s, max %.2f s); design window %.0f-%.0f s plus a watch event and the 200 ms tick",
                 median(killed), killed.min()!, killed.max()!, timings.lease - timings.renew, timings.lease))
}
