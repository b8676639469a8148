import Foundation
import KubeModel
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// The embedded Kubernetes API server. Start it, point clients at `kubeconfigPath` (or `url`,
/// `caCertificatePEM`, `token`), inject faults with the methods in "Fault injection".
public final class KubeSimServer: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        /// 0 picks a free port.
        public var port = 0
        public var tls = true
        /// Bearer tokens accepted (user "kubesim-admin").
        public var tokens: Set<String> = ["kubesim-token"]
        /// Most changes kept for watches (kube-apiserver's watch cache capacity); above 100, changes
        /// older than 75 s are dropped too. A watch from an older resourceVersion gets 410 Expired
        /// and the client relists. Bounds the memory an idle server's lease renewals would
        /// otherwise grow without end.
        public var historyCapacity = 1024
        /// Periodic BOOKMARK interval for watches that allow bookmarks (real server: ~1 min).
        public var bookmarkInterval: Duration? = .seconds(60)
        /// Watch length when the client sends no timeoutSeconds (real server: 30–60 min).
        public var defaultWatchTimeout: Duration = .seconds(1800)
        /// Directory for kubeconfig, CA and token files; a temporary one when nil.
        public var directory: String?
        public var dualStack = true
        /// Offer HTTP/2 via ALPN (client-go's default with TLS). Off: HTTP/1.1 only.
        public var http2 = false
        /// How long a deleted namespace stays Terminating before the simulated namespace
        /// controller removes its content and then the namespace (real clusters: seconds).
        /// Clients deleting a namespace and its content in one go (`kubectl delete -f`) rely on it.
        public var namespaceFinalizationDelay: Duration = .seconds(3)
        /// Deployments, Pods and EndpointSlices as kube-controller-manager and the kubelets
        /// keep them (`SimWorkloads.swift`); nil: nothing writes them but clients.
        public var workloads: SimWorkloadOptions?
        /// The serving certificate also names `host` when it is an address, as kube-apiserver's
        /// names its advertise address (in-cluster clients connect to it). NIOSSL accepts a
        /// certificate whose IP SAN is the connected address whatever name it was asked to verify,
        /// so a test of name verification turns this off.
        public var certificateNamesHost = true
        public init() {}
    }

    public let configuration: Configuration
    public let certificates: SimCertificates
    let store: SimStore
    let api: SimAPI
    let faults = FaultState()
    private var workloadControllers: SimWorkloadControllers?
    private let group: MultiThreadedEventLoopGroup
    private let ownsGroup: Bool
    private var channel: Channel?
    private let tokensBox: NIOLockedValueBox<Set<String>>
    let connections = NIOLockedValueBox<[ObjectIdentifier: Channel]>([:])
    public private(set) var port: Int = 0
    public private(set) var directory: String = ""
    let logger: Logger

    public init(configuration: Configuration = Configuration(), eventLoopGroup: MultiThreadedEventLoopGroup? = nil, logger: Logger = Logger(label: "kubesim")) throws {
        self.configuration = configuration
        // The serving certificate also names the address it listens on, as kube-apiserver's
        // names its advertise address: in-cluster clients (KUBERNETES_SERVICE_HOST) verify it.
        let hostAddress = configuration.certificateNamesHost ? SimCertificates.addressBytes(configuration.host) : nil
        self.certificates = try SimCertificates(ipAddresses: SimCertificates.defaultIPAddresses + (hostAddress.map { [$0] } ?? []))
        self.store = SimStore(historyCapacity: configuration.historyCapacity)
        self.store.dualStack = configuration.dualStack
        self.api = SimAPI(store: store)
        self.api.defaultWatchTimeout = configuration.defaultWatchTimeout
        self.tokensBox = NIOLockedValueBox(configuration.tokens)
        if let g = eventLoopGroup {
            self.group = g
            self.ownsGroup = false
        } else {
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            self.ownsGroup = true
        }
        self.logger = logger
        self.api.onNamespaceTerminating = { [weak self] name in self?.scheduleNamespaceFinalization(name) }
        seed()
    }

    /// The namespace controller: removes a Terminating namespace's content, then the namespace,
    /// after `namespaceFinalizationDelay`; retries while content with finalizers remains.
    private func scheduleNamespaceFinalization(_ name: String) {
        let c = configuration.namespaceFinalizationDelay.components
        let delay = TimeAmount.nanoseconds(c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000)
        group.next().scheduleTask(in: delay) { [weak self] in
            guard let self else { return }
            if !self.api.finalizeNamespace(name) { self.scheduleNamespaceFinalization(name) }
        }
    }

    /// Runs the namespace controller now for every Terminating namespace (tests).
    public func finalizeTerminatingNamespaces() {
        let names: [String] = store.lock.withLock {
            store.list(WatchFilter(resource: .namespaces, namespace: nil, bookmarks: false))
                .filter { $0.value(atPath: "metadata.deletionTimestamp") != nil }
                .compactMap { $0.value(atPath: "metadata.name")?.stringValue }
        }
        for n in names { api.finalizeNamespace(n) }
    }

    public var scheme: String { configuration.tls ? "https" : "http" }
    public var url: String {
        let h = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return "\(scheme)://\(h):\(port)"
    }
    public var caCertificatePEM: String { certificates.caCertificatePEM }
    public var kubeconfigPath: String { directory + "/kubeconfig" }
    public var caPath: String { directory + "/ca.crt" }
    public var tokenPath: String { directory + "/token" }
    /// The first configured token.
    public var token: String { tokensBox.withLockedValue { $0.sorted().first ?? "" } }

    private func seed() {
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            _ = request("POST", "/api/v1/namespaces", body: ["metadata": ["name": .string(ns)]])
        }
        _ = request("POST", "/api/v1/namespaces/default/services", body: [
            "metadata": ["name": "kubernetes", "labels": ["component": "apiserver", "provider": "kubernetes"]],
            "spec": ["clusterIP": "10.96.0.1", "ports": [["name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443]]],
        ])
    }

    public func start() async throws {
        let sslContext: NIOSSLContext?
        if configuration.tls {
            var tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(certificates.serverCertificatePEM.utf8), format: .pem))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificates.serverKeyPEM.utf8), format: .pem)))
            tls.certificateVerification = .optionalVerification
            tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(certificates.caCertificatePEM.utf8), format: .pem)])
            tls.applicationProtocols = configuration.http2 ? ["h2", "http/1.1"] : ["http/1.1"]
            sslContext = try NIOSSLContext(configuration: tls)
        } else {
            sslContext = nil
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                if configuration.http2, let ctx = sslContext {
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ConnectionTracker(server: self))
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: ctx))
                    }.flatMap {
                        channel.configureCommonHTTPServerPipeline { stream in
                            stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(SimHTTPHandler(server: self)) }
                        }
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    try ops.addHandler(ConnectionTracker(server: self))
                    if let ctx = sslContext { try ops.addHandler(NIOSSLServerHandler(context: ctx)) }
                    try ops.configureHTTPServerPipeline(withErrorHandling: true)
                    try ops.addHandler(SimHTTPHandler(server: self))
                }
            }
        let ch = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        channel = ch
        port = ch.localAddress?.port ?? configuration.port
        api.serverAddress = "\(configuration.host):\(port)"
        try writeFiles()
        if let options = configuration.workloads {
            api.gracefulPods = true
            let controllers = SimWorkloadControllers(server: self, options: options)
            controllers.start(on: group.next())
            workloadControllers = controllers
        }
        logger.info("kubesim listening", metadata: ["url": "\(url)", "kubeconfig": "\(kubeconfigPath)"])
    }

    public func stop() async throws {
        workloadControllers?.stop()
        store.lock.withLock { store.closeAllWatchers() }
        try? await channel?.close()
        let open = connections.withLockedValue { Array($0.values) }
        for c in open { try? await c.close() }
        if ownsGroup { try await group.shutdownGracefully() }
    }

    private func writeFiles() throws {
        if let d = configuration.directory {
            directory = d
        } else {
            directory = NSTemporaryDirectory() + "kubesim-" + UUID().uuidString.prefix(8).lowercased()
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try certificates.caCertificatePEM.write(toFile: caPath, atomically: true, encoding: .utf8)
        try token.write(toFile: tokenPath, atomically: true, encoding: .utf8)
        try kubeconfig(user: .token(token)).write(toFile: kubeconfigPath, atomically: true, encoding: .utf8)
    }

    /// How a generated kubeconfig authenticates.
    public enum KubeconfigUser: Sendable {
        case token(String)
        case tokenFile(String)
        case clientCertificate(certificatePEM: String, keyPEM: String)
        case exec(command: String, args: [String], env: [String: String])
    }

    /// A kubeconfig (YAML) for this server with the CA inlined.
    public func kubeconfig(user: KubeconfigUser, namespace: String = "default") -> String {
        var userYAML: String
        switch user {
        case .token(let t): userYAML = "    token: \(t)\n"
        case .tokenFile(let p): userYAML = "    tokenFile: \(p)\n"
        case .clientCertificate(let c, let k):
            userYAML = "    client-certificate-data: \(Base64.encode(Array(c.utf8)))\n    client-key-data: \(Base64.encode(Array(k.utf8)))\n"
        case .exec(let cmd, let args, let env):
            userYAML = "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: \(cmd)\n      interactiveMode: Never\n"
            if !args.isEmpty { userYAML += "      args:\n" + args.map { "      - \"\($0)\"\n" }.joined() }
            if !env.isEmpty { userYAML += "      env:\n" + env.sorted { $0.key < $1.key }.map { "      - name: \($0.key)\n        value: \"\($0.value)\"\n" }.joined() }
        }
        return """
            apiVersion: v1
            kind: Config
            clusters:
            - name: kubesim
              cluster:
                server: \(url)
                certificate-authority-data: \(Base64.encode(Array(certificates.caCertificatePEM.utf8)))
            users:
            - name: kubesim-user
              user:
            \(userYAML)contexts:
            - name: kubesim
              context:
                cluster: kubesim
                user: kubesim-user
                namespace: \(namespace)
            current-context: kubesim

            """
    }

    // MARK: authentication

    public func setTokens(_ tokens: Set<String>) { tokensBox.withLockedValue { $0 = tokens } }
    func isValidToken(_ t: String) -> Bool { tokensBox.withLockedValue { $0.contains(t) } }

    // MARK: in-process access

    /// Performs an API request without HTTP (tests, lab seeding). Returns status and JSON body.
    @discardableResult
    public func request(_ method: String, _ uri: String, body: JSONValue? = nil, contentType: String = "application/json") -> (status: Int, body: JSONValue) {
        let req = SimRequest(method: method, uri: uri, headers: ["content-type": contentType], body: body?.serializedBytes() ?? [], user: "kubesim-admin")
        switch api.handle(req) {
        case .json(let code, let v, _): return (code, v)
        case .text(let code, let s): return (code, .string(s))
        case .watch, .watchExpired: return (400, "watch is not available in-process")
        }
    }

    /// The current global resourceVersion.
    public var currentResourceVersion: String { store.lock.withLock { String(store.rv) } }

    /// Number of open watch streams.
    public var activeWatchCount: Int { store.lock.withLock { store.watcherCount } }
}

