import LBCore
import SpeakerCore

/// Where each Service's usable endpoints are, from its EndpointSlices. A slice change costs the
/// slices of its own Service, not every slice of the cluster.
struct EndpointSliceIndex: Sendable {
    /// Slice `namespace/name` → its Service.
    private var serviceOfSlice: [String: ServiceKey] = [:]
    /// Service → its slices' usable endpoints (nearly always one slice: held inline).
    private var slices: [ServiceKey: InlineFirstMap<String, ServiceEndpoints>] = [:]
    /// Slices looked at by the last change (for tests: the cost of one event).
    private(set) var lastVisited = 0
    /// Endpoint sets seen lately, so that equal ones share one node set: each slice event
    /// reduces to a new set (a heap object per Service), while most Services' endpoints sit on
    /// the same few nodes. Emptied when it reaches `sharedLimit` (docs/design/scale.md,
    /// "Seventh pass").
    private var shared: Set<ServiceEndpoints> = []
    static let sharedLimit = 1_024

    /// Records `slice` (nil endpoints: deleted) and returns the endpoints of every Service it
    /// changed: its Service, and the one it belonged to before when its label moved.
    mutating func set(slice: String, service: ServiceKey, endpoints: ServiceEndpoints?) -> [ServiceKey: ServiceEndpoints] {
        var endpoints = endpoints
        if let own = endpoints { endpoints = sharing(own) }
        var touched: Set<ServiceKey> = [service]
        if let previous = serviceOfSlice[slice], previous != service {
            slices[previous]?[slice] = nil
            if slices[previous]?.isEmpty == true { slices[previous] = nil }
            touched.insert(previous)
        }
        if let endpoints {
            serviceOfSlice[slice] = service
            slices[service, default: InlineFirstMap()][slice] = endpoints
        } else {
            serviceOfSlice[slice] = nil
            slices[service]?[slice] = nil
            if slices[service]?.isEmpty == true { slices[service] = nil }
        }
        lastVisited = 0
        var result: [ServiceKey: ServiceEndpoints] = [:]
        for key in touched {
            let own = slices[key]?.values ?? []
            lastVisited += own.count
            result[key] = ServiceEndpoints.union(own)
        }
        return result
    }

    /// The set of `endpoints` seen lately that equals it, or `endpoints`, remembered.
    private mutating func sharing(_ endpoints: ServiceEndpoints) -> ServiceEndpoints {
        if shared.count >= Self.sharedLimit && !shared.contains(endpoints) { shared.removeAll(keepingCapacity: true) }
        return shared.insert(endpoints).memberAfterInsert
    }

    /// How many endpoint sets are remembered for sharing (for tests).
    var sharedCount: Int { shared.count }
}
