#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeModel
import OrderedCollections

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
    }

    public let client: KubeClient
    public let reportingController: String
    public let reportingInstance: String
    public var seriesWindow: Duration = .seconds(6 * 60)
    private let wallNow: @Sendable () -> KubeTime
    public let maximumSeries: Int
    /// Oldest first (by the series' first Event).
    private var recent: OrderedDictionary<String, Series> = [:]

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
        var expired = 0
        for series in recent.values {
            guard now - series.first >= seriesWindow || recent.count - expired > maximumSeries else { break }
            expired += 1
        }
        if expired > 0 { recent.removeFirst(expired) }
    }

    /// Records an event about `regarding`; returns the Event as stored.
    @discardableResult
    public func record(regarding: ObjectReference, type: String, reason: String, action: String, note: String) async throws -> EventsV1Event {
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
        let created = try await client.create(ev, namespace: ns)
        recent.removeValue(forKey: key)
        recent[key] = Series(name: name, namespace: ns, count: 1, first: now)
        evict(now: now)
        return created
    }
}
