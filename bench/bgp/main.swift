// BGP benchmark: N host routes (10,000 by default) advertised to FRR by IronLB's speaker
// and, in the same run against the same FRR, by GoBGP (Debian's gobgpd) configured as the
// same kind of speaker. Prints, per speaker, the median over 5 rounds of the time from the
// speaker's TCP SYN (seen by tcpdump on FRR's side) until FRR has accepted all N routes
// (polled through vtysh, so the figures include up to one poll of latency), the ratio
// IronLB/GoBGP, and both peak RSS (VmHWM).
//
// Topology (network namespaces, documentation addresses): FRR 192.0.2.1/25 ↔ IronLB
// 192.0.2.2/25 and FRR 192.0.2.129/25 ↔ GoBGP 192.0.2.130/25. FRR sends nothing back
// (an outbound deny-all), so each speaker only transmits. GoBGP's routes are loaded before
// its session is enabled; IronLB's are set before it connects. Needs root, frr, gobgpd.
//
// Usage: swift run -c release bench-bgp [N]
import BGPSession
import BGPTransport
import BGPWire
import Foundation
import Logging
import NIOCore
import NIOPosix
import NetPrimitives
import TestSupport

let count = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 10_000
let rounds = 5

/// Wall-clock seconds, comparable with tcpdump's -tt timestamps.
func now() -> Double { Date().timeIntervalSince1970 }

func peakRSS(pid: Int32) -> Int {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }
    return 0
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bench-bgp: \(message)\n".utf8))
    exit(1)
}

guard geteuid() == 0 else { fail("needs root (network namespaces)") }
for command in ["/usr/lib/frr/bgpd", "/usr/bin/vtysh", "/usr/bin/gobgpd", "/usr/bin/gobgp", "/usr/bin/tcpdump"] where Shell.which(command) == nil {
    fail("needs \(command) (apt-get install frr gobgpd)")
}

// MARK: - Topology and FRR

let routerNS = try NetworkNamespace(prefix: "bgp-bench")
let ironNS = try NetworkNamespace(prefix: "bgp-bench")
let gobgpNS = try NetworkNamespace(prefix: "bgp-bench")
var cleanups: [() -> Void] = [{ routerNS.destroy(); ironNS.destroy(); gobgpNS.destroy() }]
@MainActor func cleanup() { for step in cleanups.reversed() { step() } }

try routerNS.link("eth0", to: ironNS, as: "eth0")
try routerNS.link("eth1", to: gobgpNS, as: "eth0")
try routerNS.addAddress("192.0.2.1/25", to: "eth0")
try routerNS.addAddress("192.0.2.129/25", to: "eth1")
try ironNS.addAddress("192.0.2.2/25", to: "eth0")
try gobgpNS.addAddress("192.0.2.130/25", to: "eth0")

let frrDirectory = NSTemporaryDirectory() + "ironlb-bench-frr-\(getpid())"
try? FileManager.default.removeItem(atPath: frrDirectory)
try FileManager.default.createDirectory(atPath: frrDirectory, withIntermediateDirectories: true)
try """
frr defaults traditional
hostname bench
!
route-map NOTHING deny 10
!
router bgp 65001
 bgp router-id 192.0.2.1
 no bgp ebgp-requires-policy
 neighbor 192.0.2.2 remote-as 64512
 neighbor 192.0.2.2 passive
 neighbor 192.0.2.130 remote-as 64513
 neighbor 192.0.2.130 passive
 address-family ipv4 unicast
  neighbor 192.0.2.2 route-map NOTHING out
  neighbor 192.0.2.130 route-map NOTHING out
 exit-address-family
!
""".write(toFile: frrDirectory + "/frr.conf", atomically: true, encoding: .utf8)
try "".write(toFile: frrDirectory + "/vtysh.conf", atomically: true, encoding: .utf8)
try Shell.check(["chmod", "755", frrDirectory])
try Shell.check(["chown", "-R", "frr:frr", frrDirectory])
var frrProcesses: [ManagedProcess] = []
for daemon in ["zebra", "bgpd"] {
    frrProcesses.append(try ManagedProcess(["/usr/lib/frr/\(daemon)", "-f", frrDirectory + "/frr.conf", "-i", frrDirectory + "/\(daemon).pid",
                                            "-z", frrDirectory + "/zserv.api", "--vty_socket", frrDirectory, "-P", "0",
                                            "--log", "file:\(frrDirectory)/\(daemon).log"], namespace: routerNS, logDirectory: frrDirectory))
    _ = pollBlocking(timeout: 10, interval: 0.05) { FileManager.default.fileExists(atPath: frrDirectory + "/\(daemon).vty") }
}
cleanups.append { for process in frrProcesses.reversed() { process.stop() } }

