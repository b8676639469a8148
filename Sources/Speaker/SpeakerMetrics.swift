import LBConfig
import LBCore
import NetPrimitives
import Prometheus
import SpeakerCore

/// The speaker's metrics, named as MetalLB names them so dashboards carry over.
struct SpeakerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

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
        for candidate in WithholdReason.allCases where candidate != reason {
            registry.unregisterGauge(registry.makeGauge(descriptor: Self.withheld, labels: [("service", service.description), ("reason", candidate.code)]))
        }
        if let reason { registry.makeGauge(descriptor: Self.withheld, labels: [("service", service.description), ("reason", reason.code)]).set(1.0) }
    }

    /// One gauge per (service, protocol, ip) announced; those no longer announced are removed.
    func announced(_ now: Set<[String]>, previous: Set<[String]>) {
        for labels in previous.subtracting(now) {
            registry.unregisterGauge(registry.makeGauge(descriptor: Self.announced, labels: [("service", labels[0]), ("protocol", labels[1]), ("ip", labels[2])]))
        }
        for labels in now.subtracting(previous) {
            registry.makeGauge(descriptor: Self.announced, labels: [("service", labels[0]), ("protocol", labels[1]), ("ip", labels[2])]).set(1.0)
        }
    }
}
