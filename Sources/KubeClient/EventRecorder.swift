#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DequeModule
import KubeModel

/// Records events.k8s.io/v1 Events. Repeats of the same (object, type, reason, action, note)
/// within `seriesWindow` update the existing Event's `series` (count, lastObservedTime) with a
/// merge patch instead of creating a new object (client-go `tools/events` behaviour).
///
/// The series it remembers are bounded: an entry older than `seriesWindow` is forgotten, and
/// beyond `maximumSeries` the oldest go first (the note text, which tenants influence, is part
/// of the key, so the number of distinct keys is theirs to choose).
public actor EventRecorder {
    private struct Series {
        var name: String
        var namespace: String
        var count: Int32
        var first: KubeTime
        /// Which of the key's entries in `order` is this series'.
        var sequence: Int
    }

    public let client: KubeClient
    public let reportingController: String
    public let reportingInstance: String
    public var seriesWindow: Duration = .seconds(6 * 60)
    private let wallNow: @Sendable () -> KubeTime
    public let maximumSeries: Int
    private var recent: [String: Series] = [:]
    /// The keys of `recent`, oldest first (by the series' first Event); an entry whose sequence
    /// is not its series' any more (the series was replaced) is skipped. A queue, not an
    /// `OrderedDictionary`: that one moves every entry when the oldest goes, and a speaker
    /// announcing 10,000 Services evicted one per Event beyond `maximumSeries`.
    private var order: Deque<(key: String, sequence: Int)> = []
    private var sequence = 0

    /// How many series are remembered now.
    public var rememberedSeries: Int { recent.count }

    public init(client: KubeClient, reportingController: String, reportingInstance: String, maximumSeries: Int = 4096,
                wallNow: @escaping @Sendable () -> KubeTime = { KubeTime(epochNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9)) }) {
        self.client = client
        self.reportingController = reportingController
        self.reportingInstance = String(reportingInstance.prefix(128))
        self.wallNow = wallNow
        self.maximumSeries = max(1, maximumSeries)
    }

    /// Forgets series whose window has passed, and the oldest beyond `maximumSeries`.
    private func evict(now: KubeTime) {
        while let oldest = order.first {
            guard let series = recent[oldest.key], series.sequence == oldest.sequence else {
                order.removeFirst()
                continue
            }
            guard now - series.first >= seriesWindow || recent.count > maximumSeries else { break }
            recent[oldest.key] = nil
            order.removeFirst()
        }
    }

    /// Records an event about `regarding`; returns the Event as stored.
    @discardableResult
    public func record(regarding: ObjectReference, type: String, reason: String, action: String, note: String) async throws -> EventsV1Event {
        try await record(regarding: regarding, type: type, reason: reason, action: action, note: note, answer: true)!
    }

    /// Records an event about `regarding`, without decoding the Event the server stored (a
    /// speaker records one per Service it starts announcing: 10,000 at once; encoding and
    /// decoding each through the generic JSON coders was a twentieth of its CPU).
    public func post(regarding: ObjectReference, type: String, reason: String, action: String, note: String) async throws {
        _ = try await record(regarding: regarding, type: type, reason: reason, action: action, note: note, answer: false)
    }

    private func record(regarding: ObjectReference, type: String, reason: String, action: String, note: String, answer: Bool) async throws -> EventsV1Event? {
        let now = wallNow()
        let ns = regarding.namespace ?? "default"
        let key = [regarding.uid ?? "", ns, regarding.kind ?? "", regarding.name ?? "", type, reason, action, note].joined(separator: "\u{1}")
        evict(now: now)
        if let r = recent[key], now - r.first < seriesWindow {
            let count = r.count + 1
            let patch: JSONValue = ["series": ["count": .int(Int64(count)), "lastObservedTime": .string(MicroTime(now).description)]]
            do {
                let ev = try await client.patch(EventsV1Event.self, namespace: r.namespace, name: r.name, patch: patch, type: .merge)
                recent[key]?.count = count
                return ev
            } catch let e as KubeAPIError where e.isNotFound {
                recent[key] = nil  // expired on the server: start a new one
            }
        }
        let name = "\(regarding.name ?? "event").\(String(UInt64(now.epochNanoseconds), radix: 16))"
        var ev = EventsV1Event(metadata: ObjectMeta(name: name, namespace: ns), eventTime: MicroTime(now))
        ev.reportingController = reportingController
        ev.reportingInstance = reportingInstance
        ev.action = action
        ev.reason = reason
        ev.regarding = regarding
        ev.note = String(note.prefix(1024))
        ev.type = type
        let created: EventsV1Event?
        if answer {
            created = try await client.create(ev, namespace: ns)
        } else {
            let response = try await client.send(.POST, EventsV1Event.resource.path(namespace: ns), body: Self.body(of: ev).serializedBytes())
            guard (200..<300).contains(response.status) else { throw KubeClient.apiError(response) }
            created = nil
        }
        sequence += 1
        recent[key] = Series(name: name, namespace: ns, count: 1, first: now, sequence: sequence)
        order.append((key, sequence))
        evict(now: now)
        return created
    }

    /// A new Event as JSON: the fields `record` sets, as `JSONEncoder` writes them.
    static func body(of event: EventsV1Event) -> JSONValue {
        var object: [String: JSONValue] = [:]
        func set(_ key: String, _ value: String?) { if let value { object[key] = .string(value) } }
        set("apiVersion", event.apiVersion)
        set("kind", event.kind)
        var metadata: [String: JSONValue] = [:]
        if let name = event.metadata.name { metadata["name"] = .string(name) }
        if let namespace = event.metadata.namespace { metadata["namespace"] = .string(namespace) }
        object["metadata"] = .object(metadata)
        set("eventTime", event.eventTime?.description)
        set("reportingController", event.reportingController)
        set("reportingInstance", event.reportingInstance)
        set("action", event.action)
        set("reason", event.reason)
        if let regarding = event.regarding {
            var reference: [String: JSONValue] = [:]
            for (key, value) in [("kind", regarding.kind), ("namespace", regarding.namespace), ("name", regarding.name), ("uid", regarding.uid),
                                 ("apiVersion", regarding.apiVersion), ("resourceVersion", regarding.resourceVersion), ("fieldPath", regarding.fieldPath)] {
                if let value { reference[key] = .string(value) }
            }
            object["regarding"] = .object(reference)
        }
        set("note", event.note)
        set("type", event.type)
        return .object(object)
    }
}
