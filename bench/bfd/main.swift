// bench-bfd: BFD failure detection time of the real `ironlb speaker`, next to FRR's bfdd in the
// same run (issue 17).
//
// Topology (TestSupport's InteropLab: network namespaces on a bridge, 192.0.2.0/24): KubeSim and
// the controller; a router at 192.0.2.1 running FRR's bgpd and bfdd; node1 (192.0.2.11) running
// `ironlb speaker` (the binary built beside this bench: build both in release) with a BGP peer
// whose `bfd-profile` is 300 ms × 3; node "frr" (192.0.2.12) running FRR's bfdd with a single-hop
// session to the router, 300 ms × 3. Each run freezes the router (SIGSTOP on every FRR daemon)
// and times, from that instant, how long each node takes to declare its session Down, both read
// the same way: the speaker's "BFD session Down" log line, FRR's "up -> down" log line, each
// file watched every 2 ms. The router then thaws, and both sessions must be Up again (the
// speaker's `ironlb_bfd_session_up` gauge, FRR's `show bfd peers`) before the next run.
//
// Usage (root): swift build -c release --product bench-bfd && swift build -c release --product ironlb
//               .build/release/bench-bfd [RUNS=10]
import Foundation
import TestSupport

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

/// The text appended to `path` since byte `offset`.
func tail(_ path: String, from offset: UInt64) -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
    defer { try? handle.close() }
    try? handle.seek(toOffset: offset)
    return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
}

func size(_ path: String) -> UInt64 {
    ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.uint64Value ?? 0
}

let routerConfig = """
frr defaults traditional
hostname rtr
debug bfd peer
!
bfd
 peer 192.0.2.12
  receive-interval 300
  transmit-interval 300
  detect-multiplier 3
 !
 profile bench
  receive-interval 300
  transmit-interval 300
  detect-multiplier 3
!
router bgp 65001
 bgp router-id 192.0.2.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 192.0.2.11 remote-as 64512
 neighbor 192.0.2.11 timers 10 30
 neighbor 192.0.2.11 timers connect 2
 neighbor 192.0.2.11 bfd
 neighbor 192.0.2.11 bfd profile bench
!

"""

let nodeConfig = """
frr defaults traditional
hostname node
debug bfd peer
!
bfd
 peer 192.0.2.1
  receive-interval 300
  transmit-interval 300
  detect-multiplier 3
 !
!

"""

let speakerConfig = """
peers:
- {peer-address: 192.0.2.1, peer-asn: 65001, my-asn: 64512, hold-time: 30s, bfd-profile: bench}
bfd-profiles:
- {name: bench, receive-interval: 300, transmit-interval: 300, detect-multiplier: 3}
address-pools:
- {name: public, protocol: bgp, addresses: [203.0.113.0/28]}
"""

func frrPeerUp(_ frr: FRRRouter, _ peer: String) -> Bool {
    guard let text = try? frr.vtysh("show bfd peers json"), let data = text.data(using: .utf8),
          let peers = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else { return false }
    return peers.contains { $0["peer"] as? String == peer && $0["status"] as? String == "up" }
}

guard geteuid() == 0, let ironlb = BuiltProducts.executable("ironlb") else {
    print("bench-bfd needs root and the ironlb executable built beside it (swift build -c release --product ironlb)")
    exit(2)
}
for tool in ["/usr/lib/frr/bgpd", "/usr/lib/frr/bfdd", "/usr/bin/vtysh", "curl"] where Shell.which(tool) == nil && !FileManager.default.fileExists(atPath: tool) {
    print("bench-bfd needs \(tool)")
    exit(2)
}
let runs = max(1, CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 10)

let lab = try InteropLab(ironlb: ironlb)
try lab.addNode("node1", address: "192.0.2.11")
try lab.addNode("frr", address: "192.0.2.12")
lab.frr = try FRRRouter(namespace: lab.rtr, config: routerConfig, daemons: ["bgpd", "bfdd"])
let router = lab.frr!
let nodeFRR = try FRRRouter(namespace: lab.nodes["frr"]!, config: nodeConfig, daemons: ["bfdd"])
func finish(_ status: Int32) -> Never {
    nodeFRR.stop()
    lab.tearDown()
    exit(status)
}
try await lab.startControlPlane(config: speakerConfig, nodes: ["node1"])
try lab.startSpeaker("node1", address: "192.0.2.11")
let speaker = lab.processes["node1"]!
let frrLog = nodeFRR.directory + "/bfdd.log"

func speakerBFDUp() -> Bool {
    let metrics = (try? lab.ctl.run(["curl", "-s", "--max-time", "2", "http://192.0.2.11:7473/metrics"], timeout: 5))?.stdout ?? ""
    return metrics.contains("ironlb_bfd_session_up{peer=\"192.0.2.1\"} 1")
}

print("bench-bfd: ironlb \(ironlb)")
var ironlbTimes: [Double] = []
var frrTimes: [Double] = []
for run in 1...runs {
    let ready = await poll(timeout: 90, interval: 0.2) { speakerBFDUp() && frrPeerUp(nodeFRR, "192.0.2.1") }
    guard ready else {
        print("run \(run): sessions did not come Up within 90 s; stopping")
        lab.dumpLogs()
        break
    }
    try await Task.sleep(for: .milliseconds(Int.random(in: 500...1500)))
    let speakerOffsets = (size(speaker.stdoutPath), size(speaker.stderrPath))
    let frrOffset = size(frrLog)
    let frozenAt = ContinuousClock.now
    router.signal(SIGSTOP)
    var speakerDownAt: ContinuousClock.Instant?
    var frrDownAt: ContinuousClock.Instant?
    let deadline = frozenAt.advanced(by: .seconds(10))
    while ContinuousClock.now < deadline && (frrDownAt == nil || speakerDownAt == nil) {
        if speakerDownAt == nil,
           (tail(speaker.stdoutPath, from: speakerOffsets.0) + tail(speaker.stderrPath, from: speakerOffsets.1)).contains("BFD session Down") {
            speakerDownAt = .now
        }
        if frrDownAt == nil, tail(frrLog, from: frrOffset).contains("up -> down") { frrDownAt = .now }
        try await Task.sleep(for: .milliseconds(2))
    }
    router.signal(SIGCONT)
    guard let ironDown = speakerDownAt, let frrDown = frrDownAt else {
        print("run \(run): a node did not detect the frozen router within 10 s (ironlb speaker \(speakerDownAt != nil), FRR \(frrDownAt != nil))")
        continue
    }
    ironlbTimes.append(milliseconds(frozenAt.duration(to: ironDown)))
    frrTimes.append(milliseconds(frozenAt.duration(to: frrDown)))
    print(String(format: "run %2d: ironlb speaker %6.1f ms, FRR bfdd %6.1f ms", run, ironlbTimes.last!, frrTimes.last!))
}
guard !ironlbTimes.isEmpty else { finish(1) }
print("")
print("BFD detection time after the router froze, 300 ms × 3 (configured detection time 900 ms), \(ironlbTimes.count) runs:")
print(String(format: "  ironlb speaker  median %6.1f ms  (min %6.1f, max %6.1f)", median(ironlbTimes), ironlbTimes.min()!, ironlbTimes.max()!))
print(String(format: "  FRR bfdd        median %6.1f ms  (min %6.1f, max %6.1f)", median(frrTimes), frrTimes.min()!, frrTimes.max()!))
print(String(format: "  ratio ironlb / FRR: %.2f", median(ironlbTimes) / median(frrTimes)))
finish(0)
