import Foundation
import KubeModel

/// Records events.k8s.io/v1 Events. Repeats of the same (object, type, reason, action, note)
/// within `seriesWindow` update the existing Event's `series` (count, lastObservedTime) with a
/// merge patch instead of creating a new object (client-go `tools/events` behaviour).
public actor EventRecorder {
    public let client: KubeClient
    public let reportingController: String
    public let reportingInstance: String
    public var seriesWindow: Duration = .seconds(6 * 60)
    private let wallNow: @Sendable () -> KubeTime
    private var recent: [String: (name: String, namespace: String, count: Int32, first: KubeTime)] = [:]

    public init(client: KubeClient, reportingController: String, reportingInstance: String,
                wallNow: @escaping @Sendable () -> KubeTime = { KubeTime(epochNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9)) }) {
        self.client = client
        self.reportingController = reportingController
        self.reportingInstance = String(reportingInstance.prefix(128))
        self.wallNow = wallNow
    }

    /// Records an event about `regarding`; returns the Event as stored.
    @discardableResult
    public func record(regarding: ObjectReference, type: String, reason: String, action: String, note: String) async throws -> EventsV1Event {
        let now = wallNow()
        let ns = regarding.namespace ?? "default"
        let key = [regarding.uid ?? "", ns, regarding.kind ?? "", regarding.name ?? "", type, reason, action, note].joined(separator: "\u{1}")
        if let r = recent[key], now - r.first < seriesWindow {
            let count = r.count + 1
            let patch: JSONValue = ["series": ["count": .int(Int64(count)), "lastObservedTime": .string(MicroTime(now).description)]]
            do {
                let ev = try await client.patch(EventsV1Event.self, namespace: r.namespace, name: r.name, patch: patch, type: .merge)
                recent[key] = (r.name, r.namespace, count, r.first)
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
        recent[key] = (name, ns, 1, now)
        return created
    }
}
