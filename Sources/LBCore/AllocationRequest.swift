// LBCore: the controller's and the speakers' pure decisions.
//
// The allocator turns a Service's wishes (families, requested IPs, pool, sharing) and the
// configured pools into an assignment, deterministically and in O(log n) per operation; the
// config-change check says whether a new configuration would take an IP from a Service.
// Nothing here does I/O, reads a clock or draws random numbers.
import LBConfig
import NetPrimitives

/// `namespace/name` of a Service.
public struct ServiceKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let namespace: String
    public let name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public var description: String { "\(namespace)/\(name)" }

    public static func < (lhs: ServiceKey, rhs: ServiceKey) -> Bool {
        (lhs.namespace, lhs.name) < (rhs.namespace, rhs.name)
    }
}

/// Kubernetes `spec.ipFamilyPolicy`.
public enum IPFamilyPolicy: String, Hashable, Sendable, CaseIterable {
    case singleStack = "SingleStack"
    case preferDualStack = "PreferDualStack"
    case requireDualStack = "RequireDualStack"
}

public enum TransportProtocol: String, Hashable, Comparable, Sendable, CaseIterable {
    case tcp = "TCP"
    case udp = "UDP"
    case sctp = "SCTP"

    public static func < (lhs: TransportProtocol, rhs: TransportProtocol) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A Service port as far as IP sharing cares: two Services on one IP may not both use it.
public struct TransportPort: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let port: Int
    public let `protocol`: TransportProtocol

    public init(_ port: Int, _ protocol: TransportProtocol = .tcp) {
        self.port = port
        self.protocol = `protocol`
    }

    public var description: String { "\(port)/\(`protocol`.rawValue)" }

    public static func < (lhs: TransportPort, rhs: TransportPort) -> Bool {
        (lhs.port, lhs.protocol) < (rhs.port, rhs.protocol)
    }
}

/// Everything the allocator needs to know about one Service.
public struct AllocationRequest: Hashable, Sendable {
    public var service: ServiceKey
    public var uid: String
    /// `spec.ipFamilies` as the API server filled it; the first is the primary family.
    public var ipFamilies: [IPFamily]
    public var ipFamilyPolicy: IPFamilyPolicy
    /// From the `loadBalancerIPs` annotation or `spec.loadBalancerIP`; at most one per family.
    public var requestedIPs: [IPAddress]
    /// From the `address-pool` annotation.
    public var requestedPool: String?
    /// From the `allow-shared-ip` annotation: Services with the same key may share an IP.
    public var sharingKey: String?
    public var ports: Set<TransportPort>
    /// Nil for `externalTrafficPolicy: Cluster`; for `Local`, a key of the Service's backends
    /// (its selector): Local Services share an IP only when they send to the same pods.
    public var backendKey: String?
    public var namespaceLabels: [String: String]
    public var serviceLabels: [String: String]

    public init(
        service: ServiceKey, uid: String, ipFamilies: [IPFamily] = [.ipv4], ipFamilyPolicy: IPFamilyPolicy = .singleStack,
        requestedIPs: [IPAddress] = [], requestedPool: String? = nil, sharingKey: String? = nil,
        ports: Set<TransportPort> = [], backendKey: String? = nil,
        namespaceLabels: [String: String] = [:], serviceLabels: [String: String] = [:]
    ) {
        self.service = service
        self.uid = uid
        self.ipFamilies = ipFamilies
        self.ipFamilyPolicy = ipFamilyPolicy
        self.requestedIPs = requestedIPs
        self.requestedPool = requestedPool
        self.sharingKey = sharingKey
        self.ports = ports
        self.backendKey = backendKey
        self.namespaceLabels = namespaceLabels
        self.serviceLabels = serviceLabels
    }

    /// The families to allocate, primary first. Single stack: the primary only. Dual stack:
    /// both, in `ipFamilies` order (IPv4 first when the list names one family).
    public var wantedFamilies: [IPFamily] {
        let primary = ipFamilies.first ?? .ipv4
        switch ipFamilyPolicy {
        case .singleStack: return [primary]
        case .preferDualStack, .requireDualStack: return [primary, primary == .ipv4 ? .ipv6 : .ipv4]
        }
    }
}

/// The IPs one Service holds, and what they were given for.
public struct Assignment: Hashable, Sendable {
    public var request: AllocationRequest
    /// One per family, in the order of `request.wantedFamilies`.
    public var ips: [IPAddress]
    public var pool: String

    public var service: ServiceKey { request.service }

    public init(request: AllocationRequest, ips: [IPAddress], pool: String) {
        self.request = request
        self.ips = ips
        self.pool = pool
    }
}
