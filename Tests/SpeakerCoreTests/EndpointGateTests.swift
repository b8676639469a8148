import LBCore
import NetPrimitives
import SpeakerCore
import Testing

/// Announcements follow endpoints, as MetalLB's `ShouldAnnounce` does: Cluster needs a usable
/// endpoint anywhere, Local one on the node; usable means ready, or serving while terminating.
struct EndpointGateTests {
    /// (ready, serving, terminating) of one endpoint; nil is an absent field.
    struct Conditions: CustomStringConvertible, Sendable {
        var ready: Bool?
        var serving: Bool?
        var terminating: Bool?
        var usable: Bool { ServiceEndpoints.isUsable(ready: ready, serving: serving, terminating: terminating) }
        var description: String { "ready \(ready.map(String.init) ?? "-") serving \(serving.map(String.init) ?? "-") terminating \(terminating.map(String.init) ?? "-")" }
    }

    /// (ready, serving, terminating) → usable.
    static let usabilityCases: [(Conditions, Bool)] = [
        (Conditions(), true),                                                   // all absent: ready
        (Conditions(ready: true), true),
        (Conditions(ready: true, serving: true, terminating: false), true),
        (Conditions(ready: false), false),                                      // starting, or failing its probe
        (Conditions(ready: false, serving: false, terminating: false), false),
        (Conditions(ready: false, serving: true, terminating: true), true),      // rolling update: old pod still serving
        (Conditions(ready: false, serving: false, terminating: true), false),    // terminating, no longer serving
        (Conditions(ready: false, terminating: true), true),                     // serving absent means serving
        (Conditions(ready: false, serving: true, terminating: false), false),    // not terminating: `ready` decides
        (Conditions(ready: false, serving: true), false),
    ]

    @Test(arguments: usabilityCases)
    func usability(conditions: Conditions, usable: Bool) {
        #expect(conditions.usable == usable, "\(conditions)")
    }

    static let ready = Conditions(ready: true, serving: true, terminating: false)
    static let starting = Conditions(ready: false, serving: false, terminating: false)
    static let draining = Conditions(ready: false, serving: true, terminating: true)
    static let gone = Conditions(ready: false, serving: false, terminating: true)

    /// Endpoints (conditions, node) → what `reduce` keeps.
    static let reductionCases: [([(Conditions, String?)], ServiceEndpoints)] = [
        ([], .none),
        ([(starting, "a"), (gone, "b")], .none),
        ([(ready, "a"), (starting, "b")], ServiceEndpoints(nodes: ["a"])),
        ([(draining, "a"), (ready, "b"), (ready, "b")], ServiceEndpoints(nodes: ["a", "b"])),
        ([(ready, nil)], ServiceEndpoints(nodes: [], anyUsable: true)),           // no nodeName: counts for Cluster
        ([(starting, nil), (gone, "a")], .none),
    ]

    @Test(arguments: reductionCases)
    func reduction(endpoints: [(Conditions, String?)], expected: ServiceEndpoints) {
        #expect(ServiceEndpoints.reduce(endpoints.map { (usable: $0.0.usable, nodeName: $0.1) }) == expected)
    }

    @Test func slicesOfOneServiceAreUnited() {
        let parts = [ServiceEndpoints(nodes: ["a"]), .none, ServiceEndpoints(nodes: [], anyUsable: true), ServiceEndpoints(nodes: ["c"])]
        #expect(ServiceEndpoints.union(parts) == ServiceEndpoints(nodes: ["a", "c"], anyUsable: true))
        #expect(ServiceEndpoints.union([ServiceEndpoints.none, .none]) == .none)
        #expect(ServiceEndpoints.union([ServiceEndpoints]()) == .none)
    }

    /// (Local?, endpoints, node) → why the node does not announce (nil: it may).
    static let gateCases: [(Bool, ServiceEndpoints, String, WithholdReason?)] = [
        (false, .none, "a", .noReadyEndpoints),
        (false, ServiceEndpoints(nodes: ["b"]), "a", nil),                        // Cluster: anywhere will do
        (false, ServiceEndpoints(nodes: [], anyUsable: true), "a", nil),
        (true, .none, "a", .noReadyEndpoints),
        (true, ServiceEndpoints(nodes: ["b"]), "a", .noLocalEndpoints),
        (true, ServiceEndpoints(nodes: ["a", "b"]), "a", nil),
        (true, ServiceEndpoints(nodes: [], anyUsable: true), "a", .noLocalEndpoints),
    ]

    @Test(arguments: gateCases)
    func gate(local: Bool, endpoints: ServiceEndpoints, node: String, expected: WithholdReason?) {
        #expect(EndpointGate.reason(localTrafficPolicy: local, endpoints: endpoints, node: node) == expected)
    }

    @Test func reasonsHaveMetalLBsCodesAndOnlyNoEndpointsIsClusterWide() {
        #expect(WithholdReason.noReadyEndpoints.rawValue == "no ready endpoints")
        #expect(WithholdReason.allCases.map(\.code) == ["noEndpoints", "noLocalEndpoints"])
        #expect(WithholdReason.allCases.filter(\.isClusterWide) == [.noReadyEndpoints])
    }

    // MARK: The core, both modes

    static let bgpVIP = IPAddress("203.0.113.5")!
    static let layer2VIP = IPAddress("198.51.100.5")!
    static let nodes = [NodeState(name: "a"), NodeState(name: "b"), NodeState(name: "c")]

