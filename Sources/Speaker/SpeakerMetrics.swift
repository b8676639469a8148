import LBConfig
import LBCore
import NetPrimitives
import Prometheus
import SpeakerCore
import Synchronization

/// The speaker's metrics, named as MetalLB names them so dashboards carry over.
struct SpeakerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    /// The per-Service series (`ironlb_speaker_announced`, `ironlb_speaker_withheld`), kept
    /// outside the registry: the registry copies a metric's whole series table to add or remove
    /// one series, O(Services) per Service (docs/design/scale.md).
    let services = ServiceSeries()

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    private static var sessionUp: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "bgp", metricName: "session_up", unitName: "",
                             helpText: "1 while the BGP session to the peer is Established.")
    }
    private static var prefixes: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "bgp", metricName: "announced_prefixes", unitName: "total",
                             helpText: "Prefixes this node advertises to the peer.")
    }
    private static var updates: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "bgp", metricName: "updates", unitName: "total",
                             helpText: "BGP UPDATE messages sent to the peer.")
    }
    private static var announced: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "speaker", metricName: "announced", unitName: "",
                             helpText: "1 for each Service IP this node announces, by protocol.")
    }
    private static var withheld: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "speaker", metricName: "withheld", unitName: "",
                             helpText: "1 for each Service with an IP that no node announces, by reason (noEndpoints: no ready endpoints).")
    }
    private static var configStale: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "config", metricName: "stale", unitName: "",
                             helpText: "1 while the newest configuration was rejected and an older one is in force.")
    }
    private static var configLoaded: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "config", metricName: "loaded", unitName: "",
                             helpText: "1 once a valid configuration has been loaded.")
    }

    private static var eventsDropped: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "events", metricName: "dropped", unitName: "total",
                             helpText: "Kubernetes Events not recorded because the queue to the API server was full.")
    }

    func eventDropped() {
        registry.makeCounter(descriptor: Self.eventsDropped).increment()
    }

    private static var peersDead: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "layer2", metricName: "peers_declared_dead", unitName: "total",
                             helpText: "Speakers the failure detector declared dead (their Lease broken at once), by evidence.")
    }
    private static var probesRejected: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "layer2", metricName: "probes_rejected", unitName: "total",
                             helpText: "Probe datagrams refused: bad tag (wrong key or forged), replayed, malformed, misdirected.")
    }

    func peerDeclaredDead(refused: Bool) {
        registry.makeCounter(descriptor: Self.peersDead, labels: [("evidence", refused ? "refused" : "timeout")]).increment()
    }

    func probeRejected(_ reason: String) {
        registry.makeCounter(descriptor: Self.probesRejected, labels: [("reason", reason)]).increment()
    }

    private func peerLabels(_ peer: Peer) -> [(String, String)] { [("peer", "\(peer.address):\(peer.port)")] }

    func sessionState(_ peer: Peer, up: Bool) {
        registry.makeGauge(descriptor: Self.sessionUp, labels: peerLabels(peer)).set(up ? 1.0 : 0.0)
    }

    func announcedPrefixes(_ peer: Peer, count: Int) {
        registry.makeGauge(descriptor: Self.prefixes, labels: peerLabels(peer)).set(Double(count))
    }

    func updatesSent(_ peer: Peer, count: Int) {
        registry.makeCounter(descriptor: Self.updates, labels: peerLabels(peer)).increment(by: Int64(count))
    }

    private static var sessionResets: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "bgp", metricName: "session_resets", unitName: "total",
                             helpText: "BGP sessions this speaker closed, by reason (outboundBufferFull: the peer did not read).")
    }

    func sessionReset(_ peer: Peer, reason: String) {
        registry.makeCounter(descriptor: Self.sessionResets, labels: peerLabels(peer) + [("reason", reason)]).increment()
    }

    func sessionRemoved(_ peer: Peer) {
        registry.unregisterGauge(registry.makeGauge(descriptor: Self.sessionUp, labels: peerLabels(peer)))
        registry.unregisterGauge(registry.makeGauge(descriptor: Self.prefixes, labels: peerLabels(peer)))
        registry.unregisterCounter(registry.makeCounter(descriptor: Self.updates, labels: peerLabels(peer)))
    }

    func config(loaded: Bool, stale: Bool) {
        registry.makeGauge(descriptor: Self.configLoaded).set(loaded ? 1.0 : 0.0)
        registry.makeGauge(descriptor: Self.configStale).set(stale ? 1.0 : 0.0)
    }

    /// One gauge per Service withheld, labelled with the reason; removed when it no longer is.
    func withheld(_ service: ServiceKey, reason: WithholdReason?) {
        services.withheld(service, reason: reason)
    }

    /// One gauge per (service, protocol, ip) of the Service announced `ways` (none: it is not
    /// announced, and its series go). Returns whether the Service had none before.
    @discardableResult
    func announced(_ service: ServiceKey, _ ways: [Announcement]) -> Bool {
        services.announced(service, ways)
    }

    /// The per-Service series in the exposition format, as the registry writes its gauges.
    func serviceSeriesText() -> String {
        services.text(announced: Self.announced, withheld: Self.withheld)
    }
}

