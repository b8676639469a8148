// SpeakerCore: what one node announces, as a pure function of the cluster state the speaker
// watches (the configuration, Nodes, Services with their allocated IPs, EndpointSlices, and the
// speakers' Leases). The speaker process diffs successive plans and drives its BGP sessions and
// its ARP/NDP responder with the difference.
import L2Ownership
import LBConfig
import LBCore
import NetPrimitives

/// A Service as the speaker needs it.
public struct SpeakerService: Hashable, Sendable {
    public var key: ServiceKey
    /// Type LoadBalancer, of the class this IronLB handles, and not being deleted.
    public var isOurs: Bool
    /// From `status.loadBalancer.ingress`.
    public var ips: [IPAddress]
    public var localTrafficPolicy: Bool

    public init(key: ServiceKey, isOurs: Bool = true, ips: [IPAddress], localTrafficPolicy: Bool = false) {
        self.key = key
        self.isOurs = isOurs
        self.ips = ips
        self.localTrafficPolicy = localTrafficPolicy
    }
}

/// How this node announces one Service.
public enum Announcement: Hashable, Sendable {
    /// Answers ARP/NDP for these IPs, on the pool's interfaces (empty: the default choice).
    case layer2(ips: [IPAddress], interfaces: [String])
    /// Advertises these IPs to this many peers.
    case bgp(ips: [IPAddress], peers: Int)
}

/// One VIP this node answers for.
public struct Layer2Duty: Hashable, Sendable {
    /// The pool's `interfaces`; empty means the default choice (see docs/design/layer2-responder.md).
    public var interfaces: [String]
    public var services: [ServiceKey]
}

/// Everything this node should announce now.
public struct SpeakerPlan: Equatable, Sendable {
    public var bgp: [Peer: [IPPrefix: RouteAttributes]] = [:]
    public var layer2: [IPAddress: Layer2Duty] = [:]
    /// Per Service, how this node announces it (Services it does not announce are absent).
    public var announced: [ServiceKey: [Announcement]] = [:]

    public init() {}
}

/// The speaker's view of the cluster and the plan it implies. Holds the last good
/// configuration: an invalid one is reported and ignored.
public struct SpeakerCore: Sendable {
    public let nodeName: String
    public private(set) var config = ConfigKeeper()
    private var nodes: [String: NodeState] = [:]
    private var services: [ServiceKey: SpeakerService] = [:]
    private var endpointNodes: [ServiceKey: Set<String>] = [:]
    /// Nodes whose speaker Lease makes them candidates (this node included when it may answer).
    private var eligibleNodes: Set<String> = []

    public init(nodeName: String) {
        self.nodeName = nodeName
    }

    // MARK: Inputs

    /// Returns the problems when the text is refused (the previous configuration stays).
    public mutating func configChanged(_ text: String?) -> ConfigKeeper.Outcome {
        config.offer(text)
    }

    public mutating func nodeChanged(_ node: NodeState) { nodes[node.name] = node }
    public mutating func nodeDeleted(_ name: String) { nodes[name] = nil }
    public mutating func serviceChanged(_ service: SpeakerService) { services[service.key] = service }

    public mutating func serviceDeleted(_ key: ServiceKey) {
        services[key] = nil
        endpointNodes[key] = nil
    }

    /// Nodes with an endpoint of the Service that is ready, or serving while terminating.
    public mutating func endpointsChanged(_ key: ServiceKey, nodes: Set<String>) { endpointNodes[key] = nodes }

    /// The nodes whose Lease makes them layer 2 candidates.
    public mutating func eligibilityChanged(_ nodes: Set<String>) { eligibleNodes = nodes }

    // MARK: The plan

    public var plan: SpeakerPlan {
        var plan = SpeakerPlan()
        guard let configuration = config.current, let me = nodes[nodeName] else { return plan }
        let announced = services.values.filter { $0.isOurs && !$0.ips.isEmpty }.sorted { $0.key < $1.key }

        // BGP: every eligible node advertises.
        let bgpServices = announced.map {
            AnnouncedService(key: $0.key, ips: $0.ips, localTrafficPolicy: $0.localTrafficPolicy, endpointNodes: endpointNodes[$0.key] ?? [])
        }
        plan.bgp = BGPAdvertisementPlan.routes(for: me, configuration: configuration, services: bgpServices)
        let peerCount = plan.bgp.count
        if me.mayAnnounce && peerCount > 0 {
            for service in bgpServices where service.hasEndpoint(on: nodeName) {
                let ips = service.ips.filter { ip in
                    configuration.pools.first { $0.contains(ip) }.map { $0.protocol == .bgp && LabelSelector.anyMatches($0.nodeSelectors, me.labels) } ?? false
                }
                if !ips.isEmpty { plan.announced[service.key, default: []].append(.bgp(ips: ips, peers: peerCount)) }
            }
        }

        // Layer 2: the rendezvous owner of each VIP answers; Services sharing a VIP share its owner.
        var byIP: [IPAddress: [SpeakerService]] = [:]
        for service in announced {
            for ip in service.ips { byIP[ip, default: []].append(service) }
        }
        let candidacies = nodes.values.sorted { $0.name < $1.name }.map { node in
            NodeCandidacy(name: node.name, leaseEligible: eligibleNodes.contains(node.name), excludedByLabel: node.excludedByLabel, networkUnavailable: node.networkUnavailable)
        }
        for (ip, sharing) in byIP {
            guard let pool = configuration.pools.first(where: { $0.contains(ip) }), pool.protocol == .layer2 else { continue }
            let selected = Set(nodes.values.filter { LabelSelector.anyMatches(pool.nodeSelectors, $0.labels) }.map(\.name))
            let requirements = sharing.map { service in
                ServiceRequirement(
                    service: service.key.description, selectedNodes: selected,
                    readyEndpointNodes: service.localTrafficPolicy ? (endpointNodes[service.key] ?? []) : nil
                )
            }
            guard OwnerElection.owner(of: ip, services: requirements, nodes: candidacies) == nodeName else { continue }
            plan.layer2[ip] = Layer2Duty(interfaces: pool.interfaces, services: sharing.map(\.key))
            for service in sharing {
                plan.announced[service.key, default: []].append(.layer2(ips: [ip], interfaces: pool.interfaces))
            }
        }
        return plan
    }
}

/// The configuration in force and whether a newer text was refused; shared by the speaker and
/// any process that follows the ConfigMap without allocating.
public struct ConfigKeeper: Sendable {
    public enum Outcome: Equatable, Sendable {
        case applied(Configuration)
        case unchanged
        /// The text was refused; the previous configuration (if any) stays in force.
        case rejected([String])
        /// The ConfigMap is absent; nothing was ever loaded, or the last good one stays.
        case missing
    }

    public private(set) var current: Configuration?
    public private(set) var stale = false
    private var appliedText: String?

    public init() {}

    public mutating func offer(_ text: String?) -> Outcome {
        guard let text else {
            stale = current != nil
            return .missing
        }
        if text == appliedText {
            stale = false
            return .unchanged
        }
        switch ConfigParser.parseConfigValue(text) {
        case .failure(let errors):
            stale = true
            return .rejected(errors.errors.map(\.description))
        case .success(let configuration):
            current = configuration
            appliedText = text
            stale = false
            return .applied(configuration)
        }
    }
}
