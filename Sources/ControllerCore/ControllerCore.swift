import Announcements
import LBCore
import LBConfig
import NetPrimitives

/// What the controller knows of one Service, translated from the API object by the edge.
public struct ServiceState: Hashable, Sendable {
    public var key: ServiceKey
    public var uid: String
    public var isLoadBalancer: Bool
    public var loadBalancerClass: String?
    public var isDeleting: Bool
    public var annotations: [String: String]
    public var labels: [String: String]
    public var loadBalancerIP: String?
    public var ipFamilies: [IPFamily]
    public var ipFamilyPolicy: IPFamilyPolicy
    public var externalTrafficPolicyLocal: Bool
    public var selector: [String: String]
    public var ports: Set<TransportPort>
    /// `status.loadBalancer.ingress[].ip` as found (text: it may hold garbage).
    public var ingressIPs: [String]

    public init(
        key: ServiceKey, uid: String, isLoadBalancer: Bool = true, loadBalancerClass: String? = nil, isDeleting: Bool = false,
        annotations: [String: String] = [:], labels: [String: String] = [:], loadBalancerIP: String? = nil,
        ipFamilies: [IPFamily] = [.ipv4], ipFamilyPolicy: IPFamilyPolicy = .singleStack, externalTrafficPolicyLocal: Bool = false,
        selector: [String: String] = [:], ports: Set<TransportPort> = [], ingressIPs: [String] = []
    ) {
        self.key = key
        self.uid = uid
        self.isLoadBalancer = isLoadBalancer
        self.loadBalancerClass = loadBalancerClass
        self.isDeleting = isDeleting
        self.annotations = annotations
        self.labels = labels
        self.loadBalancerIP = loadBalancerIP
        self.ipFamilies = ipFamilies
        self.ipFamilyPolicy = ipFamilyPolicy
        self.externalTrafficPolicyLocal = externalTrafficPolicyLocal
        self.selector = selector
        self.ports = ports
        self.ingressIPs = ingressIPs
    }

    /// The pool the status annotation names, if any.
    public var allocatedFromPool: String? { annotations[ServiceAnnotations.prefix + ServiceAnnotations.allocatedFromPool] }

    /// For `externalTrafficPolicy: Local`, the selector in a stable spelling; nil for Cluster.
    public var backendKey: String? {
        guard externalTrafficPolicyLocal else { return nil }
        return "local:" + selector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}

/// What the controller's edges should do.
public enum ControllerAction: Hashable, Sendable {
    /// Merge-patch `services/{name}/status`: the ingress IPs and the pool annotation.
    case setStatus(ServiceKey, ips: [IPAddress], pool: String)
    /// Merge-patch `services/{name}/status`: no ingress, no pool annotation.
    case clearStatus(ServiceKey)
    case event(RecordedEvent)
    case log(level: LogLevel, message: String)

    public enum LogLevel: String, Hashable, Sendable {
        case info, warning, error
    }
}

/// The controller's decisions as a pure state machine: Service, namespace and configuration
/// changes in, status patches and Events out. It never renumbers a Service that holds a valid
/// IP, adopts every IP already in Service status before it allocates anything new, and never
/// replaces a good configuration with a bad one.
public struct ControllerCore: Sendable {
    public struct Settings: Hashable, Sendable {
        /// Handle only Services of this `spec.loadBalancerClass`; nil: only Services without one.
        public var loadBalancerClass: String?
        public var configNamespace: String
        public var configName: String
        /// Also read MetalLB's metallb.io objects in the config namespace (docs/design/crd-config.md).
        public var readsMetalLBResources: Bool

        public init(
            loadBalancerClass: String? = nil, configNamespace: String = ConfigParser.defaultNamespace, configName: String = ConfigParser.defaultName,
            readsMetalLBResources: Bool = false
        ) {
            self.loadBalancerClass = loadBalancerClass
            self.configNamespace = configNamespace
            self.configName = configName
            self.readsMetalLBResources = readsMetalLBResources
        }
    }

