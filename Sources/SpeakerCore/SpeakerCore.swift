// SpeakerCore: what one node announces, as a pure function of the cluster state the speaker
// watches (the configuration, Nodes, Services with their allocated IPs, EndpointSlices, and the
// speakers' Leases). The speaker process diffs successive plans and drives its BGP sessions and
// its ARP/NDP responder with the difference.
import L2Ownership
import KubeModel
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

    public init(interfaces: [String], services: [ServiceKey]) {
        self.interfaces = interfaces
        self.services = services
    }
}

/// Everything this node should announce now.
public struct SpeakerPlan: Equatable, Sendable {
    public var bgp: [Peer: [IPPrefix: RouteAttributes]] = [:]
    public var layer2: [IPAddress: Layer2Duty] = [:]
    /// Per Service, how this node announces it (Services it does not announce are absent).
    public var announced: [ServiceKey: [Announcement]] = [:]
    /// Services of ours with IPs that no node announces, and why (their endpoints).
    public var withheld: [ServiceKey: WithholdReason] = [:]

    public init() {}
}

/// What changed in a node's plan since the last `takeChange()`: enough for the speaker to touch
/// only what changed (the sessions' routes, the responder's map, the affected Services).
public struct SpeakerPlanChange: Equatable, Sendable {
    /// The node's BGP peers and the whole route set, when the peers changed (sessions to open
    /// with every route, or to close).
    public var peers: Set<Peer>?
    /// Routes to set on every session (nil: withdraw).
    public var routes: [IPPrefix: RouteAttributes?] = [:]
    /// The whole layer 2 duty map, when it changed.
    public var layer2: [IPAddress: Layer2Duty]?
    /// Services whose announcements changed, with the new value (nil: no longer announced).
    public var announced: [ServiceKey: [Announcement]?] = [:]
    /// Services whose withholding reason changed (nil: no longer withheld).
    public var withheld: [ServiceKey: WithholdReason?] = [:]

    public init(peers: Set<Peer>? = nil, routes: [IPPrefix: RouteAttributes?] = [:], layer2: [IPAddress: Layer2Duty]? = nil,
                announced: [ServiceKey: [Announcement]?] = [:], withheld: [ServiceKey: WithholdReason?] = [:]) {
        self.peers = peers
        self.routes = routes
        self.layer2 = layer2
        self.announced = announced
        self.withheld = withheld
    }

    public var isEmpty: Bool { peers == nil && routes.isEmpty && layer2 == nil && announced.isEmpty && withheld.isEmpty }
}

/// The speaker's view of the cluster and the plan it implies, kept up to date incrementally:
/// a Service or endpoint change recomputes that Service's routes and VIPs only (O(its IPs));
/// a configuration, Node or Lease-eligibility change recomputes what depends on it. Holds the
/// last good configuration: an invalid one is reported and ignored.
///
/// What it keeps per Service is one record (`ServiceRecord`), per prefix one `PrefixRoute` and
/// per IP the Services holding it, inline when there is one: at 10,000 Services a map per fact
/// was a hash table of 16,384 buckets each, and a set per prefix or IP a heap object each
/// (docs/design/scale.md, "Fourth pass: memory").
public struct SpeakerCore: Sendable {
    public let nodeName: String
    public private(set) var config = ConfigKeeper()
    private var nodes: [String: NodeState] = [:]
    /// Per Service: its view, endpoints and what this node derives from them.
    private var records: [ServiceKey: ServiceRecord] = [:]
    /// Nodes whose speaker Lease makes them candidates (this node included when it may answer).
    private var eligibleNodes: Set<String> = []
    /// Newcomers this node does not stop for yet (`eligibilityChanged`).
    private var pendingNodes: Set<String> = []

