#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeModel
import NIOConcurrencyHelpers

struct VeryShortWatch: Error {}

/// A change delivered by an informer.
public enum InformerEvent<T: Sendable>: Sendable {
    case added(T)
    case updated(old: T, new: T)
    case deleted(T)
    /// The first list completed: the cache reflects the server (also after each relist).
    case synced
}

/// list+watch with client-go reflector semantics (KUBE-API.md §2): list, then watch from the
/// list's resourceVersion with bookmarks; on a normal end re-watch from the last seen version
/// (bookmarks included); on 410 Expired (HTTP status or in-stream ERROR) relist and emit
/// deletes for vanished objects; on other errors back off (0.8 s doubling to 30 s, jittered)
/// and re-watch. Updates whose resourceVersion is unchanged are not re-emitted.
public final class Informer<T: KubeResource>: Sendable {
    public struct Stats: Sendable, Hashable {
        public var lists = 0
        public var watches = 0
        public var expired = 0
        public var errors = 0
        public var bookmarks = 0
    }

    private struct State {
        var cache: [CacheKey: T] = [:]
        var synced = false
        var lastRV: String?
        var stats = Stats()
        var backoff = Backoff()
    }

    public let client: KubeClient
    public let namespace: String?
    public let labelSelector: String?
    public let fieldSelector: String?
    /// Watch timeoutSeconds is drawn from this range (client-go: 300–600).
    public let watchTimeout: ClosedRange<Int>
    public let events: AsyncStream<InformerEvent<T>>
    private let continuation: AsyncStream<InformerEvent<T>>.Continuation
    /// With `coalescing`: the events not yet taken, at most one per object (nil: `.synced`).
    private let pending: CoalescingQueue<String?, InformerEvent<T>>?
    private let state = NIOLockedValueBox(State())
    private let started = ContinuousClock.now

    /// What the cache keeps of each object, given the one it replaces (the whole object by default).
    private let keep: @Sendable (T, T?) -> T

    /// `coalescing`: events a slow consumer has not taken yet are merged per object (added then
    /// updated is one added with the newest object; added then deleted is nothing; deleted then
    /// added is updated), so they hold at most one event per object however fast objects change.
    /// Without it every change is delivered, in order, and waits in an unbounded buffer.
    ///
    /// `keeping`: what the cache keeps of each object, given the cached object it replaces (nil:
    /// none): less, for a consumer that reads the rest only as the object arrives, or the same
    /// with the storage of the parts that did not change (a decoded update repeats every field
    /// anew; the consumer may hold the old ones). Events carry the object as it came, except
    /// what comes from the cache: the old object of `.updated`, and the object of a `.deleted`
    /// that a relist found (a watch event's deleted object is as it came). `snapshot` and `get`
    /// give the kept form too. It must keep the name, namespace and resourceVersion.
    public init(client: KubeClient, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil, watchTimeout: ClosedRange<Int> = 300...600,
                coalescing: Bool = false, keeping keep: @escaping @Sendable (_ object: T, _ replacing: T?) -> T = { object, _ in object }) {
        self.keep = keep
        self.client = client
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.watchTimeout = watchTimeout
        let stream: AsyncStream<InformerEvent<T>>
        (stream, continuation) = AsyncStream.makeStream(of: InformerEvent<T>.self, bufferingPolicy: .unbounded)
        if coalescing {
            let queue = CoalescingQueue<String?, InformerEvent<T>>(key: Self.object(of:))
            pending = queue
            events = queue.stream()
        } else {
            pending = nil
            events = stream
        }
    }

    /// The object an event is about (nil: `.synced`).
    static func object(of event: InformerEvent<T>) -> String? {
        switch event {
        case .added(let object), .updated(_, let object), .deleted(let object): return object.key
        case .synced: return nil
        }
    }

    /// An event that waits, merged with a newer one about the same object; nil: neither is left.
    static func merge(_ waiting: InformerEvent<T>, _ newer: InformerEvent<T>) -> InformerEvent<T>? {
        switch (waiting, newer) {
        case (.added, .updated(_, let object)): return .added(object)
        case (.added, .deleted): return nil
        case (.updated(let old, _), .updated(_, let object)): return .updated(old: old, new: object)
        case (.deleted(let old), .added(let object)), (.deleted(let old), .updated(_, let object)): return .updated(old: old, new: object)
        default: return newer
        }
    }

