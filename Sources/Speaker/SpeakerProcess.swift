import KubeClient
import L2Ownership
import LBConfig
import Logging
import NIOCore
import NetPrimitives
import Observability
import Prometheus
import ServiceLifecycle
import SpeakerCore

/// The speaker process of one node, wired once: `ironlb speaker` and the lab run the same parts.
/// `services` go, in this order, into a ServiceGroup (shutdown runs in reverse: stop serving,
/// release the Lease and withdraw, stop watching).
public struct SpeakerProcess: Sendable {
    public struct Options: Sendable {
        public var node: String
        public var configNamespace: String
        public var configName: String
        public var loadBalancerClass: String?
        public var readsMetalLBResources: Bool
        public var routerID: IPv4Address
        public var timings: LeaseTimings
        public var probing: NodeSpeaker<ContinuousClock.Instant>.Probing?
        /// Answer ARP/NDP for layer 2 pools: open packet sockets (without CAP_NET_RAW the speaker
        /// logs why and runs without layer 2).
        public var layer2: Bool
        public var metricsHost: String
        public var metricsPort: Int
        /// Told the metrics endpoint's address once it listens.
        public var onMetricsBound: @Sendable (SocketAddress) -> Void

        public init(
            node: String, configNamespace: String = ConfigParser.defaultNamespace, configName: String = ConfigParser.defaultName,
            loadBalancerClass: String? = nil, readsMetalLBResources: Bool = false, routerID: IPv4Address, timings: LeaseTimings = .default,
            probing: NodeSpeaker<ContinuousClock.Instant>.Probing? = nil, layer2: Bool = false, metricsHost: String, metricsPort: Int,
            onMetricsBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }
        ) {
            self.node = node
            self.configNamespace = configNamespace
            self.configName = configName
            self.loadBalancerClass = loadBalancerClass
            self.readsMetalLBResources = readsMetalLBResources
            self.routerID = routerID
            self.timings = timings
            self.probing = probing
            self.layer2 = layer2
            self.metricsHost = metricsHost
            self.metricsPort = metricsPort
            self.onMetricsBound = onMetricsBound
        }
    }

    public let daemon: SpeakerDaemon
    public let services: [ServiceGroupConfiguration.ServiceConfiguration]

    /// `logger` should carry the node (`lb.node`). BGP sessions run on `eventLoops`.
    public init(client: KubeClient, eventLoops: any EventLoopGroup, options: Options, logger: Logger) {
        let registry = PrometheusCollectorRegistry()
        let api = KubeSpeakerAPI(
            client: client, namespace: options.configNamespace, configName: options.configName, loadBalancerClass: options.loadBalancerClass,
            leaseDuration: options.timings.leaseDuration, node: options.node, logger: logger, readsMetalLBResources: options.readsMetalLBResources,
            // With probes the Lease carries its marker; with heartbeats renewals may go to a heartbeat Lease.
            leaseProtocol: options.probing?.leaseProtocol
        )
        var dataPlane: PacketDataPlane?
        if options.layer2 {
            do {
                dataPlane = try PacketDataPlane(registry: registry, logger: logger)
            } catch {
                logger.error("layer 2 disabled: cannot open packet sockets (the speaker needs CAP_NET_RAW)", metadata: ["lb.error": "\(error)"])
            }
        }
        let daemon = SpeakerDaemon(
            nodeName: options.node, api: api, dataPlane: dataPlane ?? NoLayer2DataPlane() as any Layer2DataPlane, eventLoops: eventLoops,
            routerID: options.routerID, timings: options.timings, probing: options.probing,
            configNamespace: options.configNamespace, configName: options.configName, registry: registry, logger: logger
        )
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: api)]
        if let dataPlane { services.append(.init(service: dataPlane)) }
        services.append(.init(service: daemon))
        services.append(.init(service: ObservabilityServer(
            host: options.metricsHost, port: options.metricsPort, registry: registry, logger: logger,
            readiness: { daemon.notReadyReason() }, onBound: options.onMetricsBound, extraMetrics: { daemon.serviceMetrics() },
            group: eventLoops
        )))
        self.daemon = daemon
        self.services = services
    }
}
