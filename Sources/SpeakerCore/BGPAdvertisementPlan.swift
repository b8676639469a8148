import BGPWire
import KubeModel
import LBCore
import LBConfig
import NetPrimitives

/// What the speaker knows about its own node.
public struct NodeState: Hashable, Sendable {
    public static let excludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers"

    public var name: String
    public var labels: [String: String]
    /// The node's NetworkUnavailable condition is True.
    public var networkUnavailable: Bool
    /// The node's InternalIP addresses (`status.addresses`), for next hops of the family a
    /// session does not run over.
    public var addresses: [IPAddress]

    public init(name: String, labels: [String: String] = [:], networkUnavailable: Bool = false, addresses: [IPAddress] = []) {
        self.name = name
        self.labels = labels
        self.networkUnavailable = networkUnavailable
        self.addresses = addresses
    }

    /// Next hops for the family a session to `peer` does not run over (the session's own family
    /// takes the connection's local address): the node's first InternalIP of that family, a
    /// global one for IPv6. A family without one is not advertised to that peer.
    public func crossFamilyNextHops(toward peer: IPAddress) -> (ipv4: IPv4Address?, ipv6: IPv6Address?) {
        switch peer {
        case .v4:
            let v6 = addresses.lazy.compactMap { address -> IPv6Address? in
                if case .v6(let v6) = address, !v6.isLinkLocal { return v6 } else { return nil }
            }.first
            return (nil, v6)
        case .v6:
            let v4 = addresses.lazy.compactMap { address -> IPv4Address? in
                if case .v4(let v4) = address { return v4 } else { return nil }
            }.first
            return (v4, nil)
        }
    }

    public var excludedByLabel: Bool { labels[Self.excludeLabel] != nil }
    /// Excluded or without network: it announces nothing.
    public var mayAnnounce: Bool { !excludedByLabel && !networkUnavailable }
}

/// The attributes of one advertised prefix.
public struct RouteAttributes: Hashable, Sendable {
    /// Sorted and without duplicates.
    public var communities: [BGPCommunityValue]
    public var localPref: UInt32?

    public init(communities: [BGPCommunityValue] = [], localPref: UInt32? = nil) {
        self.communities = Array(Set(communities)).sorted()
        self.localPref = localPref
    }

    /// Two advertisements of one prefix (aggregates of several Services): all communities,
    /// the highest local preference.
    public func merged(with other: RouteAttributes) -> RouteAttributes {
        let preference: UInt32?
        switch (localPref, other.localPref) {
        case (let a?, let b?): preference = Swift.max(a, b)
        case (let a?, nil): preference = a
        case (nil, let b): preference = b
        }
        return RouteAttributes(communities: communities + other.communities, localPref: preference)
    }
}

/// Which prefixes this node advertises to which BGP peer: a pure function of the configuration,
/// the node and the Services, so a change of any of them yields the exact new desired state and
/// the sessions send only the difference.
public enum BGPAdvertisementPlan {
    /// The peers this node opens sessions to (their node selectors match it).
    public static func peers(for node: NodeState, in configuration: Configuration) -> [Peer] {
        configuration.peers.filter { LabelSelector.anyMatches($0.nodeSelectors, node.labels) }
    }

    /// Desired routes per peer. Every peer of the node is present, with no routes when the
    /// node may not announce (excluded, NetworkUnavailable): sessions stay up, routes go.
    /// The routes `node` advertises to each of its peers for `services`, whose endpoints the
    /// caller has already checked (`EndpointGate`): the plan from scratch, as tests specify it.
    public static func routes(for node: NodeState, configuration: Configuration, services: [SpeakerService]) -> [Peer: [IPPrefix: RouteAttributes]] {
        let peers = peers(for: node, in: configuration)
        var routes: [IPPrefix: RouteAttributes] = [:]
        if node.mayAnnounce {
            for service in services {
                for (prefix, attributes) in Self.routes(of: service.ips, for: node, configuration: configuration) {
                    routes[prefix] = routes[prefix].map { $0.merged(with: attributes) } ?? attributes
                }
            }
        }
        var result: [Peer: [IPPrefix: RouteAttributes]] = [:]
        for peer in peers { result[peer] = routes }
        return result
    }

    /// Those of `ips` that `node` advertises over BGP: in a BGP pool whose node selectors match it.
    public static func advertisedIPs(_ ips: [IPAddress], for node: NodeState, configuration: Configuration) -> [IPAddress] {
        ips.filter { ip in
            configuration.pool(containing: ip).map { $0.protocol == .bgp && LabelSelector.anyMatches($0.nodeSelectors, node.labels) } ?? false
        }
    }

    /// The prefixes and attributes one Service's `ips` contribute (each advertisement of the
    /// pool aggregates them at its lengths).
    public static func routes(of ips: [IPAddress], for node: NodeState, configuration: Configuration) -> [IPPrefix: RouteAttributes] {
        var routes: [IPPrefix: RouteAttributes] = [:]
        for ip in advertisedIPs(ips, for: node, configuration: configuration) {
            guard let pool = configuration.pool(containing: ip) else { continue }
            for advertisement in pool.bgpAdvertisements {
                let length = ip.family == .ipv4 ? advertisement.aggregationLength : advertisement.aggregationLengthV6
                let prefix = IPPrefix(containing: ip, length: length)
                let attributes = RouteAttributes(communities: advertisement.communities, localPref: advertisement.localPref)
                routes[prefix] = routes[prefix].map { $0.merged(with: attributes) } ?? attributes
            }
        }
        return routes
    }
}
