// ControllerIntegrationTests: the controller's acceptance tests (issue 4) against KubeSim over
// real HTTPS, with the controller in-process (ControllerService + KubeControllerAPI) or as the
// real `ironlb controller` process. The tests drive the cluster through KubeSim's in-process
// request API (no HTTP on the test's side) and never assume timings: every wait is a bounded poll.
import Foundation
import KubeModel
import KubeSim
import NIOPosix
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every acceptance suite nests in this one so they run one at a time: they start processes and
/// servers, and this machine is shared.
@Suite(.serialized) enum ControllerAcceptance {}

/// One Service as the tests look at it.
struct ServiceView: Sendable, Hashable {
    var namespace: String
    var name: String
    var uid: String
    var type: String
    var ips: [String]
    var pool: String?
    var sharingKey: String?
    var ports: Set<String>
    var local: Bool
    var selector: [String: String]
    var loadBalancerClass: String?
    var ipFamilies: [String]

    var key: String { "\(namespace)/\(name)" }

    init(_ object: JSONValue) {
        namespace = object.value(atPath: "metadata.namespace")?.stringValue ?? ""
        name = object.value(atPath: "metadata.name")?.stringValue ?? ""
        uid = object.value(atPath: "metadata.uid")?.stringValue ?? ""
        type = object.value(atPath: "spec.type")?.stringValue ?? ""
        ips = (object.value(atPath: "status.loadBalancer.ingress")?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue }
        let annotations = object.value(atPath: "metadata.annotations")?.objectValue ?? [:]
        pool = annotations["ironlb.io/ip-allocated-from-pool"]?.stringValue
        sharingKey = annotations["ironlb.io/allow-shared-ip"]?.stringValue
        ports = Set((object.value(atPath: "spec.ports")?.arrayValue ?? []).map {
            "\($0["port"]?.intValue ?? 0)/\($0["protocol"]?.stringValue ?? "TCP")"
        })
        local = object.value(atPath: "spec.externalTrafficPolicy")?.stringValue == "Local"
        selector = (object.value(atPath: "spec.selector")?.objectValue ?? [:]).compactMapValues(\.stringValue)
        loadBalancerClass = object.value(atPath: "spec.loadBalancerClass")?.stringValue
        ipFamilies = (object.value(atPath: "spec.ipFamilies")?.arrayValue ?? []).compactMap(\.stringValue)
    }
}

/// An Event as listed from events.k8s.io/v1.
struct EventView: Sendable, Hashable {
    var name: String
    var type: String
    var reason: String
    var regardingKind: String
    var regardingName: String
    var note: String
    var reportingInstance: String
    /// 1, or the series count when the recorder folded repeats into one Event.
    var count: Int

    init(_ object: JSONValue) {
        name = object.value(atPath: "metadata.name")?.stringValue ?? ""
        type = object["type"]?.stringValue ?? ""
        reason = object["reason"]?.stringValue ?? ""
        regardingKind = object.value(atPath: "regarding.kind")?.stringValue ?? ""
        regardingName = object.value(atPath: "regarding.name")?.stringValue ?? ""
        note = object["note"]?.stringValue ?? ""
        reportingInstance = object["reportingInstance"]?.stringValue ?? ""
        count = Int(object.value(atPath: "series.count")?.intValue ?? 1)
    }
}

/// What a test asks of one Service.
struct ServiceSpecification: Sendable {
    var namespace = "default"
    var name: String
    var type = "LoadBalancer"
    var ports: [(Int, String)] = [(80, "TCP")]
    var annotations: [String: String] = [:]
    var loadBalancerClass: String?
    var loadBalancerIP: String?
    var ipFamilyPolicy: String?
    var ipFamilies: [String]?
    var local = false
    var selector: [String: String]?
    /// False for bulk tests: KubeSim (like a real server) has only 2,768 node ports.
    var allocateNodePorts = true

    init(_ name: String, namespace: String = "default") {
        self.name = name
        self.namespace = namespace
    }

    var json: JSONValue {
        var spec: JSONValue = [
            "type": .string(type),
            "selector": .object((selector ?? ["app": name]).mapValues { .string($0) }),
            "ports": .array(ports.enumerated().map { index, port in
                ["name": .string("p\(index)"), "port": .int(Int64(port.0)), "protocol": .string(port.1)]
            }),
        ]
        if let loadBalancerClass { spec["loadBalancerClass"] = .string(loadBalancerClass) }
        if let loadBalancerIP { spec["loadBalancerIP"] = .string(loadBalancerIP) }
        if let ipFamilyPolicy { spec["ipFamilyPolicy"] = .string(ipFamilyPolicy) }
        if let ipFamilies { spec["ipFamilies"] = .array(ipFamilies.map { .string($0) }) }
        if local { spec["externalTrafficPolicy"] = "Local" }
        if type == "LoadBalancer" && !allocateNodePorts { spec["allocateLoadBalancerNodePorts"] = false }
        var metadata: JSONValue = ["name": .string(name)]
        if !annotations.isEmpty { metadata["annotations"] = .object(annotations.mapValues { .string($0) }) }
        return ["metadata": metadata, "spec": spec]
    }
}

struct ClusterError: Error, CustomStringConvertible {
    let description: String
}

/// A started KubeSim and the test's in-process handle on it.
final class Cluster: Sendable {
    let sim: KubeSimServer
    let configNamespace = "ironlb-system"

