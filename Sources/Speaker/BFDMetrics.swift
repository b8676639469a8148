import BFD
import LBConfig
import Prometheus

/// BFD metrics (`ironlb_bfd_*`), labelled by peer as the BGP ones are.
struct BFDMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    private static var sessionUp: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "bfd", metricName: "session_up", unitName: "",
                             helpText: "1 while the BFD session to the BGP peer is Up.")
    }
    private static var stateChanges: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "bfd", metricName: "state_changes", unitName: "total",
                             helpText: "BFD session state changes, by the state entered.")
    }
    private static var dropped: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ironlb", subsystem: "bfd", metricName: "dropped_packets", unitName: "total",
                             helpText: "Received BFD packets discarded, by reason (RFC 5880 §6.8.6).")
    }

    private func peerLabels(_ peer: Peer) -> [(String, String)] { [("peer", "\(peer.address)")] }

    func stateChanged(_ peer: Peer, to state: BFDState) {
        registry.makeGauge(descriptor: Self.sessionUp, labels: peerLabels(peer)).set(state == .up ? 1.0 : 0.0)
        registry.makeCounter(descriptor: Self.stateChanges, labels: peerLabels(peer) + [("state", state.description)]).increment()
    }

    func sessionAdded(_ peer: Peer) {
        registry.makeGauge(descriptor: Self.sessionUp, labels: peerLabels(peer)).set(0.0)
    }

    func sessionRemoved(_ peer: Peer) {
        registry.unregisterGauge(registry.makeGauge(descriptor: Self.sessionUp, labels: peerLabels(peer)))
        for state in BFDState.allCases {
            registry.unregisterCounter(registry.makeCounter(descriptor: Self.stateChanges, labels: peerLabels(peer) + [("state", state.description)]))
        }
    }

    func dropped(_ reason: BFDDropReason) {
        registry.makeCounter(descriptor: Self.dropped, labels: [("reason", reason.rawValue)]).increment()
    }
}