    // Derived state, maintained by `refresh…`.
    /// The peers whose node selectors match this node.
    public private(set) var peers: Set<Peer> = []
    /// Per prefix advertised to every peer (the same set for each): its attributes and what each
    /// Service contributes (several Services share an aggregate).
    private var prefixRoutes: [IPPrefix: PrefixRoute] = [:]
    /// Services holding each IP of a layer 2 pool (more than one when shared): only these decide
    /// layer 2 duties (`refreshVIP`). IPs of other pools are not kept: at 10,000 BGP Services
    /// they were a table of 10,000 entries that decided nothing, and each Node or Lease change
    /// looked at every one (docs/design/scale.md, "Seventh pass"). Rebuilt by `refreshAll`.
    private var ipServices: [IPAddress: InlineFirstMap<ServiceKey, Void>] = [:]
    /// The VIPs this node answers for.
    public private(set) var layer2: [IPAddress: Layer2Duty] = [:]
    /// Every node as a layer 2 candidate, sorted by name.
    private var candidacies: [NodeCandidacy] = []
    /// Per layer 2 pool, the nodes its node selectors pick; filled on first use, dropped when
    /// the Nodes or the configuration change (otherwise every VIP would filter every Node).
    private var selectedByPool: [String: Set<String>] = [:]
    private var change = SpeakerPlanChange()

    public init(nodeName: String) {
        self.nodeName = nodeName
    }

    /// This node, as its Node object says (nil until seen).
    public var me: NodeState? { nodes[nodeName] }

    /// The routes advertised to every peer (the same set for each). Built on each call.
    public var routes: [IPPrefix: RouteAttributes] { prefixRoutes.mapValues(\.attributes) }
    /// How many prefixes `routes` holds.
    public var routeCount: Int { prefixRoutes.count }
    /// Per Service, how this node announces it. Built on each call.
    public var announced: [ServiceKey: [Announcement]] { records.compactMapValues(\.announced) }
    /// Services of ours with IPs that no node may announce, and why. Built on each call.
    public var withheld: [ServiceKey: WithholdReason] { records.compactMapValues(\.withheld) }

    /// Calls `body` with each Service's announcements and withholding reason (either may be nil).
    public func forEachService(_ body: (ServiceKey, [Announcement]?, WithholdReason?) -> Void) {
        for (key, record) in records where record.announced != nil || record.withheld != nil { body(key, record.announced, record.withheld) }
    }

    /// Everything this node should announce now.
    public var plan: SpeakerPlan {
        var plan = SpeakerPlan()
        let routes = self.routes
        for peer in peers { plan.bgp[peer] = routes }
        plan.layer2 = layer2
        plan.announced = announced
        plan.withheld = withheld
        return plan
    }

    /// What changed since the last call.
    public mutating func takeChange() -> SpeakerPlanChange {
        defer { change = SpeakerPlanChange() }
        return change
    }

    // MARK: Inputs

    /// Returns the problems when the text is refused (the previous configuration stays).
    public mutating func configChanged(_ text: String?) -> ConfigKeeper.Outcome {
        let outcome = config.offer(text)
        if case .applied = outcome { refreshAll() }
        return outcome
    }

    public mutating func nodeChanged(_ node: NodeState) {
        guard nodes[node.name] != node else { return }
        nodes[node.name] = node
        nodesChanged(affectingSelf: node.name == nodeName)
    }

    public mutating func nodeDeleted(_ name: String) {
        guard nodes.removeValue(forKey: name) != nil else { return }
        nodesChanged(affectingSelf: name == nodeName)
    }

    public mutating func serviceChanged(_ service: SpeakerService) {
        let old = records[service.key]?.service
        guard old != service else { return }
        update(service.key) { $0.service = service }
        serviceIPsChanged(service.key, old: old.map(Self.announcedIPs) ?? [], new: Self.announcedIPs(service))
    }

    public mutating func serviceDeleted(_ key: ServiceKey) {
        // Endpoints stay: they follow the EndpointSlices, which outlive a Service deleted and
        // created again (the informer would not tell them again).
        let old = records[key]?.service
        if old != nil { update(key) { $0.service = nil } }
        serviceIPsChanged(key, old: old.map(Self.announcedIPs) ?? [], new: [])
    }

    /// Where the Service's usable endpoints are (`ServiceEndpoints.Conditions.isUsable`).
    public mutating func endpointsChanged(_ key: ServiceKey, _ new: ServiceEndpoints) {
        guard records[key]?.endpoints ?? .none != new else { return }
        update(key) { $0.endpoints = new }
        guard let service = records[key]?.service else { return }
        let ips = Self.announcedIPs(service)
        serviceIPsChanged(key, old: ips, new: ips)
    }

