import L2Ownership
import LBCore
import NetPrimitives
import SpeakerCore
import TestSupport
import Testing

/// One speaker alone in a cluster, driven by hand: the pure core `ironlb speaker` runs.
struct NodeSpeakerTests {
    typealias Node = NodeSpeaker<ManualInstant>
    static let vip = IPAddress("192.0.2.50")!
    static let vip6 = IPAddress("2001:db8::50")!
    static let config = """
        address-pools:
        - {name: lan, protocol: layer2, addresses: [192.0.2.50/32, 2001:db8::50/128]}
        """

    static func service(_ name: String, _ ip: IPAddress) -> SpeakerInput {
        .serviceUpserted(SpeakerService(key: ServiceKey(namespace: "ns", name: name), ips: [ip]))
    }

    /// A usable endpoint of the Service somewhere (it may be announced, Cluster policy).
    static func endpoints(_ name: String) -> SpeakerInput {
        .endpoints(ServiceKey(namespace: "ns", name: name), ServiceEndpoints(anyUsable: true))
    }

    static func plans(_ actions: [Node.Action]) -> [SpeakerPlanChange] {
        actions.compactMap { if case .apply(let change) = $0 { return change } else { return nil } }
    }

    /// The layer 2 maps the actions hand out.
    static func layer2(_ actions: [Node.Action]) -> [Set<IPAddress>] {
        plans(actions).compactMap { $0.layer2.map { Set($0.keys) } }
    }

    static func announced(_ actions: [Node.Action]) -> [IPAddress] {
        actions.compactMap { if case .announce(let vip) = $0 { return vip } else { return nil } }
    }

    /// Brings a node to the end of its hand-off: acquired at 0, every renewal seen back.
    static func heldNode(extraNodes: [String] = []) -> Node {
        var node = Node(nodeName: "n1", timings: .default)
        for input in [.config(config), .nodeUpserted(NodeState(name: "n1")), service("a", vip), service("b", vip6), endpoints("a"), endpoints("b")] as [SpeakerInput] {
            #expect(plans(node.apply(input, now: .seconds(0))).isEmpty)
        }
        // Synced: nothing owned yet (the Lease is not even asked for), so nothing to apply.
        #expect(layer2(node.apply(.synced, now: .seconds(0))).isEmpty)
        for name in extraNodes { _ = node.apply(.nodeUpserted(NodeState(name: name)), now: .seconds(0)) }
        #expect(node.start(now: .seconds(0)).contains(.lease(.acquire, sentAt: .seconds(0))))
        _ = node.leaseOutcome(sentAt: .seconds(0), .succeeded(resourceVersion: "1"), now: .seconds(0.1))
        _ = node.apply(.lease(node: "n1", held: true, resourceVersion: "1", marker: .probes), now: .seconds(0.2))
        for (i, t) in [5.0, 10.0].enumerated() {
            _ = node.timerFired(now: .seconds(t))
            _ = node.leaseOutcome(sentAt: .seconds(t), .succeeded(resourceVersion: "\(i + 2)"), now: .seconds(t + 0.1))
            _ = node.apply(.lease(node: "n1", held: true, resourceVersion: "\(i + 2)", marker: .probes), now: .seconds(t + 0.2))
        }
        #expect(node.plan.layer2.isEmpty)
        #expect(!node.mayAnswer)
        return node
    }

    /// A restarted speaker whose own acquire comes back before the list has delivered its peers'
    /// Leases (the informers coalesce in place: its own old Lease was listed first) claims only
    /// once synced, from every live peer: a claim granted by the peers seen so far would leave
    /// the unseen current owner answering beside it.
    @Test func claimsOnlyOnceSyncedFromEveryLivePeer() {
        let key = ProbeKey(Array("0123456789abcdef-probe-key".utf8))!
        var node = Node(nodeName: "n1", timings: .default, probing: .init(key: key, incarnation: 1, seed: 1, port: 7946))
        func claims(_ actions: [Node.Action]) -> [String] {
            actions.compactMap { action -> String? in
                guard case .sendProbe(let bytes, _, let peer) = action,
                      (try? ProbeMessage(decoding: bytes, key: key))?.kind == .claim else { return nil }
                return peer
            }
        }
        var sent: [String] = []
        let address = ["n1": "192.0.2.11", "n2": "192.0.2.12", "n3": "192.0.2.13"]
        for input in [.config(Self.config), Self.service("a", Self.vip), Self.endpoints("a")] as [SpeakerInput] { _ = node.apply(input, now: .seconds(0)) }
        for name in ["n1", "n2", "n3"] {
            _ = node.apply(.nodeUpserted(NodeState(name: name, addresses: [IPAddress(address[name]!)!])), now: .seconds(0))
        }
        #expect(node.start(now: .seconds(0)).contains(.lease(.acquire, sentAt: .seconds(0))))
        sent += claims(node.leaseOutcome(sentAt: .seconds(0), .succeeded(resourceVersion: "7"), now: .seconds(0.1)))
        // Its own acquire seen back first, n2 next; n3's Lease not delivered yet: no claim.
        sent += claims(node.apply(.lease(node: "n1", held: true, resourceVersion: "7", marker: .probes), now: .seconds(0.1)))
        sent += claims(node.apply(.lease(node: "n2", held: true, resourceVersion: "5", marker: .probes), now: .seconds(0.1)))
        #expect(sent.isEmpty, "claimed before the list was complete: \(sent)")
        sent += claims(node.apply(.lease(node: "n3", held: true, resourceVersion: "6", marker: .probes), now: .seconds(0.1)))
        #expect(sent.isEmpty)
        sent += claims(node.apply(.synced, now: .seconds(0.1)))
        #expect(Set(sent) == ["n2", "n3"], "the claim goes to every live peer once synced: \(sent)")
        #expect(!node.mayAnswer)
    }

