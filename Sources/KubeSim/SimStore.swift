import Foundation
import KubeModel
import KubeServerModel
import NIOConcurrencyHelpers

/// One change in the global history.
struct HistoryEntry: Sendable {
    enum Kind: String, Sendable { case added = "ADDED", modified = "MODIFIED", deleted = "DELETED" }
    var rv: Int64
    var resource: String  // qualified resource name
    var namespace: String
    var kind: Kind
    var object: JSONValue
    var prev: JSONValue?
    /// When the change was recorded (`SimStore.now`), for the history's freshness bound.
    var recordedAt = Date.distantPast
}

/// What a watch stream receives, in order.
enum WatchOutput: Sendable {
    case events([JSONValue])
    case end
}

struct WatchFilter: Sendable {
    var resource: ResourceDescriptor
    var namespace: String?
    var labelSelector: LabelSelector?
    var fieldSelector: FieldSelector?
    var bookmarks: Bool

    func matches(_ obj: JSONValue) -> Bool {
        if let ns = namespace, (obj.value(atPath: "metadata.namespace")?.stringValue ?? "") != ns { return false }
        if let ls = labelSelector {
            let labels = obj.value(atPath: "metadata.labels")?.objectValue?.compactMapValues(\.stringValue) ?? [:]
            if !ls.matches(labels) { return false }
        }
        if let fs = fieldSelector, !fs.matches({ SimStore.fieldValue(obj, $0) }) { return false }
        return true
    }
}

final class SimWatcher: @unchecked Sendable {
    let id: Int
    let filter: WatchFilter
    let send: @Sendable (WatchOutput) -> Void
    init(id: Int, filter: WatchFilter, send: @escaping @Sendable (WatchOutput) -> Void) {
        self.id = id
        self.filter = filter
        self.send = send
    }
}

/// The object store: raw JSON objects under one lock, one global resourceVersion, a bounded
/// history for watches, and the registered watchers. Writes notify watchers while holding the
/// lock, so every watcher sees events in resourceVersion order with no gap at registration.
final class SimStore: @unchecked Sendable {
    let lock = NIOLock()
    private(set) var rv: Int64 = 1
    private var objects: [String: [String: JSONValue]] = [:]
    private var sortedKeys: [String: [String]] = [:]
    private var history: [HistoryEntry] = []
    private var historyStart = 0
    var historyCapacity: Int
    /// Changes older than this are dropped once more than `historyLowerBound` are held
    /// (kube-apiserver's watch cache keeps 75 s of events above its lower bound of 100).
    var historyFreshness: TimeInterval = 75
    var historyLowerBound = 100
    private var watchers: [Int: SimWatcher] = [:]
    private var nextWatcherID = 1
    private var nextClusterIPv4: UInt32 = 10 << 24 | 96 << 16 | 0 << 8 | 10
    private var nextClusterIPv6: UInt32 = 10
    private var usedNodePorts: Set<Int64> = []
    private var nextNodePort: Int64 = 30000
    var now: @Sendable () -> Date = { Date() }
    var dualStack = true

    init(historyCapacity: Int) {
        self.historyCapacity = historyCapacity
    }

    static func key(_ ns: String, _ name: String) -> String { ns.isEmpty ? name : "\(ns)/\(name)" }

    /// Field values for field selectors: the value at the dotted path (validation limits the
    /// labels to `metadata.name`, `metadata.namespace` and the kind's `SimResourceType.fieldSelectors`).
    static func fieldValue(_ obj: JSONValue, _ field: String) -> String? {
        // A core Event's `source` label is its source's component (kube-apiserver's event strategy).
        if field == "source", obj["involvedObject"] != nil { return obj.value(atPath: "source.component")?.stringValue ?? "" }
        guard let v = obj.value(atPath: field) else { return nil }
        switch v {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        default: return nil
        }
    }

    static func validateFieldSelector(_ fs: FieldSelector, _ r: ResourceDescriptor) -> V1Status? {
        let extra = SimResources.type(r).fieldSelectors
        for req in fs.requirements where req.field != "metadata.name" && req.field != "metadata.namespace" && !extra.contains(req.field) {
            return SimErrors.badRequest("field label not supported: \(req.field)")
        }
        return nil
    }

    // MARK: reads (callers hold the lock)

    func get(_ r: ResourceDescriptor, _ ns: String, _ name: String) -> JSONValue? {
        objects[SimEventViews.storage(r).qualifiedName]?[Self.key(ns, name)].map { SimEventViews.view($0, as: r) }
    }

    func list(_ filter: WatchFilter) -> [JSONValue] {
        listPage(filter, after: nil, limit: 0).items
    }