/// `ironlb_speaker_announced` and `ironlb_speaker_withheld`, one entry per Service: adding or
/// removing one costs that Service, not every Service's. Each entry holds the plan's own value
/// (its array is shared with the plan, not copied); the lines are written at each scrape.
final class ServiceSeries: Sendable {
    private struct State {
        var announced: [ServiceKey: [Announcement]] = [:]
        var withheld: [ServiceKey: WithholdReason] = [:]
    }

    private let state = Mutex(State())

    /// Returns whether the Service had no series before.
    func announced(_ service: ServiceKey, _ ways: [Announcement]) -> Bool {
        state.withLock { state in
            if ways.isEmpty { return state.announced.removeValue(forKey: service) == nil }
            return state.announced.updateValue(ways, forKey: service) == nil
        }
    }

    func withheld(_ service: ServiceKey, reason: WithholdReason?) {
        state.withLock { $0.withheld[service] = reason }
    }

    func text(announced: MetricNameDescriptor, withheld: MetricNameDescriptor) -> String {
        let (ways, reasons) = state.withLock { ($0.announced, $0.withheld) }
        var text = ""
        if !ways.isEmpty {
            text += Self.header(announced)
            for (service, ways) in ways {
                let label = Self.escaped(service.description)
                var pairs: [(String, String)] = []
                for way in ways {
                    switch way {
                    case .layer2(let ips, _): for ip in ips { pairs.append(("layer2", ip.description)) }
                    case .bgp(let ips, _): for ip in ips { pairs.append(("bgp", ip.description)) }
                    }
                }
                for pair in Set(pairs.map { [$0.0, $0.1] }).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                    text += "\(announced.name){service=\"\(label)\",protocol=\"\(pair[0])\",ip=\"\(pair[1])\"} 1.0\n"
                }
            }
        }
        if !reasons.isEmpty {
            text += Self.header(withheld)
            for (service, reason) in reasons {
                text += "\(withheld.name){service=\"\(Self.escaped(service.description))\",reason=\"\(reason.code)\"} 1.0\n"
            }
        }
        return text
    }

    private static func header(_ descriptor: MetricNameDescriptor) -> String {
        "# HELP \(descriptor.name) \(descriptor.helpText ?? "")\n# TYPE \(descriptor.name) gauge\n"
    }

    /// A label value as the exposition format quotes it.
    private static func escaped(_ value: String) -> String {
        var text = ""
        for character in value {
            switch character {
            case "\\": text += "\\\\"
            case "\"": text += "\\\""
            case "\n": text += "\\n"
            default: text.append(character)
            }
        }
        return text
    }
}