    private func emit(_ event: InformerEvent<T>) {
        if let pending { pending.yield(event, merge: Self.merge) } else { continuation.yield(event) }
    }

    private func finish() {
        pending?.finish()
        continuation.finish()
    }

    public var hasSynced: Bool { state.withLockedValue { $0.synced } }
    public var stats: Stats { state.withLockedValue { $0.stats } }
    public var lastResourceVersion: String? { state.withLockedValue { $0.lastRV } }
    /// The cache, keyed by `namespace/name` (built on each call).
    public var snapshot: [String: T] {
        let cache = state.withLockedValue { $0.cache }
        return Dictionary(cache.map { ($0.key.text, $0.value) }, uniquingKeysWith: { first, _ in first })
    }
    /// The cached object of `namespace/name` (`name` when cluster-scoped).
    public func get(_ key: String) -> T? {
        let key = CacheKey(key)
        return state.withLockedValue { $0.cache[key] }
    }

    /// Waits (polling) until the first list has completed or `timeout` passes; returns hasSynced.
    @discardableResult
    public func waitForSync(timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !hasSynced && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return hasSynced
    }

    /// Runs until the task is cancelled; then finishes `events`.
    public func run() async {
        await run(delivering: emit)
    }

    /// Runs until the task is cancelled, handing each event to `deliver`, in order, as the cache
    /// takes it; `events` stays empty. `deliver` runs where the watch is read (its event loop;
    /// the list's on this task), so it must be short and must not block: translate and queue.
    /// No hop to a consumer task per event (docs/design/scale.md, "Fifth pass"). Nothing is
    /// coalesced here; `deliver` decides.
    public func run(delivering deliver: @escaping @Sendable (InformerEvent<T>) -> Void) async {
        defer { finish() }
        var needList = true
        while !Task.isCancelled {
            do {
                if needList {
                    try await listAndReplace(deliver)
                    needList = false
                }
                let rv = state.withLockedValue { $0.lastRV }
                let timeout = Int(Double(watchTimeout.lowerBound) + client.random() * Double(watchTimeout.upperBound - watchTimeout.lowerBound))
                state.withLockedValue { $0.stats.watches += 1 }
                // Written on the watch's event loop, read here once the watch ended.
                let seen = NIOLockedValueBox((received: 0, expired: false))
                let watchStart = ContinuousClock.now
                try await client.watch(T.self, namespace: namespace, resourceVersion: rv, labelSelector: labelSelector, fieldSelector: fieldSelector,
                                       timeoutSeconds: timeout, allowBookmarks: true) { ev in
                    let expired = self.handle(ev, deliver)
                    seen.withLockedValue { $0.received += 1; $0.expired = $0.expired || expired }
                }
                let (received, expired) = seen.withLockedValue { $0 }
                if expired {
                    state.withLockedValue { $0.stats.expired += 1 }
                    needList = true
                } else if received == 0 && ContinuousClock.now - watchStart < .seconds(1) {
                    // client-go's "very short watch": back off instead of re-watching in a hot loop.
                    throw VeryShortWatch()
                }
                state.withLockedValue { $0.backoff.reset() }
            } catch let e as KubeAPIError where e.isExpired {
                state.withLockedValue { $0.stats.expired += 1 }
                needList = true
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                let now = ContinuousClock.now - started
                let wait = state.withLockedValue { s -> Duration in
                    s.stats.errors += 1
                    return s.backoff.next(random: client.random(), now: now)
                }
                client.logger.debug("informer backing off", metadata: ["kube.resource": "\(T.resource.plural)", "kube.error": "\(error)", "kube.wait": "\(wait)"])
                try? await Task.sleep(for: wait)
            }
        }
    }

