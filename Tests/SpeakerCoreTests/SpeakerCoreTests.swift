import Testing
import LBConfig
import LBCore
import NetPrimitives
import TestSupport
@testable import SpeakerCore

let speakerConfig = """
    peers:
    - {peer-address: 192.0.2.1, peer-asn: 64501, my-asn: 64500}
    address-pools:
    - {name: l2, protocol: layer2, addresses: [198.51.100.0/24], interfaces: [eth1]}
    - {name: bgp, protocol: bgp, addresses: [203.0.113.0/24]}
    """

func key(_ name: String) -> ServiceKey { ServiceKey(namespace: "default", name: name) }
func ip(_ text: String) -> IPAddress { IPAddress(text)! }

/// Three speakers fed the same cluster state.
func cluster(nodes: [NodeState], eligible: Set<String>, services: [SpeakerService], endpoints: [ServiceKey: Set<String>] = [:], config: String = speakerConfig) -> [String: SpeakerCore] {
    var cores: [String: SpeakerCore] = [:]
    for node in nodes {
        var core = SpeakerCore(nodeName: node.name)
        _ = core.configChanged(config)
        for n in nodes { core.nodeChanged(n) }
        for s in services { core.serviceChanged(s) }
        // Services without listed endpoints have a usable one on no particular node (Cluster).
        for s in services where endpoints[s.key] == nil { core.endpointsChanged(s.key, ServiceEndpoints(anyUsable: true)) }
        for (k, v) in endpoints { core.endpointsChanged(k, nodes: v) }
        core.eligibilityChanged(eligible)
        cores[node.name] = core
    }
    return cores
}

@Suite struct SpeakerCoreTests {
    let nodes = [NodeState(name: "a"), NodeState(name: "b"), NodeState(name: "c")]

    /// Issue 18: which Services hold an IP is kept for IPs of layer 2 pools only (those decide
    /// duties); a configuration that makes a pool layer 2, or stops it being one, rebuilds it, and
    /// the duties follow.
    @Test func whoHoldsEachIPIsKeptForLayer2PoolsOnly() {
        let services = (0..<10).map { SpeakerService(key: key("bgp\($0)"), ips: [ip("203.0.113.\($0)")]) }
            + (0..<3).map { SpeakerService(key: key("l2-\($0)"), ips: [ip("198.51.100.\($0)")]) }
            + [SpeakerService(key: key("shared"), ips: [ip("198.51.100.0")])]
        var core = cluster(nodes: [NodeState(name: "a")], eligible: ["a"], services: services)["a"]!
        #expect(core.layer2IPCount == 3)
        #expect(core.plan.layer2.count == 3 && core.plan.layer2[ip("198.51.100.0")]?.services.count == 2)
        let allLayer2 = """
            address-pools:
            - {name: l2, protocol: layer2, addresses: [198.51.100.0/24, 203.0.113.0/24]}
            """
        _ = core.configChanged(allLayer2)
        #expect(core.layer2IPCount == 13 && core.plan.layer2.count == 13)
        _ = core.configChanged(speakerConfig)
        #expect(core.layer2IPCount == 3 && core.plan.layer2.count == 3)
        // A Service moving from a BGP IP to a layer 2 one, and back.
        core.serviceChanged(SpeakerService(key: key("bgp0"), ips: [ip("198.51.100.9")]))
        #expect(core.layer2IPCount == 4 && core.plan.layer2[ip("198.51.100.9")]?.services == [key("bgp0")])
        core.serviceChanged(SpeakerService(key: key("bgp0"), ips: [ip("203.0.113.0")]))
        #expect(core.layer2IPCount == 3 && core.plan.layer2[ip("198.51.100.9")] == nil)
    }

    @Test func exactlyOneNodeAnswersForEachLayer2VIP() {
        let services = (0..<60).map { SpeakerService(key: key("s\($0)"), ips: [ip("198.51.100.\($0)")]) }
        let cores = cluster(nodes: nodes, eligible: ["a", "b", "c"], services: services)
        var owners: [IPAddress: [String]] = [:]
        for (name, core) in cores {
            for (vip, duty) in core.plan.layer2 {
                owners[vip, default: []].append(name)
                #expect(duty.interfaces == ["eth1"])
            }
        }
        #expect(owners.count == 60)
        #expect(owners.values.allSatisfy { $0.count == 1 })
        // Spread: every node owns some.
        #expect(Set(owners.values.map { $0[0] }) == ["a", "b", "c"])
    }

    @Test func aNodeWithoutALiveLeaseOwnsNothingAndOnlyItsVIPsMove() {
        let services = (0..<30).map { SpeakerService(key: key("s\($0)"), ips: [ip("198.51.100.\($0)")]) }
        let before = cluster(nodes: nodes, eligible: ["a", "b", "c"], services: services)
        let after = cluster(nodes: nodes, eligible: ["a", "b"], services: services)
        #expect(after["c"]!.plan.layer2.isEmpty)
        for name in ["a", "b"] {
            // What a and b owned before, they still own (rendezvous hashing moves only c's VIPs).
            #expect(Set(before[name]!.plan.layer2.keys).isSubset(of: Set(after[name]!.plan.layer2.keys)))
        }
    }

