// Observability: what every IronLB process exposes to operators. An HTTP server for
// `/metrics` (Prometheus text format), `/healthz` and `/readyz`, and a swift-log handler that
// writes one JSON object per line.
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

/// Serves `/metrics`, `/healthz` and `/readyz` until graceful shutdown.
///
/// Every connection carries one request (answers close it) and is bounded: it is closed when
/// idle for `limits.idleTimeout`, and when its request has not been answered within
/// `limits.requestTimeout` of the accept (a client sending headers a byte at a time); beyond
/// `limits.maximumConnections` open connections new ones are closed at once.
public final class ObservabilityServer: Service, Sendable {
    /// Why the process is not ready, or nil when it is.
    public typealias Readiness = @Sendable () -> String?

    public struct Limits: Sendable {
        public var idleTimeout: TimeAmount
        public var requestTimeout: TimeAmount
        public var maximumConnections: Int

        public init(idleTimeout: TimeAmount = .seconds(10), requestTimeout: TimeAmount = .seconds(30), maximumConnections: Int = 64) {
            self.idleTimeout = idleTimeout
            self.requestTimeout = requestTimeout
            self.maximumConnections = maximumConnections
        }
    }

    private let host: String
    private let port: Int
    private let registry: PrometheusCollectorRegistry
    private let readiness: Readiness
    private let logger: Logger
    private let bound: @Sendable (SocketAddress) -> Void
    private let limits: Limits
    /// Exposition text appended to the registry's on every scrape (series kept outside the registry).
    private let extraMetrics: (@Sendable () -> String)?
    private let connections = ConnectionCount()
    private let group: any EventLoopGroup
    /// Connections open now.
    var openConnections: Int { connections.current }

    /// `port` 0 picks a free port; `onBound` receives the address once listening. `group`: the
    /// event loops that serve it (NIO's process-wide group unless the process has its own).
    public init(
        host: String, port: Int, registry: PrometheusCollectorRegistry, logger: Logger, limits: Limits = Limits(),
        readiness: @escaping Readiness, onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in },
        extraMetrics: (@Sendable () -> String)? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.group = group
        self.limits = limits
        self.extraMetrics = extraMetrics
        self.host = host
        self.port = port
        self.registry = registry
        self.readiness = readiness
        self.logger = logger
        self.bound = onBound
    }

    public func run() async throws {
        let registry = self.registry
        let readiness = self.readiness
        let limits = self.limits
        let connections = self.connections
        let extraMetrics = self.extraMetrics
        let rejected = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "http", metricName: "connections_rejected", unitName: "total",
            helpText: "Connections to /metrics, /healthz and /readyz closed at once because too many were open."))
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard connections.open(limit: limits.maximumConnections) else {
                    rejected.increment()
                    channel.close(promise: nil)
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                channel.closeFuture.whenComplete { _ in connections.closed() }
                // Whatever state the request is in, the connection ends at the deadline.
                let deadline = channel.eventLoop.scheduleTask(in: limits.requestTimeout) { channel.close(promise: nil) }
                channel.closeFuture.whenComplete { _ in deadline.cancel() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: limits.idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(CloseOnIdleHandler())
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ObservabilityHandler(registry: registry, readiness: readiness, extraMetrics: extraMetrics))
                }
            }
            .bind(host: host, port: port)
            .get()
        if let address = channel.localAddress {
            logger.info("observability endpoints listening", metadata: ["lb.address": "\(address)"])
            bound(address)
        }
        try? await gracefulShutdown()
        try? await channel.close()
    }
}

/// Open connections, against the limit.
final class ConnectionCount: Sendable {
    private let count = Mutex(0)

    /// Counts a new connection; false (and not counted) when `limit` are open already.
    func open(limit: Int) -> Bool {
        count.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func closed() { count.withLock { $0 -= 1 } }

    var current: Int { count.withLock { $0 } }
}

/// Closes the connection on `IdleStateHandler`'s event.
final class CloseOnIdleHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// Answers GET requests for the three endpoints; anything else is 404 or 405.
final class ObservabilityHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let readiness: ObservabilityServer.Readiness
    private let extraMetrics: (@Sendable () -> String)?

    init(registry: PrometheusCollectorRegistry, readiness: @escaping ObservabilityServer.Readiness, extraMetrics: (@Sendable () -> String)? = nil) {
        self.registry = registry
        self.readiness = readiness
        self.extraMetrics = extraMetrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let (status, contentType, body): (HTTPResponseStatus, String, String)
        if head.method != .GET && head.method != .HEAD {
            (status, contentType, body) = (.methodNotAllowed, "text/plain", "method not allowed\n")
        } else {
            switch path {
            case "/metrics":
                (status, contentType, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", registry.emitToString() + (extraMetrics?() ?? ""))
            case "/healthz", "/livez":
                (status, contentType, body) = (.ok, "text/plain", "ok\n")
            case "/readyz":
                if let reason = readiness() {
                    (status, contentType, body) = (.serviceUnavailable, "text/plain", "not ready: \(reason)\n")
                } else {
                    (status, contentType, body) = (.ok, "text/plain", "ok\n")
                }
            default:
                (status, contentType, body) = (.notFound, "text/plain", "not found\n")
            }
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let closeAfterFlush = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in closeAfterFlush.close(promise: nil) }
    }
}