/// Fault injection settings, read by every request.
final class FaultState: @unchecked Sendable {
    struct ErrorRule {
        var status: Int
        var remaining: Int
        var method: String?
        var pathContains: String?
        var watch: Bool?
        var retryAfterSeconds: Int?
    }

    let lock = NIOLock()
    var rules: [ErrorRule] = []
    var latency: Duration = .zero
    var watchWriteSizes: [Int] = []
    var unreachableUntil: NIODeadline?
    var requestCount = 0
    var http2RequestCount = 0
    var requestLog: [String] = []
    var logRequests = false

    func takeError(method: String, path: String, isWatch: Bool) -> ErrorRule? {
        lock.withLock {
            for i in rules.indices {
                let r = rules[i]
                if let m = r.method, m != method { continue }
                if let p = r.pathContains, !path.contains(p) { continue }
                if let w = r.watch, w != isWatch { continue }
                rules[i].remaining -= 1
                if rules[i].remaining <= 0 { rules.remove(at: i) }
                return r
            }
            return nil
        }
    }

    var isUnreachable: Bool {
        lock.withLock {
            guard let u = unreachableUntil else { return false }
            if NIODeadline.now() >= u { unreachableUntil = nil; return false }
            return true
        }
    }
}

// MARK: - Fault injection

