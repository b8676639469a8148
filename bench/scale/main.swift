// bench-scale: 10,000 Services of type LoadBalancer through the real release processes, with
// GoBGP's gobgpd holding the same number of routes as the reference in the same run.
//
// KubeSim (`ironlb kubesim`) and `ironlb controller` run in a control namespace, one
// `ironlb speaker` in a node namespace peers over IPv6 with FRR (zebra + bgpd) in a router
// namespace, and gobgpd in a fourth namespace peers with the same FRR. The Services are IPv6
// (2001:db8:1::/112: the IPv4 documentation ranges hold 768 addresses), each with one ready
// endpoint on the node (IronLB announces only Services with a usable endpoint), created one by
// one over a keep-alive connection (bench/scale/helper.py). GoBGP gets its routes from an MRT
// file (`gobgp mrt inject`). Printed, each with the ratio to gobgpd:
//   RSS idle (peer up, nothing announced) and holding N routes (VmRSS);
//   CPU per 1,000 routes taken in (utime+stime until the process is quiet again);
//   last create (last route added) -> last route at FRR; delete all -> FRR holds none of them;
//   SIGTERM with N routes -> FRR holds none of them and the process has exited.
// Also the controller's RSS. FRR is polled through vtysh (a few ms a query), so times include
// up to one poll. Needs root, frr, gobgpd, python3.
//
// And a floor (bench/floor, `bench-floor`): a process with the speaker's libraries and link and
// no IronLB code, which watches the Services and POSTs one `nodeAssigned` Event per Service, and
// does nothing else. Once the speaker's phases are over it runs in the speaker's namespace, the
// speaker stopped, while the same Services are created again. Its RSS idle and its CPU per 1,000
// Services are what those libraries cost alone; the speaker's figures are printed against it.
// IRONLB_FLOOR names it (`scripts/build-release bench-floor`, to compare with the production
// speaker); else the bench-floor built beside the bench; else no floor.
//
//   swift build -c release --product ironlb && swift build -c release --product bench-scale
//   .build/release/bench-scale [N]
//   IRONLB_SPEAKER=$(scripts/build-release) .build/release/bench-scale     # the shipped speaker
//   IRONLB_CONTROLLER=...                                                  # and controller
//   IRONLB_FLOOR=$(scripts/build-release bench-floor)                      # the floor, linked alike
import Foundation
import TestSupport

let count = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 10_000
/// The 1-minute load average (the machine may be shared: figures are read against it).
func loadAverage() -> String { ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").first.map(String.init) ?? "?" }
let loadAtStart = loadAverage()

func now() -> Double { Date().timeIntervalSince1970 }

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bench-scale: \(message)\n".utf8))
    exit(1)
}

/// A `/proc/<pid>/status` figure in KiB (VmRSS, VmHWM).
func status(_ pid: Int32, _ field: String) -> Double {
    let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Double(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? 0
    }
    return 0
}

func mebibytes(_ pid: Int32, _ field: String = "VmRSS") -> Double { status(pid, field) / 1024 }

