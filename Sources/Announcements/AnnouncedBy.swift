import LBCore

/// Which nodes announce each Service, for the `ironlb.io/announced-by` annotation the
/// controller keeps on every Service (docs/design/announced-by.md).
///
/// Each speaker publishes a *report* of what it announces (the Lease
/// `ironlb-announcements-<node>`, annotation `ironlb.io/announcements`); the controller folds the
/// reports of nodes whose speaker Lease is held into one value per Service. Pure: reports and
/// liveness come in as values, the changed Services come out.
public struct AnnouncedByIndex: Sendable {
    /// The Service annotation the controller keeps current.
    public static let annotation = "ironlb.io/announced-by"

    /// node → Service → how that node announces it ("bgp 2 peers", "layer2 eth1").
    private var reports: [String: [ServiceKey: String]] = [:]
    /// Service → node → way, over every report (live or not): the inverse of `reports`.
    private var byService: [ServiceKey: [String: String]] = [:]
    /// Nodes whose speaker Lease is held: only their reports count.
    private var liveNodes: Set<String> = []

    public init() {}

    /// A node's new report (nil: the report is gone). Returns the Services whose value may change.
    public mutating func reportChanged(node: String, _ report: [ServiceKey: String]?) -> Set<ServiceKey> {
        let old = reports[node] ?? [:]
        let new = report ?? [:]
        reports[node] = report
        var affected = Set<ServiceKey>()
        for (service, way) in old where new[service] != way {
            byService[service]?[node] = nil
            if byService[service]?.isEmpty == true { byService[service] = nil }
            affected.insert(service)
        }
        for (service, way) in new where old[service] != way {
            byService[service, default: [:]][node] = way
            affected.insert(service)
        }
        return affected
    }

    /// Whether the node's speaker Lease is held. Returns the Services whose value may change.
    public mutating func livenessChanged(node: String, live: Bool) -> Set<ServiceKey> {
        guard live != liveNodes.contains(node) else { return [] }
        if live { liveNodes.insert(node) } else { liveNodes.remove(node) }
        return Set((reports[node] ?? [:]).keys)
    }

    /// The value's first word when no node announces the Service.
    public static let noneValue = "none"

    /// Why no node announces the Service, from an annotation value (`none (no ready endpoints)`).
    public static func withheldReason(annotation value: String) -> String? {
        let prefix = noneValue + " ("
        guard value.hasPrefix(prefix), value.hasSuffix(")") else { return nil }
        return String(value.dropFirst(prefix.count).dropLast())
    }

    /// Every Service some report names.
    public var reportedServices: Set<ServiceKey> { Set(byService.keys) }

    /// `node-a,node-b (bgp 2 peers)`, groups for different ways joined by `; `, in a stable
    /// order; `none (no ready endpoints)` when no live node announces it and live nodes say
    /// why; nil when no live node reports the Service.
    public func value(for service: ServiceKey) -> String? {
        guard let nodes = byService[service] else { return nil }
        var byWay: [String: [String]] = [:]
        var reasons: Set<String> = []
        for (node, way) in nodes where liveNodes.contains(node) {
            if let reason = AnnouncementReport.withheldReason(way) { reasons.insert(reason) } else { byWay[way, default: []].append(node) }
        }
        guard !byWay.isEmpty else { return reasons.isEmpty ? nil : "\(Self.noneValue) (\(reasons.sorted().joined(separator: ", ")))" }
        return byWay.sorted { $0.key < $1.key }
            .map { way, nodes in "\(nodes.sorted().joined(separator: ",")) (\(way))" }
            .joined(separator: "; ")
    }
}

/// The text of a speaker's report: one line per way, `<way>: <namespace>/<name> ...`, e.g.
///
///     bgp 2 peers: default/web shop/api
///     layer2 eth1: default/dns
///
/// Grouping by way keeps a node that advertises 10,000 Services over BGP at about 20 bytes per
/// Service; names and namespaces are DNS labels, so neither spaces nor colons occur in them.
public enum AnnouncementReport {
    /// The Lease annotation that carries the report.
    public static let annotation = "ironlb.io/announcements"

    /// kube-apiserver refuses an object whose annotations total more than 256 KiB; the report
    /// stays below this many bytes.
    public static let byteLimit = 240 * 1024

    /// The way a speaker reports a Service it does not announce for a cluster-wide reason
    /// (`withheld no ready endpoints`).
    public static func withheldWay(_ reason: String) -> String { withheldPrefix + reason }
    public static func isWithheld(_ way: String) -> Bool { way.hasPrefix(withheldPrefix) }
    /// The reason in a withheld way, nil for a way of announcing.
    public static func withheldReason(_ way: String) -> String? { isWithheld(way) ? String(way.dropFirst(withheldPrefix.count)) : nil }
    private static let withheldPrefix = "withheld "

    public static func encode(_ report: [ServiceKey: String]) -> String {
        encode(report, byteLimit: .max).text
    }

    /// The report's text, with as many Services as fit in `byteLimit` bytes (in name order);
    /// `omitted` counts those left out.
    public static func encode(_ report: [ServiceKey: String], byteLimit: Int) -> (text: String, omitted: Int) {
        var byWay: [String: [ServiceKey]] = [:]
        for (service, way) in report { byWay[way, default: []].append(service) }
        var lines: [String] = []
        var used = 0
        var omitted = 0
        for (way, services) in byWay.sorted(by: { $0.key < $1.key }) {
            var line = "\(way):"
            for service in services.sorted() {
                let entry = " \(service)"
                if used + line.utf8.count + entry.utf8.count + 1 > byteLimit {
                    omitted += 1
                    continue
                }
                line += entry
            }
            if line.utf8.count > way.utf8.count + 1 {
                used += line.utf8.count + 1
                lines.append(line)
            }
        }
        return (lines.joined(separator: "\n"), omitted)
    }

    /// The report in `text`; nil when a line is malformed (the whole report is then ignored,
    /// rather than half believed).
    public static func decode(_ text: String) -> [ServiceKey: String]? {
        var report: [ServiceKey: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let way = String(line[..<colon])
            guard !way.isEmpty, way.first != " ", way.last != " " else { return nil }
            for name in line[line.index(after: colon)...].split(separator: " ") {
                let parts = name.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
                report[ServiceKey(namespace: String(parts[0]), name: String(parts[1]))] = way
            }
        }
        return report
    }
}

/// The per-node Leases in IronLB's namespace: prefix + node name.
public enum SpeakerLeaseNames {
    /// Liveness, renewed by the speaker (layer 2 ownership, docs/design/layer2-leases.md).
    public static let liveness = "ironlb-speaker-"
    /// The announcement report, written when the node's announcements change.
    public static let report = "ironlb-announcements-"
}