extension KubeSimServer {
    /// The next `count` matching requests fail with `status` (410 Expired, 409 Conflict, 429 with
    /// Retry-After, 500, 503, 504 …) and a Status body with the matching reason.
    public func injectError(status: Int, count: Int = 1, method: String? = nil, pathContains: String? = nil, watch: Bool? = nil, retryAfterSeconds: Int? = nil) {
        faults.lock.withLock {
            faults.rules.append(.init(status: status, remaining: count, method: method, pathContains: pathContains, watch: watch, retryAfterSeconds: retryAfterSeconds))
        }
    }

    /// Delay every response by `latency`.
    public func setLatency(_ latency: Duration) { faults.lock.withLock { faults.latency = latency } }

    /// Write watch streams in pieces of these sizes (cycled), each flushed separately, so events
    /// are split at arbitrary byte positions. Empty = one write per event batch.
    public func splitWatchWrites(_ sizes: [Int]) { faults.lock.withLock { faults.watchWriteSizes = sizes.filter { $0 > 0 } } }

    /// End every open watch normally (as a server timeout does).
    public func closeWatches() { store.lock.withLock { store.closeAllWatchers() } }

    /// Send every open watch an in-stream `ERROR` 410 Expired and end it.
    public func expireWatches() { store.lock.withLock { store.expireAllWatchers() } }

