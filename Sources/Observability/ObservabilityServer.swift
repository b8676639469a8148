// Observability: what every IronLB process exposes to operators. An HTTP server for
// `/metrics` (Prometheus text format), `/healthz` and `/readyz`, and a swift-log handler that
// writes one JSON object per line.
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// Serves `/metrics`, `/healthz` and `/readyz` until graceful shutdown.
public final class ObservabilityServer: Service, Sendable {
    /// Why the process is not ready, or nil when it is.
    public typealias Readiness = @Sendable () -> String?

    private let host: String
    private let port: Int
    private let registry: PrometheusCollectorRegistry
    private let readiness: Readiness
    private let logger: Logger
    private let bound: @Sendable (SocketAddress) -> Void

    /// `port` 0 picks a free port; `onBound` receives the address once listening.
    public init(
        host: String, port: Int, registry: PrometheusCollectorRegistry, logger: Logger,
        readiness: @escaping Readiness, onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
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
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(ObservabilityHandler(registry: registry, readiness: readiness))
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

/// Answers GET requests for the three endpoints; anything else is 404 or 405.
final class ObservabilityHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let readiness: ObservabilityServer.Readiness

    init(registry: PrometheusCollectorRegistry, readiness: @escaping ObservabilityServer.Readiness) {
        self.registry = registry
        self.readiness = readiness
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
                (status, contentType, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", registry.emitToString())
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
