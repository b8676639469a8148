import Foundation
import KubeModel
import KubeServerModel

/// What a request produces.
enum SimResponse: Sendable {
    case json(Int, JSONValue, [(String, String)])
    case text(Int, String)
    case watch(WatchSetup)
    case watchExpired(V1Status)
}

struct WatchSetup: Sendable {
    var filter: WatchFilter
    var fromRV: Int64?
    var timeout: Duration
    var initialEventsEnd: Bool
    /// Non-nil when the client asked for Tables: the `includeObject` policy.
    var table: String?
}

/// Maps requests to store operations with the API server's semantics.
final class SimAPI: @unchecked Sendable {
    let store: SimStore
    var serverAddress = "127.0.0.1:6443"
    var defaultWatchTimeout: Duration = .seconds(1800)
    /// Called (under the store lock) when a namespace becomes Terminating; the server schedules
    /// `finalizeNamespace`.
    var onNamespaceTerminating: (@Sendable (String) -> Void)?
    /// Pods on a node are deleted gracefully (a simulated kubelet finishes the deletion).
    var gracefulPods = false

    init(store: SimStore) { self.store = store }

    func handle(_ req: SimRequest) -> SimResponse {
        let custom = store.lock.withLock { SimCustomResources.served(store).map(\.type) }
        switch SimRouting.route(req.path, custom: custom) {
        case .apiVersions:
            if SimRouting.wantsAggregatedDiscovery(req.headers["accept"]) { return aggregated(core: true, custom: custom) }
            return ok(SimRouting.apiVersions(serverAddress: serverAddress))
        case .apiGroups:
            if SimRouting.wantsAggregatedDiscovery(req.headers["accept"]) { return aggregated(core: false, custom: custom) }
            return ok(SimRouting.apiGroups(custom: custom))
        case .resourceList(let g, let v): return ok(SimRouting.resourceList(group: g, version: v, custom: custom))
        case .version: return ok(SimRouting.version())
        case .health: return .text(200, "ok")
        case .openAPIRoot: return ok(SimRouting.openAPIRoot(custom: custom))
        case .openAPIGroupVersion(let g, let v):
            guard let doc = SimRouting.openAPIGroupVersion(group: g, version: v, custom: custom) else { return error(SimErrors.pathNotFound()) }
            return ok(doc)
        case .notFound:
            if req.path.hasPrefix("/api") { return error(SimErrors.pathNotFound()) }
            return .text(404, "404 page not found\n")
        case .resource(let t):
            do {
                return try resource(req, t)
            } catch {
                return self.error(error)
            }
        }
    }

    func ok(_ v: JSONValue, _ code: Int = 200) -> SimResponse { .json(code, v, []) }

    private func aggregated(core: Bool, custom: [SimResourceType]) -> SimResponse {
        .json(200, SimRouting.aggregatedDiscovery(core: core, custom: custom), [("Content-Type", SimRouting.aggregatedDiscoveryMediaType), ("Vary", "Accept")])
    }

    func error(_ s: V1Status) -> SimResponse {
        var headers: [(String, String)] = []
        if let ra = s.details?.retryAfterSeconds { headers.append(("Retry-After", String(ra))) }
        return .json(Int(s.code ?? 500), SimErrors.json(s), headers)
    }

    // MARK: dispatch