    /// Matching objects in key order, starting after the store key `after`, at most `limit`
    /// (0 = all). `last` is the key of the last returned item when more remain.
    func listPage(_ filter: WatchFilter, after: String?, limit: Int) -> (items: [JSONValue], last: String?) {
        let rname = SimEventViews.storage(filter.resource).qualifiedName
        guard let all = objects[rname] else { return ([], nil) }
        let keys: [String]
        if let k = sortedKeys[rname] { keys = k } else {
            keys = all.keys.sorted()
            sortedKeys[rname] = keys
        }
        var start = 0
        if let a = after {
            var lo = 0, hi = keys.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if keys[mid] <= a { lo = mid + 1 } else { hi = mid }
            }
            start = lo
        }
        var items: [JSONValue] = []
        var lastKey: String?
        let prefix = filter.namespace.map { $0 + "/" }
        for k in keys[start...] {
            if let p = prefix, !k.hasPrefix(p) { continue }
            guard let o = all[k].map({ SimEventViews.view($0, as: filter.resource) }), filter.matches(o) else { continue }
            if limit > 0 && items.count == limit { return (items, lastKey) }
            items.append(o)
            lastKey = k
        }
        return (items, nil)
    }

    func count(_ r: ResourceDescriptor) -> Int { objects[SimEventViews.storage(r).qualifiedName]?.count ?? 0 }

    var oldestAvailableRV: Int64 {
        // A watch from X needs every event after X: X must be >= (first retained event's RV) - 1.
        if historyStart < history.count { return history[historyStart].rv - 1 }
        return rv
    }

    /// The changes after `from`, oldest first (what a watch from `from` is sent, before views),
    /// or nil when the history no longer reaches back that far. Tests replay them to see every
    /// state a sequence of changes passed through, which polling between changes can miss.
    func changes(after from: Int64) -> [HistoryEntry]? {
        guard from >= oldestAvailableRV else { return nil }
        return history[historyStart...].filter { $0.rv > from }
    }

    // MARK: writes (callers hold the lock)

    func nextRV() -> Int64 {
        rv += 1
        return rv
    }

    /// Stores `obj` (already carrying its new resourceVersion) and notifies watchers.
    func put(_ view: ResourceDescriptor, _ ns: String, _ name: String, _ viewed: JSONValue, rv: Int64) {
        let r = SimEventViews.storage(view), obj = SimEventViews.stored(viewed, from: view)
        let k = Self.key(ns, name)
        let prev = objects[r.qualifiedName]?[k]
        objects[r.qualifiedName, default: [:]][k] = obj
        if prev == nil { sortedKeys[r.qualifiedName] = nil }
        record(HistoryEntry(rv: rv, resource: r.qualifiedName, namespace: ns, kind: prev == nil ? .added : .modified, object: obj, prev: prev))
    }

    func remove(_ view: ResourceDescriptor, _ ns: String, _ name: String, finalObject viewed: JSONValue, rv: Int64) {
        let r = SimEventViews.storage(view), finalObject = SimEventViews.stored(viewed, from: view)
        let k = Self.key(ns, name)
        guard let prev = objects[r.qualifiedName]?.removeValue(forKey: k) else { return }
        sortedKeys[r.qualifiedName] = nil
        if r == .services {
            for p in finalObject.value(atPath: "spec.ports")?.arrayValue ?? [] {
                if let np = p["nodePort"]?.intValue { usedNodePorts.remove(np) }
            }
        }
        record(HistoryEntry(rv: rv, resource: r.qualifiedName, namespace: ns, kind: .deleted, object: finalObject, prev: prev))
    }

    private func record(_ change: HistoryEntry) {
        var e = change
        e.recordedAt = now()
        history.append(e)
        if history.count - historyStart > historyCapacity { historyStart += 1 }
        let stale = e.recordedAt.addingTimeInterval(-historyFreshness)
        while history.count - historyStart > historyLowerBound, history[historyStart].recordedAt < stale { historyStart += 1 }
        dropExpiredHistory()
        for w in watchers.values {
            if let ev = Self.convert(e, for: w.filter) { w.send(.events([ev])) }
        }
    }

    /// Trims history so that watches from RVs older than the newest `keep` events expire.
    func compactHistory(keep: Int) {
        let live = history.count - historyStart
        if live > keep { historyStart += live - keep }
        dropExpiredHistory()
    }

    /// Frees expired entries once there are as many as retained ones, or a quarter of the
    /// capacity (at least 16): the array never holds more than 1.25 × capacity entries (twice
    /// the retained ones when fewer), and each removal is amortized over the appends that
    /// expired them.
    private func dropExpiredHistory() {
        guard historyStart >= max(16, min(historyCapacity / 4, history.count - historyStart)) else { return }
        history.removeFirst(historyStart)
        historyStart = 0
    }

    /// Entries held (retained for watches plus expired ones not yet freed), for tests and benches.
    var historyFootprint: Int { history.count }

    /// The watch event (if any) a history entry produces for a filter, with selector
    /// transitions turned into ADDED/DELETED (the previous state carries the event's RV).
    static func convert(_ stored: HistoryEntry, for f: WatchFilter) -> JSONValue? {
        guard stored.resource == SimEventViews.storage(f.resource).qualifiedName else { return nil }
        var e = stored
        e.object = SimEventViews.view(e.object, as: f.resource)
        e.prev = e.prev.map { SimEventViews.view($0, as: f.resource) }
        let cur = f.matches(e.object)
        switch e.kind {
        case .added:
            return cur ? event("ADDED", e.object) : nil
        case .deleted:
            return cur ? event("DELETED", e.object) : nil
        case .modified:
            let old = e.prev.map(f.matches) ?? false
            switch (old, cur) {
            case (true, true): return event("MODIFIED", e.object)
            case (false, true): return event("ADDED", e.object)
            case (true, false):
                var o = e.prev!
                o.set(["metadata", "resourceVersion"], .string(String(e.rv)))
                return event("DELETED", o)
            case (false, false): return nil
            }
        }
    }

    static func event(_ type: String, _ obj: JSONValue) -> JSONValue {
        .object(["type": .string(type), "object": obj])
    }

    // MARK: watchers

    enum WatchStart {
        case started(Int)
        case expired(V1Status)
    }

    /// Registers a watcher, first sending it the backlog (synthetic ADDED for RV ""/"0",
    /// else history after `fromRV`). Caller holds the lock.
    func addWatcher(_ filter: WatchFilter, fromRV: Int64?, send: @escaping @Sendable (WatchOutput) -> Void) -> WatchStart {
        var backlog: [JSONValue] = []
        if let from = fromRV {
            if from < oldestAvailableRV {
                return .expired(SimErrors.expired("too old resource version: \(from) (\(oldestAvailableRV + 1))"))
            }
            for i in historyStart..<history.count where history[i].rv > from {
                if let ev = Self.convert(history[i], for: filter) { backlog.append(ev) }
            }
        } else {
            backlog = list(filter).map { Self.event("ADDED", $0) }
        }
        let id = nextWatcherID
        nextWatcherID += 1
        if !backlog.isEmpty { send(.events(backlog)) }
        watchers[id] = SimWatcher(id: id, filter: filter, send: send)
        return .started(id)
    }

    func removeWatcher(_ id: Int) {
        watchers.removeValue(forKey: id)
    }

    var watcherCount: Int { watchers.count }

    /// Ends every watch normally (as the server's timeout would).
    func closeAllWatchers() {
        let ws = watchers
        watchers.removeAll()
        for w in ws.values { w.send(.end) }
    }

    /// Sends every watch an in-stream 410 ERROR event and ends it.
    func expireAllWatchers() {
        let ws = watchers
        watchers.removeAll()
        let status = SimErrors.expired("too old resource version: 1 (\(oldestAvailableRV + 1))")
        for w in ws.values {
            w.send(.events([Self.event("ERROR", SimErrors.json(status))]))
            w.send(.end)
        }
    }

    /// Sends a BOOKMARK with the current RV to watchers that asked for bookmarks.
    func sendBookmarks() {
        for w in watchers.values where w.filter.bookmarks {
            w.send(.events([bookmark(for: w.filter.resource)]))
        }
    }

    func bookmark(for r: ResourceDescriptor, annotations: [String: String] = [:]) -> JSONValue {
        var meta: [String: JSONValue] = ["resourceVersion": .string(String(rv)), "creationTimestamp": .null]
        if !annotations.isEmpty { meta["annotations"] = .object(annotations.mapValues { .string($0) }) }
        return Self.event("BOOKMARK", .object(["kind": .string(r.kind), "apiVersion": .string(r.apiVersion), "metadata": .object(meta)]))
    }

    // MARK: allocators

    func allocateClusterIP(family: String) -> String {
        if family == "IPv6" {
            let v = nextClusterIPv6
            nextClusterIPv6 += 1
            return "fd00:10:96::\(String(v, radix: 16))"
        }
        let v = nextClusterIPv4
        nextClusterIPv4 += 1
        return "\(v >> 24).\(v >> 16 & 255).\(v >> 8 & 255).\(v & 255)"
    }

    func allocateNodePort() -> Int64 {
        for _ in 0..<2768 {
            let p = nextNodePort
            nextNodePort = nextNodePort >= 32767 ? 30000 : nextNodePort + 1
            if !usedNodePorts.contains(p) {
                usedNodePorts.insert(p)
                return p
            }
        }
        return 0
    }

    func claimNodePort(_ p: Int64) -> Bool {
        usedNodePorts.insert(p).inserted
    }
}
