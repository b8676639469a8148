import Foundation
#if canImport(Glibc)
import Glibc
#endif
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

/// Connections that never finish a request are closed; beyond the limit new ones are refused.
@Suite struct ObservabilityConnectionLimitTests {
    /// Runs a server with `limits` on a free loopback port and hands its port to `body`.
    func withServer(_ limits: ObservabilityServer.Limits, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
                    _ body: @Sendable (ObservabilityServer, Int) async throws -> Void) async throws {
        let port = Mutex<Int?>(nil)
        let server = ObservabilityServer(
            host: "127.0.0.1", port: 0, registry: registry, logger: Logger(label: "test"), limits: limits,
            readiness: { nil }, onBound: { address in port.withLock { $0 = address.port } }
        )
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            #expect(await poll(timeout: 120) { () async -> Bool in port.withLock { $0 } != nil })
            try await body(server, try #require(port.withLock { $0 }))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func anIdleConnectionIsClosed() async throws {
        try await withServer(.init(idleTimeout: .milliseconds(500), requestTimeout: .seconds(600), maximumConnections: 64)) { _, port in
            let connection = try RawConnection(port: port)
            #expect(try await offCooperativePool { connection.waitForClose(seconds: 60) } == .closed)
        }
    }

    @Test func aHalfSentRequestIsClosedAtTheDeadline() async throws {
        try await withServer(.init(idleTimeout: .seconds(600), requestTimeout: .milliseconds(500), maximumConnections: 64)) { _, port in
            let connection = try RawConnection(port: port)
            connection.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            #expect(try await offCooperativePool { connection.waitForClose(seconds: 60) } == .closed)
        }
    }

    @Test func connectionsBeyondTheLimitAreClosedAndCounted() async throws {
        let registry = PrometheusCollectorRegistry()
        try await withServer(.init(idleTimeout: .seconds(600), requestTimeout: .seconds(600), maximumConnections: 2), registry: registry) { server, port in
            let first = try RawConnection(port: port)
            let second = try RawConnection(port: port)
            #expect(await poll(timeout: 60) { () async -> Bool in server.openConnections == 2 })
            let third = try RawConnection(port: port)
            #expect(try await offCooperativePool { third.waitForClose(seconds: 60) } == .closed)
            #expect(registry.emitToString().contains("ironlb_http_connections_rejected_total 1"))
            // The first two are still open; once one goes, a request is served again.
            first.close()
            #expect(await poll(timeout: 60) { () async -> Bool in server.openConnections == 1 })
            #expect(try HTTPProbe.get(port: port, path: "/healthz").status == 200)
            second.close()
        }
    }
}

struct ConnectFailed: Error { let errno: Int32 }

/// A plain TCP client that can leave a request unfinished.
final class RawConnection: @unchecked Sendable {
    enum Outcome: Equatable { case closed, stillOpen, data }
    private var descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ConnectFailed(errno: errno) }
    }

    func send(_ text: String) {
        _ = text.withCString { Glibc.send(descriptor, $0, strlen($0), 0) }
    }

    /// Blocks up to `seconds` for the server to close the connection (tests call it through
    /// `offCooperativePool`, so the wait does not hold a pool thread).
    func waitForClose(seconds: Int) -> Outcome {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 1024)
        var count: Int
        repeat { count = recv(descriptor, &buffer, buffer.count, 0) } while count < 0 && errno == EINTR
        if count == 0 || (count < 0 && errno == ECONNRESET) { return .closed }
        return count > 0 ? .data : .stillOpen
    }

    func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }

    deinit { close() }
}