    /// Starts KubeSim on `port` (0: any free one). Pass a group of your own to stop and restart
    /// the same server (its state survives: see `restart`).
    static func start(port: Int = 0, eventLoopGroup: MultiThreadedEventLoopGroup? = nil) async throws -> Cluster {
        var configuration = KubeSimServer.Configuration()
        configuration.port = port
        let sim = try KubeSimServer(configuration: configuration, eventLoopGroup: eventLoopGroup)
        try await sim.start()
        let cluster = Cluster(sim: sim)
        try cluster.ensureNamespace(cluster.configNamespace)
        return cluster
    }

    private init(sim: KubeSimServer) { self.sim = sim }

    func stop() async { try? await sim.stop() }

    var kubeconfigPath: String { sim.kubeconfigPath }

    @discardableResult
    func call(_ method: String, _ uri: String, _ body: JSONValue? = nil, contentType: String = "application/json", expect: Set<Int> = [200, 201]) throws -> JSONValue {
        let (status, answer) = sim.request(method, uri, body: body, contentType: contentType)
        guard expect.contains(status) else {
            throw ClusterError(description: "\(method) \(uri): \(status) \(String(decoding: answer.serializedBytes(), as: UTF8.self).prefix(600))")
        }
        return answer
    }

    func ensureNamespace(_ name: String, labels: [String: String] = [:]) throws {
        var metadata: JSONValue = ["name": .string(name)]
        if !labels.isEmpty { metadata["labels"] = .object(labels.mapValues { .string($0) }) }
        try call("POST", "/api/v1/namespaces", ["metadata": metadata], expect: [201, 409])
    }

    // MARK: Configuration

    /// Creates or replaces the config ConfigMap's `config` value.
    func applyConfig(_ text: String, name: String = "config") throws {
        let path = "/api/v1/namespaces/\(configNamespace)/configmaps"
        let body: JSONValue = ["metadata": ["name": .string(name), "namespace": .string(configNamespace)], "data": ["config": .string(text)]]
        let (status, _) = sim.request("GET", "\(path)/\(name)")
        if status == 404 {
            try call("POST", path, body)
        } else {
            try call("PUT", "\(path)/\(name)", body)
        }
    }

    func deleteConfig(name: String = "config") throws {
        try call("DELETE", "/api/v1/namespaces/\(configNamespace)/configmaps/\(name)")
    }

    // MARK: Services

    @discardableResult
    func create(_ service: ServiceSpecification) throws -> ServiceView {
        ServiceView(try call("POST", "/api/v1/namespaces/\(service.namespace)/services", service.json))
    }

    func delete(_ name: String, namespace: String = "default") throws {
        try call("DELETE", "/api/v1/namespaces/\(namespace)/services/\(name)")
    }

    /// Merge-patches a Service (its spec or metadata; status is the controller's).
    @discardableResult
    func patch(_ name: String, namespace: String = "default", _ patch: JSONValue) throws -> ServiceView {
        ServiceView(try call("PATCH", "/api/v1/namespaces/\(namespace)/services/\(name)", patch, contentType: "application/merge-patch+json"))
    }

    /// Every Service, in one consistent read (the store's lock is held for the list).
    func services() throws -> [ServiceView] {
        let list = try call("GET", "/api/v1/services")
        return (list["items"]?.arrayValue ?? []).map(ServiceView.init)
    }

    /// Services of type LoadBalancer, by `namespace/name`.
    func loadBalancers() throws -> [String: ServiceView] {
        var result: [String: ServiceView] = [:]
        for service in try services() where service.type == "LoadBalancer" { result[service.key] = service }
        return result
    }

    func service(_ name: String, namespace: String = "default") -> ServiceView? {
        let (status, body) = sim.request("GET", "/api/v1/namespaces/\(namespace)/services/\(name)")
        return status == 200 ? ServiceView(body) : nil
    }

    func ips(_ name: String, namespace: String = "default") -> [String] { service(name, namespace: namespace)?.ips ?? [] }

    // MARK: Events and Leases

    func events(namespace: String) throws -> [EventView] {
        let list = try call("GET", "/apis/events.k8s.io/v1/namespaces/\(namespace)/events")
        return (list["items"]?.arrayValue ?? []).map(EventView.init)
    }

    func leaseHolder(_ name: String = "ironlb-controller") -> String? {
        let (status, body) = sim.request("GET", "/apis/coordination.k8s.io/v1/namespaces/\(configNamespace)/leases/\(name)")
        guard status == 200 else { return nil }
        return body.value(atPath: "spec.holderIdentity")?.stringValue
    }
}

/// Whether `ip` (text) lies in `first...last` of one family.
func ipInRange(_ ip: String, _ first: String, _ last: String) -> Bool {
    guard let value = ipValue(ip), let low = ipValue(first), let high = ipValue(last), value.v6 == low.v6, low.v6 == high.v6 else { return false }
    return value.bits >= low.bits && value.bits <= high.bits
}

func ipValue(_ text: String) -> (v6: Bool, bits: UInt128)? {
    if text.contains(":") {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &address) { Array($0) }
        return (true, bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
    }
    var address = in_addr()
    guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
    return (false, UInt128(UInt32(bigEndian: address.s_addr)))
}

/// A loopback TCP port nothing listens on right now.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
