/// Where a resource lives in the API: `/api/v1` for the core group, `/apis/{group}/{version}` otherwise.
public struct ResourceDescriptor: Sendable, Hashable {
    public var group: String
    public var version: String
    public var plural: String
    public var singular: String
    public var kind: String
    public var namespaced: Bool
    public var shortNames: [String]

    public init(group: String, version: String, plural: String, singular: String, kind: String, namespaced: Bool, shortNames: [String] = []) {
        self.group = group
        self.version = version
        self.plural = plural
        self.singular = singular
        self.kind = kind
        self.namespaced = namespaced
        self.shortNames = shortNames
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    public var groupPrefix: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }
    /// `services` or `leases.coordination.k8s.io`, as in error messages.
    public var qualifiedName: String { group.isEmpty ? plural : "\(plural).\(group)" }

    /// Collection path (namespace nil = all namespaces for namespaced resources).
    public func path(namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var p = groupPrefix
        if namespaced, let ns = namespace { p += "/namespaces/\(ns)" }
        p += "/\(plural)"
        if let n = name { p += "/\(n)" }
        if let s = subresource { p += "/\(s)" }
        return p
    }

    public static let services = ResourceDescriptor(group: "", version: "v1", plural: "services", singular: "service", kind: "Service", namespaced: true, shortNames: ["svc"])
    public static let endpointSlices = ResourceDescriptor(group: "discovery.k8s.io", version: "v1", plural: "endpointslices", singular: "endpointslice", kind: "EndpointSlice", namespaced: true)
    public static let nodes = ResourceDescriptor(group: "", version: "v1", plural: "nodes", singular: "node", kind: "Node", namespaced: false, shortNames: ["no"])
    public static let configMaps = ResourceDescriptor(group: "", version: "v1", plural: "configmaps", singular: "configmap", kind: "ConfigMap", namespaced: true, shortNames: ["cm"])
    public static let secrets = ResourceDescriptor(group: "", version: "v1", plural: "secrets", singular: "secret", kind: "Secret", namespaced: true)
    public static let leases = ResourceDescriptor(group: "coordination.k8s.io", version: "v1", plural: "leases", singular: "lease", kind: "Lease", namespaced: true)
    public static let coreEvents = ResourceDescriptor(group: "", version: "v1", plural: "events", singular: "event", kind: "Event", namespaced: true, shortNames: ["ev"])
    public static let events = ResourceDescriptor(group: "events.k8s.io", version: "v1", plural: "events", singular: "event", kind: "Event", namespaced: true, shortNames: ["ev"])
    public static let namespaces = ResourceDescriptor(group: "", version: "v1", plural: "namespaces", singular: "namespace", kind: "Namespace", namespaced: false, shortNames: ["ns"])

    public static let all: [ResourceDescriptor] = [.services, .endpointSlices, .nodes, .configMaps, .secrets, .leases, .coreEvents, .events, .namespaces]
}

/// A Kubernetes object type with metadata and a fixed API location.
public protocol KubeResource: Codable, Sendable {
    static var resource: ResourceDescriptor { get }
    var metadata: ObjectMeta { get set }
    /// Reads the object from JSON without `JSONDecoder` (a projection read by a `JSONScanner`:
    /// the watch path uses it when set); nil (the default): `JSONDecoder`.
    static var scanning: ((inout JSONScanner) throws(JSONParseError) -> Self)? { get }
}

extension KubeResource {
    public static var scanning: ((inout JSONScanner) throws(JSONParseError) -> Self)? { nil }

    /// `namespace/name` (or `name` for cluster-scoped objects): the cache key.
    public var key: String {
        if let ns = metadata.namespace, !ns.isEmpty { return "\(ns)/\(metadata.name ?? "")" }
        return metadata.name ?? ""
    }
}

/// metav1.ObjectMeta.
public struct ObjectMeta: Codable, Sendable, Hashable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var selfLink: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: KubeTime?
    public var deletionTimestamp: KubeTime?
    public var deletionGracePeriodSeconds: Int64?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?
    public var finalizers: [String]?
    public var managedFields: [JSONValue]?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil, annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }
}

public struct OwnerReference: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?
}

/// core/v1 ObjectReference.
public struct ObjectReference: Codable, Sendable, Hashable {
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?
    public var apiVersion: String?
    public var resourceVersion: String?
    public var fieldPath: String?

    public init(kind: String? = nil, namespace: String? = nil, name: String? = nil, uid: String? = nil, apiVersion: String? = nil, resourceVersion: String? = nil, fieldPath: String? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.apiVersion = apiVersion
        self.resourceVersion = resourceVersion
        self.fieldPath = fieldPath
    }
}