    /// Nodes with a usable endpoint of the Service (every usable endpoint names its node).
    public mutating func endpointsChanged(_ key: ServiceKey, nodes: Set<String>) {
        endpointsChanged(key, ServiceEndpoints(nodes: nodes))
    }

    /// The nodes whose Lease makes them layer 2 candidates. `pending`: newcomers among them
    /// that a VIP this node already answers is kept from (seamless hand-back, see
    /// docs/design/layer2-leases.md): they count for starting, not for stopping.
    public mutating func eligibilityChanged(_ nodes: Set<String>, pending: Set<String> = []) {
        guard eligibleNodes != nodes || pendingNodes != pending else { return }
        eligibleNodes = nodes
        pendingNodes = pending
        refreshCandidacies()
        refreshAllVIPs()
    }

    // MARK: Incremental upkeep

    private static func announcedIPs(_ service: SpeakerService) -> [IPAddress] {
        service.isOurs ? service.ips : []
    }

    /// Changes the record of `key` in place, and drops it when nothing is left in it.
    private mutating func update(_ key: ServiceKey, _ body: (inout ServiceRecord) -> Void) {
        body(&records[key, default: ServiceRecord()])
        if records[key]?.isEmpty == true { records[key] = nil }
    }

    private mutating func serviceIPsChanged(_ key: ServiceKey, old: [IPAddress], new: [IPAddress]) {
        for ip in old where !new.contains(ip) {
            ipServices[ip]?[key] = nil
            if ipServices[ip]?.isEmpty == true { ipServices[ip] = nil }
        }
        for ip in new { recordHolder(key, of: ip) }
        refreshRoutes(of: key)
        var vips = Set(old)
        vips.formUnion(new)
        var affected: Set<ServiceKey> = [key]
        for vip in vips { affected.formUnion(refreshVIP(vip)) }
        for service in affected { refreshAnnounced(service) }
        refreshWithheld(key)
    }

    /// Why the Service's endpoints keep this node from announcing it (nil: they do not).
    private func endpointReason(_ record: ServiceRecord?) -> WithholdReason? {
        guard let record, let service = record.service else { return .noReadyEndpoints }
        return EndpointGate.reason(localTrafficPolicy: service.localTrafficPolicy, endpoints: record.endpoints, node: nodeName)
    }

    /// Records whether no node may announce the Service because of its endpoints.
    private mutating func refreshWithheld(_ key: ServiceKey) {
        let record = records[key]
        var reason: WithholdReason?
        if let service = record?.service, !Self.announcedIPs(service).isEmpty, let why = endpointReason(record), why.isClusterWide { reason = why }
        guard record?.withheld != reason else { return }
        update(key) { $0.withheld = reason }
        change.withheld[key] = .some(reason)
    }

    private mutating func nodesChanged(affectingSelf: Bool) {
        guard !affectingSelf else { return refreshAll() }
        selectedByPool = [:]
        refreshCandidacies()
        refreshAllVIPs()
    }

    private mutating func refreshCandidacies() {
        candidacies = nodes.values.sorted { $0.name < $1.name }.map { node in
            NodeCandidacy(name: node.name, leaseEligible: eligibleNodes.contains(node.name), excludedByLabel: node.excludedByLabel, networkUnavailable: node.networkUnavailable)
        }
    }

    /// Everything again (configuration or this node changed).
    private mutating func refreshAll() {
        let me = config.current == nil ? nil : nodes[nodeName]
        let newPeers = Set(me.map { BGPAdvertisementPlan.peers(for: $0, in: config.current!) } ?? [])
        if newPeers != peers {
            peers = newPeers
            change.peers = newPeers
        }
        selectedByPool = [:]
        refreshCandidacies()
        for key in Array(records.keys) { refreshRoutes(of: key) }
        // Which IPs are of layer 2 pools follows the configuration.
        ipServices = [:]
        for (key, record) in records {
            for ip in record.service.map(Self.announcedIPs) ?? [] { recordHolder(key, of: ip) }
        }
        refreshAllVIPs()
    }

