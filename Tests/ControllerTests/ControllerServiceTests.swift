import Logging
import Prometheus
import ServiceLifecycle
import Testing
import TestSupport
import LBCore
@testable import Controller
@testable import ControllerCore
@testable import Announcements

let config = """
    address-pools:
    - {name: main, protocol: layer2, addresses: [198.51.100.1-198.51.100.3]}
    """

func service(_ name: String) -> ServiceState {
    ServiceState(key: ServiceKey(namespace: "default", name: name), uid: "uid-\(name)", ports: [TransportPort(80)])
}

/// Runs `body` while the given controllers run, then shuts them down.
func withControllers(_ services: [ControllerService], _ body: () async throws -> Void) async throws {
    let group = ServiceGroup(services: services, logger: Logger(label: "test"))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        try await body()
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

func makeController(_ cluster: FakeCluster, leadership: any LeadershipSource = AlwaysLeader(), registry: PrometheusCollectorRegistry = .init()) -> ControllerService {
    ControllerService(api: cluster, leadership: leadership, registry: registry, logger: Logger(label: "test"), retryDelay: { _ in .milliseconds(20) })
}

@Suite struct ControllerServiceTests {
    @Test func allocatesAndExposesMetrics() async throws {
        let cluster = FakeCluster()
        cluster.setConfig(config)
        cluster.put(service("a"))
        let registry = PrometheusCollectorRegistry()
        let controller = makeController(cluster, registry: registry)
        try await withControllers([controller]) {
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.ips("a") == ["198.51.100.1"] })
            cluster.put(service("b"))
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.ips("b") == ["198.51.100.2"] })
            #expect(await poll(timeout: 120) { () async -> Bool in controller.notReadyReason() == nil })
            let metrics = registry.emitToString()
            #expect(metrics.contains("ironlb_allocator_addresses_total{pool=\"main\",family=\"IPv4\"} 3"))
            #expect(metrics.contains("ironlb_allocator_addresses_in_use_total{pool=\"main\",family=\"IPv4\"} 2"))
            #expect(metrics.contains("ironlb_config_loaded 1"))
            #expect(metrics.contains("ironlb_config_stale 0"))
            #expect(metrics.contains("ironlb_controller_leader 1"))
        }
        #expect(cluster.eventReasons.filter { $0 == "IPAllocated" }.count == 2)
    }

    @Test func failedWritesAreRetriedWithoutChangingTheAllocation() async throws {
        let cluster = FakeCluster()
        cluster.setConfig(config)
        cluster.state.withLock { $0.failuresLeft = 5 }
        cluster.put(service("a"))
        try await withControllers([makeController(cluster)]) {
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.ips("a") == ["198.51.100.1"] })
            cluster.put(service("b"))
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.ips("b") == ["198.51.100.2"] })
        }
        #expect(cluster.state.withLock { $0.failuresLeft } == 0)
    }

    @Test func onlyTheLeaderWritesAndAStandbyTakesOver() async throws {
        let cluster = FakeCluster()
        cluster.setConfig(config)
        let first = ManualLeadership(initial: true)
        let second = ManualLeadership(initial: false)
        let a = makeController(cluster, leadership: first)
        let b = makeController(cluster, leadership: second)
        try await withControllers([a, b]) {
            cluster.put(service("x"))
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.ips("x") == ["198.51.100.1"] })
            let writes = cluster.writeCount
            // Leadership moves: the new leader rebuilds from its warm cache and writes nothing
            // for Services whose status is already right.
            first.set(false)
            second.set(true)
            try await Task.sleep(for: .milliseconds(300))
            #expect(cluster.writeCount == writes)
            cluster.put(service("y"))
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.ips("y") == ["198.51.100.2"] })
            #expect(cluster.ips("x") == ["198.51.100.1"])
        }
    }

    @Test func invalidConfigIsRejectedAndReported() async throws {
        let cluster = FakeCluster()
        cluster.setConfig(config)
        cluster.put(service("a"))
        let registry = PrometheusCollectorRegistry()
        try await withControllers([makeController(cluster, registry: registry)]) {
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.ips("a") == ["198.51.100.1"] })
            cluster.setConfig("address-pools: [{name: main, protocol: nope, addresses: []}]")
            #expect(await poll(timeout: 120) { () async -> Bool in registry.emitToString().contains("ironlb_config_stale 1") })
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.eventReasons.contains("InvalidConfig") })
            cluster.put(service("b"))
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.ips("b") == ["198.51.100.2"] })
        }
    }
}

