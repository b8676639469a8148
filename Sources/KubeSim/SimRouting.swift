import Foundation
import KubeModel

/// A parsed HTTP request as the API layer sees it.
struct SimRequest: Sendable {
    var method: String
    var path: String
    var query: [String: String]
    var headers: [String: String]  // lower-cased names
    var body: [UInt8]
    var user: String?

    init(method: String, uri: String, headers: [String: String], body: [UInt8], user: String?) {
        self.method = method
        self.headers = headers
        self.body = body
        self.user = user
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        self.path = Self.percentDecode(String(parts[0]))
        var q: [String: String] = [:]
        if parts.count > 1 {
            for kv in parts[1].split(separator: "&") {
                let p = kv.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let k = Self.percentDecode(String(p[0]).replacingPlus())
                q[k] = p.count > 1 ? Self.percentDecode(String(p[1]).replacingPlus()) : ""
            }
        }
        self.query = q
    }

    static func percentDecode(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var out: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                out.append(v)
                it = it.dropFirst(2)
            } else {
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Go's strconv.ParseBool.
    func bool(_ name: String) -> Bool {
        ["1", "t", "T", "true", "TRUE", "True"].contains(query[name] ?? "")
    }
}

extension String {
    func replacingPlus() -> String { String(map { $0 == "+" ? " " : $0 }) }
}

enum SimRoute {
    case apiVersions
    case apiGroups
    case resourceList(group: String, version: String)
    case version
    case health
    case openAPIRoot
    case openAPIGroupVersion(group: String, version: String)
    case resource(ResourceTarget)
    case notFound
}

struct ResourceTarget {
    var resource: ResourceDescriptor
    var namespace: String?
    var name: String?
    var subresource: String?
    var watchPrefix: Bool
}

enum SimRouting {
    static var groups: [(group: String, version: String)] { SimResources.groupVersions }

    static func resources(group: String, version: String, custom: [SimResourceType] = []) -> [ResourceDescriptor] {
        SimResources.resources(group: group, version: version, custom: custom).map(\.descriptor)
    }

    /// `custom`: the resources stored CRDs serve (SimCustomResources).
    static func route(_ path: String, custom: [SimResourceType] = []) -> SimRoute {
        var segs = path.split(separator: "/").map(String.init)
        switch path {
        case "/api", "/api/": return .apiVersions
        case "/apis", "/apis/": return .apiGroups
        case "/version", "/version/": return .version
        case "/healthz", "/readyz", "/livez": return .health
        case "/openapi/v3", "/openapi/v3/": return .openAPIRoot
        default: break
        }
        if path.hasPrefix("/openapi/v3/") {
            let rest = path.dropFirst("/openapi/v3/".count).split(separator: "/").map(String.init)
            if rest.count == 2, rest[0] == "api" { return .openAPIGroupVersion(group: "", version: rest[1]) }
            if rest.count == 3, rest[0] == "apis" { return .openAPIGroupVersion(group: rest[1], version: rest[2]) }
            return .notFound
        }
        guard let first = segs.first else { return .notFound }
        let group: String
        let version: String
        if first == "api" {
            guard segs.count >= 2 else { return .notFound }
            group = ""
            version = segs[1]
            segs.removeFirst(2)
        } else if first == "apis" {
            guard segs.count >= 3 else { return .notFound }
            group = segs[1]
            version = segs[2]
            segs.removeFirst(3)
        } else {
            return .notFound
        }
        let rs = resources(group: group, version: version, custom: custom)
        guard !rs.isEmpty else { return .notFound }
        if segs.isEmpty { return .resourceList(group: group, version: version) }
        var watchPrefix = false
        if segs[0] == "watch" {
            watchPrefix = true
            segs.removeFirst()
        }
        func find(_ plural: String) -> ResourceDescriptor? { rs.first { $0.plural == plural } }
        var ns: String?
        if segs[0] == "namespaces", segs.count >= 3, group.isEmpty || true, segs.count >= 3, !(segs.count == 3 && ["status", "finalize"].contains(segs[2])) {
            ns = segs[1]
            segs.removeFirst(2)
        }
        guard let r = find(segs[0]) else { return .notFound }
        if ns != nil && !r.namespaced { return .notFound }
        let name = segs.count > 1 ? segs[1] : nil
        let sub = segs.count > 2 ? segs[2] : nil
        if segs.count > 3 { return .notFound }
        return .resource(ResourceTarget(resource: r, namespace: ns, name: name, subresource: sub, watchPrefix: watchPrefix))
    }

