import LBConfig
import NetPrimitives

/// Gives Services IPs from the configured pools. Deterministic: candidate pools in a fixed
/// order, the lowest free address first. Sticky: a Service keeps what it holds while the
/// assignment stays valid for its request. Each operation is O(log n) in the addresses in use
/// (plus the Services sharing one IP, and the pools).
public struct Allocator: Sendable {
    public private(set) var configuration: Configuration
    /// Per pool name, per family.
    private var spaces: [String: [IPFamily: AddressSpace]] = [:]
    private var assignments: [ServiceKey: Assignment] = [:]
    /// Who holds each IP (several Services when they share it).
    private var holders: [IPAddress: Set<ServiceKey>] = [:]
    /// Sharing key → IPs held under that key, to find a shareable IP without a scan.
    private var sharedIPs: [String: Set<IPAddress>] = [:]

    public init(configuration: Configuration) {
        self.configuration = configuration
        spaces = Self.makeSpaces(configuration)
    }

    private static func makeSpaces(_ configuration: Configuration) -> [String: [IPFamily: AddressSpace]] {
        var spaces: [String: [IPFamily: AddressSpace]] = [:]
        for pool in configuration.pools {
            var byFamily: [IPFamily: AddressSpace] = [:]
            for family in pool.families {
                byFamily[family] = AddressSpace(family: family, ranges: pool.addresses.map(\.range), avoidBuggyIPs: pool.avoidBuggyIPs)
            }
            spaces[pool.name] = byFamily
        }
        return spaces
    }

    // MARK: Queries

    public func assignment(for service: ServiceKey) -> Assignment? { assignments[service] }

    public var allAssignments: [Assignment] { assignments.values.sorted { $0.service < $1.service } }

    public func holders(of ip: IPAddress) -> Set<ServiceKey> { holders[ip] ?? [] }

    /// The pool whose addresses include `ip`.
    public func pool(containing ip: IPAddress) -> AddressPool? {
        configuration.pools.first { pool in spaces[pool.name]?[ip.family]?.contains(ip) ?? false }
    }

    public struct PoolUsage: Hashable, Sendable {
        public let pool: String
        public let family: IPFamily
        /// Addresses that may be handed out.
        public let total: UInt128
        /// Distinct addresses held (a shared IP counts once).
        public let inUse: Int
    }

    public var usage: [PoolUsage] {
        configuration.pools.flatMap { pool in
            (spaces[pool.name] ?? [:]).sorted { $0.key < $1.key }.map { family, space in
                PoolUsage(pool: pool.name, family: family, total: space.usableCount, inUse: space.occupiedCount)
            }
        }
    }

    // MARK: Allocation

    /// Gives `request.service` its IPs: the ones it holds when they are still valid for this
    /// request, otherwise a fresh choice. A failure leaves the Service with nothing.
    public mutating func allocate(_ request: AllocationRequest) -> Result<Assignment, AllocationError> {
        if var existing = assignments[request.service] {
            if existing.request.uid == request.uid, problem(keeping: existing.ips, pool: existing.pool, for: request) == nil {
                existing.request = request
                record(existing)
                return .success(existing)
            }
            release(request.service)
        }
        let result = choose(for: request)
        if case .success(let assignment) = result { record(assignment) }
        return result
    }

    /// Re-adopts IPs a Service already shows in its status (controller start-up), when they
    /// are valid for its request and not held incompatibly by another Service.
    public mutating func adopt(_ request: AllocationRequest, ips: [IPAddress]) -> Result<Assignment, AllocationError> {
        guard let first = ips.first, let pool = pool(containing: first) else {
            return .failure(.requestedIPNotInAnyPool(ips.first ?? IPAddress.v4(.any)))
        }
        if let existing = assignments[request.service] {
            if existing.request.uid == request.uid && Set(existing.ips) == Set(ips) { return .success(existing) }
            release(request.service)
        }
        if let problem = problem(keeping: ips, pool: pool.name, for: request) { return .failure(problem) }
        let assignment = Assignment(request: request, ips: ordered(ips, for: request), pool: pool.name)
        record(assignment)
        return .success(assignment)
    }