    /// Records that the Service holds `ip`, when `ip` is in a layer 2 pool of the configuration
    /// in force (the pool `refreshVIP` finds).
    private mutating func recordHolder(_ key: ServiceKey, of ip: IPAddress) {
        guard config.current?.pool(containing: ip)?.protocol == .layer2 else { return }
        ipServices[ip, default: InlineFirstMap()][key] = ()
    }

    /// How many IPs `ipServices` holds (for tests: only layer 2 pools' IPs).
    var layer2IPCount: Int { ipServices.count }

    private mutating func refreshAllVIPs() {
        var affected = Set<ServiceKey>()
        for vip in Set(layer2.keys).union(ipServices.keys) { affected.formUnion(refreshVIP(vip)) }
        for (key, record) in records where record.announced != nil || !record.bgpIPs.isEmpty { affected.insert(key) }
        for key in affected { refreshAnnounced(key) }
    }

    /// Recomputes one Service's contribution to the routes.
    private mutating func refreshRoutes(of key: ServiceKey) {
        var contribution: [IPPrefix: RouteAttributes] = [:]
        var ips: [IPAddress] = []
        let record = records[key]
        if let configuration = config.current, let me = nodes[nodeName], me.mayAnnounce, !peers.isEmpty,
           let service = record?.service, service.isOurs {
            if endpointReason(record) == nil {
                contribution = BGPAdvertisementPlan.routes(of: service.ips, for: me, configuration: configuration)
                ips = BGPAdvertisementPlan.advertisedIPs(service.ips, for: me, configuration: configuration)
                // The same IPs as the Service's: share its array's storage.
                if ips == service.ips { ips = service.ips }
            }
        }
        let old = record?.prefixes ?? []
        let new = contribution.keys.sorted()
        if record?.bgpIPs != ips || old != new {
            update(key) { record in
                record.bgpIPs = ips
                record.prefixes = new
            }
        }
        var touched = old
        for prefix in new where !old.contains(prefix) { touched.append(prefix) }
        for prefix in touched {
            let before = prefixRoutes[prefix]?.sources[key]
            let after = contribution[prefix]
            guard before != after else { continue }
            // Taken out while it changes, so that a shared prefix's map is not copied.
            var entry = prefixRoutes.removeValue(forKey: prefix) ?? PrefixRoute()
            let previous = entry.sources.isEmpty ? nil : entry.attributes
            entry.sources[key] = after
            // Merging is commutative (all communities, the highest local preference).
            var merged: RouteAttributes?
            for attributes in entry.sources.values {
                merged = merged.map { $0.merged(with: attributes) } ?? attributes
            }
            if let merged {
                entry.attributes = merged
                prefixRoutes[prefix] = entry
            }
            if previous != merged { change.routes[prefix] = .some(merged) }
        }
    }

    /// Recomputes whether this node answers for `vip`; returns the Services whose
    /// announcements may have changed.
    private mutating func refreshVIP(_ vip: IPAddress) -> Set<ServiceKey> {
        let sharing = ipServices[vip]?.keys ?? []
        var duty: Layer2Duty?
        if let configuration = config.current, nodes[nodeName] != nil, !sharing.isEmpty,
           let pool = configuration.pool(containing: vip), pool.protocol == .layer2 {
            let selected = selectedByPool[pool.name] ?? Set(nodes.values.filter { LabelSelector.anyMatches(pool.nodeSelectors, $0.labels) }.map(\.name))
            selectedByPool[pool.name] = selected
            // A Service without a usable endpoint anywhere is not announced; the others sharing
            // the VIP are, as if it were not there.
            let keys = sharing.sorted().filter { records[$0]?.endpoints.anyUsable == true }
            let requirements = keys.map { key in
                ServiceRequirement(
                    service: key.description, selectedNodes: selected,
                    readyEndpointNodes: EndpointGate.eligibleNodes(localTrafficPolicy: records[key]?.service?.localTrafficPolicy == true, endpoints: records[key]?.endpoints ?? .none)
                )
            }
            var owner = keys.isEmpty ? nil : OwnerElection.owner(of: vip, services: requirements, nodes: candidacies)
            if let newcomer = owner, newcomer != nodeName, layer2[vip] != nil, pendingNodes.contains(newcomer) {
                owner = OwnerElection.owner(of: vip, services: requirements, nodes: candidacies.filter { !pendingNodes.contains($0.name) })
            }
            if owner == nodeName {
                duty = Layer2Duty(interfaces: pool.interfaces, services: keys)
            }
        }
        let old = layer2[vip]
        guard old != duty else { return [] }
        layer2[vip] = duty
        change.layer2 = layer2
        return Set(old?.services ?? []).union(duty?.services ?? [])
    }