    private enum Phase: Hashable, Sendable {
        /// Caches are filling: remember everything, act on nothing.
        case waitingForSync
        /// Synced, but no valid configuration yet: touch no Service.
        case waitingForConfig
        case running
    }

    public let settings: Settings
    private var phase: Phase = .waitingForSync
    public private(set) var allocator = Allocator(configuration: .empty)
    /// Every Service seen, ours or not (the controller's edge reads them from here while it leads).
    public private(set) var services: [ServiceKey: ServiceState] = [:]
    private var namespaceLabels: [String: [String: String]] = [:]
    /// The latest ConfigMap text seen (nil: no ConfigMap), and whether it is in force.
    private var configText: String??
    private var appliedText: String?
    public private(set) var configLoaded = false
    public private(set) var configStale = false
    /// Services that wait for an address, oldest first.
    private var waiting: [ServiceKey] = []
    /// The members of `waiting`, so asking and leaving cost O(1) for a Service that does not wait
    /// (with a pool exhausted by 10,000 Services, scanning `waiting` on every input was O(n²)).
    private var waitingMembers: Set<ServiceKey> = []
    /// Allocations tried for waiting Services (a work counter for tests and benches).
    public private(set) var waitingAttempts = 0
    private var lastFailure: [ServiceKey: AllocationError] = [:]
    /// At start-up, the Services whose IPs the configuration would have taken: a change to any
    /// of them (deleted, no longer ours, another IP) tries the configuration again.
    private var blockingStart: Set<ServiceKey> = []

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    public var isRunning: Bool { phase == .running }
    public var waitingServices: [ServiceKey] { waiting }

    // MARK: Events in

    /// The informers have listed everything once: adopt, then allocate.
    public mutating func cachesSynced() -> [ControllerAction] {
        guard phase == .waitingForSync else { return [] }
        phase = .waitingForConfig
        return tryStart()
    }

    /// The config ConfigMap's `config` value changed; nil when the ConfigMap (or the key) is gone.
    public mutating func configChanged(_ text: String?) -> [ControllerAction] {
        configText = .some(text)
        switch phase {
        case .waitingForSync: return []
        case .waitingForConfig: return tryStart()
        case .running: return applyConfig(text)
        }
    }

    public mutating func serviceChanged(_ state: ServiceState) -> [ControllerAction] {
        let previous = services[state.key]
        services[state.key] = state
        guard phase == .running else { return retryStartIfUnblocked(by: state.key) }
        let before = allocator.assignment(for: state.key)
        var actions = reconcile(state, previous: previous)
        let after = allocator.assignment(for: state.key)
        if before != nil && after == nil { actions += retryRefusedConfig() }
        // Only a change of what this Service holds (addresses freed or moved, or how it shares
        // them) can let a waiting Service in: re-trying all of them on every input made each
        // input cost O(waiting Services).
        if Self.mayFreeAddresses(before, after) { actions += retryWaiting() }
        return actions
    }

    public mutating func serviceDeleted(_ key: ServiceKey) -> [ControllerAction] {
        services[key] = nil
        stopWaiting(key)
        lastFailure[key] = nil
        guard phase == .running else { return retryStartIfUnblocked(by: key) }
        guard allocator.assignment(for: key) != nil else { return [] }
        allocator.release(key)
        return retryRefusedConfig() + retryWaiting()
    }

    /// A configuration refused because it would take IPs from Services is applied once those
    /// Services have let go of them (deleted, or no longer ours), as MetalLB retries it; no
    /// Event until then (the refusal already said why).
    private mutating func retryRefusedConfig() -> [ControllerAction] {
        guard configStale, case .some(let latest) = configText, let text = latest, text != appliedText,
              case .success(let configuration) = ConfigParser.parseSource(text),
              ConfigChange.orphans(applying: configuration, to: allocator.allAssignments).isEmpty
        else { return [] }
        return applyConfig(text)
    }