    /// Keep only the newest `keep` history events: watches from older resourceVersions get 410.
    public func compactHistory(keep: Int = 0) { store.lock.withLock { store.compactHistory(keep: keep) } }

    /// Send a BOOKMARK now to every watch that allows bookmarks.
    public func sendBookmarks() { store.lock.withLock { store.sendBookmarks() } }

    /// Drop every connection and refuse (accept-and-close) new ones for `duration`.
    public func makeUnreachable(for duration: Duration) {
        let c = duration.components
        faults.lock.withLock { faults.unreachableUntil = .now() + .nanoseconds(c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000) }
        store.lock.withLock { store.closeAllWatchers() }
        let open = connections.withLockedValue { Array($0.values) }
        for ch in open { ch.close(promise: nil) }
    }

    /// Clear all injected faults.
    public func clearFaults() {
        faults.lock.withLock {
            faults.rules = []
            faults.latency = .zero
            faults.watchWriteSizes = []
            faults.unreachableUntil = nil
        }
    }

    /// Start or stop recording "METHOD URI" of every request (see `requests`).
    public func recordRequests(_ on: Bool) { faults.lock.withLock { faults.logRequests = on; if !on { faults.requestLog = [] } } }
    public var requests: [String] { faults.lock.withLock { faults.requestLog } }
    /// Requests served over HTTP/2 so far.
    public var http2RequestCount: Int { faults.lock.withLock { faults.http2RequestCount } }

    static func injectedStatus(_ code: Int, retryAfter: Int?) -> V1Status {
        switch code {
        case 401: return SimErrors.unauthorized()
        case 404: return SimErrors.pathNotFound()
        case 409: return V1Status(message: "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again", reason: "Conflict", code: 409)
        case 410: return SimErrors.expired("too old resource version: 1 (2)")
        case 429: return SimErrors.tooManyRequests(retryAfter: Int32(retryAfter ?? 1))
        case 503: return V1Status(message: "the server is currently unable to handle the request", reason: "ServiceUnavailable", code: 503,
                                  details: retryAfter.map { StatusDetails(retryAfterSeconds: Int32($0)) })
        case 504: return V1Status(message: "the server was unable to return a response in the time allotted, but may still be processing the request", reason: "Timeout", code: 504)
        default:
            var s = SimErrors.internalError("injected fault")
            s.code = Int32(code)
            if let ra = retryAfter { s.details?.retryAfterSeconds = Int32(ra) }
            return s
        }
    }
}

/// Tracks open connections and enforces unreachability.
final class ConnectionTracker: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny
    let server: KubeSimServer
    init(server: KubeSimServer) { self.server = server }

    func channelActive(context: ChannelHandlerContext) {
        if server.faults.isUnreachable {
            context.close(promise: nil)
            return
        }
        let ch = context.channel
        server.connections.withLockedValue { $0[ObjectIdentifier(ch)] = ch }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let ch = context.channel
        server.connections.withLockedValue { _ = $0.removeValue(forKey: ObjectIdentifier(ch)) }
        context.fireChannelInactive()
    }
}
