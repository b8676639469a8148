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
// Usage (root): swift build --product bench-l2-failover --product ironlb
//               .build/debug/bench-l2-failover [RUNS=5] [PROFILE=default|fast|large]
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
for (name, address) in nodeAddresses { try lab.startSpeaker(name, address: address, arguments: timingArguments) }
_ = try lab.api("POST", "/api/v1/namespaces/default/services",
                InteropLab.json(["metadata": ["name": "bench"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]]))
_ = try lab.addEndpoints("bench", nodes: ["node1"])   // a pod runs: IronLB announces only Services with endpoints
guard poll(timeout: 60, { lab.ingressIP("bench") != nil }), let vip = lab.ingressIP("bench") else { fail("no IP for the Service", lab) }

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
    poll(timeout: 10, interval: 0.2) {
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
    _ = poll(timeout: timeout, interval: 0.02) {
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
    let settled = poll(timeout: timings.deadline + 60, interval: 0.5) {
        answers = arping(vip)
        return answers.count == 1
    }
    guard settled, let owner = macs.first(where: { answers.contains($0.value) })?.key, owner.hasPrefix("node") else {
        fail("the VIP \(vip) is not answered by exactly one node: \(answers)", lab)
    }
    return (owner, owner == "node1" ? "node2" : "node1")
}

/// Restarts `node`'s speaker and waits until it may answer again (its Lease held past the hand-off
/// delay), and for the hand-back announcement to settle.
func restart(_ node: String) async {
    try? lab.startSpeaker(node, address: nodeAddresses[node]!, arguments: timingArguments)
    let process = lab.processes[node]!
    guard poll(timeout: timings.deadline + 60, interval: 0.2, { process.stderr.contains("this node may answer") }) else {
        fail("\(node)'s speaker did not come back", lab)
    }
    try? await Task.sleep(for: .seconds(1))
}

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

/// One IronLB run: signal the owner, time the move, restart it.
func ironlbRun(_ signal: Int32) async -> Double {
    let (owner, survivor) = await steady()
    guard await resolve(vip, to: macs[owner]!) else { fail("the client did not resolve \(vip) to \(owner)", lab) }
    // Past the entry's ARP locktime (1 s); a crash lands anywhere in the renew period.
    try? await Task.sleep(for: .seconds(1.5 + (signal == SIGKILL ? Double.random(in: 0..<timings.renew) : 0)))
    let start = Date()
    lab.processes[owner]!.signal(signal)
    guard let at = await moved(vip, to: macs[survivor]!, after: start, timeout: timings.lease + 30) else {
        fail("after \(signal == SIGKILL ? "SIGKILL" : "SIGTERM") of \(owner) the client's entry did not move to \(survivor)", lab)
    }
    _ = lab.processes[owner]!.waitForExit(timeout: 30)
    await restart(owner)
    return at.timeIntervalSince(start)
}

try client.check(["true"])
try lab.nodes["ref1"]!.check(["ip", "addr", "add", "\(referenceIP)/32", "dev", "eth0"])
var reference: [Double] = [], announcement: [Double] = [], term: [Double] = [], killed: [Double] = []
for round in 0..<runs {
    let kernel = await referenceRun(round)
    reference.append(kernel.move)
    announcement.append(kernel.announcement)
    term.append(await ironlbRun(SIGTERM))
}
for _ in 0..<runs { killed.append(await ironlbRun(SIGKILL)) }
lab.tearDown()

func ms(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }
#if DEBUG
let build = "debug"
#else
let build = "release"
#endif
let handoff = timings.deadline + 1
print("layer 2 failover, client's view (time from the signal to the neighbour event moving \(vip) to the survivor's MAC), \(runs) runs each, \(build) build")
print(String(format: "  speaker Lease timings (%@): renew %.0f s, renew deadline %.0f s, lease %.0f s, hand-off delay %.0f s", profile, timings.renew, timings.deadline, timings.lease, handoff))
print("  SIGTERM: median \(ms(median(term))) (min \(ms(term.min()!)), max \(ms(term.max()!)))")
print("  kernel reference (address moved between namespaces, arping -U -S): median \(ms(median(reference))) (min \(ms(reference.min()!)), max \(ms(reference.max()!)))")
print("    of which the announcement alone (arping started -> event): median \(ms(median(announcement)))")
print(String(format: "  ratio SIGTERM / kernel reference: %.1f", median(term) / median(reference)))
print(String(format: "  SIGKILL: median %.2f s (min %.2f s, max %.2f s); design window %.0f-%.0f s plus a watch event and the 200 ms tick",
             median(killed), killed.min()!, killed.max()!, timings.lease - timings.renew, timings.lease))
