import Foundation
import KubeModel

/// Server-side printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), as kubectl
/// asks for it in `get`: Services get the API server's columns (TYPE, CLUSTER-IP, EXTERNAL-IP,
/// PORT(S), AGE); other resources Name/Age.
enum SimTables {
    static func wantsTable(_ req: SimRequest) -> Bool {
        let accept = req.headers["accept"] ?? ""
        return accept.contains("as=Table") && accept.contains("g=meta.k8s.io") && accept.contains("v=v1")
    }

    static func column(_ name: String, _ type: String, _ format: String = "", _ description: String, priority: Int64 = 0) -> JSONValue {
        ["name": .string(name), "type": .string(type), "format": .string(format), "description": .string(description), "priority": .int(priority)]
    }

    static func columns(_ r: ResourceDescriptor) -> [JSONValue] {
        let name = column("Name", "string", "name", "Name must be unique within a namespace.")
        let age = column("Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.")
        if r == .pods { return SimWorkloadRules.podColumns(name: name, age: age) }
        if r == .coreEvents { return SimEventViews.columns }
        if r == .services {
            return [name, column("Type", "string", "", "Type determines how the Service is exposed."),
                    column("Cluster-IP", "string", "", "clusterIP is the IP address of the service."),
                    column("External-IP", "string", "", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
                    column("Port(s)", "string", "", "The list of ports that are exposed by this service."),
                    age, column("Selector", "string", "", "Route service traffic to pods with label keys and values matching this selector.", priority: 1)]
        }
        return [name, age]
    }

    static func cells(_ o: JSONValue, _ r: ResourceDescriptor, now: Date) -> [JSONValue] {
        let name = JSONValue.string(o.value(atPath: "metadata.name")?.stringValue ?? "")
        let age = JSONValue.string(humanAge(o.value(atPath: "metadata.creationTimestamp")?.stringValue, now: now))
        if r == .pods { return SimWorkloadRules.podCells(o, name: name, age: age) }
        if r == .coreEvents { return SimEventViews.cells(o, now: now) }
        guard r == .services else { return [name, age] }
        let spec = o["spec"] ?? .object([:])
        let type = spec["type"]?.stringValue ?? "ClusterIP"
        let cip = spec["clusterIP"]?.stringValue ?? ""
        var ext: String
        switch type {
        case "LoadBalancer":
            let ing = (o.value(atPath: "status.loadBalancer.ingress")?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue ?? $0["hostname"]?.stringValue }
            let all = ing + (spec["externalIPs"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            ext = all.isEmpty ? "<pending>" : all.joined(separator: ",")
        case "ExternalName":
            ext = spec["externalName"]?.stringValue ?? "<none>"
        default:
            let e = spec["externalIPs"]?.arrayValue?.compactMap(\.stringValue) ?? []
            ext = e.isEmpty ? "<none>" : e.joined(separator: ",")
        }
        let ports = (spec["ports"]?.arrayValue ?? []).map { p -> String in
            var s = String(p["port"]?.intValue ?? 0)
            if let np = p["nodePort"]?.intValue, np != 0 { s += ":\(np)" }
            return s + "/" + (p["protocol"]?.stringValue ?? "TCP")
        }
        let sel = (spec["selector"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.stringValue ?? "")" }
        return [name, .string(type), .string(cip.isEmpty ? "<none>" : cip), .string(ext), .string(ports.isEmpty ? "<none>" : ports.joined(separator: ",")),
                age, .string(sel.isEmpty ? "<none>" : sel.joined(separator: ","))]
    }

    /// Go's `duration.HumanDuration` for the AGE column.
    static func humanAge(_ ts: String?, now: Date) -> String {
        guard let ts, let t = try? KubeTime(rfc3339: ts) else { return "<unknown>" }
        let secs = max(0, Int(now.timeIntervalSince1970) - Int(t.seconds))
        let m = secs / 60, h = secs / 3600, d = secs / 86400
        if secs < 120 { return "\(secs)s" }
        if m < 10 { return secs % 60 == 0 ? "\(m)m" : "\(m)m\(secs % 60)s" }
        if m < 180 { return "\(m)m" }
        if h < 8 { return m % 60 == 0 ? "\(h)h" : "\(h)h\(m % 60)m" }
        if h < 48 { return "\(h)h" }
        if h < 192 { return h % 24 == 0 ? "\(d)d" : "\(d)d\(h % 24)h" }
        if d < 730 { return "\(d)d" }
        return "\(d / 365)y"
    }

    static func rowObject(_ o: JSONValue, includeObject: String) -> JSONValue? {
        switch includeObject {
        case "None": return nil
        case "Object": return o
        default:
            return ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"] ?? .object([:])]
        }
    }

    static func table(_ items: [JSONValue], _ r: ResourceDescriptor, meta: JSONValue, includeObject: String, columns include: Bool = true, now: Date = Date()) -> JSONValue {
        let rows: [JSONValue] = items.map { o in
            var row: [String: JSONValue] = ["cells": .array(cells(o, r, now: now))]
            if let obj = rowObject(o, includeObject: includeObject) { row["object"] = obj }
            return .object(row)
        }
        var t: [String: JSONValue] = ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "rows": .array(rows)]
        if include { t["columnDefinitions"] = .array(columns(r)) }
        return .object(t)
    }
}