/// User + system CPU seconds of a process.
func cpuSeconds(_ pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Waits until `pid` used less than 20 ms of CPU in the last second (at most `timeout`); returns
/// its CPU seconds then.
func quietCPU(_ pid: Int32, timeout: Double = 120) -> Double {
    let deadline = now() + timeout
    var last = cpuSeconds(pid)
    while now() < deadline {
        usleep(1_000_000)
        let current = cpuSeconds(pid)
        if current - last < 0.02 { return current }
        last = current
    }
    return last
}

for command in ["/usr/lib/frr/bgpd", "/usr/bin/vtysh", "/usr/bin/gobgpd", "/usr/bin/gobgp", "/usr/bin/python3"] where Shell.which(command) == nil {
    fail("needs \(command) (apt-get install frr gobgpd python3)")
}
guard geteuid() == 0, let ironlb = BuiltProducts.executable("ironlb") else {
    fail("needs root and the ironlb executable built beside it (swift build -c release --product ironlb)")
}
let helper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("helper.py").path

// MARK: - The lab

let speakerAddress = "2001:db8::11", gobgpAddress = "2001:db8::20"
let lab = try InteropLab(ironlb: ironlb)
// IRONLB_SPEAKER: the speaker from another build of ironlb (the production one: scripts/build-release,
// no `Lab` trait, static Swift runtime), KubeSim and the controller from the one beside the bench.
if let speaker = ProcessInfo.processInfo.environment["IRONLB_SPEAKER"] { lab.speakerExecutable = speaker }
// IRONLB_CONTROLLER: the same for the controller (scripts/link-order runs both from the production build).
if let controller = ProcessInfo.processInfo.environment["IRONLB_CONTROLLER"] { lab.controllerExecutable = controller }
let gobgpNS = try NetworkNamespace(prefix: "e2e-gobgp")
nonisolated(unsafe) var gobgpd: ManagedProcess?
func tearDown() {
    gobgpd?.stop(signal: SIGKILL, timeout: 5)
    gobgpNS.destroy()
    lab.tearDown()
}
func check(_ condition: Bool, _ message: String) {
    if !condition { lab.dumpLogs(); tearDown(); fail(message) }
}

try lab.addNode("node1", address: "192.0.2.11")
try lab.rtr.addAddress("2001:db8::1/64", to: "eth0")
try lab.nodes["node1"]!.addAddress(speakerAddress + "/64", to: "eth0")
try lab.attach(gobgpNS, port: "p-gobgp", address: "192.0.2.20/24")
try gobgpNS.addAddress(gobgpAddress + "/64", to: "eth0")
lab.frr = try FRRRouter(namespace: lab.rtr, config: FRRRouter.speakerPeering(neighbors: [speakerAddress, gobgpAddress], families: ["ipv6"]))
let frr = lab.frr!

/// The IPv6 routes FRR accepted from a neighbor.
func accepted(_ neighbor: String) -> Int {
    guard let json = frr.json("show bgp neighbors \(neighbor) json"), let state = json[neighbor] as? [String: Any] else { return -1 }
    let family = (state["addressFamilyInfo"] as? [String: Any])?["ipv6Unicast"] as? [String: Any]
    return family?["acceptedPrefixCounter"] as? Int ?? 0
}

/// Seconds from `start` until FRR holds `expected` routes from `neighbor` (nil after `timeout`).
func waitRoutes(_ neighbor: String, _ expected: Int, from start: Double, timeout: Double = 600) -> Double? {
    let deadline = now() + timeout
    while now() < deadline {
        if accepted(neighbor) == expected { return now() - start }
        usleep(20_000)
    }
    return nil
}

try await lab.startControlPlane(config: """
peers:
- {peer-address: "2001:db8::1", peer-asn: 65001, my-asn: 64512}
address-pools:
- {name: v6, protocol: bgp, addresses: ["2001:db8:1::/112"]}
""", nodes: ["node1"])
let addresses = InteropLab.json(["status": ["addresses": [
    ["type": "InternalIP", "address": "192.0.2.11"], ["type": "InternalIP", "address": speakerAddress], ["type": "Hostname", "address": "node1"],
]]])
check(try lab.api("PATCH", "/api/v1/nodes/node1/status", addresses, contentType: "application/merge-patch+json").status == 200, "Node status")
try lab.startSpeaker("node1", address: "192.0.2.11")

let gobgpDirectory = lab.directory + "/gobgp"
try FileManager.default.createDirectory(atPath: gobgpDirectory, withIntermediateDirectories: true)
try """
[global.config]
  as = 64512
  router-id = "192.0.2.20"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "2001:db8::1"
    peer-as = 65001
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
""".write(toFile: gobgpDirectory + "/gobgp.toml", atomically: true, encoding: .utf8)
gobgpd = try ManagedProcess(["/usr/bin/gobgpd", "-f", gobgpDirectory + "/gobgp.toml", "-p", "-l", "warn", "--api-hosts", "127.0.0.1:50051", "--pprof-disable"],
                            namespace: gobgpNS, logDirectory: gobgpDirectory)
let mrt = gobgpDirectory + "/routes.mrt"
try Shell.check(["python3", helper, "mrt", mrt, String(count), "2001:db8:2"])

check(await poll(timeout: 120, interval: 0.5, { frr.neighborState(speakerAddress) == "Established" && frr.neighborState(gobgpAddress) == "Established" }),
      "BGP sessions did not come up")
let controllerPID = lab.processes["controller"]!.pid
var speakerPID = lab.processes["node1"]!.pid
let gobgpPID = gobgpd!.pid
_ = quietCPU(speakerPID)
usleep(2_000_000)
let idle = (speaker: mebibytes(speakerPID), gobgp: mebibytes(gobgpPID), controller: mebibytes(controllerPID))
/// The speaker's RSS split: anonymous (heap, stacks) and file-backed (its executable's and
/// libraries' pages), and its thread count.
func composition(_ pid: Int32) -> String {
    String(format: "anonymous %.1f MiB, file-backed %.1f MiB, %d threads", mebibytes(pid, "RssAnon"), mebibytes(pid, "RssFile"), Int(status(pid, "Threads")))
}
let idleComposition = composition(speakerPID)
// scripts/link-order reads the code the speaker has run by now (started, peer up, idle) from this
// line: unbuffered, so a pipe gets it at once.
FileHandle.standardOutput.write(Data("bench-scale: speaker idle, peer up (pid \(speakerPID))\n".utf8))

// MARK: - gobgpd: add, delete all, add again, SIGTERM

func gobgpInject() throws -> Double {
    try gobgpNS.check(["/usr/bin/gobgp", "mrt", "inject", "global", mrt], timeout: 300)
    return now()
}
var cpuBefore = cpuSeconds(gobgpPID)
var lastAdd = try gobgpInject()
guard let gobgpToRoute = waitRoutes(gobgpAddress, count, from: lastAdd) else { check(false, "FRR never held gobgpd's \(count) routes"); exit(1) }
let gobgpCPU = quietCPU(gobgpPID) - cpuBefore
usleep(2_000_000)
let gobgpLoaded = mebibytes(gobgpPID)
let deleteStart = now()
try gobgpNS.check(["/usr/bin/gobgp", "global", "rib", "-a", "ipv6", "del", "all"])
guard let gobgpToEmpty = waitRoutes(gobgpAddress, 0, from: deleteStart) else { check(false, "gobgpd's routes never left FRR"); exit(1) }
lastAdd = try gobgpInject()
check(waitRoutes(gobgpAddress, count, from: lastAdd) != nil, "FRR never held gobgpd's routes again")
_ = quietCPU(gobgpPID)
var stopStart = now()
gobgpd!.signal(SIGTERM)
let gobgpWithdrawn = waitRoutes(gobgpAddress, 0, from: stopStart, timeout: 60)
let gobgpStatus: Int32? = await gobgpd!.exited(timeout: 60)
let gobgpExited = gobgpStatus.map { _ in now() - stopStart }
let gobgpStop = max(gobgpWithdrawn ?? .infinity, gobgpExited ?? .infinity)

// MARK: - IronLB: endpoints, Services, SIGTERM, restart, delete all

func api(_ verb: String) throws -> (first: Double, last: Double) {
    let output = try lab.ctl.check(["python3", helper, "api", "192.0.2.100:6443", lab.token, verb, String(count)], timeout: 1200)
    let words = output.split(whereSeparator: \.isWhitespace)
    guard words.count == 4, let first = Double(words[1]), let last = Double(words[3]) else { fail("helper said: \(output)") }
    return (first, last)
}
cpuBefore = cpuSeconds(speakerPID)
let slices = try api("slices")
let sliceCPU = quietCPU(speakerPID) - cpuBefore
cpuBefore = cpuSeconds(speakerPID)
let created = try api("services")
guard let toLastRoute = waitRoutes(speakerAddress, count, from: created.last) else { check(false, "FRR never held the speaker's \(count) routes"); exit(1) }
let speakerCPU = quietCPU(speakerPID) - cpuBefore
usleep(2_000_000)
let loadedComposition = composition(speakerPID)
let loaded = (speaker: mebibytes(speakerPID), speakerPeak: mebibytes(speakerPID, "VmHWM"),
              controller: mebibytes(controllerPID), controllerPeak: mebibytes(controllerPID, "VmHWM"))
// And where the speaker holds every route, before SIGTERM (for a tool that inspects it there).
FileHandle.standardOutput.write(Data("bench-scale: speaker holding \(count) routes (pid \(speakerPID))\n".utf8))

stopStart = now()
lab.processes["node1"]!.signal(SIGTERM)
let speakerWithdrawn = waitRoutes(speakerAddress, 0, from: stopStart, timeout: 60)
let speakerStatus: Int32? = await lab.processes["node1"]!.exited(timeout: 60)
let speakerExited = speakerStatus.map { _ in now() - stopStart }
let speakerStop = max(speakerWithdrawn ?? .infinity, speakerExited ?? .infinity)

let restart = now()
try lab.startSpeaker("node1", address: "192.0.2.11")
speakerPID = lab.processes["node1"]!.pid
guard let restartToRoutes = waitRoutes(speakerAddress, count, from: restart) else { check(false, "the restarted speaker never announced \(count) routes"); exit(1) }
_ = quietCPU(speakerPID)
let restarted = mebibytes(speakerPID)
let deleted = try api("delete")
guard let toEmpty = waitRoutes(speakerAddress, 0, from: deleted.last) else { check(false, "the speaker's routes never left FRR"); exit(1) }

// MARK: - The floor: the speaker stopped, the same Services created again

var floor: (idle: Double, loaded: Double, cpu: Double, idleComposition: String, loadedComposition: String)?
if let floorExecutable = ProcessInfo.processInfo.environment["IRONLB_FLOOR"] ?? BuiltProducts.executable("bench-floor") {
    check(await lab.processes["node1"]!.stopped(signal: SIGTERM, timeout: 30) == 0, "the speaker did not exit on SIGTERM")
    try lab.start("floor", [floorExecutable, "http://192.0.2.100:6443", lab.token, "node1"], in: lab.nodes["node1"]!)
    let process = lab.processes["floor"]!
    check(await poll(timeout: 60, interval: 0.5, { process.stdout.contains("watching") }), "bench-floor did not start its watch: \(process.stdout.suffix(300))")
    _ = quietCPU(process.pid)
    usleep(2_000_000)
    let idle = mebibytes(process.pid), idleComposition = composition(process.pid)
    let before = cpuSeconds(process.pid)
    _ = try api("services")
    // It has sent its last Event when it says so (it prints every 1,000th).
    check(await poll(timeout: 300, interval: 0.5, { process.stdout.contains("\(count) Events posted") }),
          "bench-floor did not post \(count) Events: \(process.stdout.suffix(300))")
    let cpu = quietCPU(process.pid) - before
    usleep(2_000_000)
    floor = (idle, mebibytes(process.pid), cpu, idleComposition, composition(process.pid))
}

// MARK: - Report

/// A figure of the speaker against the reference's (gobgpd, the floor), and their ratio.
func row(_ name: String, _ ironlb: Double, _ gobgp: Double, _ format: String) {
    let pad = name.padding(toLength: 42, withPad: " ", startingAt: 0)
    print(pad + String(format: "\(format)  \(format)  %6.2f", ironlb, gobgp, ironlb / gobgp))
}
print("bench-scale: \(count) LoadBalancer Services (IPv6), one node, FRR as the BGP peer; gobgpd with the same \(count) routes as the reference")
print("".padding(toLength: 42, withPad: " ", startingAt: 0) + "  speaker     gobgpd   ratio")
row("RSS idle, peer up (MiB)", idle.speaker, idle.gobgp, "%9.1f")
row("RSS holding \(count) routes (MiB)", loaded.speaker, gobgpLoaded, "%9.1f")
row("CPU per 1,000 routes taken in (ms)", speakerCPU / Double(count) * 1_000_000, gobgpCPU / Double(count) * 1_000_000, "%9.1f")
row("last create/add -> last route at FRR (s)", toLastRoute, gobgpToRoute, "%9.2f")
row("delete all -> FRR empty (s)", toEmpty, gobgpToEmpty, "%9.2f")
row("SIGTERM -> withdrawn and exited (s)", speakerStop, gobgpStop, "%9.2f")
print("speaker RSS idle: \(idleComposition); holding \(count) routes: \(loadedComposition)")
print(String(format: "speaker: peak RSS %.1f MiB; SIGTERM -> FRR empty %.2f s, exited %.2f s; restarted with %d Services: all routes %.2f s, RSS %.1f MiB",
             loaded.speakerPeak, speakerWithdrawn ?? -1, speakerExited ?? -1, count, restartToRoutes, restarted))
print(String(format: "speaker: %d EndpointSlices took %.1f ms CPU per 1,000; creating the Services took %.2f s (first create -> last route %.2f s); deleting them %.2f s",
             count, sliceCPU / Double(count) * 1_000_000, created.last - created.first, toLastRoute + created.last - created.first, deleted.last - deleted.first))
print(String(format: "controller RSS: idle %.1f MiB, holding %d Services %.1f MiB, peak %.1f MiB", idle.controller, count, loaded.controller, loaded.controllerPeak))
if let floor {
    print("floor (bench/floor: the speaker's libraries and link, no IronLB code), the speaker stopped: the same \(count) Services created again, watched, an Event posted for each")
    print("".padding(toLength: 42, withPad: " ", startingAt: 0) + "  speaker      floor   ratio")
    row("RSS idle, API watch open (MiB)", idle.speaker, floor.idle, "%9.1f")
    row("RSS holding / after \(count) Services (MiB)", loaded.speaker, floor.loaded, "%9.1f")
    row("CPU per 1,000 Services (ms)", speakerCPU / Double(count) * 1_000_000, floor.cpu / Double(count) * 1_000_000, "%9.1f")
    print("floor RSS idle: \(floor.idleComposition); after the Services: \(floor.loadedComposition)")
} else {
    print("floor: not run (no bench-floor: swift build -c release --product bench-floor, or IRONLB_FLOOR)")
}
print("load average (1 min): \(loadAtStart) at the start, \(loadAverage()) at the end")
_ = slices
tearDown()
