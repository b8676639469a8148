// Whether a Service's endpoints let a node announce it: MetalLB's `ShouldAnnounce` rule
// (docs/design/speaker.md, "Announcements follow endpoints"). Pure.

/// Where a Service's usable endpoints are, reduced from its EndpointSlices.
public struct ServiceEndpoints: Hashable, Sendable {
    /// Nodes with a usable endpoint.
    public var nodes: Set<String>
    /// Some endpoint is usable, on a named node or not (an endpoint without `nodeName` serves
    /// `externalTrafficPolicy: Cluster` traffic).
    public var anyUsable: Bool

    public init(nodes: Set<String> = [], anyUsable: Bool? = nil) {
        self.nodes = nodes
        self.anyUsable = anyUsable ?? !nodes.isEmpty
    }

    /// No usable endpoint (no EndpointSlice, or none of its endpoints is usable).
    public static let none = ServiceEndpoints()

    /// Whether an endpoint with these conditions (nil: absent, as EndpointSlices carry them)
    /// can take traffic: ready (an absent `ready` means ready, as the EndpointSlice API says), or
    /// serving while terminating: during a rolling update the old pods keep the Service
    /// announced until they are gone, which is what `serving` exists for.
    public static func isUsable(ready: Bool?, serving: Bool?, terminating: Bool?) -> Bool {
        if ready ?? true { return true }
        return (serving ?? true) && (terminating ?? false)
    }

    /// The endpoints of a Service's slices: whether each is usable, and its node.
    public static func reduce(_ endpoints: some Sequence<(usable: Bool, nodeName: String?)>) -> ServiceEndpoints {
        var result = ServiceEndpoints()
        for endpoint in endpoints where endpoint.usable {
            result.anyUsable = true
            if let node = endpoint.nodeName { result.nodes.insert(node) }
        }
        return result
    }

    /// Several slices of one Service.
    public static func union(_ parts: some Sequence<ServiceEndpoints>) -> ServiceEndpoints {
        // The first part as it is (one slice: its node set is shared, not copied).
        var parts = parts.makeIterator()
        guard var result = parts.next() else { return ServiceEndpoints() }
        while let part = parts.next() {
            result.nodes.formUnion(part.nodes)
            result.anyUsable = result.anyUsable || part.anyUsable
        }
        return result
    }
}

/// Why a node does not announce a Service because of its endpoints. The raw value is the
/// message operators see (annotation, Event); `code` is the metric label.
public enum WithholdReason: String, Hashable, Sendable, CaseIterable {
    /// No usable endpoint anywhere: no node announces the Service (either policy).
    case noReadyEndpoints = "no ready endpoints"
    /// `externalTrafficPolicy: Local` and no usable endpoint on this node (other nodes may
    /// announce the Service).
    case noLocalEndpoints = "no ready endpoints on this node"

    /// As MetalLB's `ShouldAnnounce` names it.
    public var code: String {
        switch self {
        case .noReadyEndpoints: return "noEndpoints"
        case .noLocalEndpoints: return "noLocalEndpoints"
        }
    }

    /// Whether every node withholds the Service for this reason (it is then not announced at
    /// all, which the announced-by annotation says).
    public var isClusterWide: Bool { self == .noReadyEndpoints }
}

/// The endpoint condition on announcing: `externalTrafficPolicy: Cluster` needs a usable
/// endpoint anywhere, `Local` one on the announcing node.
public enum EndpointGate {
    /// Why `node` must not announce the Service; nil when its endpoints allow it.
    public static func reason(localTrafficPolicy: Bool, endpoints: ServiceEndpoints, node: String) -> WithholdReason? {
        guard endpoints.anyUsable else { return .noReadyEndpoints }
        if localTrafficPolicy && !endpoints.nodes.contains(node) { return .noLocalEndpoints }
        return nil
    }

    /// The nodes that may announce the Service by its endpoints, for layer 2 ownership: nil
    /// means any node (Cluster with a usable endpoint).
    public static func eligibleNodes(localTrafficPolicy: Bool, endpoints: ServiceEndpoints) -> Set<String>? {
        guard endpoints.anyUsable else { return [] }
        return localTrafficPolicy ? endpoints.nodes : nil
    }
}