    @Test func answersAndAnnouncesAfterTheHandOff() throws {
        var node = Self.heldNode()
        let actions = node.timerFired(now: .seconds(12))
        #expect(Self.layer2(actions) == [[Self.vip, Self.vip6]])
        let change = try #require(Self.plans(actions).first)
        #expect(Set(change.announced.keys) == [ServiceKey(namespace: "ns", name: "a"), ServiceKey(namespace: "ns", name: "b")])
        #expect(actions.contains(.answering(true)))
        // The plan goes out before the announcements: the data plane must know the VIPs to
        // send their gratuitous ARP / unsolicited NA.
        let applyAt = try #require(actions.firstIndex { if case .apply = $0 { return true } else { return false } })
        let firstAnnounce = try #require(actions.firstIndex { if case .announce = $0 { return true } else { return false } })
        #expect(applyAt < firstAnnounce)
        #expect(Set(Self.announced(actions)) == [Self.vip, Self.vip6])
        // Then every second for five seconds.
        var rounds = 1
        for t in stride(from: 12.5, through: 20, by: 0.5) where !Self.announced(node.timerFired(now: .seconds(t))).isEmpty { rounds += 1 }
        #expect(rounds == 6)
    }

    @Test func shutdownStopsAnsweringBeforeReleasing() {
        var node = Self.heldNode()
        _ = node.timerFired(now: .seconds(12))
        let actions = node.shutdown(now: .seconds(13))
        let stop = actions.firstIndex { if case .apply(let change) = $0 { return change.layer2 == [:] } else { return false } }
        let release = actions.firstIndex { if case .lease(.release, _) = $0 { return true } else { return false } }
        #expect(stop != nil && release != nil && stop! < release!)
        #expect(!node.mayAnswer)
        // The release lands: the process may exit.
        let sentAt = ManualInstant.seconds(13)
        #expect(node.leaseOutcome(sentAt: sentAt, .succeeded(resourceVersion: "9"), now: .seconds(13.1)).contains(.exit))
        #expect(node.isDone)
    }

    /// A live peer that outranks this node for the VIP takes it; this node stops at once.
    @Test func higherRankedPeerTakesTheVIP() {
        let outranks = { (node: String, vip: IPAddress) in OwnerElection.weight(node: node, address: vip) > OwnerElection.weight(node: "n1", address: vip) }
        let peer = (0..<200).map { "peer-\($0)" }.first { outranks($0, Self.vip) && !outranks($0, Self.vip6) }!
        var node = Self.heldNode(extraNodes: [peer])
        _ = node.timerFired(now: .seconds(12))
        let actions = node.apply(.lease(node: peer, held: true, resourceVersion: "7", marker: .probes), now: .seconds(14))
        #expect(Self.layer2(actions) == [[Self.vip6]])
        // Its Lease released: the VIP comes back, with a new announcement.
        let back = node.apply(.lease(node: peer, held: false, resourceVersion: "8", marker: .probes), now: .seconds(15))
        #expect(Self.layer2(back) == [[Self.vip, Self.vip6]])
        #expect(Self.announced(back) == [Self.vip])
    }

    /// A refused configuration changes nothing the node does; the last good one stays.
    @Test func invalidConfigurationKeepsThePlan() {
        var node = Self.heldNode()
        _ = node.timerFired(now: .seconds(12))
        let before = node.plan
        let actions = node.apply(.config("address-pools: [{name: lan, protocol: nope}]"), now: .seconds(13))
        #expect(Self.plans(actions).isEmpty)
        #expect(node.plan == before)
        if case .rejected(let problems) = node.configOutcome { #expect(!problems.errors.isEmpty) } else { Issue.record("not rejected: \(String(describing: node.configOutcome))") }
        #expect(node.core.config.stale)
    }

    /// Its own Lease seen cleared (a peer broke it) is no renewal: the node stops answering at
    /// once (issue 12: it acquires again), and in any case before the fence closes.
    @Test func ownLeaseClearedByAPeerDoesNotKeepTheFenceOpen() {
        var node = Self.heldNode()
        _ = node.timerFired(now: .seconds(12))
        #expect(node.mayAnswer)
        // The renewal at 15 s is lost; the watch shows the Lease cleared by a peer.
        _ = node.timerFired(now: .seconds(15))
        let cleared = node.apply(.lease(node: "n1", held: false, resourceVersion: "20", marker: .probes), now: .seconds(16))
        var stopped: ManualInstant? = cleared.contains(.answering(false)) ? .seconds(16) : nil
        #expect(stopped != nil)
        for t in stride(from: 16.0, through: 30, by: 0.5) where stopped == nil {
            let actions = node.timerFired(now: .seconds(t))
            if actions.contains(.answering(false)) { stopped = .seconds(t); break }
        }
        // Last renewal seen back was sent at 10 s: the fence closes at 10 s + renewDeadline.
        #expect(stopped != nil && stopped! <= ManualInstant.seconds(10).advanced(by: LeaseTimings.default.renewDeadline).advanced(by: .milliseconds(500)))
        #expect(node.plan.layer2.isEmpty)
    }
}
