import L2Ownership
import LBCore
import NetPrimitives
import SpeakerCore
import TestSupport
import Testing

/// A speaker of this version beside 0.1.0 speakers (a rolling update; docs/design/layer2-leases.md,
/// "Upgrades"), driven by hand: 0.1.0's Leases carry no marker.
struct UpgradeRuleTests {
    typealias Node = NodeSpeaker<ManualInstant>
    static let key = ProbeKey(Array("0123456789abcdef-probe-key".utf8))!
    static let vip = IPAddress("192.0.2.50")!
    static let config = """
        address-pools:
        - {name: lan, protocol: layer2, addresses: [192.0.2.50/32]}
        """

    /// n1 with probes (heartbeats allowed or not), synced, acquired at 0 and seen back, with
    /// peers n2 and n3 (Node addresses 192.0.2.12, .13) not yet holding.
    static func node(heartbeats: Bool) -> Node {
        var node = Node(nodeName: "n1", timings: .probing, probing: .init(key: key, incarnation: 1, seed: 1, port: 7946, heartbeats: heartbeats))
        let inputs: [SpeakerInput] = [
            .config(config),
            .serviceUpserted(SpeakerService(key: ServiceKey(namespace: "ns", name: "a"), ips: [vip])),
            .endpoints(ServiceKey(namespace: "ns", name: "a"), ServiceEndpoints(anyUsable: true)),
        ] + ["n1", "n2", "n3"].enumerated().map { .nodeUpserted(NodeState(name: $1, addresses: [IPAddress("192.0.2.\(11 + $0)")!])) }
        for input in inputs { _ = node.apply(input, now: .seconds(0)) }
        _ = node.start(now: .seconds(0))
        _ = node.leaseOutcome(sentAt: .seconds(0), .succeeded(resourceVersion: "1"), now: .seconds(0.1))
        _ = node.apply(.lease(node: "n1", held: true, resourceVersion: "1", marker: node.leaseProtocol), now: .seconds(0.1))
        return node
    }

    static func requests(_ actions: [Node.Action]) -> [NodeLeaseStateMachine<ManualInstant>.Request] {
        actions.compactMap { if case .lease(let request, _) = $0 { return request } else { return nil } }
    }

    static func probed(_ actions: [Node.Action]) -> Set<String> {
        Set(actions.compactMap { if case .sendProbe(_, _, let peer) = $0 { return peer } else { return nil } })
    }

    /// Heartbeats only once synced and while every held Lease says `heartbeats`; a 0.1.0 Lease
    /// seen sends the speaker Lease's renewal in the same step; once it is released, the next
    /// renewal is a heartbeat again.
    @Test func heartbeatsOnlyWhileEveryHolderIsMarked() {
        var node = Self.node(heartbeats: true)
        #expect(node.leaseProtocol == .heartbeats)
        _ = node.apply(.lease(node: "n2", held: true, resourceVersion: "2", marker: .heartbeats), now: .seconds(0.2))
        #expect(!node.renewsHeartbeat, "heartbeats before the informers synced")
        _ = node.apply(.synced, now: .seconds(0.3))
        #expect(node.renewsHeartbeat)
        #expect(Self.requests(node.timerFired(now: .seconds(5))) == [.heartbeat])
        _ = node.leaseOutcome(sentAt: .seconds(5), .succeeded(resourceVersion: "7"), now: .seconds(5.1))
        _ = node.apply(.heartbeat(node: "n1", resourceVersion: "7"), now: .seconds(5.1))
        // n3 starts as 0.1.0: renew the speaker Lease (its own version, "1") at once.
        let seen = node.apply(.lease(node: "n3", held: true, resourceVersion: "8", marker: nil), now: .seconds(6))
        #expect(Self.requests(seen) == [.renew(resourceVersion: "1")])
        #expect(!node.renewsHeartbeat)
        _ = node.leaseOutcome(sentAt: .seconds(6), .succeeded(resourceVersion: "9"), now: .seconds(6.1))
        #expect(Self.requests(node.timerFired(now: .seconds(11))) == [.renew(resourceVersion: "9")])
        _ = node.leaseOutcome(sentAt: .seconds(11), .succeeded(resourceVersion: "10"), now: .seconds(11.1))
        // n3 is replaced by this version: released, then acquired with the marker.
        _ = node.apply(.lease(node: "n3", held: false, resourceVersion: "11", marker: nil), now: .seconds(12))
        #expect(node.renewsHeartbeat)
        _ = node.apply(.lease(node: "n3", held: true, resourceVersion: "12", marker: .heartbeats), now: .seconds(13))
        #expect(Self.requests(node.timerFired(now: .seconds(16))) == [.heartbeat])
    }

    /// Without `heartbeats` allowed the speaker never renews a heartbeat, whatever it sees.
    @Test func neverHeartbeatsUnlessAllowed() {
        var node = Self.node(heartbeats: false)
        #expect(node.leaseProtocol == .probes)
        _ = node.apply(.lease(node: "n2", held: true, resourceVersion: "2", marker: .heartbeats), now: .seconds(0.2))
        _ = node.apply(.synced, now: .seconds(0.3))
        #expect(!node.renewsHeartbeat)
        #expect(Self.requests(node.timerFired(now: .seconds(5))) == [.renew(resourceVersion: "1")])
    }

    /// A 0.1.0 peer has no probe port: it is not probed, its refused probe breaks nothing, and
    /// since it never yields, no claim is sent: the hand-off delay applies (it stops the VIPs
    /// it loses when it sees this node's Lease; the keep window is not for it).
    @Test(arguments: [true, false])
    func anUnmarkedPeerIsNotProbedNorClaimedFrom(heartbeats: Bool) {
        var node = Self.node(heartbeats: heartbeats)
        var actions = node.apply(.lease(node: "n2", held: true, resourceVersion: "2", marker: .probes), now: .seconds(0.2))
        actions += node.apply(.lease(node: "n3", held: true, resourceVersion: "3", marker: nil), now: .seconds(0.2))
        actions += node.apply(.synced, now: .seconds(0.3))
        for step in 1...20 { actions += node.timerFired(now: .seconds(0.3 + Double(step) * 0.2)) }
        #expect(Self.probed(actions) == ["n2"], "claims or pings went to \(Self.probed(actions))")
        #expect(!actions.contains(.claimGranted))
        #expect(!actions.contains { if case .sendProbe(let bytes, _, _) = $0 { (try? ProbeMessage(decoding: bytes, key: Self.key))?.kind == .claim } else { false } })
        actions += node.probeRefused(node: "n3", now: .seconds(5))
        for step in 0..<40 {
            let now = ManualInstant.seconds(5 + Double(step) * 0.2)
            actions += node.timerFired(now: now) + node.probeRefused(node: "n2", now: now)
        }
        #expect(!node.mayAnswer)
        // n2, marked, never answers a probe: its verdict breaks its Lease; n3's silence and
        // refusal break nothing.
        let breaks = actions.compactMap { if case .breakLease(let peer, _) = $0 { return peer } else { return nil } }
        #expect(breaks == ["n2"], "\(breaks)")
    }
}
