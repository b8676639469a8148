import NetPrimitives

/// Why a Service got no address. `reason` is a short CamelCase code for Events and metrics;
/// `description` says what to do about it.
public enum AllocationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Every pool that may serve the Service is full (the named one, when one was asked for).
    case noAvailableIPs(pool: String?)
    /// No pool with `auto-assign` admits the Service (none configured, or `service-allocation` excludes it).
    case noEligiblePool
    case poolNotFound(String)
    case requestedIPNotInAnyPool(IPAddress)
    case requestedIPNotInPool(IPAddress, pool: String)
    case requestedIPsInDifferentPools([IPAddress])
    case requestedIPInUse(IPAddress, by: [ServiceKey])
    case incompatibleSharing(IPAddress, with: [ServiceKey], reason: SharingConflict)
    case invalidRequestedIPs(String)
    /// The pool has no address of a family the Service requires.
    case familyNotInPool(IPFamily, pool: String)
    /// The pool's `service-allocation` does not admit the Service (its namespace or labels).
    case poolNotAllowed(pool: String)

    public var reason: String {
        switch self {
        case .noAvailableIPs: return "NoAvailableIPs"
        case .noEligiblePool: return "NoEligiblePool"
        case .poolNotFound: return "PoolNotFound"
        case .requestedIPNotInAnyPool: return "RequestedIPNotInAnyPool"
        case .requestedIPNotInPool: return "RequestedIPNotInPool"
        case .requestedIPsInDifferentPools: return "RequestedIPsInDifferentPools"
        case .requestedIPInUse: return "RequestedIPInUse"
        case .incompatibleSharing: return "IncompatibleSharing"
        case .invalidRequestedIPs: return "InvalidRequestedIPs"
        case .familyNotInPool: return "FamilyNotInPool"
        case .poolNotAllowed: return "PoolNotAllowed"
        }
    }

    public var description: String {
        switch self {
        case .noAvailableIPs(let pool?): return "pool \"\(pool)\" has no free address"
        case .noAvailableIPs(nil): return "no free address in any pool that may serve this Service"
        case .noEligiblePool: return "no address pool with auto-assign serves this Service; add one, or name a pool with the address-pool annotation"
        case .poolNotFound(let pool): return "address pool \"\(pool)\" does not exist in the configuration"
        case .requestedIPNotInAnyPool(let ip): return "requested IP \(ip) is not in any address pool"
        case .requestedIPNotInPool(let ip, let pool): return "requested IP \(ip) is not in the requested pool \"\(pool)\""
        case .requestedIPsInDifferentPools(let ips): return "requested IPs \(ips.map(\.description).joined(separator: ", ")) are in different pools; they must come from one pool"
        case .requestedIPInUse(let ip, let by): return "requested IP \(ip) is in use by \(by.map(\.description).joined(separator: ", ")); to share it, give both Services the same allow-shared-ip annotation"
        case .incompatibleSharing(let ip, let with, let reason): return "cannot share \(ip) with \(with.map(\.description).joined(separator: ", ")): \(reason)"
        case .invalidRequestedIPs(let detail): return detail
        case .familyNotInPool(let family, let pool): return "pool \"\(pool)\" has no \(family) addresses, which this Service requires"
        case .poolNotAllowed(let pool): return "pool \"\(pool)\" is restricted by its service-allocation to other namespaces or Services"
        }
    }
}

/// Why two Services may not share an IP.
public enum SharingConflict: Hashable, Sendable, CustomStringConvertible {
    case sharingKeyDiffers(mine: String?, theirs: String?)
    case backendsDiffer
    case portClash([TransportPort])
    /// The other Service is in another namespace, and the pool does not admit both.
    case otherNamespace(String)

    public var description: String {
        switch self {
        case .sharingKeyDiffers(let mine, let theirs):
            return "allow-shared-ip keys differ (\(mine.map { "\"\($0)\"" } ?? "none") vs \(theirs.map { "\"\($0)\"" } ?? "none"))"
        case .backendsDiffer:
            return "externalTrafficPolicy Local Services share an IP only with Services that have the same policy and selector"
        case .portClash(let ports):
            return "both use \(ports.map(\.description).joined(separator: ", "))"
        case .otherNamespace(let namespace):
            return "the IP is shared in namespace \(namespace); sharing keys do not cross namespaces unless the pool's service-allocation names both"
        }
    }
}