/// `ironlb.io/announced-by` follows the speakers' reports of nodes whose speaker Lease is held.
@Suite struct AnnouncedByTests {
    @Test func followsLiveReportsAndWritesOnlyChanges() async throws {
        let cluster = FakeCluster()
        cluster.setConfig(config)
        cluster.put(service("a"))
        cluster.put(service("b"))
        var other = service("c")
        other.isLoadBalancer = false
        cluster.put(other)
        let a = ServiceKey(namespace: "default", name: "a"), b = ServiceKey(namespace: "default", name: "b")
        let c = ServiceKey(namespace: "default", name: "c")
        try await withControllers([makeController(cluster)]) {
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.ips("b") == ["198.51.100.2"] })
            cluster.send(.speakerLease(node: "node1", held: true))
            cluster.send(.speakerLease(node: "node2", held: true))
            cluster.send(.announcements(node: "node2", [a: "bgp 1 peer", c: "bgp 1 peer"]))
            cluster.send(.announcements(node: "node1", [a: "bgp 1 peer", b: "layer2 eth1"]))
            #expect(await poll(timeout: 120) { () async -> Bool in
                cluster.annotation("a") == "node1,node2 (bgp 1 peer)" && cluster.annotation("b") == "node1 (layer2 eth1)"
            })
            // Not a LoadBalancer: never annotated, whatever a report says.
            #expect(cluster.annotation("c") == nil)
            let writes = cluster.state.withLock { $0.annotationWrites.count }
            // The same report again changes nothing and writes nothing.
            cluster.send(.announcements(node: "node1", [a: "bgp 1 peer", b: "layer2 eth1"]))
            // node1's Lease is released: its announcements no longer count.
            cluster.send(.speakerLease(node: "node1", held: false))
            #expect(await poll(timeout: 120) { () async -> Bool in
                cluster.annotation("a") == "node2 (bgp 1 peer)" && cluster.annotation("b") == nil
            })
            #expect(cluster.state.withLock { $0.annotationWrites.count } == writes + 2)
            // A report that drops a Service removes the node from it.
            cluster.send(.announcements(node: "node2", [:]))
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.annotation("a") == nil })
        }
    }

    /// A Service no node announces for want of endpoints: the annotation and one Event say why.
    @Test func withheldServicesSayWhyOnce() async throws {
        let cluster = FakeCluster()
        cluster.setConfig(config)
        cluster.put(service("a"))
        let a = ServiceKey(namespace: "default", name: "a")
        let withheld = AnnouncementReport.withheldWay("no ready endpoints")
        func notAnnounced() -> [RecordedEvent] { cluster.state.withLock { $0.events.filter { $0.reason == "NotAnnounced" } } }
        try await withControllers([makeController(cluster)]) {
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.ips("a") == ["198.51.100.1"] })
            cluster.send(.speakerLease(node: "node1", held: true))
            cluster.send(.speakerLease(node: "node2", held: true))
            cluster.send(.announcements(node: "node1", [a: withheld]))
            cluster.send(.announcements(node: "node2", [a: withheld]))
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.annotation("a") == "none (no ready endpoints)" && notAnnounced().count == 1 })
            let event = try #require(notAnnounced().first)
            #expect(event.object == .service(a) && event.kind == .normal && event.message == "no node announces the Service: no ready endpoints")
            // Scaled up: announced, then withheld again: a second Event.
            cluster.send(.announcements(node: "node1", [a: "bgp 1 peer"]))
            cluster.send(.announcements(node: "node2", [a: "bgp 1 peer"]))
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.annotation("a") == "node1,node2 (bgp 1 peer)" })
            #expect(notAnnounced().count == 1)
            cluster.send(.announcements(node: "node1", [a: withheld]))
            cluster.send(.announcements(node: "node2", [a: withheld]))
            #expect(await poll(timeout: 120) { () async -> Bool in cluster.annotation("a") == "none (no ready endpoints)" && notAnnounced().count == 2 })
        }
    }
}