    private func resource(_ req: SimRequest, _ t: ResourceTarget) throws(V1Status) -> SimResponse {
        let r = t.resource
        if let sub = t.subresource {
            if sub == "scale", SimResources.type(r).hasScale { return try scale(req, t) }
            guard sub == "status", SimResources.type(r).hasStatus else { throw SimErrors.pathNotFound() }
        }
        switch req.method {
        case "GET":
            if let name = t.name {
                if t.watchPrefix { return try watch(req, t, nameFilter: name) }
                return store.lock.withLock {
                    guard let o = store.get(r, t.namespace ?? "", name) else { return error(SimErrors.notFound(r, name)) }
                    if SimTables.wantsTable(req) {
                        return ok(SimTables.table([o], r, meta: ["resourceVersion": o.value(atPath: "metadata.resourceVersion") ?? .string("")],
                                                  includeObject: req.query["includeObject"] ?? "Metadata", now: store.now()))
                    }
                    return ok(o)
                }
            }
            if t.watchPrefix || req.bool("watch") { return try watch(req, t, nameFilter: nil) }
            return try list(req, t)
        case "POST":
            guard t.name == nil else { throw SimErrors.methodNotAllowed() }
            return try create(req, t)
        case "PUT":
            guard let name = t.name else { throw SimErrors.methodNotAllowed() }
            return try update(req, t, name)
        case "PATCH":
            guard let name = t.name else { throw SimErrors.methodNotAllowed() }
            return try patch(req, t, name)
        case "DELETE":
            guard let name = t.name else { return try deleteCollection(req, t) }
            guard t.subresource == nil else { throw SimErrors.methodNotAllowed() }
            return try delete(req, t, name)
        default:
            throw SimErrors.methodNotAllowed()
        }
    }

    private func selectors(_ req: SimRequest, _ t: ResourceTarget, nameFilter: String?) throws(V1Status) -> WatchFilter {
        var ls: LabelSelector?
        var fs: FieldSelector?
        if let s = req.query["labelSelector"], !s.isEmpty {
            do { ls = try LabelSelector(parsing: s) } catch { throw SimErrors.badRequest("unable to parse requirement: \(error.message)") }
        }
        var fsText = req.query["fieldSelector"] ?? ""
        if let n = nameFilter { fsText = fsText.isEmpty ? "metadata.name=\(n)" : fsText + ",metadata.name=\(n)" }
        if !fsText.isEmpty {
            do { fs = try FieldSelector(parsing: fsText) } catch { throw SimErrors.badRequest(error.message) }
            if let e = SimStore.validateFieldSelector(fs!, t.resource) { throw e }
        }
        return WatchFilter(resource: t.resource, namespace: t.resource.namespaced ? t.namespace : nil, labelSelector: ls, fieldSelector: fs,
                           bookmarks: req.bool("allowWatchBookmarks"))
    }

    private func parseRV(_ s: String?) throws(V1Status) -> Int64? {
        guard let s, !s.isEmpty else { return nil }
        guard let v = Int64(s), v >= 0 else {
            throw SimErrors.invalidRequest("metadata.resourceVersion", "invalid resource version: \(s)")
        }
        return v
    }