    public mutating func namespaceChanged(_ name: String, labels: [String: String]?) -> [ControllerAction] {
        namespaceLabels[name] = labels
        guard phase == .running else { return [] }
        return retryWaiting()
    }

    // MARK: Start-up

    /// Waiting for a configuration that a Service's IPs blocked: try it again once one of those
    /// Services changed (no Event when it is still blocked by the same Services).
    private mutating func retryStartIfUnblocked(by key: ServiceKey) -> [ControllerAction] {
        guard phase == .waitingForConfig, blockingStart.contains(key) else { return [] }
        let before = blockingStart
        let actions = tryStart()
        if phase != .running && blockingStart.isSubset(of: before) && !blockingStart.isEmpty {
            return actions.filter { if case .event = $0 { return false } else { return true } }
        }
        return actions
    }

    private mutating func tryStart() -> [ControllerAction] {
        guard case .some(let text) = configText, let text else {
            return [.log(level: .warning, message: "no configuration: ConfigMap \(settings.configNamespace)/\(settings.configName) with key \"\(ConfigParser.dataKey)\" not found; Services of type LoadBalancer wait for an address")]
        }
        let configuration: Configuration
        switch ConfigParser.parseSource(text) {
        case .failure(let errors):
            configStale = true
            return rejection(errors.errors.map(\.description), reason: "InvalidConfig", headline: "configuration is invalid; waiting for a valid one", about: errors)
        case .success(let parsed):
            configuration = parsed
        }
        // The IPs already in Service status are assignments too: a configuration that would
        // take one away is refused, exactly as on a reload.
        var candidate = Allocator(configuration: configuration)
        var adopted: [ServiceKey] = []
        var orphans: [String] = []
        blockingStart = []
        for state in services.values.sorted(by: { $0.key < $1.key }) where isOurs(state) && !state.ingressIPs.isEmpty {
            let ips = state.ingressIPs.compactMap(IPAddress.init)
            guard !ips.isEmpty else { continue }
            // A Service whose annotations do not parse still holds its IPs.
            let request = request(for: state) ?? AllocationRequest(
                service: state.key, uid: state.uid, ipFamilies: state.ipFamilies, ipFamilyPolicy: state.ipFamilyPolicy,
                ports: state.ports, backendKey: state.backendKey,
                namespaceLabels: namespaceLabels[state.key.namespace] ?? [:], serviceLabels: state.labels
            )
            switch candidate.adopt(request, ips: ips) {
            case .success: adopted.append(state.key)
            case .failure(.requestedIPNotInAnyPool(let ip)):
                orphans.append("\(state.key) (\(ip)): in no pool")
                blockingStart.insert(state.key)
            case .failure: continue        // held by another Service, or no longer valid: reallocated below
            }
        }
        if !orphans.isEmpty {
            configStale = true
            return rejection(orphans, reason: "ConfigRejected", headline: "configuration would take IPs from Services; keeping them and waiting for a configuration that covers them")
        }
        allocator = candidate
        appliedText = text
        configLoaded = true
        configStale = false
        phase = .running
        var actions: [ControllerAction] = [.log(level: .info, message: "configuration loaded: \(configuration.pools.count) pools; adopted \(adopted.count) Services' IPs")]
        // As first seen (previous: nil): Services that existed before this start get their
        // annotation warnings too (a migration from MetalLB brings all of them at once).
        for state in services.values.sorted(by: { $0.key < $1.key }) {
            actions += reconcile(state, previous: nil)
        }
        actions += retryWaiting()
        return actions
    }

    private func rejection(_ problems: [String], reason: String, headline: String, about errors: ConfigErrors? = nil) -> [ControllerAction] {
        let event = RecordedEvent.configurationRefused(
            reason: reason, headline: headline, problems: problems, errors: errors, configNamespace: settings.configNamespace, configName: settings.configName
        )
        return [.event(event), .log(level: .error, message: event.message)]
    }