    /// Applies one watch event; returns true for an in-stream 410.
    private func handle(_ ev: WatchEvent<T>, _ deliver: (InformerEvent<T>) -> Void) -> Bool {
        var out: InformerEvent<T>?
        var expired = false
        state.withLockedValue { s in
            switch ev {
            case .added(let o), .modified(let o):
                let k = CacheKey(o)
                let old = s.cache[k]
                if let old {
                    if old.metadata.resourceVersion != o.metadata.resourceVersion { out = .updated(old: old, new: o) }
                } else {
                    out = .added(o)
                }
                s.cache[k] = keep(o, old)
                if let rv = o.metadata.resourceVersion { s.lastRV = rv }
            case .deleted(let o):
                if s.cache.removeValue(forKey: CacheKey(o)) != nil { out = .deleted(o) }
                if let rv = o.metadata.resourceVersion { s.lastRV = rv }
            case .bookmark(let b):
                s.stats.bookmarks += 1
                if let rv = b.metadata.resourceVersion { s.lastRV = rv }
            case .error(let status):
                if status.code == 410 || status.reason == "Expired" || status.reason == "Gone" {
                    expired = true
                } else {
                    s.stats.errors += 1
                }
            }
        }
        if let e = out { deliver(e) }
        return expired
    }

    private func listAndReplace(_ deliver: (InformerEvent<T>) -> Void) async throws {
        let list = try await client.listAll(T.self, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector)
        var emitted: [InformerEvent<T>] = []
        state.withLockedValue { s in
            s.stats.lists += 1
            var fresh: [CacheKey: T] = [:]
            fresh.reserveCapacity(list.items.count)
            for o in list.items { fresh[CacheKey(o)] = o }
            for (k, old) in s.cache where fresh[k] == nil { emitted.append(.deleted(old)) }
            for (k, o) in fresh {
                if let old = s.cache[k] {
                    if old.metadata.resourceVersion != o.metadata.resourceVersion { emitted.append(.updated(old: old, new: o)) }
                } else {
                    emitted.append(.added(o))
                }
            }
            // The events carry the objects as they came; the cache keeps what `keeping` keeps.
            for i in fresh.indices { fresh.values[i] = keep(fresh[i].value, s.cache[fresh[i].key]) }
            s.cache = fresh
            s.lastRV = list.metadata.resourceVersion
            s.synced = true
        }
        for e in emitted { deliver(e) }
        deliver(.synced)
    }
}

/// A cached object's key: its namespace (empty when cluster-scoped) and its name, each short
/// enough in practice to be held inline; a `namespace/name` string was a heap allocation per
/// cached object (docs/design/scale.md).
struct CacheKey: Hashable, Sendable {
    var namespace: String
    var name: String

    init(_ object: some KubeResource) {
        let metadata = object.metadata
        namespace = metadata.namespace ?? ""
        name = metadata.name ?? ""
    }

    /// From `namespace/name`, or `name` (cluster-scoped): `KubeResource.key`'s text.
    init(_ text: String) {
        if let slash = text.firstIndex(of: "/") {
            namespace = String(text[..<slash])
            name = String(text[text.index(after: slash)...])
        } else {
            namespace = ""
            name = text
        }
    }

    /// As `KubeResource.key` writes it.
    var text: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }
}

/// Says when each of a fixed set of informers has synced once: `markSynced` returns true exactly
/// once, for the call that completes the set (later relists do not count again).
public final class SyncBarrier: Sendable {
    private let expected: Set<String>
    private let seen = NIOLockedValueBox<Set<String>>([])

    public init(_ names: Set<String>) { expected = names }

    public func markSynced(_ name: String) -> Bool {
        seen.withLockedValue { seen in
            let inserted = seen.insert(name).inserted
            return inserted && seen == expected
        }
    }
}

extension Informer where T == V1ConfigMap {
    /// Follows one key of one ConfigMap: `value` gets its text on every change and nil when the
    /// ConfigMap or the key is absent (including at the first sync, when no event would say
    /// so); `synced` is called once the first list is through. Returns when the events end.
    public func follow(name: String, key: String, value: (String?) -> Void, synced: () -> Void) async {
        for await event in events {
            switch event {
            case .added(let map), .updated(_, let map):
                if map.metadata.name == name { value(map.data?[key]) }
            case .deleted(let map):
                if map.metadata.name == name { value(nil) }
            case .synced:
                if snapshot.values.first(where: { $0.metadata.name == name }) == nil { value(nil) }
                synced()
            }
        }
    }
}
