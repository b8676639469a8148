#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinkWire
import Logging
import NIOCore
import NetPrimitives
import PacketIO
import Prometheus
import ServiceLifecycle
import Synchronization

/// The speaker's layer 2 data plane: PacketIO's `Layer2Responder` (one packet socket and reader
/// thread per answering interface, solicited-node groups, announcement frames) run as a
/// ServiceLifecycle service that rescans interfaces every few seconds, exports its counters as
/// metrics, and stops every reader on shutdown.
public final class PacketDataPlane: Layer2DataPlane, Service, Sendable {
    private let responder: Layer2Responder
    private let logger: Logger
    private let metrics: Layer2Metrics
    private let exported = Mutex(Layer2Responder.Statistics())
    /// VIPs already reported as held by no interface's subnet (reported again once they were not).
    private let reportedWithoutSubnet = Mutex(Set<IPAddress>())

    public init(registry: PrometheusCollectorRegistry, logger: Logger) throws {
        responder = try Layer2Responder()
        self.logger = logger
        metrics = Layer2Metrics(registry: registry)
    }

    public func answer(_ duties: [IPAddress: [String]]) {
        responder.answer(duties)
        reportVIPsWithoutSubnet()
    }

    /// Warns once per VIP that no interface's subnet holds: it is answered on every candidate
    /// interface, which is rarely what the operator meant (a pool outside the node's subnets,
    /// or a missing `interfaces` list).
    private func reportVIPsWithoutSubnet() {
        let now = responder.vipsWithoutSubnet
        let fresh = reportedWithoutSubnet.withLock { reported in
            defer { reported = now }
            return now.subtracting(reported)
        }
        for vip in fresh.sorted() {
            logger.warning("no interface's subnet holds this layer 2 VIP; answering ARP/NDP for it on every candidate interface (set the pool's interfaces to choose)",
                           metadata: ["ip": "\(vip)", "interfaces": "\((responder.plan[vip] ?? []).sorted().joined(separator: ","))"])
        }
    }

    public func announce(_ vips: [IPAddress]) {
        let plan = responder.plan
        let sent = vips.reduce(0) { $0 + (plan[$1]?.count ?? 0) }
        responder.announce(vips)
        metrics.gratuitousSent.increment(by: Int64(sent))
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(2))
                    self.responder.rescan()
                    self.reportVIPsWithoutSubnet()
                    self.export()
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        responder.stop()
        export()
    }

    /// Adds what the responder counted since the last export to the counters.
    private func export() {
        let now = responder.statistics
        let before = exported.withLock { previous in
            defer { previous = now }
            return previous
        }
        let replies = now.replies - before.replies
        metrics.responsesSent.increment(by: Int64(replies))
        var dropped = 0
        for (reason, count) in now.drops {
            let delta = count - (before.drops[reason] ?? 0)
            if delta > 0 { metrics.dropped(reason, count: delta) }
            dropped += delta
        }
        metrics.requestsReceived.increment(by: Int64(replies + dropped))
    }
}

/// Layer 2 counters, as MetalLB names them.
struct Layer2Metrics: Sendable {
    let requestsReceived: Counter
    let responsesSent: Counter
    let gratuitousSent: Counter
    private let registry: PrometheusCollectorRegistry

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        requestsReceived = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "layer2", metricName: "requests_received", unitName: "",
            helpText: "ARP requests and Neighbor Solicitations received on the answering interfaces."))
        responsesSent = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "layer2", metricName: "responses_sent", unitName: "",
            helpText: "ARP replies and Neighbor Advertisements sent for owned VIPs."))
        gratuitousSent = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "layer2", metricName: "gratuitous_sent", unitName: "",
            helpText: "Gratuitous ARP and unsolicited Neighbor Advertisements sent on takeover."))
    }

    func dropped(_ reason: DropReason, count: Int) {
        registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "layer2", metricName: "dropped", unitName: "",
            helpText: "Frames received and not answered, by reason."), labels: [("reason", reason.rawValue)]).increment(by: Int64(count))
    }
}