    /// Three speakers (BGP and layer 2 pools) with one Service of each mode.
    static func cores(local: Bool) -> [String: SpeakerCore] {
        var cores: [String: SpeakerCore] = [:]
        for node in nodes {
            var core = SpeakerCore(nodeName: node.name)
            _ = core.configChanged(speakerConfig)
            for other in nodes { core.nodeChanged(other) }
            core.serviceChanged(SpeakerService(key: key("bgp"), ips: [bgpVIP], localTrafficPolicy: local))
            core.serviceChanged(SpeakerService(key: key("l2"), ips: [layer2VIP], localTrafficPolicy: local))
            core.eligibilityChanged(["a", "b", "c"])
            cores[node.name] = core
        }
        return cores
    }

    static func set(_ cores: inout [String: SpeakerCore], _ endpoints: ServiceEndpoints) {
        for name in cores.keys {
            cores[name]!.endpointsChanged(key("bgp"), endpoints)
            cores[name]!.endpointsChanged(key("l2"), endpoints)
        }
    }

    /// Nodes advertising the BGP Service, and nodes answering for the layer 2 VIP.
    static func announcers(_ cores: [String: SpeakerCore]) -> (bgp: Set<String>, layer2: Set<String>) {
        (Set(cores.filter { $0.value.plan.announced[key("bgp")] != nil }.keys),
         Set(cores.filter { $0.value.plan.layer2[layer2VIP] != nil }.keys))
    }

    @Test func aClusterServiceIsAnnouncedOnlyWhileItHasAUsableEndpoint() {
        var cores = Self.cores(local: false)
        #expect(Self.announcers(cores).bgp.isEmpty && Self.announcers(cores).layer2.isEmpty)
        for core in cores.values {
            #expect(core.plan.withheld == [key("bgp"): .noReadyEndpoints, key("l2"): .noReadyEndpoints])
            #expect(core.routes.isEmpty)
        }
        // Scaled to one pod on c: every BGP node advertises, one node answers.
        Self.set(&cores, ServiceEndpoints(nodes: ["c"]))
        #expect(Self.announcers(cores).bgp == ["a", "b", "c"])
        #expect(Self.announcers(cores).layer2.count == 1)
        for core in cores.values { #expect(core.plan.withheld.isEmpty) }
        // Back to zero: withdrawn everywhere, and the change says so.
        for name in cores.keys { _ = cores[name]!.takeChange() }
        Self.set(&cores, .none)
        #expect(Self.announcers(cores).bgp.isEmpty && Self.announcers(cores).layer2.isEmpty)
        for name in cores.keys {
            let change = cores[name]!.takeChange()
            #expect(change.announced[key("bgp")] == .some(nil))
            #expect(change.withheld[key("bgp")] == .some(.noReadyEndpoints))
            #expect(change.routes.values.allSatisfy { $0 == nil } && !change.routes.isEmpty)
        }
    }

    @Test func aLocalServiceFollowsItsPodsNode() {
        var cores = Self.cores(local: true)
        Self.set(&cores, ServiceEndpoints(nodes: ["b"]))
        #expect(Self.announcers(cores).bgp == ["b"])
        #expect(Self.announcers(cores).layer2 == ["b"])
        // Not withheld anywhere: b announces it; the others lack a local endpoint only.
        for core in cores.values { #expect(core.plan.withheld.isEmpty) }
        Self.set(&cores, ServiceEndpoints(nodes: ["c"]))
        #expect(Self.announcers(cores).bgp == ["c"])
        #expect(Self.announcers(cores).layer2 == ["c"])
        Self.set(&cores, .none)
        #expect(Self.announcers(cores).bgp.isEmpty && Self.announcers(cores).layer2.isEmpty)
        for core in cores.values { #expect(core.plan.withheld[key("l2")] == .noReadyEndpoints) }
    }

    @Test func aServiceWithoutEndpointsDoesNotHoldASharedVIPHostage() {
        var cores: [String: SpeakerCore] = [:]
        for node in Self.nodes {
            var core = SpeakerCore(nodeName: node.name)
            _ = core.configChanged(speakerConfig)
            for other in Self.nodes { core.nodeChanged(other) }
            core.serviceChanged(SpeakerService(key: key("empty"), ips: [Self.layer2VIP]))
            core.serviceChanged(SpeakerService(key: key("full"), ips: [Self.layer2VIP]))
            core.endpointsChanged(key("full"), nodes: ["a"])
            core.eligibilityChanged(["a", "b", "c"])
            cores[node.name] = core
        }
        let owners = cores.filter { $0.value.plan.layer2[Self.layer2VIP] != nil }
        #expect(owners.count == 1)
        #expect(owners.first?.value.plan.layer2[Self.layer2VIP]?.services == [key("full")])
        #expect(owners.first?.value.plan.announced[key("empty")] == nil)
    }

    @Test func aServiceNotOursOrWithoutIPsIsNotReportedWithheld() {
        var core = SpeakerCore(nodeName: "a")
        core.serviceChanged(SpeakerService(key: key("other"), isOurs: false, ips: [Self.bgpVIP]))
        core.serviceChanged(SpeakerService(key: key("pending"), ips: []))
        #expect(core.plan.withheld.isEmpty)
        core.serviceChanged(SpeakerService(key: key("pending"), ips: [Self.bgpVIP]))
        #expect(core.plan.withheld == [key("pending"): .noReadyEndpoints])
        core.serviceDeleted(key("pending"))
        #expect(core.plan.withheld.isEmpty)
        let change = core.takeChange()
        let entry: WithholdReason?? = change.withheld[key("pending")]
        #expect(change.withheld.count == 1 && entry == .some(.none))
    }
}
