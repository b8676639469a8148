import LBCore
import Prometheus
import ControllerCore

/// The controller's metrics, named as MetalLB names them so dashboards carry over.
struct ControllerMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let configLoaded: Gauge
    private let configStale: Gauge
    private let leader: Gauge
    private let waiting: Gauge
    /// Events not recorded because the queue to the API server was full.
    let eventsDropped: Counter

    static var addressesTotal: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "ironlb", subsystem: "allocator", metricName: "addresses", unitName: "total",
        helpText: "Usable addresses in the pool, per family.") }
    static var addressesInUse: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "ironlb", subsystem: "allocator", metricName: "addresses_in_use", unitName: "total",
        helpText: "Distinct addresses of the pool held by Services (a shared IP counts once), per family.") }

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        configLoaded = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "config", metricName: "loaded", unitName: "",
            helpText: "1 once a valid configuration has been loaded."))
        configStale = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "config", metricName: "stale", unitName: "",
            helpText: "1 while the newest configuration was rejected and an older one is in force."))
        leader = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "controller", metricName: "leader", unitName: "",
            helpText: "1 while this replica leads and writes."))
        waiting = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "controller", metricName: "services_waiting", unitName: "",
            helpText: "Services of type LoadBalancer waiting for an address."))
        eventsDropped = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "events", metricName: "dropped", unitName: "total",
            helpText: "Kubernetes Events not recorded because the queue to the API server was full."))
    }

    func update(core: ControllerCore?, isLeader: Bool, previousPools: inout Set<[String]>) {
        leader.set(isLeader ? 1.0 : 0.0)
        guard let core else {
            // A standby reports no pool usage: only the leader's allocator is the truth.
            for gone in previousPools {
                let labels = [("pool", gone[0]), ("family", gone[1])]
                registry.unregisterGauge(registry.makeGauge(descriptor: Self.addressesTotal, labels: labels))
                registry.unregisterGauge(registry.makeGauge(descriptor: Self.addressesInUse, labels: labels))
            }
            previousPools = []
            return
        }
        configLoaded.set(core.configLoaded ? 1.0 : 0.0)
        configStale.set(core.configStale ? 1.0 : 0.0)
        waiting.set(Double(core.waitingServices.count))
        var current: Set<[String]> = []
        for usage in core.allocator.usage {
            let labels = [("pool", usage.pool), ("family", usage.family.rawValue)]
            current.insert([usage.pool, usage.family.rawValue])
            registry.makeGauge(descriptor: Self.addressesTotal, labels: labels).set(Double(usage.total))
            registry.makeGauge(descriptor: Self.addressesInUse, labels: labels).set(Double(usage.inUse))
        }
        for gone in previousPools.subtracting(current) {
            let labels = [("pool", gone[0]), ("family", gone[1])]
            registry.unregisterGauge(registry.makeGauge(descriptor: Self.addressesTotal, labels: labels))
            registry.unregisterGauge(registry.makeGauge(descriptor: Self.addressesInUse, labels: labels))
        }
        previousPools = current
    }
}