    @Test func localPolicyAndExclusionsAndSharing() {
        let nodes = [NodeState(name: "a"), NodeState(name: "b", labels: [NodeState.excludeLabel: "true"]), NodeState(name: "c", networkUnavailable: true), NodeState(name: "d")]
        let services = [
            SpeakerService(key: key("local"), ips: [ip("198.51.100.7")], localTrafficPolicy: true),
            SpeakerService(key: key("shared-1"), ips: [ip("198.51.100.8")]),
            SpeakerService(key: key("shared-2"), ips: [ip("198.51.100.8")]),
        ]
        let cores = cluster(nodes: nodes, eligible: ["a", "b", "c", "d"], services: services, endpoints: [key("local"): ["b", "d"]])
        #expect(cores["b"]!.plan.layer2.isEmpty)
        #expect(cores["c"]!.plan.layer2.isEmpty)
        #expect(cores["d"]!.plan.layer2[ip("198.51.100.7")] != nil)          // the only eligible node with an endpoint
        #expect(cores["a"]!.plan.layer2[ip("198.51.100.7")] == nil)
        let sharedOwners = cores.filter { $0.value.plan.layer2[ip("198.51.100.8")] != nil }.map(\.key)
        #expect(sharedOwners.count == 1)
        let duty = cores[sharedOwners[0]]!.plan.layer2[ip("198.51.100.8")]!
        #expect(duty.services == [key("shared-1"), key("shared-2")])
    }

    @Test func bgpServicesAreAdvertisedByEveryEligibleNode() {
        let services = [
            SpeakerService(key: key("web"), ips: [ip("203.0.113.5")]),
            SpeakerService(key: key("gone"), isOurs: false, ips: [ip("203.0.113.6")]),
        ]
        let cores = cluster(nodes: nodes, eligible: [], services: services)
        for (_, core) in cores {
            let routes = core.plan.bgp.values.first ?? [:]
            #expect(routes.keys.map(\.description) == ["203.0.113.5/32"])
            #expect(core.plan.announced[key("web")] == [.bgp(ips: [ip("203.0.113.5")], peers: 1)])
            #expect(core.plan.announced[key("gone")] == nil)
        }
    }

    @Test func anInvalidConfigKeepsTheLastGoodOne() {
        var core = SpeakerCore(nodeName: "a")
        core.nodeChanged(NodeState(name: "a"))
        #expect(core.configChanged(speakerConfig) != .unchanged)
        core.serviceChanged(SpeakerService(key: key("web"), ips: [ip("203.0.113.5")]))
        core.endpointsChanged(key("web"), nodes: ["b"])
        let before = core.plan
        #expect(before.announced[key("web")] != nil)
        guard case .rejected(let errors) = core.configChanged("address-pools: [{name: x, protocol: nope}]") else {
            Issue.record("not rejected")
            return
        }
        #expect(errors.errors.map(\.description) == [
            "address-pools[0].addresses: is required", "address-pools[0].protocol: \"nope\" is not a protocol; use layer2 or bgp",
        ])
        #expect(core.config.stale)
        #expect(core.plan == before)
        #expect(core.configChanged(speakerConfig) == .unchanged)
        #expect(!core.config.stale)
        #expect(core.configChanged(nil) == .missing)
        #expect(core.plan == before)
    }

    @Test func noConfigurationOrUnknownNodeMeansNothing() {
        var core = SpeakerCore(nodeName: "a")
        core.serviceChanged(SpeakerService(key: key("web"), ips: [ip("203.0.113.5")]))
        core.endpointsChanged(key("web"), nodes: ["b"])
        #expect(core.plan == SpeakerPlan())
        _ = core.configChanged(speakerConfig)
        #expect(core.plan == SpeakerPlan())          // the Node object is not known yet
    }
}

/// Issue 18: the map that holds its one entry inline behaves as a dictionary under any sequence
/// of sets and removals (a seeded sequence, checked against `Dictionary` after every step).
@Suite struct InlineFirstMapTests {
    @Test(arguments: [1, 2, 3, 4, 5])
    func behavesAsADictionary(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var map = InlineFirstMap<Int, Int>()
        var model: [Int: Int] = [:]
        for step in 0..<2_000 {
            let key = Int.random(in: 0..<(seed == 1 ? 2 : 6), using: &random)
            let value: Int? = Bool.random(using: &random) ? step : nil
            map[key] = value
            model[key] = value
            #expect(map.isEmpty == model.isEmpty)
            #expect(Set(map.keys) == Set(model.keys) && map.keys.count == model.count)
            #expect(map.values.sorted() == model.values.sorted())
            for probe in 0..<6 { #expect(map[probe] == model[probe]) }
        }
    }
}
