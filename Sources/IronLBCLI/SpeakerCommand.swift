import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
import L2Ownership
import Logging
import NIOCore
import NIOPosix
import NetPrimitives
import Observability
import Prometheus
import ServiceLifecycle
import Speaker
import SpeakerCore

/// `ironlb speaker`: announces this node's share of the Service IPs.
public struct SpeakerCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "speaker",
        abstract: "Announce Service IPs from this node: BGP to the configured peers, ARP/NDP for layer 2 pools."
    )

    @OptionGroup public var common: CommonOptions

    @Flag(help: "Also read MetalLB's metallb.io objects in the config namespace, combined with the ConfigMap, and the BGP password Secrets BGPPeers name; their CRDs must be installed (manifests/crds.yaml).")
    public var metallbResources = false

    @Option(help: "This node's name, as in the Node object [env: IRONLB_NODE_NAME].")
    public var nodeName: String?

    @Option(help: "BGP router ID when a peer does not set router-id (default: derived from the node name).")
    var routerID: String?

    @Option(help: "Speaker Lease: how long a silent Lease lasts before others may break it.")
    var leaseDuration = DurationArgument(argument: "15s")!

    @Option(help: "Speaker Lease: stop answering when no renewal succeeded for this long.")
    var renewDeadline = DurationArgument(argument: "11s")!

    @Option(help: "Speaker Lease: how often to renew.")
    var retryPeriod = DurationArgument(argument: "5s")!

    @Option(help: "Address for /metrics, /healthz and /readyz.")
    var metricsAddress = ListenAddress(argument: "0.0.0.0:7473")!

    @Flag(inversion: .prefixedNo, help: "Answer ARP/NDP for layer2 pools (needs CAP_NET_RAW).")
    public var layer2 = true

    @Option(help: "UDP port the speakers probe each other on (layer 2 failure detector; open it between nodes).")
    var probePort: UInt16 = 7946

    @Option(help: "File holding the cluster's probe key (the ironlb-memberlist Secret); without it, no probes: failover waits for the Lease [env: IRONLB_PROBE_KEY_FILE].")
    var probeKeyFile: String?

    @Flag(inversion: .prefixedNo, help: "With the probe key: renew a heartbeat Lease only this speaker watches instead of the speaker Lease while every speaker Lease says its holder does the same (watch events grow as nodes, not nodes squared; beside 0.1.0 speakers, as in a rolling update, it renews the speaker Lease: docs/design/layer2-leases.md, \"Upgrades\").")
    var heartbeatLeases = true

    var keyFile: String? { probeKeyFile ?? Environment.value("IRONLB_PROBE_KEY_FILE") }

    public init() {}

    var node: String? { nodeName ?? Environment.value("IRONLB_NODE_NAME") }

    /// The Lease timings: with probes, the old owner keeps a VIP up to 3 s for the newcomer's
    /// claim, and the hand-off delay grows by as much.
    func timings(probing: Bool) -> LeaseTimings {
        LeaseTimings.flags(
            renewInterval: retryPeriod.duration, renewDeadline: renewDeadline.duration, leaseDuration: leaseDuration.duration,
            keepWindow: probing ? .seconds(3) : .zero
        )
    }

    /// The probe key: the file's bytes (trailing newline dropped), at least 16.
    static func probeKey(file: String) throws -> ProbeKey {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read the probe key file \(file)") }
        var bytes = [UInt8](data)
        while bytes.last == 0x0a || bytes.last == 0x0d { bytes.removeLast() }
        guard let key = ProbeKey(bytes) else { throw ValidationError("the probe key in \(file) is shorter than 16 bytes") }
        return key
    }

    public func validate() throws {
        guard let node, !node.isEmpty else { throw ValidationError("give the node name with --node-name or IRONLB_NODE_NAME (the downward API's spec.nodeName)") }
        if let problem = timings(probing: true).problem { throw ValidationError("speaker Lease timings: \(problem)") }
        if let routerID, IPv4Address(routerID) == nil { throw ValidationError("--router-id \"\(routerID)\" is not an IPv4 address") }
    }

    /// A stable, non-zero 32-bit identifier from the node name (FNV-1a).
    static func derivedRouterID(_ node: String) -> IPv4Address {
        var hash: UInt32 = 0x811c_9dc5
        for byte in node.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return IPv4Address(rawValue: hash == 0 ? 1 : hash)
    }

    public func run() async throws {
        let level = common.level
        MemoryTuning.apply()
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        let node = self.node!
        var logger = Logger(label: "ironlb.speaker")
        logger[metadataKey: "lb.node"] = "\(node)"
        // One group of event loops (one per core, at most 4) for every socket of the speaker: the
        // BGP sessions, the probes and the metrics endpoint spread over it, and the API client
        // uses one of its loops, so a request's connection and its answer's handling share a
        // thread. NIO's process-wide group (a loop per core, 64 threads on a 64-core node) is
        // never started (docs/design/scale.md, "Fifth pass").
        let group = MultiThreadedEventLoopGroup(numberOfThreads: min(4, max(1, System.coreCount)))
        let client = try KubeClient(configuration: try ClusterAccess.configuration(kubeconfig: common.kubeconfig), eventLoopGroup: group.next(),
                                    logger: Logger(label: "ironlb.kubeclient"))
        var probing: NodeSpeaker<ContinuousClock.Instant>.Probing?
        if let keyFile, FileManager.default.fileExists(atPath: keyFile) {
            probing = .init(
                key: try Self.probeKey(file: keyFile), incarnation: UInt64(Date().timeIntervalSince1970 * 1000),
                seed: UInt64.random(in: .min ... .max), port: probePort, heartbeats: heartbeatLeases
            )
        } else {
            // The manifest mounts the Secret as optional: a cluster without it still runs.
            logger.warning("no probe key (--probe-key-file, the ironlb-memberlist Secret): layer 2 failover waits for the Lease to expire",
                           metadata: ["lb.file": "\(keyFile ?? "<none>")"])
        }
        let leaseTimings = timings(probing: probing != nil)
        let process = SpeakerProcess(client: client, eventLoops: group, options: .init(
            node: node, configNamespace: common.configNamespace, configName: common.configName, loadBalancerClass: common.lbClass,
            readsMetalLBResources: metallbResources, routerID: routerID.flatMap(IPv4Address.init) ?? Self.derivedRouterID(node),
            timings: leaseTimings, probing: probing, layer2: layer2, metricsHost: metricsAddress.host, metricsPort: metricsAddress.port
        ), logger: logger)
        logger.info("starting", metadata: ["lb.config": "\(common.configNamespace)/\(common.configName)", "lb.class": "\(common.lbClass ?? "<none>")"])
        var configuration = ServiceGroupConfiguration(
            services: process.services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // A part that does not finish its graceful shutdown in time is cancelled.
        configuration.maximumGracefulShutdownDuration = .seconds(30)
        let services = ServiceGroup(configuration: configuration)
        try await services.run()
        try? await client.shutdown()
        try? await group.shutdownGracefully()
    }
}