/// FRR's view of a neighbor: (Established?, accepted IPv4 prefixes).
func frrNeighbor(_ address: String) -> (up: Bool, accepted: Int) {
    guard let text = try? routerNS.check(["/usr/bin/vtysh", "--vty_socket", frrDirectory, "-c", "show bgp neighbors \(address) json"]),
          let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
          let neighbor = json[address] as? [String: Any]
    else { return (false, 0) }
    let ipv4 = (neighbor["addressFamilyInfo"] as? [String: Any])?["ipv4Unicast"] as? [String: Any]
    return (neighbor["bgpState"] as? String == "Established", ipv4?["acceptedPrefixCounter"] as? Int ?? 0)
}

/// tcpdump on FRR's interface, printing the speaker's SYNs with epoch timestamps.
func synCapture(interface: String, speaker: String) throws -> ManagedProcess {
    try ManagedProcess(["/usr/bin/tcpdump", "-i", interface, "-n", "-tt", "-l", "--immediate-mode",
                        "src host \(speaker) and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"], namespace: routerNS,
                       logDirectory: frrDirectory)
}

/// The first SYN the capture saw after `start`.
func firstSYN(_ capture: ManagedProcess, after start: Double) -> Double? {
    capture.stdout.split(separator: "\n").compactMap { Double($0.split(separator: " ").first ?? "") }.first { $0 >= start }
}

/// Polls FRR from `start` until it holds all routes; returns (SYN → all, start → all).
func measure(_ address: String, capture: ManagedProcess, from start: Double) -> (fromSYN: Double, fromStart: Double)? {
    let deadline = start + 120
    while now() < deadline {
        if frrNeighbor(address).accepted >= count {
            let done = now()
            _ = pollBlocking(timeout: 2, interval: 0.05) { firstSYN(capture, after: start) != nil }
            guard let syn = firstSYN(capture, after: start) else { return nil }
            return (done - syn, done - start)
        }
        usleep(2_000)
    }
    return nil
}

func waitUntilDown(_ address: String) {
    _ = pollBlocking(timeout: 60, interval: 0.05) { let state = frrNeighbor(address); return !state.up && state.accepted == 0 }
}

let prefixes = (0..<count).map { IPPrefix(host: .v4(IPv4Address(rawValue: 0xC633_6400 &+ UInt32($0)))) }   // from 198.51.100.0

// MARK: - IronLB

/// The speaker's own work for the initial table, without the network: diff, pack, encode.
func encodeTime() -> Double {
    var rib = BGPAdjRIBOut()
    rib.setDesired(Dictionary(uniqueKeysWithValues: prefixes.map { ($0, BGPRouteAttributes()) }))
    let context = BGPUpdateContext(localASN: 64512, isInternal: false, nextHops: BGPNextHops(ipv4: IPv4Address(192, 0, 2, 2)),
                                   codec: BGPCodecOptions(), families: [.ipv4Unicast])
    let start = now()
    var buffer = ByteBuffer()
    for update in rib.updates(context: context) { buffer.writeBGPMessage(.update(update), options: context.codec) }
    return now() - start
}
let encodeSeconds = (0..<3).map { _ in encodeTime() }.min()!

let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
try group.next().submit { try ironNS.enterOnCurrentThread() }.wait()
cleanups.append { try? group.syncShutdownGracefully() }
let routes = Dictionary(uniqueKeysWithValues: prefixes.map { ($0, BGPRouteAttributes()) })
var logger = Logger(label: "ironlb.bench")
logger.logLevel = .error
let ironCapture = try synCapture(interface: "eth0", speaker: "192.0.2.2")
cleanups.append { ironCapture.stop() }
usleep(500_000)

// MARK: - GoBGP

let gobgpDirectory = NSTemporaryDirectory() + "ironlb-bench-gobgp-\(getpid())"
try? FileManager.default.removeItem(atPath: gobgpDirectory)
try FileManager.default.createDirectory(atPath: gobgpDirectory, withIntermediateDirectories: true)
try """
[global.config]
  as = 64513
  router-id = "192.0.2.130"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.129"
    peer-as = 65001
    admin-down = true
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
""".write(toFile: gobgpDirectory + "/gobgp.toml", atomically: true, encoding: .utf8)
let gobgpd = try ManagedProcess(["/usr/bin/gobgpd", "-f", gobgpDirectory + "/gobgp.toml", "-p", "-l", "warn",
                                 "--api-hosts", "127.0.0.1:50051", "--pprof-disable"], namespace: gobgpNS, logDirectory: gobgpDirectory)