    /// Frees what `service` holds. An IP no other Service shares becomes free at once.
    public mutating func release(_ service: ServiceKey) {
        guard let assignment = assignments.removeValue(forKey: service) else { return }
        for ip in assignment.ips {
            var set = holders[ip] ?? []
            set.remove(service)
            if set.isEmpty {
                holders[ip] = nil
                spaces[assignment.pool]?[ip.family]?.free(ip)
                if let key = assignment.request.sharingKey {
                    sharedIPs[key]?.remove(ip)
                    if sharedIPs[key]?.isEmpty == true { sharedIPs[key] = nil }
                }
            } else {
                holders[ip] = set
            }
        }
    }

    /// Switches to a new configuration, keeping every assignment whose IPs are still in a
    /// pool. Returns the Services that lost their IPs (none when `ConfigChange.check` passed).
    public mutating func update(configuration newConfiguration: Configuration) -> [ServiceKey] {
        let kept = assignments.values.sorted { $0.service < $1.service }
        configuration = newConfiguration
        spaces = Self.makeSpaces(newConfiguration)
        assignments = [:]
        holders = [:]
        sharedIPs = [:]
        var orphaned: [ServiceKey] = []
        for var assignment in kept {
            guard let first = assignment.ips.first, let pool = pool(containing: first),
                  assignment.ips.allSatisfy({ spaces[pool.name]?[$0.family]?.contains($0) ?? false })
            else {
                orphaned.append(assignment.service)
                continue
            }
            assignment.pool = pool.name
            record(assignment)
        }
        return orphaned
    }

    // MARK: Internals

    private mutating func record(_ assignment: Assignment) {
        assignments[assignment.service] = assignment
        for ip in assignment.ips {
            holders[ip, default: []].insert(assignment.service)
            spaces[assignment.pool]?[ip.family]?.occupy(ip)
            if let key = assignment.request.sharingKey { sharedIPs[key, default: []].insert(ip) }
        }
    }

    private func ordered(_ ips: [IPAddress], for request: AllocationRequest) -> [IPAddress] {
        let order = request.wantedFamilies
        return ips.sorted { (order.firstIndex(of: $0.family) ?? 2) < (order.firstIndex(of: $1.family) ?? 2) }
    }

    /// Why `ips` from `pool` cannot (or can no longer) serve `request`; nil when they can.
    private func problem(keeping ips: [IPAddress], pool: String, for request: AllocationRequest) -> AllocationError? {
        guard !ips.isEmpty else { return .noAvailableIPs(pool: pool) }
        for ip in ips where !(spaces[pool]?[ip.family]?.contains(ip) ?? false) {
            return .requestedIPNotInPool(ip, pool: pool)
        }
        if let requestedPool = request.requestedPool, requestedPool != pool {
            return .requestedIPNotInPool(ips[0], pool: requestedPool)
        }
        if let problem = admission(to: pool, for: request) { return problem }
        if !request.requestedIPs.isEmpty, Set(request.requestedIPs) != Set(ips) {
            return .invalidRequestedIPs("the Service now requests \(request.requestedIPs.map(\.description).joined(separator: ", "))")
        }
        let families = ips.map(\.family)
        guard Set(families).count == families.count else { return .invalidRequestedIPs("two IPs of one family") }
        let wanted = request.wantedFamilies
        switch request.ipFamilyPolicy {
        case .singleStack:
            guard families == [wanted[0]] else { return .invalidRequestedIPs("the Service is single-stack \(wanted[0])") }
        case .requireDualStack:
            guard Set(families) == Set(wanted) else { return .invalidRequestedIPs("the Service requires dual-stack") }
        case .preferDualStack:
            guard families.contains(wanted[0]) else { return .invalidRequestedIPs("the Service's primary family is \(wanted[0])") }
        }
        for ip in ips {
            let others = holders(of: ip).subtracting([request.service])
            switch sharingVerdict(request, with: others, in: configuration.pool(named: pool)) {
            case .allowed: continue
            case .inUse: return .requestedIPInUse(ip, by: others.sorted())
            case .conflict(let reason): return .incompatibleSharing(ip, with: others.sorted(), reason: reason)
            }
        }
        return nil
    }

    private enum SharingVerdict {
        case allowed
        /// Neither side asked to share: the IP is simply in use.
        case inUse
        case conflict(SharingConflict)
    }

