import ArgumentParser
import Controller
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
import KubeModel
import LBCore
import Logging
import Observability
import Prometheus
import ServiceLifecycle
import ControllerCore
import LeaderElection

/// `ironlb controller`: allocates IPs for Services of type LoadBalancer.
public struct ControllerCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Allocate external IPs for Services of type LoadBalancer and write them to their status."
    )

    @OptionGroup public var common: CommonOptions

    @Flag(inversion: .prefixedNo, help: "Elect one active replica with a Lease (turn off for a single replica).")
    public var leaderElect = true

    @Flag(help: "Also read MetalLB's metallb.io objects (IPAddressPool, L2Advertisement, ...) in the config namespace, combined with the ConfigMap; their CRDs must be installed (manifests/crds.yaml).")
    public var metallbResources = false

    @Option(help: "Name of the leader-election Lease (in the config namespace).")
    public var leaseName = "ironlb-controller"

    @Option(help: "Leader election: lease duration.")
    var leaseDuration = DurationArgument(argument: "15s")!

    @Option(help: "Leader election: renew deadline.")
    var renewDeadline = DurationArgument(argument: "10s")!

    @Option(help: "Leader election: retry period.")
    var retryPeriod = DurationArgument(argument: "2s")!

    @Option(help: "Address for /metrics, /healthz and /readyz.")
    var metricsAddress = ListenAddress(argument: "0.0.0.0:7472")!

    @Option(help: "This replica's identity for leader election (default: hostname and a random suffix) [env: POD_NAME].")
    public var identity: String?

    @Option(help: "Create this Secret in the config namespace with a random probe key (data key secretkey) when it is missing, as MetalLB's --ml-secret-name; an existing one is never replaced. The speakers read it for the layer 2 failure detector [env: IRONLB_ML_SECRET_NAME].")
    public var mlSecretName: String?

    /// The probe key Secret to create, from the flag, else from the environment.
    var probeKeySecretName: String? { mlSecretName ?? Environment.value("IRONLB_ML_SECRET_NAME") }

    public init() {}

    public func validate() throws {
        if let mlSecretName, mlSecretName.isEmpty { throw ValidationError("--ml-secret-name must not be empty when given") }
        let config = LeaderElectionConfig(identity: "x", leaseDuration: leaseDuration.duration, renewDeadline: renewDeadline.duration, retryPeriod: retryPeriod.duration)
        do { try config.validate() } catch { throw ValidationError("leader election timings: \(error.message)") }
    }

    public func run() async throws {
        let level = common.level
        MemoryTuning.apply()
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        let logger = Logger(label: "ironlb.controller")
        let identity = identity ?? Environment.value("POD_NAME") ?? "\(ProcessInfo.processInfo.hostName)_\(UUID().uuidString.prefix(8))"
        let client = try KubeClient(configuration: try ClusterAccess.configuration(kubeconfig: common.kubeconfig), logger: Logger(label: "ironlb.kubeclient"))
        let settings = ControllerCore.Settings(
            loadBalancerClass: common.lbClass, configNamespace: common.configNamespace, configName: common.configName, readsMetalLBResources: metallbResources
        )
        let election = leaderElect ? (
            leaseName: leaseName,
            config: LeaderElectionConfig(identity: identity, leaseDuration: leaseDuration.duration, renewDeadline: renewDeadline.duration, retryPeriod: retryPeriod.duration)
        ) : nil
        let process = try ControllerProcess(client: client, options: .init(
            settings: settings, identity: identity, election: election, probeKeySecretName: probeKeySecretName,
            metricsHost: metricsAddress.host, metricsPort: metricsAddress.port
        ), logger: logger)
        logger.info("starting", metadata: [
            "lb.identity": "\(identity)", "lb.config": "\(common.configNamespace)/\(common.configName)",
            "lb.class": "\(common.lbClass ?? "<none>")", "lb.leader-elect": "\(leaderElect)",
        ])
        var configuration = ServiceGroupConfiguration(
            services: process.services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // A part that does not finish its graceful shutdown in time is cancelled.
        configuration.maximumGracefulShutdownDuration = .seconds(30)
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
        try? await client.shutdown()
    }
}

/// Where the API server is and how to authenticate.
enum ClusterAccess {
    /// As controller-runtime: --kubeconfig, then $KUBECONFIG, then in-cluster, then ~/.kube/config.
    static func configuration(kubeconfig: String?) throws -> ClientConfiguration {
        if let kubeconfig { return try KubeConfigLoader.load(paths: [kubeconfig]) }
        if Environment.value("KUBECONFIG") == nil, let inCluster = try? KubeConfigLoader.inCluster() { return inCluster }
        return try KubeConfigLoader.loadDefault()
    }
}
