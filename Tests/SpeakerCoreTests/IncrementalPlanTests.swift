import L2Ownership
import KubeModel
import LBConfig
import LBCore
import NetPrimitives
import SpeakerCore
import TestSupport
import Testing

/// The incrementally kept plan equals the plan recomputed from scratch after every input, and
/// the changes handed out, applied in order, rebuild it exactly.
struct IncrementalPlanTests {
    static let configs = [
        """
        peers:
        - {peer-address: 192.0.2.1, peer-asn: 64501, my-asn: 64500}
        - {peer-address: 192.0.2.2, peer-asn: 64500, my-asn: 64500, node-selectors: [{match-labels: {rack: r1}}]}
        bgp-communities: {tag: "64500:7"}
        address-pools:
        - {name: l2, protocol: layer2, addresses: [198.51.100.0/28]}
        - name: bgp
          protocol: bgp
          addresses: [203.0.113.0/28]
          bgp-advertisements:
          - {aggregation-length: 32, communities: [tag], localpref: 150}
          - {aggregation-length: 30, communities: ["64500:9"]}
        """,
        """
        peers:
        - {peer-address: 192.0.2.1, peer-asn: 64501, my-asn: 64500}
        address-pools:
        - {name: l2, protocol: layer2, addresses: [198.51.100.0/28], interfaces: [eth1], node-selectors: [{match-labels: {rack: r1}}]}
        - {name: bgp, protocol: bgp, addresses: [203.0.113.0/28]}
        """,
        """
        address-pools:
        - {name: l2, protocol: layer2, addresses: [198.51.100.0/28, 203.0.113.0/28]}
        """,
    ]
    static let names = ["a", "b", "c", "d"]

    /// The plan computed from scratch: the specification the incremental core must meet.
    static func reference(node name: String, config: Configuration?, nodes: [String: NodeState], services: [ServiceKey: SpeakerService],
                          endpoints: [ServiceKey: ServiceEndpoints], eligible: Set<String>) -> SpeakerPlan {
        var plan = SpeakerPlan()
        let ours = services.values.filter { $0.isOurs && !$0.ips.isEmpty }.sorted { $0.key < $1.key }
        // Cluster needs a usable endpoint anywhere, Local one on the node; none anywhere: withheld.
        for service in ours where endpoints[service.key]?.anyUsable != true { plan.withheld[service.key] = .noReadyEndpoints }
        guard let config, let me = nodes[name] else { return plan }
        let servable = ours.filter { endpoints[$0.key]?.anyUsable == true }
        let announced = servable.filter { !$0.localTrafficPolicy || endpoints[$0.key]?.nodes.contains(name) == true }
        plan.bgp = BGPAdvertisementPlan.routes(for: me, configuration: config, services: announced)
        let peerCount = plan.bgp.count
        var ways: [ServiceKey: [Announcement]] = [:]
        if me.mayAnnounce && peerCount > 0 {
            for service in announced {
                let ips = service.ips.filter { ip in
                    config.pools.first { $0.contains(ip) }.map { $0.protocol == .bgp && LabelSelector.anyMatches($0.nodeSelectors, me.labels) } ?? false
                }
                if !ips.isEmpty { ways[service.key] = [.bgp(ips: ips, peers: peerCount)] }
            }
        }
        var byIP: [IPAddress: [SpeakerService]] = [:]
        for service in servable { for ip in service.ips { byIP[ip, default: []].append(service) } }
        let candidacies = nodes.values.sorted { $0.name < $1.name }.map {
            NodeCandidacy(name: $0.name, leaseEligible: eligible.contains($0.name), excludedByLabel: $0.excludedByLabel, networkUnavailable: $0.networkUnavailable)
        }
        for (ip, sharing) in byIP {
            guard let pool = config.pools.first(where: { $0.contains(ip) }), pool.protocol == .layer2 else { continue }
            let selected = Set(nodes.values.filter { LabelSelector.anyMatches(pool.nodeSelectors, $0.labels) }.map(\.name))
            let requirements = sharing.map {
                ServiceRequirement(service: $0.key.description, selectedNodes: selected, readyEndpointNodes: $0.localTrafficPolicy ? (endpoints[$0.key]?.nodes ?? []) : nil)
            }
            guard OwnerElection.owner(of: ip, services: requirements, nodes: candidacies) == name else { continue }
            plan.layer2[ip] = Layer2Duty(interfaces: pool.interfaces, services: sharing.map(\.key))
        }
        for service in ours {
            for ip in service.ips where plan.layer2[ip]?.services.contains(service.key) == true {
                ways[service.key, default: []].append(.layer2(ips: [ip], interfaces: plan.layer2[ip]!.interfaces))
            }
        }
        plan.announced = ways
        return plan
    }

    /// A plan rebuilt from the changes alone.
    struct Mirror {
        var peers: Set<Peer> = []
        var routes: [IPPrefix: RouteAttributes] = [:]
        var layer2: [IPAddress: Layer2Duty] = [:]
        var announced: [ServiceKey: [Announcement]] = [:]
        var withheld: [ServiceKey: WithholdReason] = [:]

