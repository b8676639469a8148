import Foundation
import KubeModel

/// One Event resource served under two APIs, as kube-apiserver does: `events.k8s.io/v1` Events
/// and core `v1` Events are views of the same stored objects (docs/design/kubesim-events.md).
/// Objects are stored in the core form (kube-apiserver's storage version); the events.k8s.io
/// view is converted on every read and written back through the inverse conversion. Field
/// mapping from kubernetes `pkg/apis/events/v1/conversion.go`: `regarding` ↔ `involvedObject`,
/// `note` ↔ `message`, `deprecatedSource` ↔ `source`, `deprecatedFirstTimestamp` ↔
/// `firstTimestamp`, `deprecatedLastTimestamp` ↔ `lastTimestamp`, `deprecatedCount` ↔ `count`,
/// `reportingController` ↔ `reportingComponent`; `eventTime`, `series`, `reportingInstance`,
/// `action`, `reason`, `related` and `type` have the same names in both.
enum SimEventViews {
    /// (events.k8s.io/v1 name, core/v1 name) of every renamed field.
    static let renamed: [(events: String, core: String)] = [
        ("regarding", "involvedObject"), ("note", "message"), ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"), ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"), ("reportingController", "reportingComponent"),
    ]

    /// The resource whose objects back `resource` in the store (itself for all but events.k8s.io Events).
    static func storage(_ resource: ResourceDescriptor) -> ResourceDescriptor {
        resource == .events ? .coreEvents : resource
    }

    /// A stored object as `resource` shows it.
    static func view(_ stored: JSONValue, as resource: ResourceDescriptor) -> JSONValue {
        guard resource == .events else { return stored }
        return rename(stored, from: \.core, to: \.events, resource)
    }

    /// An object written through `resource`, in the stored form.
    static func stored(_ object: JSONValue, from resource: ResourceDescriptor) -> JSONValue {
        guard resource == .events else { return object }
        return rename(object, from: \.events, to: \.core, .coreEvents)
    }

    private static func rename(_ object: JSONValue, from: KeyPath<(events: String, core: String), String>,
                               to: KeyPath<(events: String, core: String), String>, _ resource: ResourceDescriptor) -> JSONValue {
        guard var fields = object.objectValue else { return object }
        for pair in renamed {
            let value = fields.removeValue(forKey: pair[keyPath: from])
            fields[pair[keyPath: to]] = value
        }
        fields["apiVersion"] = .string(resource.apiVersion)
        fields["kind"] = .string(resource.kind)
        return .object(fields)
    }
}

extension SimEventViews {
    /// The API server's columns for core Events (`kubectl get events`; printers `printEvent`).
    static let columns: [JSONValue] = [
        SimTables.column("Last Seen", "string", "", "The last time this event was observed."),
        SimTables.column("Type", "string", "", "Type of this event (Normal, Warning), new types could be added in the future."),
        SimTables.column("Reason", "string", "", "This should be a short, machine understandable string that gives the reason for this event being generated."),
        SimTables.column("Object", "string", "", "The object this Event is about."),
        SimTables.column("Message", "string", "", "A human-readable description of the status of this operation."),
        SimTables.column("Source", "string", "", "The component reporting this event.", priority: 1),
        SimTables.column("Count", "string", "", "The number of times this event has occurred.", priority: 1),
        SimTables.column("Name", "string", "name", "Name must be unique within a namespace.", priority: 1),
    ]

    /// One core Event's row: last seen is `series.lastObservedTime`, else `lastTimestamp`, else `eventTime`.
    static func cells(_ event: JSONValue, now: Date) -> [JSONValue] {
        let lastSeen = [event.value(atPath: "series.lastObservedTime"), event["lastTimestamp"], event["eventTime"]]
            .compactMap { $0?.stringValue }.first
        let involved = event["involvedObject"] ?? .object([:])
        let object = (involved["kind"]?.stringValue ?? "").lowercased() + "/" + (involved["name"]?.stringValue ?? "")
        let source = event.value(atPath: "source.component")?.stringValue ?? event["reportingComponent"]?.stringValue ?? ""
        let count = event.value(atPath: "series.count")?.intValue ?? event["count"]?.intValue ?? 1
        return [.string(SimTables.humanAge(lastSeen, now: now)), .string(event["type"]?.stringValue ?? ""),
                .string(event["reason"]?.stringValue ?? ""), .string(object), .string(event["message"]?.stringValue ?? ""),
                .string(source), .string(String(count)), .string(event.value(atPath: "metadata.name")?.stringValue ?? "")]
    }
}