    /// Recomputes how this node announces one Service.
    private mutating func refreshAnnounced(_ key: ServiceKey) {
        let record = records[key]
        var ways: [Announcement] = []
        if let ips = record?.bgpIPs, !ips.isEmpty { ways.append(.bgp(ips: ips, peers: peers.count)) }
        for ip in record?.service.map(Self.announcedIPs) ?? [] {
            if let duty = layer2[ip], duty.services.contains(key) { ways.append(.layer2(ips: [ip], interfaces: duty.interfaces)) }
        }
        let new = ways.isEmpty ? nil : ways
        guard record?.announced != new else { return }
        update(key) { $0.announced = new }
        change.announced[key] = .some(new)
    }
}

/// Everything the core holds about one Service.
struct ServiceRecord: Sendable {
    /// Its view (nil: only its endpoints are known, or nothing).
    var service: SpeakerService?
    var endpoints = ServiceEndpoints.none
    /// The prefixes its routes contribute to, sorted.
    var prefixes: [IPPrefix] = []
    /// The IPs of this node's BGP announcement of it.
    var bgpIPs: [IPAddress] = []
    /// How this node announces it (nil: it does not).
    var announced: [Announcement]?
    /// Why no node may announce it (nil: it is not withheld).
    var withheld: WithholdReason?

    var isEmpty: Bool { service == nil && endpoints == .none && prefixes.isEmpty && bgpIPs.isEmpty && announced == nil && withheld == nil }
}

/// One advertised prefix: its attributes (every contribution merged) and the contributions.
struct PrefixRoute: Sendable {
    var attributes = RouteAttributes()
    var sources = InlineFirstMap<ServiceKey, RouteAttributes>()
}

/// The configuration in force and whether a newer text was refused; shared by the speaker and
/// any process that follows the ConfigMap without allocating.
public struct ConfigKeeper: Sendable {
    public enum Outcome: Equatable, Sendable {
        case applied(Configuration)
        case unchanged
        /// The text was refused; the previous configuration (if any) stays in force.
        case rejected(ConfigErrors)
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
        switch ConfigParser.parseSource(text) {
        case .failure(let errors):
            stale = true
            return .rejected(errors)
        case .success(let configuration):
            current = configuration
            appliedText = text
            stale = false
            return .applied(configuration)
        }
    }
}

/// A map that nearly always holds one entry: that entry is held inline, a dictionary only when
/// there are more (the Services contributing one prefix, the Services holding one IP). A
/// dictionary or set each was 10,000 small hash tables at 10,000 Services (docs/design/scale.md).
public struct InlineFirstMap<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// Nil only when there is none (then `others` is empty too).
    private var first: (key: Key, value: Value)?
    private var others: [Key: Value] = [:]

    public init() {}

    public var isEmpty: Bool { first == nil }

    public var keys: [Key] {
        guard let first else { return [] }
        return [first.key] + others.keys
    }

    public var values: [Value] {
        guard let first else { return [] }
        return [first.value] + others.values
    }

    public subscript(key: Key) -> Value? {
        get { first?.key == key ? first?.value : others[key] }
        set {
            if first?.key == key {
                if let newValue { first = (key, newValue) } else { first = others.popFirst().map { ($0.key, $0.value) } }
            } else if let newValue, first == nil {
                first = (key, newValue)
            } else {
                others[key] = newValue
            }
        }
    }
}
