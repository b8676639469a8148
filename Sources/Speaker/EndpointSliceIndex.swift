import LBCore

/// Which nodes have usable endpoints, per Service, from its EndpointSlices. A slice change
/// costs the slices of its own Service, not every slice of the cluster.
struct EndpointSliceIndex: Sendable {
    /// Slice `namespace/name` → its Service.
    private var serviceOfSlice: [String: ServiceKey] = [:]
    /// Service → its slices' nodes.
    private var slices: [ServiceKey: [String: Set<String>]] = [:]
    /// Slices looked at by the last change (for tests: the cost of one event).
    private(set) var lastVisited = 0

    /// Records `slice` (nil nodes: deleted) and returns the nodes of every Service it changed:
    /// its Service, and the one it belonged to before when its label moved.
    mutating func set(slice: String, service: ServiceKey, nodes: Set<String>?) -> [ServiceKey: Set<String>] {
        var touched: Set<ServiceKey> = [service]
        if let previous = serviceOfSlice[slice], previous != service {
            slices[previous]?[slice] = nil
            if slices[previous]?.isEmpty == true { slices[previous] = nil }
            touched.insert(previous)
        }
        if let nodes {
            serviceOfSlice[slice] = service
            slices[service, default: [:]][slice] = nodes
        } else {
            serviceOfSlice[slice] = nil
            slices[service]?[slice] = nil
            if slices[service]?.isEmpty == true { slices[service] = nil }
        }
        lastVisited = 0
        var result: [ServiceKey: Set<String>] = [:]
        for key in touched {
            let own = slices[key] ?? [:]
            lastVisited += own.count
            result[key] = own.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        }
        return result
    }
}