    private mutating func applyConfig(_ text: String?) -> [ControllerAction] {
        guard let text else {
            configStale = true
            return [.log(level: .error, message: "ConfigMap \(settings.configNamespace)/\(settings.configName) is gone; keeping the last good configuration")]
        }
        if text == appliedText {
            configStale = false
            return []
        }
        let configuration: Configuration
        switch ConfigParser.parseSource(text) {
        case .failure(let errors):
            configStale = true
            return rejection(errors.errors.map(\.description), reason: "InvalidConfig", headline: "configuration is invalid; keeping the last good one", about: errors)
        case .success(let parsed):
            configuration = parsed
        }
        let orphans = ConfigChange.orphans(applying: configuration, to: allocator.allAssignments)
        if !orphans.isEmpty {
            configStale = true
            return rejection(orphans.map(\.description), reason: "ConfigRejected", headline: "configuration would take IPs from Services; keeping the last good one")
        }
        _ = allocator.update(configuration: configuration)
        appliedText = text
        configStale = false
        var actions: [ControllerAction] = [
            .event(RecordedEvent(.configMap(namespace: settings.configNamespace, name: settings.configName), .normal, "ConfigLoaded", "configuration loaded: \(configuration.pools.count) pools")),
            .log(level: .info, message: "configuration loaded: \(configuration.pools.count) pools"),
        ]
        // Pool names may have changed under existing assignments: refresh their annotation.
        for state in services.values.sorted(by: { $0.key < $1.key }) where allocator.assignment(for: state.key) != nil {
            actions += reconcile(state, previous: state)
        }
        actions += retryWaiting()
        return actions
    }

    // MARK: Reconcile

    func isOurs(_ state: ServiceState) -> Bool {
        state.isLoadBalancer && !state.isDeleting && state.loadBalancerClass == settings.loadBalancerClass
    }

    private func request(for state: ServiceState) -> AllocationRequest? {
        guard case .success(let annotations) = ServiceAnnotations.parse(state.annotations, loadBalancerIP: state.loadBalancerIP) else {
            return nil
        }
        return AllocationRequest(
            service: state.key, uid: state.uid, ipFamilies: state.ipFamilies, ipFamilyPolicy: state.ipFamilyPolicy,
            requestedIPs: annotations.requestedIPs, requestedPool: annotations.addressPool, sharingKey: annotations.sharingKey,
            ports: state.ports, backendKey: state.backendKey,
            namespaceLabels: namespaceLabels[state.key.namespace] ?? [:], serviceLabels: state.labels
        )
    }