    private func list(_ req: SimRequest, _ t: ResourceTarget) throws(V1Status) -> SimResponse {
        let filter = try selectors(req, t, nameFilter: nil)
        if let m = req.query["resourceVersionMatch"], !m.isEmpty {
            guard m == "NotOlderThan" || m == "Exact" else {
                throw SimErrors.invalidRequest("resourceVersionMatch", "Unsupported value: \"\(m)\"")
            }
            if (req.query["resourceVersion"] ?? "").isEmpty {
                throw SimErrors.invalidRequest("resourceVersionMatch", "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided")
            }
            if m == "Exact" && req.query["resourceVersion"] == "0" {
                throw SimErrors.invalidRequest("resourceVersionMatch", "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"")
            }
        }
        let rv = try parseRV(req.query["resourceVersion"])
        let limit = Int(req.query["limit"] ?? "") ?? 0
        let cont = req.query["continue"] ?? ""
        return store.lock.withLock { () -> SimResponse in
            if let rv, rv > store.rv { return error(SimErrors.tooLargeRV(rv, store.rv)) }
            var meta: [String: JSONValue] = ["resourceVersion": .string(String(store.rv))]
            var after: String?
            if !cont.isEmpty {
                // Continue token: base64 of "<rv>/<last store key>".
                guard let raw = Base64.decode(cont).map({ String(decoding: $0, as: UTF8.self) }), let slash = raw.firstIndex(of: "/") else {
                    return error(SimErrors.badRequest("continue key is not valid"))
                }
                after = String(raw[raw.index(after: slash)...])
            }
            let (items, last) = store.listPage(filter, after: after, limit: max(0, limit))
            if let last {
                let token = "\(store.rv)/\(last)"
                meta["continue"] = .string(Base64.encode(Array(token.utf8)))
            }
            if SimTables.wantsTable(req) {
                return ok(SimTables.table(items, t.resource, meta: .object(meta), includeObject: req.query["includeObject"] ?? "Metadata", now: store.now()))
            }
            // Built-in kinds' items carry no kind/apiVersion; custom resources' (unstructured) do.
            let custom = SimResources.all.allSatisfy { $0.descriptor.qualifiedName != t.resource.qualifiedName }
            let stripped = custom ? items : items.map { o -> JSONValue in
                var o = o
                o["kind"] = nil
                o["apiVersion"] = nil
                return o
            }
            return ok(["kind": .string(t.resource.kind + "List"), "apiVersion": .string(t.resource.apiVersion),
                       "metadata": .object(meta), "items": .array(stripped)])
        }
    }

    static func sortKey(_ o: JSONValue) -> String {
        let ns = o.value(atPath: "metadata.namespace")?.stringValue ?? ""
        let n = o.value(atPath: "metadata.name")?.stringValue ?? ""
        return ns.isEmpty ? n : ns + "\u{1}" + n
    }

    private func watch(_ req: SimRequest, _ t: ResourceTarget, nameFilter: String?) throws(V1Status) -> SimResponse {
        let filter = try selectors(req, t, nameFilter: nameFilter)
        if req.query["sendInitialEvents"] != nil {
            // Streaming lists (WatchList) are not implemented: reject as a server with the feature off.
            throw SimErrors.invalidRequest("sendInitialEvents", "Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled")
        }
        if let m = req.query["resourceVersionMatch"], !m.isEmpty {
            throw SimErrors.invalidRequest("resourceVersionMatch", "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")
        }
        let rvText = req.query["resourceVersion"] ?? ""
        let rv: Int64? = rvText == "0" ? nil : try parseRV(rvText)
        var timeout = defaultWatchTimeout
        if let ts = req.query["timeoutSeconds"], let s = Int64(ts), s > 0 { timeout = .seconds(s) }
        let tooLarge: V1Status? = store.lock.withLock {
            if let rv, rv > store.rv { return SimErrors.tooLargeRV(rv, store.rv) }
            return nil
        }
        if let e = tooLarge { throw e }
        return .watch(WatchSetup(filter: filter, fromRV: rv, timeout: timeout, initialEventsEnd: false,
                                 table: SimTables.wantsTable(req) ? (req.query["includeObject"] ?? "Metadata") : nil))
    }

    // MARK: writes

    private func decodeBody(_ req: SimRequest, _ r: ResourceDescriptor) throws(V1Status) -> JSONValue {
        let ct = req.headers["content-type"] ?? "application/json"
        if ct.hasPrefix(KubeProtobuf.mediaType) { return try decodeProtobufBody(req.body, r) }
        if ct.contains("yaml") || ct.contains("protobuf") || ct.contains("cbor") {
            throw SimErrors.unsupportedMediaType(ct, accepted: SimErrors.bodyMediaTypes)
        }
        do {
            let v = try JSONValue.parse(req.body)
            guard case .object = v else { throw SimErrors.badRequest("the body of the request must be a JSON object") }
            return v
        } catch let e as V1Status {
            throw e
        } catch {
            throw SimErrors.badRequest("error decoding request body: \(error)")
        }
    }

    /// A Kubernetes protobuf body (kubectl ≥ 1.32 `create <generator>`), decoded into the JSON a
    /// JSON client would send, for the kinds KubeModel has tables for; other kinds get 415
    /// naming the kind (docs/design/kubectl-protobuf.md).
    private func decodeProtobufBody(_ body: [UInt8], _ r: ResourceDescriptor) throws(V1Status) -> JSONValue {
        let envelope: KubeProtobufEnvelope
        do { envelope = try KubeProtobuf.envelope(body) } catch { throw SimErrors.protobufUndecodable(error) }
        guard KubeProtobuf.supports(apiVersion: envelope.apiVersion, kind: envelope.kind) else {
            throw SimErrors.protobufKindNotDecoded(apiVersion: envelope.apiVersion, kind: envelope.kind)
        }
        guard envelope.apiVersion == r.apiVersion, envelope.kind == r.kind else {
            throw SimErrors.badRequest("the body holds \(envelope.apiVersion) \(envelope.kind), not \(r.apiVersion) \(r.kind) as the request path says")
        }
        do { return try KubeProtobuf.decode(envelope) } catch { throw SimErrors.protobufUndecodable(error) }
    }

    private func dryRun(_ req: SimRequest) -> Bool { req.query["dryRun"] == "All" }

    private func create(_ req: SimRequest, _ t: ResourceTarget) throws(V1Status) -> SimResponse {
        var obj = try decodeBody(req, t.resource)
        let r = t.resource
        let ns = r.namespaced ? (t.namespace ?? "") : ""
        if r.namespaced && ns.isEmpty { throw SimErrors.pathNotFound() }
        if let bns = obj.value(atPath: "metadata.namespace")?.stringValue, !bns.isEmpty, r.namespaced, bns != ns {
            throw SimErrors.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        if let rv = obj.value(atPath: "metadata.resourceVersion")?.stringValue, !rv.isEmpty {
            throw SimErrors.internalError("resourceVersion should not be set on objects to be created")
                .withMessage("resourceVersion should not be set on objects to be created")
        }
        return try locked { () throws(V1Status) -> SimResponse in
            var name = obj.value(atPath: "metadata.name")?.stringValue ?? ""
            if name.isEmpty, let gen = obj.value(atPath: "metadata.generateName")?.stringValue, !gen.isEmpty {
                name = gen + Self.randomSuffix()
                obj.set(["metadata", "name"], .string(name))
            }
            try checkNamespaceAcceptsContent(r, ns, name)
            if let existing = store.get(r, ns, name), !name.isEmpty {
                _ = existing
                throw SimErrors.alreadyExists(r, name)
            }
            let created = try prepareCreate(obj, r, ns: ns, name: name)
            if dryRun(req) { return ok(created, 201) }
            var stored = created
            let rv = store.nextRV()
            stored.set(["metadata", "resourceVersion"], .string(String(rv)))
            store.put(r, ns, name, stored, rv: rv)
            return ok(stored, 201)
        }
    }

    static func randomSuffix() -> String {
        let chars = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in chars.randomElement()! })
    }