/// metav1.Condition (status.conditions of Services).
public struct Condition: Codable, Sendable, Hashable {
    public var type: String
    public var status: String
    public var observedGeneration: Int64?
    public var lastTransitionTime: KubeTime
    public var reason: String
    public var message: String

    public init(type: String, status: String, observedGeneration: Int64? = nil, lastTransitionTime: KubeTime, reason: String, message: String) {
        self.type = type
        self.status = status
        self.observedGeneration = observedGeneration
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }
}

/// int-or-string (targetPort).
public enum IntOrString: Codable, Sendable, Hashable {
    case int(Int32)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int32.self) { self = .int(i) } else { self = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .string(let s): try c.encode(s)
        }
    }
}

/// metav1.ListMeta.
public struct ListMeta: Codable, Sendable, Hashable {
    public var resourceVersion: String?
    public var `continue`: String?
    public var remainingItemCount: Int64?
    public var selfLink: String?
    public init(resourceVersion: String? = nil, continue: String? = nil) {
        self.resourceVersion = resourceVersion
        self.continue = `continue`
    }
}

/// A list envelope: `{"kind":"ServiceList","apiVersion":"v1","metadata":{…},"items":[…]}`.
public struct KubeList<Item: Codable & Sendable>: Codable, Sendable {
    public var kind: String?
    public var apiVersion: String?
    public var metadata: ListMeta
    public var items: [Item]

    public init(kind: String? = nil, apiVersion: String? = nil, metadata: ListMeta, items: [Item]) {
        self.kind = kind
        self.apiVersion = apiVersion
        self.metadata = metadata
        self.items = items
        }

    enum CodingKeys: String, CodingKey { case kind, apiVersion, metadata, items }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decodeIfPresent(String.self, forKey: .kind)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion)
        metadata = try c.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        items = try c.decodeIfPresent([Item].self, forKey: .items) ?? []  // Go encodes an empty list as null
    }
}

/// The object of a BOOKMARK watch event: only metadata.resourceVersion (and maybe annotations).
public struct BookmarkObject: Codable, Sendable, Hashable {
    public var kind: String?
    public var apiVersion: String?
    public var metadata: ObjectMeta
}

/// A watch event `{"type":T,"object":{…}}`; ERROR events carry a `V1Status`.
public enum WatchEvent<Object: Codable & Sendable>: Codable, Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    case bookmark(BookmarkObject)
    case error(V1Status)

    enum CodingKeys: String, CodingKey { case type, object }

    public struct UnknownType: Error, Hashable { public var type: String }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let t = try c.decode(String.self, forKey: .type)
        switch t {
        case "ADDED": self = .added(try c.decode(Object.self, forKey: .object))
        case "MODIFIED": self = .modified(try c.decode(Object.self, forKey: .object))
        case "DELETED": self = .deleted(try c.decode(Object.self, forKey: .object))
        case "BOOKMARK": self = .bookmark(try c.decode(BookmarkObject.self, forKey: .object))
        case "ERROR": self = .error(try c.decode(V1Status.self, forKey: .object))
        default: throw UnknownType(type: t)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .added(let o): try c.encode("ADDED", forKey: .type); try c.encode(o, forKey: .object)
        case .modified(let o): try c.encode("MODIFIED", forKey: .type); try c.encode(o, forKey: .object)
        case .deleted(let o): try c.encode("DELETED", forKey: .type); try c.encode(o, forKey: .object)
        case .bookmark(let o): try c.encode("BOOKMARK", forKey: .type); try c.encode(o, forKey: .object)
        case .error(let s): try c.encode("ERROR", forKey: .type); try c.encode(s, forKey: .object)
        }
    }
}

/// metav1.Status: the body of every error response and of watch ERROR events.
public struct V1Status: Codable, Sendable, Hashable, Error {
    public var kind: String? = "Status"
    public var apiVersion: String? = "v1"
    public var metadata: ListMeta? = ListMeta()
    public var status: String?
    public var message: String?
    public var reason: String?
    public var details: StatusDetails?
    public var code: Int32?

    public init(status: String = "Failure", message: String, reason: String, code: Int32, details: StatusDetails? = nil) {
        self.status = status
        self.message = message
        self.reason = reason
        self.code = code
        self.details = details
    }
}

public struct StatusDetails: Codable, Sendable, Hashable {
    public var name: String?
    public var group: String?
    public var kind: String?
    public var uid: String?
    public var causes: [StatusCause]?
    public var retryAfterSeconds: Int32?
    public init(name: String? = nil, group: String? = nil, kind: String? = nil, causes: [StatusCause]? = nil, retryAfterSeconds: Int32? = nil) {
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes
        self.retryAfterSeconds = retryAfterSeconds
    }
}

public struct StatusCause: Codable, Sendable, Hashable {
    public var reason: String?
    public var message: String?
    public var field: String?
    public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
        self.reason = reason
        self.message = message
        self.field = field
    }
}