    private mutating func reconcile(_ state: ServiceState, previous: ServiceState?) -> [ControllerAction] {
        let key = state.key
        guard isOurs(state) else {
            stopWaiting(key)
            lastFailure[key] = nil
            guard let held = allocator.assignment(for: key) else { return [] }
            allocator.release(key)
            var actions: [ControllerAction] = []
            if state.isLoadBalancer && !state.isDeleting && !state.ingressIPs.isEmpty {
                // The class changed hands (or --lb-class does not match): leave its status to its owner.
            } else if !state.isDeleting {
                actions.append(.event(RecordedEvent(.service(key), .normal, "IPReleased", "released \(held.ips.map(\.description).joined(separator: ", ")): the Service is no longer of type LoadBalancer")))
                // The API server cleared the status; the pool annotation is ours to remove.
                if state.allocatedFromPool != nil { actions.append(.clearStatus(key)) }
            }
            return actions
        }
        var actions: [ControllerAction] = []
        // Our own pool annotation, echoed back by the status patch, is not a change of request.
        let ownKey = ServiceAnnotations.prefix + ServiceAnnotations.allocatedFromPool
        let annotationsChanged = previous == nil || previous?.loadBalancerIP != state.loadBalancerIP
            || previous?.annotations.filter({ $0.key != ownKey }) != state.annotations.filter({ $0.key != ownKey })
        let annotations: ServiceAnnotations
        switch ServiceAnnotations.parse(state.annotations, loadBalancerIP: state.loadBalancerIP) {
        case .failure(let problem):
            if annotationsChanged {
                actions.append(.event(RecordedEvent(.service(key), .warning, "AllocationFailed", problem.description)))
            }
            return actions        // keep whatever it holds: a bad edit must not drop traffic
        case .success(let parsed):
            annotations = parsed
        }
        if annotationsChanged {
            for warning in annotations.warnings {
                actions.append(.event(RecordedEvent(.service(key), .warning, "DeprecatedAnnotation", warning)))
            }
        }
        guard let request = request(for: state) else { return actions }
        let before = allocator.assignment(for: key)
        switch allocator.allocate(request) {
        case .success(let assignment):
            stopWaiting(key)
            lastFailure[key] = nil
            if !statusMatches(state, assignment) {
                actions.append(.setStatus(key, ips: assignment.ips, pool: assignment.pool))
            }
            if before?.ips != assignment.ips {
                actions.append(.event(RecordedEvent(.service(key), .normal, "IPAllocated", "assigned IP \(assignment.ips.map(\.description).joined(separator: ", ")) from pool \(assignment.pool)")))
            }
        case .failure(let failure):
            if waitingMembers.insert(key).inserted { waiting.append(key) }
            if !state.ingressIPs.isEmpty || state.allocatedFromPool != nil {
                actions.append(.clearStatus(key))
                actions.append(.event(RecordedEvent(.service(key), .warning, "ClearAssignment", "cleared \(state.ingressIPs.joined(separator: ", ")): \(failure.description)")))
            }
            if lastFailure[key] != failure || annotationsChanged || before != nil {
                actions.append(.event(RecordedEvent(.service(key), .warning, "AllocationFailed", "\(failure.reason): \(failure.description)")))
            }
            lastFailure[key] = failure
        }
        return actions
    }

    /// Status already shows exactly these IPs (any order, no duplicates) and this pool.
    private func statusMatches(_ state: ServiceState, _ assignment: Assignment) -> Bool {
        let shown = state.ingressIPs.compactMap(IPAddress.init)
        return shown.count == state.ingressIPs.count && Set(shown) == Set(assignment.ips) && shown.count == assignment.ips.count
            && state.allocatedFromPool == assignment.pool
    }

    /// Whether a Service's assignment changing from `before` to `after` can let another in: its
    /// addresses changed, or the terms on which it shares them (sharing key, ports, backends).
    static func mayFreeAddresses(_ before: Assignment?, _ after: Assignment?) -> Bool {
        guard let before, let after else { return before != nil || after != nil }
        return before.ips != after.ips || before.request.sharingKey != after.request.sharingKey
            || before.request.ports != after.request.ports || before.request.backendKey != after.request.backendKey
    }

    private mutating func stopWaiting(_ key: ServiceKey) {
        guard waitingMembers.remove(key) != nil else { return }
        waiting.removeAll { $0 == key }
    }

    /// Gives freed addresses to waiting Services, oldest first.
    private mutating func retryWaiting() -> [ControllerAction] {
        var actions: [ControllerAction] = []
        var admitted: Set<ServiceKey> = []
        defer {
            if !admitted.isEmpty {
                // One pass for all of them: removing each on its own was O(waiting) apiece.
                waiting.removeAll { admitted.contains($0) }
                waitingMembers.subtract(admitted)
            }
        }
        for key in waiting {
            guard let state = services[key] else { continue }
            guard let request = request(for: state) else { continue }
            waitingAttempts += 1
            if case .success(let assignment) = allocator.allocate(request) {
                admitted.insert(key)
                lastFailure[key] = nil
                if !statusMatches(state, assignment) { actions.append(.setStatus(key, ips: assignment.ips, pool: assignment.pool)) }
                actions.append(.event(RecordedEvent(.service(key), .normal, "IPAllocated", "assigned IP \(assignment.ips.map(\.description).joined(separator: ", ")) from pool \(assignment.pool)")))
            }
        }
        return actions
    }
}
