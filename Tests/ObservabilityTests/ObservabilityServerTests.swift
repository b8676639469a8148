import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport
@testable import Observability

@Suite struct ObservabilityServerTests {
    @Test func servesMetricsHealthAndReadiness() async throws {
        let registry = PrometheusCollectorRegistry()
        let gauge = registry.makeGauge(
            descriptor: MetricNameDescriptor(namespace: "ironlb", subsystem: "test", metricName: "gauge", unitName: "", helpText: "A test gauge."),
            labels: [("pool", "a")]
        )
        gauge.set(7.0)
        let ready = Mutex<String?>("caches not synced")
        let port = Mutex<Int?>(nil)
        let server = ObservabilityServer(
            host: "127.0.0.1", port: 0, registry: registry, logger: Logger(label: "test"),
            readiness: { ready.withLock { $0 } }, onBound: { address in port.withLock { $0 = address.port } }
        )
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            #expect(await poll(timeout: 120) { () async -> Bool in port.withLock { $0 } != nil })
            let p = try #require(port.withLock { $0 })
            let metrics = try HTTPProbe.get(port: p, path: "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.body.contains("# HELP ironlb_test_gauge A test gauge."))
            #expect(metrics.body.contains("ironlb_test_gauge{pool=\"a\"} 7"))
            #expect(try HTTPProbe.get(port: p, path: "/healthz").status == 200)
            let notReady = try HTTPProbe.get(port: p, path: "/readyz")
            #expect(notReady.status == 503)
            #expect(notReady.body == "not ready: caches not synced\n")
            ready.withLock { $0 = nil }
            #expect(try HTTPProbe.get(port: p, path: "/readyz").status == 200)
            #expect(try HTTPProbe.get(port: p, path: "/nope").status == 404)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func jsonLogLinesCarryMetadata() throws {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "ironlb.test") { label in
            JSONLogHandler(label: label, level: .debug) { line in lines.withLock { $0.append(line) } }
        }
        logger[metadataKey: "lb.node"] = "node-1"
        logger.info("IP allocated", metadata: ["lb.service": "default/web", "lb.ips": .array(["192.0.2.1"])])
        logger.trace("dropped below level")
        let captured = lines.withLock { $0 }
        #expect(captured.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(captured[0].utf8)) as? [String: Any])
        #expect(object["msg"] as? String == "IP allocated")
        #expect(object["level"] as? String == "info")
        #expect(object["logger"] as? String == "ironlb.test")
        #expect(object["lb.node"] as? String == "node-1")
        #expect(object["lb.service"] as? String == "default/web")
        #expect(object["lb.ips"] as? [String] == ["192.0.2.1"])
        #expect((object["time"] as? String)?.hasSuffix("Z") == true)
    }
}
