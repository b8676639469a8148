// bench-bfd: BFD failure detection time, IronLB next to FRR in the same run (issue 17).
//
// Topology (network namespaces, 192.0.2.0/24 on a bridge): a router running FRR's bfdd at
// 192.0.2.1 with single-hop sessions to two nodes; node "ironlb" (192.0.2.2) runs IronLB's
// BFDEndpoint on a thread inside its namespace; node "frr" (192.0.2.3) runs FRR's bfdd. All
// sessions use 300 ms × 3. Each run freezes the router (SIGSTOP) and times, from that instant,
// how long each node takes to declare its session Down: IronLB from its state-change callback,
// FRR from the moment its "up -> down" log line appears (the file is watched every 2 ms). The
// router then thaws and both sessions must be Up again before the next run.
//
// Usage: swift run -c release bench-bfd [RUNS]   (root; default 10)
import BFD
import BFDTransport
import Foundation
import NIOCore
import NIOPosix
import NetPrimitives
import TestSupport

final class Stamp: @unchecked Sendable {
    private let lock = NSLock()
    private var downAt: ContinuousClock.Instant?
    private var state: BFDState = .down
    func record(_ to: BFDState) {
        lock.withLock {
            state = to
            if to == .down && downAt == nil { downAt = .now }
        }
    }
    func reset() { lock.withLock { downAt = nil } }
    var down: ContinuousClock.Instant? { lock.withLock { downAt } }
    var isUp: Bool { lock.withLock { state == .up } }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func frrConfig(host: String, peers: [String]) -> String {
    var lines = ["frr defaults traditional", "hostname \(host)", "debug bfd peer", "!", "bfd"]
    for peer in peers {
        lines += [" peer \(peer)", "  receive-interval 300", "  transmit-interval 300", "  detect-multiplier 3", " !"]
    }
    return (lines + ["!"]).joined(separator: "\n") + "\n"
}

func frrPeerUp(_ frr: FRRRouter, _ peer: String) -> Bool {
    guard let text = try? frr.vtysh("show bfd peers json"), let data = text.data(using: .utf8),
          let peers = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else { return false }
    return peers.contains { $0["peer"] as? String == peer && $0["status"] as? String == "up" }
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

@main
struct BenchBFD {
    static func main() async throws {
        let runs = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 10
        guard getuid() == 0 else {
            print("bench-bfd needs root (network namespaces)")
            exit(1)
        }
        let lan = try NetworkNamespace(prefix: "bfdb-sw")
        let routerNamespace = try NetworkNamespace(prefix: "bfdb-rtr")
        let ironNamespace = try NetworkNamespace(prefix: "bfdb-iron")
        let frrNamespace = try NetworkNamespace(prefix: "bfdb-frr")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var router: FRRRouter?
        var nodeFRR: FRRRouter?
        var endpoint: BFDEndpoint?
        defer {
            router?.stop()
            nodeFRR?.stop()
            for namespace in [routerNamespace, ironNamespace, frrNamespace, lan] { namespace.destroy() }
        }
        try lan.check(["ip", "link", "add", "br0", "type", "bridge"])
        try lan.check(["ip", "link", "set", "br0", "up"])
        for (namespace, port, last) in [(routerNamespace, "p-rtr", 1), (ironNamespace, "p-iron", 2), (frrNamespace, "p-frr", 3)] {
            try lan.link(port, to: namespace, as: "eth0")
            try lan.check(["ip", "link", "set", port, "master", "br0"])
            try namespace.addAddress("192.0.2.\(last)/24", to: "eth0")
        }
        router = try FRRRouter(namespace: routerNamespace, config: frrConfig(host: "rtr", peers: ["192.0.2.2", "192.0.2.3"]), daemons: ["bfdd"])
        nodeFRR = try FRRRouter(namespace: frrNamespace, config: frrConfig(host: "node", peers: ["192.0.2.1"]), daemons: ["bfdd"])
        try await group.next().submit { try ironNamespace.enterOnCurrentThread() }.get()
        endpoint = BFDEndpoint(eventLoop: group.next())
        let stamp = Stamp()
        try await endpoint!.addSession(BFDPeerConfiguration(peerAddress: IPAddress("192.0.2.1")!, localAddress: IPAddress("192.0.2.2")!)) {
            stamp.record($0.to)
        }.get()
        let logPath = nodeFRR!.directory + "/bfdd.log"

        var ironlb: [Double] = []
        var frr: [Double] = []
        for run in 1...runs {
            let ready = await poll(timeout: 60, interval: 0.1) { stamp.isUp && frrPeerUp(nodeFRR!, "192.0.2.1") }
            guard ready else {
                print("run \(run): sessions did not come Up within 60 s; stopping")
                break
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 500...1500)))
            let logOffset = (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? 0
            stamp.reset()
            let frozenAt = ContinuousClock.now
            router!.signal(SIGSTOP)
            var frrDownAt: ContinuousClock.Instant?
            let deadline = frozenAt.advanced(by: .seconds(10))
            while ContinuousClock.now < deadline && (frrDownAt == nil || stamp.down == nil) {
                if frrDownAt == nil, let handle = FileHandle(forReadingAtPath: logPath) {
                    try? handle.seek(toOffset: UInt64(logOffset))
                    let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
                    try? handle.close()
                    if text.contains("up -> down") { frrDownAt = .now }
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            router!.signal(SIGCONT)
            guard let ironDown = stamp.down, let frrDown = frrDownAt else {
                print("run \(run): a node did not detect the frozen router within 10 s (IronLB \(stamp.down != nil), FRR \(frrDownAt != nil))")
                continue
            }
            ironlb.append(milliseconds(frozenAt.duration(to: ironDown)))
            frr.append(milliseconds(frozenAt.duration(to: frrDown)))
            print(String(format: "run %2d: IronLB %6.1f ms, FRR %6.1f ms", run, ironlb.last!, frr.last!))
        }
        await endpoint?.shutdown()
        try? await group.shutdownGracefully()
        guard !ironlb.isEmpty else { exit(1) }
        print("")
        print("BFD detection time after the router froze, 300 ms × 3 (configured detection time 900 ms), \(ironlb.count) runs:")
        print(String(format: "  IronLB  median %6.1f ms  (min %6.1f, max %6.1f)", median(ironlb), ironlb.min()!, ironlb.max()!))
        print(String(format: "  FRR     median %6.1f ms  (min %6.1f, max %6.1f)", median(frr), frr.min()!, frr.max()!))
        print(String(format: "  ratio IronLB / FRR: %.2f", median(ironlb) / median(frr)))
    }
}
