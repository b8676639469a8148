import ControllerCore
import KubeClient
import LeaderElection
import Logging
import NIOCore
import Observability
import Prometheus
import ServiceLifecycle

/// The controller process, wired once: `ironlb controller` and the lab run the same parts.
/// `services` go, in this order, into a ServiceGroup (shutdown runs in reverse: stop serving,
/// stop writing, release the Lease, stop watching).
public struct ControllerProcess: Sendable {
    public struct Options: Sendable {
        public var settings: ControllerCore.Settings
        /// This replica's name in Events, managed fields and the Lease.
        public var identity: String
        /// Leader election over the Lease `leaseName` in the config namespace; nil: one replica, always leading.
        public var election: (leaseName: String, config: LeaderElectionConfig)?
        /// The speakers' probe key Secret, created when missing (`--ml-secret-name`).
        public var probeKeySecretName: String?
        public var metricsHost: String
        public var metricsPort: Int
        /// Told the metrics endpoint's address once it listens.
        public var onMetricsBound: @Sendable (SocketAddress) -> Void

        public init(
            settings: ControllerCore.Settings, identity: String, election: (leaseName: String, config: LeaderElectionConfig)? = nil,
            probeKeySecretName: String? = nil, metricsHost: String, metricsPort: Int, onMetricsBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }
        ) {
            self.settings = settings
            self.identity = identity
            self.election = election
            self.probeKeySecretName = probeKeySecretName
            self.metricsHost = metricsHost
            self.metricsPort = metricsPort
            self.onMetricsBound = onMetricsBound
        }
    }

    public let controller: ControllerService
    public let services: [ServiceGroupConfiguration.ServiceConfiguration]

    public init(client: KubeClient, options: Options, logger: Logger) throws {
        let settings = options.settings
        let registry = PrometheusCollectorRegistry()
        let api = KubeControllerAPI(client: client, settings: settings, instance: options.identity, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: api)]
        // The speakers' probe key, made once per cluster by whichever replica gets there first.
        if let name = options.probeKeySecretName {
            let secret = ProbeKeySecretService(client: client, namespace: settings.configNamespace, name: name, retryDelay: RetryDelays.kubernetes, logger: logger)
            services.append(.init(service: secret, successTerminationBehavior: .ignore))
        }
        let leadership: any LeadershipSource
        if let (leaseName, config) = options.election {
            let elector = try LeaderElector(client: client, namespace: settings.configNamespace, name: leaseName, config: config)
            services.append(.init(service: ElectionService(elector: elector)))
            leadership = LeaseLeadership(elector: elector)
        } else {
            leadership = AlwaysLeader()
        }
        let controller = ControllerService(
            api: api, leadership: leadership, settings: settings, registry: registry, logger: logger, retryDelay: RetryDelays.kubernetes
        )
        services.append(.init(service: controller))
        services.append(.init(service: ObservabilityServer(
            host: options.metricsHost, port: options.metricsPort, registry: registry, logger: logger,
            readiness: { controller.notReadyReason() }, onBound: options.onMetricsBound
        )))
        self.controller = controller
        self.services = services
    }
}

/// Runs a Lease election as a ServiceLifecycle service; shutdown cancels it, which releases the Lease.
struct ElectionService: Service {
    let elector: LeaderElector

    func run() async throws {
        await cancelWhenGracefulShutdown { await elector.run() }
    }
}