        mutating func apply(_ change: SpeakerPlanChange) {
            if let peers = change.peers { self.peers = peers }
            for (prefix, attributes) in change.routes { routes[prefix] = attributes }
            if let layer2 = change.layer2 { self.layer2 = layer2 }
            for (service, ways) in change.announced { announced[service] = ways }
            for (service, reason) in change.withheld { withheld[service] = reason }
        }

        var plan: SpeakerPlan {
            var plan = SpeakerPlan()
            for peer in peers { plan.bgp[peer] = routes }
            plan.layer2 = layer2
            plan.announced = announced
            plan.withheld = withheld
            return plan
        }
    }

    @Test(arguments: 1...12 as ClosedRange<UInt64>)
    func incrementalEqualsFromScratch(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let me = Self.names[Int(seed) % 3]
        var core = SpeakerCore(nodeName: me)
        var mirror = Mirror()
        var config: Configuration?
        var nodes: [String: NodeState] = [:]
        var services: [ServiceKey: SpeakerService] = [:]
        var endpoints: [ServiceKey: ServiceEndpoints] = [:]
        var eligible: Set<String> = []
        let ips = (0..<16).map { IPAddress("198.51.100.\($0)")! } + (0..<16).map { IPAddress("203.0.113.\($0)")! }
        var kinds: [String: Int] = [:]
        var seen = (routes: 0, layer2: 0, shared: 0, withheld: 0)

        for step in 0..<1500 {
            let roll = Int.random(in: 0..<100, using: &rng)
            switch roll {
            case 0..<3:
                let text = Self.configs.randomElement(using: &rng)!
                _ = core.configChanged(text)
                config = try ConfigParser.parseConfigValue(text).get()
                kinds["config", default: 0] += 1
            case 3..<13:
                let name = Self.names.randomElement(using: &rng)!
                var labels: [String: String] = rng.chance(0.5) ? ["rack": "r1"] : [:]
                if rng.chance(0.15) { labels[NodeState.excludeLabel] = "" }
                let node = NodeState(name: name, labels: labels, networkUnavailable: rng.chance(0.1))
                if rng.chance(0.1) {
                    core.nodeDeleted(name)
                    nodes[name] = nil
                } else {
                    core.nodeChanged(node)
                    nodes[name] = node
                }
                kinds["node", default: 0] += 1
            case 13..<20:
                eligible = Set(Self.names.filter { _ in rng.chance(0.7) })
                core.eligibilityChanged(eligible)
                kinds["eligibility", default: 0] += 1
            case 20..<40:
                let key = ServiceKey(namespace: "ns", name: "s\(Int.random(in: 0..<24, using: &rng))")
                var endpointNodes = Set(Self.names.filter { _ in rng.chance(0.4) })
                if rng.chance(0.15) { endpointNodes = [] }
                // Some usable endpoints name no node: they count for Cluster only.
                let new = ServiceEndpoints(nodes: endpointNodes, anyUsable: !endpointNodes.isEmpty || rng.chance(0.5))
                core.endpointsChanged(key, new)
                endpoints[key] = new == .none ? nil : new
                kinds["endpoints", default: 0] += 1
            case 40..<48:
                let key = ServiceKey(namespace: "ns", name: "s\(Int.random(in: 0..<24, using: &rng))")
                core.serviceDeleted(key)
                services[key] = nil
                kinds["delete", default: 0] += 1
            default:
                let key = ServiceKey(namespace: "ns", name: "s\(Int.random(in: 0..<24, using: &rng))")
                let count = Int.random(in: 0...2, using: &rng)
                let chosen = (0..<count).map { _ in ips.randomElement(using: &rng)! }
                let service = SpeakerService(key: key, isOurs: !rng.chance(0.1), ips: Array(Set(chosen)).sorted(), localTrafficPolicy: rng.chance(0.3))
                core.serviceChanged(service)
                services[key] = service
                kinds["service", default: 0] += 1
            }
            let expected = Self.reference(node: me, config: config, nodes: nodes, services: services, endpoints: endpoints, eligible: eligible)
            let plan = core.plan
            mirror.apply(core.takeChange())
            guard plan == expected, mirror.plan == plan else {
                Issue.record("seed \(seed) step \(step): incremental \(plan) != reference \(expected), mirror \(mirror.plan)")
                return
            }
            if plan.bgp.values.contains(where: { !$0.isEmpty }) { seen.routes += 1 }
            if !plan.layer2.isEmpty { seen.layer2 += 1 }
            if plan.layer2.values.contains(where: { $0.services.count > 1 }) { seen.shared += 1 }
            if !plan.withheld.isEmpty { seen.withheld += 1 }
        }
        // The run exercised what it claims: every kind of input, routes, VIPs, shared VIPs.
        #expect(kinds.count == 6, "\(kinds)")
        #expect(seen.routes > 50 && seen.layer2 > 50 && seen.shared > 0 && seen.withheld > 50, "\(seen)")
    }
}
