import Foundation
import Announcements
import LBCore
import Logging
import NIOPosix
import NetPrimitives
import Prometheus
import ServiceLifecycle
import Speaker
import SpeakerCore
import Synchronization
import TestSupport
import Testing

/// Issue #14: a speaker reports a refused configuration as the controller does, with the same
/// Event (`RecordedEvent.configurationRefused`): on the metallb.io object the first error
/// names, else on the speaker's config ConfigMap; `ironlb_config_stale` is 1 meanwhile and the
/// last good configuration stays.
/// Waits are long (300 s): in the parallel phase, CPU-bound simulation tests can hold the
/// cooperative threads the daemon runs on for minutes; each wait ends as soon as it holds.
struct SpeakerDaemonConfigTests {
    typealias API = SpeakerDaemonLayer2Tests.EchoingAPI

    static let good = "address-pools:\n- {name: lan, protocol: layer2, addresses: [192.0.2.200-192.0.2.210]}"
    /// The ConfigMap's pool and a BGPPeer IronLB refuses (`vrf`), as `ConfigSources.sourceText` hands them over.
    static let badObject = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {namespace: lb, name: pools}
        data: {config: "address-pools: [{name: lan, protocol: layer2, addresses: [192.0.2.200-192.0.2.210]}]"}
        ---
        {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "router", "namespace": "lb"}, "spec": {"myASN": 64512, "peerASN": 65001, "peerAddress": "192.0.2.1", "vrf": "red"}}
        """

    /// `ironlb_config_stale` is 1 (its sample line, not its help text).
    static func stale(_ registry: PrometheusCollectorRegistry) -> Bool {
        let line = registry.emitToString().split(separator: "\n").first { $0.hasPrefix("ironlb_config_stale ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") } == 1
    }

    @Test func aRefusedConfigurationIsReportedOnTheObjectItNames() async throws {
        let api = API()
        let dataPlane = SpeakerDaemonLayer2Tests.RecordingDataPlane()
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let registry = PrometheusCollectorRegistry()
        let logger = Logger(label: "test")
        let daemon = SpeakerDaemon(
            nodeName: "node1", api: api, dataPlane: dataPlane, eventLoops: eventLoops, routerID: IPv4Address("192.0.2.11")!,
            configNamespace: "lb", configName: "pools", registry: registry, logger: logger
        )
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: daemon)], gracefulShutdownSignals: [], logger: logger))
        let finished = Mutex(false)
        Task {
            try? await group.run()
            finished.withLock { $0 = true }
        }
        api.sink.yield(.config(Self.good))
        api.sink.yield(.nodeUpserted(NodeState(name: "node1")))
        api.sink.yield(.synced)
        #expect(await poll(timeout: 300, interval: 0.05) { daemon.notReadyReason() == nil }, "\(daemon.notReadyReason() ?? "")")

        // A ConfigMap that does not parse: the Event goes on the speaker's ConfigMap.
        api.sink.yield(.config("address-pools: [{name: lan, protocol: nope}]"))
        let onConfigMap = await poll(timeout: 300, interval: 0.05) { api.events.withLock { !$0.isEmpty } }
        #expect(onConfigMap)
        let first = api.events.withLock { $0.first }
        #expect(first?.object == .configMap(namespace: "lb", name: "pools"))
        #expect(first?.kind == .warning && first?.reason == "InvalidConfig")
        #expect(first?.message.hasPrefix("configuration is invalid; keeping the last good one: address-pools[0]") == true, "\(String(describing: first))")
        #expect(Self.stale(registry))
        #expect(daemon.notReadyReason() == nil, "the last good configuration is still in force")

        // An object IronLB refuses: the Event goes on it.
        api.sink.yield(.config(Self.badObject))
        let onObject = await poll(timeout: 300, interval: 0.05) { api.events.withLock { $0.count >= 2 } }
        #expect(onObject)
        let second = api.events.withLock { $0.count >= 2 ? $0[1] : nil }
        #expect(second?.object == .resource(kind: "BGPPeer", namespace: "lb", name: "router"), "\(String(describing: second))")
        #expect(second?.message.contains("BGPPeer/router spec.vrf: is not supported") == true, "\(String(describing: second))")
        #expect(Self.stale(registry))

        // Valid again: not stale, and no further Event.
        api.sink.yield(.config(Self.good))
        #expect(await poll(timeout: 300, interval: 0.05) { !Self.stale(registry) })
        #expect(api.events.withLock { $0.count } == 2)

        await group.triggerGracefulShutdown()
        let stopped = await poll(timeout: 300, interval: 0.05) { finished.withLock { $0 } }
        #expect(stopped)
        if stopped { try await eventLoops.shutdownGracefully() }
    }
}
