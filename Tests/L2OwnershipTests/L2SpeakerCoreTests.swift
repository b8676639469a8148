import L2Ownership
import LinkWire
import NetPrimitives
import Testing

/// One speaker alone in a cluster, driven by hand.
struct L2SpeakerCoreTests {
    typealias Core = L2SpeakerCore<ManualInstant>
    static let mac = MACAddress("02:00:00:00:00:01")!
    static let eth0 = InterfaceInfo(name: "eth0", mac: mac, addresses: [IPPrefix("192.0.2.0/24")!])
    static let vip = IPAddress("192.0.2.50")!
    static let vip6 = IPAddress("2001:db8::50")!
    static let vips = [
        LayerTwoVIP(address: vip, services: [ServiceRequirement(service: "ns/a", selectedNodes: ["n1"])]),
        LayerTwoVIP(address: vip6, services: [ServiceRequirement(service: "ns/b", selectedNodes: ["n1"])]),
    ]

    static func sent(_ actions: [Core.Action]) -> [LinkFrame] {
        actions.compactMap { if case .send(let frame, "eth0") = $0 { return frame } else { return nil } }
    }

    /// Brings a core to answering: acquired at 0, every renewal seen back, hand-off over at 12 s.
    static func answeringCore() -> Core {
        var core = Core(node: "n1", timings: .default)
        _ = core.update(interfaces: [Self.eth0], now: .seconds(0))
        _ = core.update(vips: Self.vips, nodes: [NodeFacts(name: "n1")], now: .seconds(0))
        #expect(core.start(now: .seconds(0)).contains(.lease(.acquire, sentAt: .seconds(0))))
        _ = core.leaseSucceeded(sentAt: .seconds(0), resourceVersion: "1", now: .seconds(0.1))
        _ = core.observedLease(node: "n1", holder: "n1", resourceVersion: "1", now: .seconds(0.2))
        for (i, t) in [5.0, 10.0].enumerated() {
            _ = core.timerFired(now: .seconds(t))
            _ = core.leaseSucceeded(sentAt: .seconds(t), resourceVersion: "\(i + 2)", now: .seconds(t + 0.1))
            _ = core.observedLease(node: "n1", holder: "n1", resourceVersion: "\(i + 2)", now: .seconds(t + 0.2))
        }
        #expect(core.answers.isEmpty)
        return core
    }

    @Test func answersAndAnnouncesAfterTheHandOff() {
        var core = Self.answeringCore()
        let actions = core.timerFired(now: .seconds(12))
        #expect(actions.contains(.setAnswers([Self.vip: ["eth0"], Self.vip6: ["eth0"]])))
        // At once: both gratuitous ARP forms and one unsolicited NA, with eth0's MAC.
        let frames = Self.sent(actions)
        #expect(frames.count == 3)
        #expect(frames.allSatisfy { $0.ethernet.source == Self.mac })
        #expect(frames.contains(Announcement.unsolicitedNA(address: IPv6Address("2001:db8::50")!, mac: Self.mac)))
        // Then every second for five seconds.
        var rounds = 1
        for t in stride(from: 12.5, through: 20, by: 0.5) where !Self.sent(core.timerFired(now: .seconds(t))).isEmpty { rounds += 1 }
        #expect(rounds == 6)
    }

    @Test func shutdownStopsAnsweringBeforeReleasing() {
        var core = Self.answeringCore()
        _ = core.timerFired(now: .seconds(12))
        let actions = core.shutdown(now: .seconds(13))
        let stop = actions.firstIndex(of: .setAnswers([:]))
        let release = actions.firstIndex { if case .lease(.release, _) = $0 { return true } else { return false } }
        #expect(stop != nil && release != nil && stop! < release!)
        #expect(core.answers.isEmpty)
    }

    @Test func macChangeAnnouncesAgain() {
        var core = Self.answeringCore()
        _ = core.timerFired(now: .seconds(12))
        let newMAC = MACAddress("02:00:00:00:00:09")!
        var eth0 = Self.eth0
        eth0.mac = newMAC
        let frames = Self.sent(core.update(interfaces: [eth0], now: .seconds(30)))
        #expect(frames.count == 3)
        #expect(frames.allSatisfy { $0.ethernet.source == newMAC })
    }

    /// A live peer that outranks this node for the VIP takes it; this node stops at once.
    @Test func higherRankedPeerTakesTheVIP() {
        var core = Self.answeringCore()
        _ = core.timerFired(now: .seconds(12))
        let peer = (0..<50).map { "peer-\($0)" }.first { OwnerElection.weight(node: $0, address: Self.vip) > OwnerElection.weight(node: "n1", address: Self.vip) }!
        var vips = Self.vips
        vips[0].services[0].selectedNodes.insert(peer)
        _ = core.update(vips: vips, nodes: [NodeFacts(name: "n1"), NodeFacts(name: peer)], now: .seconds(13))
        let actions = core.observedLease(node: peer, holder: peer, resourceVersion: "7", now: .seconds(14))
        #expect(actions.contains(.setAnswers([Self.vip6: ["eth0"]])))
        // Its Lease released: the VIP comes back, with a new burst.
        let back = core.observedLease(node: peer, holder: nil, resourceVersion: "8", now: .seconds(15))
        #expect(back.contains(.setAnswers([Self.vip: ["eth0"], Self.vip6: ["eth0"]])))
        #expect(Self.sent(back).count == 2)
    }
}