    /// Server-owned metadata, defaults and validation for a new object. Caller holds the lock.
    private func prepareCreate(_ input: JSONValue, _ r: ResourceDescriptor, ns: String, name: String) throws(V1Status) -> JSONValue {
        var obj = input
        obj["kind"] = .string(r.kind)
        obj["apiVersion"] = .string(r.apiVersion)
        var meta = obj["metadata"]?.objectValue ?? [:]
        meta["namespace"] = r.namespaced ? .string(ns) : nil
        meta["uid"] = .string(UUID().uuidString.lowercased())
        meta["creationTimestamp"] = .string(KubeTime(seconds: Int64(store.now().timeIntervalSince1970)).format())
        meta["deletionTimestamp"] = nil
        let type = SimResources.type(r)
        meta["generation"] = type.generation == .none ? nil : .int(1)
        meta["managedFields"] = nil
        meta["selfLink"] = nil
        obj["metadata"] = .object(meta)
        try SimStrategies.validateMeta(obj, r, name: name)
        if type.hasStatus {
            obj["status"] = type.initialStatus  // create wipes status
        }
        return try SimStrategies.prepare(obj, old: nil, r, store: store, name: name)
    }

    private func update(_ req: SimRequest, _ t: ResourceTarget, _ name: String) throws(V1Status) -> SimResponse {
        let obj = try decodeBody(req, t.resource)
        let r = t.resource
        let ns = r.namespaced ? (t.namespace ?? "") : ""
        if let bns = obj.value(atPath: "metadata.namespace")?.stringValue, !bns.isEmpty, r.namespaced, bns != ns {
            throw SimErrors.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        if let bn = obj.value(atPath: "metadata.name")?.stringValue, bn != name {
            throw SimErrors.badRequest("the name of the object (\(bn)) does not match the name on the URL (\(name))")
        }
        let rv = obj.value(atPath: "metadata.resourceVersion")?.stringValue ?? ""
        return try locked { () throws(V1Status) -> SimResponse in
            guard let old = store.get(r, ns, name) else {
                if t.subresource == nil && SimResources.type(r).createOnUpdate {
                    try checkNamespaceAcceptsContent(r, ns, name)
                    if !rv.isEmpty { throw SimErrors.notFound(r, name) }
                    var o = obj
                    o.set(["metadata", "name"], .string(name))
                    let created = try prepareCreate(o, r, ns: ns, name: name)
                    if dryRun(req) { return ok(created, 201) }
                    var stored = created
                    let nrv = store.nextRV()
                    stored.set(["metadata", "resourceVersion"], .string(String(nrv)))
                    store.put(r, ns, name, stored, rv: nrv)
                    return ok(stored, 201)
                }
                throw SimErrors.notFound(r, name)
            }
            if rv.isEmpty {
                if SimResources.type(r).updateRequiresResourceVersion {
                    throw SimErrors.invalid(r, name, [SimErrors.invalidValue("metadata.resourceVersion", "0x0", "must be specified for an update")])
                }
            } else if rv != old.value(atPath: "metadata.resourceVersion")?.stringValue {
                throw SimErrors.conflict(r, name)
            }
            return try commitUpdate(req, r, ns, name, old: old, new: obj, subresource: t.subresource)
        }
    }

    /// Applies update rules (status handling, immutable metadata, finalizers) and stores. Caller holds the lock.
    private func commitUpdate(_ req: SimRequest, _ r: ResourceDescriptor, _ ns: String, _ name: String, old: JSONValue, new input: JSONValue, subresource: String?) throws(V1Status) -> SimResponse {
        var new = input
        new["kind"] = .string(r.kind)
        new["apiVersion"] = .string(r.apiVersion)
        let oldMeta = old["metadata"]?.objectValue ?? [:]
        var meta = new["metadata"]?.objectValue ?? [:]
        if let uid = meta["uid"]?.stringValue, !uid.isEmpty, uid != oldMeta["uid"]?.stringValue {
            throw SimErrors.invalid(r, name, [SimErrors.invalidValue("metadata.uid", "\"\(uid)\"", "field is immutable")])
        }
        for k in ["uid", "creationTimestamp", "deletionTimestamp", "namespace", "name", "generation"] { meta[k] = oldMeta[k] }
        meta["managedFields"] = nil
        meta["resourceVersion"] = oldMeta["resourceVersion"]
        if oldMeta["deletionTimestamp"] != nil {
            let oldF = Set(oldMeta["finalizers"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            let newF = Set(meta["finalizers"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            if !newF.subtracting(oldF).isEmpty {
                throw SimErrors.invalid(r, name, [SimErrors.forbidden("metadata.finalizers", "no new finalizers can be added if the object is being deleted, found new finalizers []string{\(newF.subtracting(oldF).sorted().map { "\"\($0)\"" }.joined(separator: ", "))}")])
            }
        }
        new["metadata"] = .object(meta)
        let type = SimResources.type(r)
        if type.hasStatus {
            if subresource == "status" {
                // /status ignores spec; for Services labels, annotations and finalizers are persisted.
                var merged = old
                merged["status"] = new["status"]
                if type.statusWritesMetadata {
                    var m = old["metadata"]?.objectValue ?? [:]
                    m["labels"] = meta["labels"]
                    m["annotations"] = meta["annotations"]
                    m["finalizers"] = meta["finalizers"]
                    merged["metadata"] = .object(m)
                }
                new = merged
            } else {
                new["status"] = old["status"]
            }
        }
        try SimStrategies.validateMeta(new, r, name: name)
        new = try SimStrategies.prepare(new, old: old, r, store: store, name: name)
        if Self.bumpsGeneration(type.generation, old: old, new: new) {
            new.set(["metadata", "generation"], .int((old.value(atPath: "metadata.generation")?.intValue ?? 0) + 1))
        }
        if new == old {
            return ok(old)  // no-op updates do not bump the resourceVersion
        }
        if dryRun(req) { return ok(new) }
        let rv = store.nextRV()
        new.set(["metadata", "resourceVersion"], .string(String(rv)))
        var fins = new.value(atPath: "metadata.finalizers")?.arrayValue ?? []
        if r == .namespaces { fins += new.value(atPath: "spec.finalizers")?.arrayValue ?? [] }  // the namespace controller's
        if new.value(atPath: "metadata.deletionTimestamp") != nil && fins.isEmpty {
            store.remove(r, ns, name, finalObject: new, rv: rv)
            return ok(new)
        }
        store.put(r, ns, name, new, rv: rv)
        return ok(new)
    }

    private func patch(_ req: SimRequest, _ t: ResourceTarget, _ name: String) throws(V1Status) -> SimResponse {
        let r = t.resource
        let ns = r.namespaced ? (t.namespace ?? "") : ""
        let ct = (req.headers["content-type"] ?? "").split(separator: ";").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        let patchDoc: JSONValue
        do { patchDoc = try JSONValue.parse(req.body) } catch { throw SimErrors.badRequest("error decoding patch: \(error)") }
        if ct == "application/apply-patch+yaml" {
            if (req.query["fieldManager"] ?? "").isEmpty {
                throw SimErrors.invalidRequest("fieldManager", "Required value: is required for apply patch")
            }
            throw SimErrors.unsupportedMediaType(ct)
        }
        return try locked { () throws(V1Status) -> SimResponse in
            guard let old = store.get(r, ns, name) else { throw SimErrors.notFound(r, name) }
            var patched: JSONValue
            do {
                switch ct {
                case "application/json-patch+json":
                    patched = try JSONPatch.apply(patchDoc, to: old)
                case "application/merge-patch+json":
                    patched = JSONMergePatch.apply(patchDoc, to: old)
                case "application/strategic-merge-patch+json":
                    patched = try StrategicMergePatch.apply(patchDoc, to: old, mergeKeys: SimResources.mergeKeys(r))
                default:
                    throw SimErrors.unsupportedMediaType(ct)
                }
            } catch let e as PatchError {
                if e.code == "test_failed" {
                    throw V1Status(message: "the server rejected our request due to an error in our request", reason: "Invalid", code: 422,
                                   details: StatusDetails(name: name, group: r.group.isEmpty ? nil : r.group, kind: r.kind, causes: [StatusCause(reason: "FieldValueInvalid", message: "testing value failed")]))
                }
                throw V1Status(message: e.message, reason: "Invalid", code: 422, details: StatusDetails(name: name, kind: r.kind))
            } catch let e as V1Status {
                throw e
            } catch {
                throw SimErrors.internalError("\(error)")
            }
            // An RV in the patched object is a precondition.
            let oldRV = old.value(atPath: "metadata.resourceVersion")?.stringValue
            if let prv = patched.value(atPath: "metadata.resourceVersion")?.stringValue, prv != oldRV {
                throw SimErrors.conflict(r, name)
            }
            if let pn = patched.value(atPath: "metadata.name")?.stringValue, pn != name {
                throw SimErrors.badRequest("the name of the object (\(pn)) does not match the name on the URL (\(name))")
            }
            return try commitUpdate(req, r, ns, name, old: old, new: patched, subresource: t.subresource)
        }
    }

    private func delete(_ req: SimRequest, _ t: ResourceTarget, _ name: String) throws(V1Status) -> SimResponse {
        let r = t.resource
        let ns = r.namespaced ? (t.namespace ?? "") : ""
        var preconditions: JSONValue?
        if !req.body.isEmpty, let opts = try? JSONValue.parse(req.body) { preconditions = opts["preconditions"] }
        return try locked { () throws(V1Status) -> SimResponse in
            guard let old = store.get(r, ns, name) else { throw SimErrors.notFound(r, name) }
            if let uid = preconditions?["uid"]?.stringValue, uid != old.value(atPath: "metadata.uid")?.stringValue {
                throw SimErrors.conflict(r, name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(old.value(atPath: "metadata.uid")?.stringValue ?? "")")
            }
            if let prv = preconditions?["resourceVersion"]?.stringValue, prv != old.value(atPath: "metadata.resourceVersion")?.stringValue {
                throw SimErrors.conflict(r, name, "Precondition failed: ResourceVersion in precondition: \(prv), ResourceVersion in object meta: \(old.value(atPath: "metadata.resourceVersion")?.stringValue ?? "")")
            }
            if dryRun(req) { return ok(old) }
            if r == .pods, let pending = gracefulPodDeletion(req, old, namespace: ns, name: name) { return ok(pending) }
            return ok(deleteLocked(r, ns, name, old))
        }
    }

    /// Deletes (or marks for deletion when finalizers remain). Caller holds the lock.
    private func deleteLocked(_ r: ResourceDescriptor, _ ns: String, _ name: String, _ old: JSONValue) -> JSONValue {
        if r == .namespaces { return terminateNamespaceLocked(name, old) }
        let fins = old.value(atPath: "metadata.finalizers")?.arrayValue ?? []
        var obj = old
        let rv = store.nextRV()
        obj.set(["metadata", "resourceVersion"], .string(String(rv)))
        if !fins.isEmpty {
            if old.value(atPath: "metadata.deletionTimestamp") == nil {
                obj.set(["metadata", "deletionTimestamp"], .string(KubeTime(seconds: Int64(store.now().timeIntervalSince1970)).format()))
                obj.set(["metadata", "deletionGracePeriodSeconds"], .int(0))
                store.put(r, ns, name, obj, rv: rv)
            }
            return obj
        }
        store.remove(r, ns, name, finalObject: obj, rv: rv)
        return obj
    }

    /// The namespace registry's delete: the first DELETE marks the namespace Terminating
    /// (`deletionTimestamp`, `status.phase`); later ones return it unchanged. The namespace
    /// controller (`finalizeNamespace`) removes the content and then the namespace, after
    /// `onNamespaceTerminating` schedules it. Caller holds the lock.
    private func terminateNamespaceLocked(_ name: String, _ old: JSONValue) -> JSONValue {
        guard old.value(atPath: "metadata.deletionTimestamp") == nil else { return old }
        var obj = old
        let rv = store.nextRV()
        obj.set(["metadata", "resourceVersion"], .string(String(rv)))
        obj.set(["metadata", "deletionTimestamp"], .string(KubeTime(seconds: Int64(store.now().timeIntervalSince1970)).format()))
        obj.set(["metadata", "deletionGracePeriodSeconds"], .int(0))
        obj.set(["status", "phase"], "Terminating")
        store.put(.namespaces, "", name, obj, rv: rv)
        onNamespaceTerminating?(name)
        return obj
    }

    /// The namespace controller's pass over a Terminating namespace: deletes everything in it,
    /// then clears `spec.finalizers` and removes the namespace. Returns false while content with
    /// finalizers remains (call again later). True when there is nothing (more) to do.
    @discardableResult
    func finalizeNamespace(_ name: String) -> Bool {
        store.lock.withLock {
            guard let ns = store.get(.namespaces, "", name), ns.value(atPath: "metadata.deletionTimestamp") != nil else { return true }
            var remaining = 0
            for t in SimResources.all where t.descriptor.namespaced {
                for o in store.list(WatchFilter(resource: t.descriptor, namespace: name, bookmarks: false)) {
                    let oname = o.value(atPath: "metadata.name")?.stringValue ?? ""
                    if o.value(atPath: "metadata.deletionTimestamp") == nil { _ = deleteLocked(t.descriptor, name, oname, o) }
                    if store.get(t.descriptor, name, oname) != nil { remaining += 1 }
                }
            }
            if remaining > 0 { return false }
            var obj = ns
            obj.set(["spec", "finalizers"], .array([]))
            let rv = store.nextRV()
            obj.set(["metadata", "resourceVersion"], .string(String(rv)))
            if (obj.value(atPath: "metadata.finalizers")?.arrayValue ?? []).isEmpty {
                store.remove(.namespaces, "", name, finalObject: obj, rv: rv)
            } else {
                store.put(.namespaces, "", name, obj, rv: rv)  // removed when its last finalizer goes (commitUpdate)
            }
            return true
        }
    }

    /// 404 for a missing namespace, 403 (NamespaceLifecycle admission) for a Terminating one.
    /// Caller holds the lock.
    func checkNamespaceAcceptsContent(_ r: ResourceDescriptor, _ ns: String, _ name: String) throws(V1Status) {
        guard r.namespaced else { return }
        guard let n = store.get(.namespaces, "", ns) else { throw SimErrors.notFound(.namespaces, ns) }
        if n.value(atPath: "metadata.deletionTimestamp") != nil {
            let why = "unable to create new content in namespace \(ns) because it is being terminated"
            throw V1Status(message: "\(r.qualifiedName) \"\(name)\" is forbidden: \(why)", reason: "Forbidden", code: 403,
                           details: StatusDetails(name: name, group: r.group.isEmpty ? nil : r.group, kind: r.plural,
                                                  causes: [StatusCause(reason: "NamespaceTerminating", message: why, field: "metadata.namespace")]))
        }
    }

    /// Whether an update changes what the kind's generation tracks.
    static func bumpsGeneration(_ g: SimResourceType.Generation, old: JSONValue, new: JSONValue) -> Bool {
        switch g {
        case .none: return false
        case .spec: return old["spec"] != new["spec"]
        case .specAndAnnotations:
            return old["spec"] != new["spec"] || old.value(atPath: "metadata.annotations") != new.value(atPath: "metadata.annotations")
        }
    }

    private func deleteCollection(_ req: SimRequest, _ t: ResourceTarget) throws(V1Status) -> SimResponse {
        let filter = try selectors(req, t, nameFilter: nil)
        let r = t.resource
        return store.lock.withLock { () -> SimResponse in
            var deleted: [JSONValue] = []
            for o in store.list(filter) {
                let ns = o.value(atPath: "metadata.namespace")?.stringValue ?? ""
                let name = o.value(atPath: "metadata.name")?.stringValue ?? ""
                deleted.append(deleteLocked(r, ns, name, o))
            }
            return ok(["kind": .string(r.kind + "List"), "apiVersion": .string(r.apiVersion),
                       "metadata": ["resourceVersion": .string(String(store.rv))], "items": .array(deleted)])
        }
    }
}

extension V1Status {
    func withMessage(_ m: String) -> V1Status {
        var s = self
        s.message = m
        return s
    }
}

extension SimErrors {
    /// 422 for invalid request options (reason Invalid, no object name), as ListOptions validation does.
    static func invalidRequest(_ field: String, _ message: String) -> V1Status {
        V1Status(message: "\(field): \(message)", reason: "Invalid", code: 422,
                 details: StatusDetails(causes: [StatusCause(reason: "FieldValueInvalid", message: message, field: field)]))
    }
}

extension SimAPI {
    /// Runs `body` under the store lock with typed throws.
    func locked<T>(_ body: () throws(V1Status) -> T) throws(V1Status) -> T {
        store.lock.lock()
        defer { store.lock.unlock() }
        return try body()
    }
}