    /// Why `pool`'s `service-allocation` keeps `request` out of it; nil when it admits the
    /// Service. Checked on every path to an IP (automatic choice, a requested pool or IP,
    /// adoption at start-up, keeping an IP across a change), as MetalLB's `Assign` does.
    private func admission(to pool: String, for request: AllocationRequest) -> AllocationError? {
        guard let allocation = configuration.pool(named: pool)?.serviceAllocation else { return nil }
        let admitted = allocation.admits(
            namespace: request.service.namespace, namespaceLabels: request.namespaceLabels, serviceLabels: request.serviceLabels
        )
        return admitted ? nil : .poolNotAllowed(pool: pool)
    }

    /// Whether `request` may share an IP of `pool` with every Service in `others`. Sharing
    /// keys are per namespace: Services of two namespaces share only when the pool's
    /// `service-allocation` names (or selects) both namespaces.
    private func sharingVerdict(_ request: AllocationRequest, with others: Set<ServiceKey>, in pool: AddressPool?) -> SharingVerdict {
        for other in others.sorted() {
            guard let theirs = assignments[other]?.request else { continue }
            guard let key = request.sharingKey, key == theirs.sharingKey else {
                if request.sharingKey == nil && theirs.sharingKey == nil { return .inUse }
                return .conflict(.sharingKeyDiffers(mine: request.sharingKey, theirs: theirs.sharingKey))
            }
            if other.namespace != request.service.namespace,
               !(pool?.serviceAllocation?.admitsNamespaces(of: request, theirs) ?? false) {
                return .conflict(.otherNamespace(other.namespace))
            }
            guard request.backendKey == theirs.backendKey else { return .conflict(.backendsDiffer) }
            let clash = request.ports.intersection(theirs.ports)
            if !clash.isEmpty { return .conflict(.portClash(clash.sorted())) }
        }
        return .allowed
    }

    private mutating func choose(for request: AllocationRequest) -> Result<Assignment, AllocationError> {
        if !request.requestedIPs.isEmpty { return chooseRequested(request) }
        if let name = request.requestedPool {
            guard let pool = configuration.pool(named: name) else { return .failure(.poolNotFound(name)) }
            if let problem = admission(to: name, for: request) { return .failure(problem) }
            return chooseInPool(pool, for: request)
        }
        let candidates = candidatePools(for: request)
        guard !candidates.isEmpty else { return .failure(.noEligiblePool) }
        var lastFailure: AllocationError = .noAvailableIPs(pool: nil)
        for pool in candidates {
            switch chooseInPool(pool, for: request) {
            case .success(let assignment): return .success(assignment)
            case .failure(let failure): lastFailure = failure
            }
        }
        if case .familyNotInPool = lastFailure { return .failure(.noAvailableIPs(pool: nil)) }
        return .failure(candidates.count == 1 ? lastFailure : .noAvailableIPs(pool: nil))
    }

    /// Auto-assign pools that admit the Service: those with `service-allocation` first (by
    /// priority, lower first; no priority last), then the rest; config order breaks ties.
    func candidatePools(for request: AllocationRequest) -> [AddressPool] {
        let eligible = configuration.pools.enumerated().filter { _, pool in
            guard pool.autoAssign else { return false }
            guard let allocation = pool.serviceAllocation else { return true }
            return allocation.admits(namespace: request.service.namespace, namespaceLabels: request.namespaceLabels, serviceLabels: request.serviceLabels)
        }
        return eligible.sorted { a, b in
            let keyA = (a.element.serviceAllocation == nil ? 1 : 0, a.element.serviceAllocation?.priority ?? Int.max, a.offset)
            let keyB = (b.element.serviceAllocation == nil ? 1 : 0, b.element.serviceAllocation?.priority ?? Int.max, b.offset)
            return keyA < keyB
        }.map(\.element)
    }

