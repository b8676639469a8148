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

    /// Records `slice` (nil endpoints: deleted) and returns the endpoints of every Service it
    /// changed: its Service, and the one it belonged to before when its label moved.
    mutating func set(slice: String, service: ServiceKey, endpoints: ServiceEndpoints?) -> [ServiceKey: ServiceEndpoints] {
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
}