    static func verbs(_ r: ResourceDescriptor) -> [String] {
        ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }

    static func apiVersions(serverAddress: String) -> JSONValue {
        ["kind": "APIVersions", "versions": ["v1"],
         "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(serverAddress)]]]
    }

    static func apiGroups(custom: [SimResourceType] = []) -> JSONValue {
        var groupsJSON: [JSONValue] = []
        for g in SimResources.groupVersions(custom: custom) where !g.group.isEmpty {
            let gv: JSONValue = ["groupVersion": .string("\(g.group)/\(g.version)"), "version": .string(g.version)]
            groupsJSON.append(["name": .string(g.group), "versions": [gv], "preferredVersion": gv])
        }
        return ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groupsJSON)]
    }

    static func resourceList(group: String, version: String, custom: [SimResourceType] = []) -> JSONValue {
        var list: [JSONValue] = []
        for t in SimResources.resources(group: group, version: version, custom: custom) {
            let r = t.descriptor
            var o: [String: JSONValue] = [
                "name": .string(r.plural), "singularName": .string(r.singular), "namespaced": .bool(r.namespaced),
                "kind": .string(r.kind), "verbs": .array(verbs(r).map { .string($0) }),
                "storageVersionHash": .string(storageVersionHash(r)),
            ]
            if !r.shortNames.isEmpty { o["shortNames"] = .array(r.shortNames.map { .string($0) }) }
            if !t.categories.isEmpty { o["categories"] = .array(t.categories.map { .string($0) }) }
            list.append(.object(o))
            if t.hasStatus {
                list.append(["name": .string("\(r.plural)/status"), "singularName": "", "namespaced": .bool(r.namespaced),
                             "kind": .string(r.kind), "verbs": ["get", "patch", "update"]])
            }
            if t.hasScale {
                list.append(["name": .string("\(r.plural)/scale"), "singularName": "", "namespaced": .bool(r.namespaced), "group": "autoscaling",
                             "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]])
            }
        }
        let gv = group.isEmpty ? version : "\(group)/\(version)"
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(gv), "resources": .array(list)]
    }

    /// A stable opaque hash (FNV-1a of the qualified name): Swift's `hashValue` changes per process.
    static func storageVersionHash(_ r: ResourceDescriptor) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in r.qualifiedName.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h & 0xFF_FFFF_FFFF, radix: 16)
    }

    /// The media type of aggregated discovery (apidiscovery.k8s.io/v2), which client-go asks for
    /// first on `/api` and `/apis` and recognises by the response Content-Type.
    static let aggregatedDiscoveryMediaType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

    /// Whether an Accept header lists aggregated discovery v2 (parameters in any order).
    static func wantsAggregatedDiscovery(_ accept: String?) -> Bool {
        guard let accept else { return false }
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.first == "application/json" else { continue }
            let params = Set(parts.dropFirst().map { $0.replacingOccurrences(of: " ", with: "") })
            if params.isSuperset(of: ["g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"]) { return true }
        }
        return false
    }

    /// `APIGroupDiscoveryList` for `/api` (core only) or `/apis` (every named group): every
    /// group, version and resource in one document, subresources nested.
    static func aggregatedDiscovery(core: Bool, custom: [SimResourceType] = []) -> JSONValue {
        var items: [JSONValue] = []
        var order: [String] = []
        var versionsByGroup: [String: [String]] = [:]
        for gv in SimResources.groupVersions(custom: custom) where gv.group.isEmpty == core {
            if versionsByGroup[gv.group] == nil { order.append(gv.group) }
            versionsByGroup[gv.group, default: []].append(gv.version)
        }
        for g in order {
            var versions: [JSONValue] = []
            for v in versionsByGroup[g] ?? [] {
                let resources: [JSONValue] = SimResources.resources(group: g, version: v, custom: custom).map { t in
                    let r = t.descriptor
                    let kind: JSONValue = ["group": .string(r.group), "version": .string(r.version), "kind": .string(r.kind)]
                    var o: [String: JSONValue] = [
                        "resource": .string(r.plural), "responseKind": kind, "scope": .string(r.namespaced ? "Namespaced" : "Cluster"),
                        "singularResource": .string(r.singular), "verbs": .array(verbs(r).map { .string($0) }),
                    ]
                    if !r.shortNames.isEmpty { o["shortNames"] = .array(r.shortNames.map { .string($0) }) }
                    if !t.categories.isEmpty { o["categories"] = .array(t.categories.map { .string($0) }) }
                    var subresources: [JSONValue] = []
                    if t.hasStatus { subresources.append(["subresource": "status", "responseKind": kind, "verbs": ["get", "patch", "update"]]) }
                    if t.hasScale {
                        subresources.append(["subresource": "scale", "responseKind": ["group": "autoscaling", "version": "v1", "kind": "Scale"], "verbs": ["get", "patch", "update"]])
                    }
                    if !subresources.isEmpty { o["subresources"] = .array(subresources) }
                    return .object(o)
                }
                versions.append(["version": .string(v), "resources": .array(resources), "freshness": "Current"])
            }
            let meta: JSONValue = g.isEmpty ? ["creationTimestamp": .null] : ["name": .string(g), "creationTimestamp": .null]
            items.append(["metadata": meta, "versions": .array(versions)])
        }
        return ["kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": .object([:]), "items": .array(items)]
    }

    /// A minimal OpenAPI v3 discovery document: one entry per group version.
    static func openAPIRoot(custom: [SimResourceType] = []) -> JSONValue {
        var paths: [String: JSONValue] = [:]
        for g in SimResources.groupVersions(custom: custom) {
            let key = g.group.isEmpty ? "api/\(g.version)" : "apis/\(g.group)/\(g.version)"
            paths[key] = ["serverRelativeURL": .string("/openapi/v3/\(key)?hash=kubesim1")]
        }
        return ["paths": .object(paths)]
    }

    /// A minimal OpenAPI v3 document for a group version: PATCH operations tagged with their
    /// GVK and the `fieldValidation` query parameter. kubectl only needs this to learn that the
    /// server validates fields itself (so `apply`/`create`/`edit` need no `--validate=false`);
    /// without request-body schemas it computes strategic merge patches from its compiled-in types.
    static func openAPIGroupVersion(group: String, version: String, custom: [SimResourceType] = []) -> JSONValue? {
        let rs = resources(group: group, version: version, custom: custom)
        guard !rs.isEmpty else { return nil }
        var paths: [String: JSONValue] = [:]
        var schemas: [String: JSONValue] = [:]
        for r in rs {
            let gvk: JSONValue = ["group": .string(r.group), "version": .string(r.version), "kind": .string(r.kind)]
            let params: JSONValue = [
                ["name": "fieldValidation", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                ["name": "fieldManager", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                ["name": "dryRun", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
            ]
            let op: JSONValue = ["operationId": .string("patch\(r.kind)"), "parameters": params,
                                 "responses": ["200": ["description": "OK"]], "x-kubernetes-action": "patch",
                                 "x-kubernetes-group-version-kind": gvk]
            let item = r.path(namespace: r.namespaced ? "{namespace}" : nil, name: "{name}")
            paths[item] = ["patch": op]
            schemas["io.k8s.kubesim.\(r.group.isEmpty ? "core" : r.group).\(r.version).\(r.kind)"] =
                ["type": "object", "x-kubernetes-group-version-kind": [gvk]]
        }
        return ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.33.0-kubesim"],
                "paths": .object(paths), "components": ["schemas": .object(schemas)]]
    }

    static func version() -> JSONValue {
        ["major": "1", "minor": "33", "gitVersion": "v1.33.0-kubesim", "gitCommit": "0000000000000000000000000000000000000000",
         "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"]
    }
}