    private mutating func chooseRequested(_ request: AllocationRequest) -> Result<Assignment, AllocationError> {
        let ips = request.requestedIPs
        let families = ips.map(\.family)
        guard Set(families).count == families.count else {
            return .failure(.invalidRequestedIPs("requested IPs \(ips.map(\.description).joined(separator: ", ")) include two of one family; request at most one IPv4 and one IPv6"))
        }
        let wanted = request.wantedFamilies
        switch request.ipFamilyPolicy {
        case .singleStack:
            guard ips.count == 1, ips[0].family == wanted[0] else {
                return .failure(.invalidRequestedIPs("the Service is single-stack \(wanted[0]) but requests \(ips.map(\.description).joined(separator: ", "))"))
            }
        case .requireDualStack:
            guard Set(families) == Set(wanted) else {
                return .failure(.invalidRequestedIPs("the Service requires dual-stack but requests \(ips.map(\.description).joined(separator: ", ")); request one IPv4 and one IPv6 address"))
            }
        case .preferDualStack:
            guard families.contains(wanted[0]) || ips.count == 2 else {
                return .failure(.invalidRequestedIPs("the Service's primary family is \(wanted[0]) but it requests \(ips.map(\.description).joined(separator: ", "))"))
            }
        }
        var poolName: String?
        for ip in ips {
            guard let pool = pool(containing: ip) else { return .failure(.requestedIPNotInAnyPool(ip)) }
            if let requested = request.requestedPool, requested != pool.name {
                guard configuration.pool(named: requested) != nil else { return .failure(.poolNotFound(requested)) }
                return .failure(.requestedIPNotInPool(ip, pool: requested))
            }
            if let name = poolName, name != pool.name { return .failure(.requestedIPsInDifferentPools(ips)) }
            poolName = pool.name
            if spaces[pool.name]?[ip.family]?.isBuggy(ip) == true {
                return .failure(.invalidRequestedIPs("requested IP \(ip) ends in .0 or .255, which pool \"\(pool.name)\" avoids (avoid-buggy-ips)"))
            }
        }
        guard let poolName else { return .failure(.noAvailableIPs(pool: nil)) }
        if let problem = problem(keeping: ips, pool: poolName, for: request) { return .failure(problem) }
        return .success(Assignment(request: request, ips: ordered(ips, for: request), pool: poolName))
    }

    private mutating func chooseInPool(_ pool: AddressPool, for request: AllocationRequest) -> Result<Assignment, AllocationError> {
        let wanted = request.wantedFamilies
        var chosen: [IPAddress] = []
        for (index, family) in wanted.enumerated() {
            guard spaces[pool.name]?[family] != nil else {
                switch request.ipFamilyPolicy {
                case .requireDualStack: return .failure(.familyNotInPool(family, pool: pool.name))
                case .singleStack, .preferDualStack:
                    if index == 0 { return .failure(.familyNotInPool(family, pool: pool.name)) }
                    continue
                }
            }
            if let ip = candidate(in: pool, family: family, for: request) {
                chosen.append(ip)
            } else if index == 0 || request.ipFamilyPolicy == .requireDualStack {
                return .failure(.noAvailableIPs(pool: pool.name))
            }
        }
        return .success(Assignment(request: request, ips: chosen, pool: pool.name))
    }

    /// The lowest of: the lowest free address, and the lowest address already shared under the
    /// request's key that it may join.
    private mutating func candidate(in pool: AddressPool, family: IPFamily, for request: AllocationRequest) -> IPAddress? {
        let free = spaces[pool.name]?[family]?.lowestFree()
        var shared: IPAddress?
        if let key = request.sharingKey, let ips = sharedIPs[key] {
            for ip in ips where ip.family == family && (shared == nil || ip < shared!) {
                guard spaces[pool.name]?[family]?.contains(ip) == true else { continue }
                if case .allowed = sharingVerdict(request, with: holders(of: ip).subtracting([request.service]), in: pool) { shared = ip }
            }
        }
        switch (free, shared) {
        case (let f?, let s?): return Swift.min(f, s)
        case (let f?, nil): return f
        case (nil, let s?): return s
        case (nil, nil): return nil
        }
    }
}

extension ServiceAllocation {
    /// Whether the pool is limited to named or selected namespaces and admits the namespaces
    /// of both requests: the operator's consent for them to share an IP.
    func admitsNamespaces(of one: AllocationRequest, _ other: AllocationRequest) -> Bool {
        guard !namespaces.isEmpty || !namespaceSelectors.isEmpty else { return false }
        return [one, other].allSatisfy { request in
            namespaces.contains(request.service.namespace) || namespaceSelectors.contains { $0.matches(request.namespaceLabels) }
        }
    }
}