cleanups.append { gobgpd.stop() }
guard pollBlocking(timeout: 20, interval: 0.2, { (try? gobgpNS.run(["/usr/bin/gobgp", "global"]))?.status == 0 }) else {
    cleanup(); fail("gobgpd did not start")
}
// Load the routes through the CLI (slow: ~60 s for 10,000), eight at a time.
let list = gobgpDirectory + "/prefixes.txt"
try prefixes.map(\.description).joined(separator: "\n").write(toFile: list, atomically: true, encoding: .utf8)
try gobgpNS.check(["sh", "-c", "xargs -P 8 -I{} /usr/bin/gobgp global rib -a ipv4 add {} < \(list)"], timeout: 600)
let gobgpCapture = try synCapture(interface: "eth1", speaker: "192.0.2.130")
cleanups.append { gobgpCapture.stop() }
usleep(500_000)
// MARK: - Rounds, alternating so that machine load drifts hit both speakers alike

var ironTotals: [Double] = [], ironAfterUp: [Double] = []
var gobgpTotals: [Double] = [], gobgpAfterUp: [Double] = []
for round in 1...rounds {
    do {
        let session = BGPSessionConfiguration(localASN: 64512, peerASN: 65001, routerID: IPv4Address(192, 0, 2, 2), families: [.ipv4Unicast])
        let peer = BGPPeer(configuration: BGPPeerConfiguration(session: session, peerAddress: IPAddress("192.0.2.1")!,
                                                               sourceAddress: IPAddress("192.0.2.2")!), eventLoop: group.next(), logger: logger)
        peer.setDesiredRoutes(routes)
        let start = now()
        peer.start()
        guard let result = measure("192.0.2.2", capture: ironCapture, from: start) else { cleanup(); fail("IronLB round \(round): FRR never held \(count) routes") }
        ironTotals.append(result.fromSYN)
        ironAfterUp.append(result.fromStart)
        try peer.stop().wait()
        waitUntilDown("192.0.2.2")
    }
    do {
        let start = now()
        try gobgpNS.check(["/usr/bin/gobgp", "neighbor", "192.0.2.129", "enable"])
        guard let result = measure("192.0.2.130", capture: gobgpCapture, from: start) else { cleanup(); fail("GoBGP round \(round): FRR never held \(count) routes") }
        gobgpTotals.append(result.fromSYN)
        gobgpAfterUp.append(result.fromStart)
        try gobgpNS.check(["/usr/bin/gobgp", "neighbor", "192.0.2.129", "disable"])
        waitUntilDown("192.0.2.130")
    }
}
let ironRSS = peakRSS(pid: getpid())
let gobgpRSS = peakRSS(pid: gobgpd.pid)
cleanup()

func ms(_ seconds: Double) -> String { String(format: "%.0f ms", seconds * 1000) }
print("""
bench-bgp: \(count) IPv4 /32 routes to FRR \(try Shell.check(["dpkg-query", "-W", "-f=${Version}", "frr"])), median of \(rounds) rounds
                         SYN→all        start→all         peak RSS
  IronLB                 \(ms(median(ironTotals)).padding(toLength: 15, withPad: " ", startingAt: 0))\(ms(median(ironAfterUp)).padding(toLength: 18, withPad: " ", startingAt: 0))\(ironRSS / 1024) MB (whole bench process)
  GoBGP                  \(ms(median(gobgpTotals)).padding(toLength: 15, withPad: " ", startingAt: 0))\(ms(median(gobgpAfterUp)).padding(toLength: 18, withPad: " ", startingAt: 0))\(gobgpRSS / 1024) MB
  ratio IronLB/GoBGP     \(String(format: "%.2f", median(ironTotals) / median(gobgpTotals)))
  rounds (SYN→all): IronLB \(ironTotals.map(ms)), GoBGP \(gobgpTotals.map(ms))
  IronLB's own diff+pack+encode of the table: \(String(format: "%.1f", encodeSeconds * 1000)) ms
  (start→all includes each speaker's own connect delay: GoBGP waits for its connect-retry timer after "enable")
""")
