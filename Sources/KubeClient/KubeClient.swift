import AsyncHTTPClient
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeModel
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A non-2xx answer from the API server, with its Status body when it sent one.
public struct KubeAPIError: Error, Sendable, CustomStringConvertible {
    public var code: Int
    public var status: V1Status?
    public var retryAfterSeconds: Int?

    public var reason: String { status?.reason ?? "" }
    public var isNotFound: Bool { code == 404 }
    public var isConflict: Bool { code == 409 && reason != "AlreadyExists" }
    public var isAlreadyExists: Bool { code == 409 && reason == "AlreadyExists" }
    /// 410, or reason Expired/Gone (older servers).
    public var isExpired: Bool { code == 410 || reason == "Expired" || reason == "Gone" }
    public var isTooManyRequests: Bool { code == 429 }
    public var description: String { "kube api \(code) \(reason): \(status?.message ?? "")" }
}

/// The patch types the API server accepts (KUBE-API.md §3).
public enum PatchType: String, Sendable {
    case merge = "application/merge-patch+json"
    case json = "application/json-patch+json"
    case strategic = "application/strategic-merge-patch+json"
}

/// The REST client. One instance per process; safe to share.
public final class KubeClient: Sendable {
    public let configuration: ClientConfiguration
    public let credentials: CredentialSource
    let http: HTTPClient
    let baseURL: String
    let random: @Sendable () -> Double
    let logger: Logger
    /// Retries for 429/5xx responses carrying Retry-After (client-go: 10).
    public let maxRetries = 10

    public init(configuration: ClientConfiguration, eventLoopGroup: (any EventLoopGroup)? = nil, logger: Logger = Logger(label: "kubeclient"),
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) throws {
        self.configuration = configuration
        self.credentials = CredentialSource(configuration.credentials)
        self.random = random
        self.logger = logger
        var base = configuration.server
        while base.hasSuffix("/") { base.removeLast() }
        // tls-server-name: requests name that host (SNI and the name verified in the server's
        // certificate) while the connection goes to the server's own address.
        let route = Self.route(server: base, tlsServerName: configuration.insecureSkipTLSVerify ? nil : configuration.tlsServerName)
        self.baseURL = route.baseURL
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = configuration.caPEM {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
        }
        if configuration.insecureSkipTLSVerify {
            tls.certificateVerification = .none
        }
        if let c = configuration.clientCertificatePEM, let k = configuration.clientKeyPEM {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(c).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: k, format: .pem))
        }
        var cfg = HTTPClient.Configuration(tlsConfiguration: tls)
        cfg.timeout = .init(connect: .seconds(10))
        cfg.connectionPool = .init(idleTimeout: .seconds(90), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        cfg.decompression = .disabled
        cfg.dnsOverride = route.dnsOverride
        if let g = eventLoopGroup {
            self.http = HTTPClient(eventLoopGroupProvider: .shared(g), configuration: cfg)
        } else {
            self.http = HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: cfg)
        }
    }

    public func shutdown() async throws { try await http.shutdown() }

    /// The URL requests are made to and the address they connect to: with `tlsServerName`,
    /// the URL names that host (so that it is the name sent and verified) and AsyncHTTPClient's
    /// DNS override sends the connection to the server's own host.
    static func route(server: String, tlsServerName: String?) -> (baseURL: String, dnsOverride: [String: String]) {
        guard let name = tlsServerName, !name.isEmpty, var components = URLComponents(string: server),
              let host = components.host, !host.isEmpty else { return (server, [:]) }
        let address = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        guard address != name else { return (server, [:]) }
        components.host = name
        guard let url = components.string else { return (server, [:]) }
        return (url, [name: address])
    }

    // MARK: transport

    public struct RawResponse: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: ByteBuffer
    }

    func url(_ path: String, _ query: [(String, String)]) -> String {
        var u = baseURL + path
        if !query.isEmpty {
            u += "?" + query.map { "\($0.0)=\(Self.escape($0.1))" }.joined(separator: "&")
        }
        return u
    }

    /// Percent-encodes a query value: everything but letters, digits and `-._~` (as
    /// `addingPercentEncoding(withAllowedCharacters: .alphanumerics + "-._~")`, letters and digits
    /// of any script kept, without Foundation's character sets).
    static func escape(_ s: String) -> String {
        var result = ""
        for scalar in s.unicodeScalars {
            if Self.isAlphanumeric(scalar) || "-._~".unicodeScalars.contains(scalar) {
                result.unicodeScalars.append(scalar)
            } else {
                for byte in String(scalar).utf8 {
                    let hex = Array("0123456789ABCDEF".utf8)
                    result += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
                }
            }
        }
        return result
    }

    /// Foundation's `CharacterSet.alphanumerics`: the general categories L*, M* and N*.
    static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }

    /// The headers of every request: Accept, User-Agent, the credentials, and the body's type.
    func headers(body: Bool, contentType: String?) async throws -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Accept", value: "application/json")
        headers.add(name: "User-Agent", value: "ironlb/0.1 (linux) kubeclient")
        if let auth = try await credentials.authorization() { headers.add(name: "Authorization", value: auth) }
        if body { headers.add(name: "Content-Type", value: contentType ?? "application/json") }
        return headers
    }

    /// One request with its whole answer, through AsyncHTTPClient's delegate API: the body is
    /// collected on the event loop and the task resumed once. (The async API streams the body
    /// through a transaction whose every part is a hop between the event loop and the task; a
    /// speaker sends one Event per Service: docs/design/scale.md, "Fourth pass".) Cancelling the
    /// calling task cancels the request, as with the async API.
    func perform(_ method: HTTPMethod, _ path: String, _ query: [(String, String)], _ body: [UInt8]?, _ contentType: String?, timeout: Duration) async throws -> RawResponse {
        let request = try HTTPClient.Request(url: url(path, query), method: method, headers: try await headers(body: body != nil, contentType: contentType),
                                             body: body.map { .bytes($0) })
        let response = try await execute(request, delegate: ResponseAccumulator(request: request, maxBodySize: 256 << 20), timeout: timeout)
        return RawResponse(status: Int(response.status.code), headers: response.headers, body: response.body ?? ByteBuffer())
    }

    /// Runs `request` with `delegate` until its answer is complete or `timeout` passes; cancelling
    /// the calling task cancels the request. `loop`: the event loop the delegate and the
    /// connection share. Without it the client picks both (`.indifferent`), and the delegate may
    /// run on another loop than the connection's, a hop between them for each part of the
    /// request and of the answer; with it AsyncHTTPClient closes the connection once no request
    /// waits for that loop (it parks only connections made for `.indifferent` requests), so it
    /// suits long requests (watches), not the unary ones (docs/design/scale.md, "Fifth pass").
    func execute<Delegate: HTTPClientResponseDelegate>(_ request: HTTPClient.Request, delegate: Delegate, timeout: Duration,
                                                       on loop: (any EventLoop)? = nil) async throws -> Delegate.Response {
        let nanoseconds = Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let preference: HTTPClient.EventLoopPreference = loop.map { .delegateAndChannel(on: $0) } ?? .indifferent
        let task = http.execute(request: request, delegate: delegate, eventLoop: preference, deadline: .now() + .nanoseconds(nanoseconds))
        return try await withTaskCancellationHandler {
            try await task.futureResult.get()
        } onCancel: {
            task.cancel()
        }
    }

    /// Sends one request, collecting the body. Retries after a 401 (fresh credentials, once)
    /// and after 429/5xx responses with Retry-After (up to `maxRetries`).
    public func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil, contentType: String? = nil,
                     timeout: Duration? = nil) async throws -> RawResponse {
        var retried401 = false
        var attempts = 0
        while true {
            let resp = try await perform(method, path, query, body, contentType, timeout: timeout ?? configuration.requestTimeout)
            let buf = resp.body
            let code = resp.status
            if code == 401 && !retried401 {
                retried401 = true
                await credentials.invalidate()
                continue
            }
            if (code == 429 || code >= 500), attempts < maxRetries, let ra = resp.headers.first(name: "Retry-After").flatMap({ Int($0) }) {
                attempts += 1
                logger.debug("retrying after Retry-After", metadata: ["kube.status": "\(code)", "kube.retry_after": "\(ra)"])
                try await Task.sleep(for: .seconds(max(0, min(ra, 60))))
                continue
            }
            if let w = resp.headers.first(name: "Warning") { logger.warning("api warning", metadata: ["kube.warning": "\(w)"]) }
            return RawResponse(status: code, headers: resp.headers, body: buf)
        }
    }

    public static func apiError(_ r: RawResponse) -> KubeAPIError {
        let status = try? JSONDecoder().decode(V1Status.self, from: Data(r.body.readableBytesView))
        return KubeAPIError(code: r.status, status: status?.kind == "Status" ? status : nil,
                            retryAfterSeconds: r.headers.first(name: "Retry-After").flatMap { Int($0) })
    }

    func decode<T: Decodable>(_ type: T.Type, _ r: RawResponse) throws -> T {
        guard (200..<300).contains(r.status) else { throw Self.apiError(r) }
        return try JSONDecoder().decode(T.self, from: Data(r.body.readableBytesView))
    }

    static func encode<T: Encodable>(_ v: T) throws -> [UInt8] { Array(try JSONEncoder().encode(v)) }

    static func encodeJSONValue<T: Encodable>(_ v: T) throws -> JSONValue { try JSONValue.parse(try encode(v)) }

    func ns<T: KubeResource>(_ type: T.Type, _ namespace: String?) -> String? {
        T.resource.namespaced ? (namespace ?? configuration.namespace) : nil
    }

    // MARK: typed operations

    public func get<T: KubeResource>(_ type: T.Type, namespace: String? = nil, name: String) async throws -> T {
        try decode(T.self, try await send(.GET, T.resource.path(namespace: ns(T.self, namespace), name: name)))
    }

    /// GET keeping the raw JSON, for read-modify-write that preserves unknown fields.
    public func getPreserved<T: KubeResource>(_ type: T.Type, namespace: String? = nil, name: String) async throws -> PreservedObject<T> {
        let r = try await send(.GET, T.resource.path(namespace: ns(T.self, namespace), name: name))
        guard r.status == 200 else { throw Self.apiError(r) }
        let raw = try JSONValue.parse(buffer: r.body)
        let value = try JSONDecoder().decode(T.self, from: Data(r.body.readableBytesView))
        return PreservedObject(value: value, raw: raw, baseline: try Self.encodeJSONValue(value))
    }

    /// One LIST call. `namespace` nil for namespaced kinds means all namespaces.
    public func list<T: KubeResource>(_ type: T.Type, namespace: String?, labelSelector: String? = nil, fieldSelector: String? = nil,
                                      resourceVersion: String? = nil, limit: Int? = nil, continue token: String? = nil) async throws -> KubeList<T> {
        var q: [(String, String)] = []
        if let v = labelSelector, !v.isEmpty { q.append(("labelSelector", v)) }
        if let v = fieldSelector, !v.isEmpty { q.append(("fieldSelector", v)) }
        if let v = resourceVersion { q.append(("resourceVersion", v)) }
        if let v = limit { q.append(("limit", String(v))) }
        if let v = token, !v.isEmpty { q.append(("continue", v)) }
        return try decode(KubeList<T>.self, try await send(.GET, T.resource.path(namespace: T.resource.namespaced ? namespace : nil), query: q, timeout: .seconds(120)))
    }

    /// LIST with paging (`limit` per page), following `continue` tokens.
    public func listAll<T: KubeResource>(_ type: T.Type, namespace: String?, labelSelector: String? = nil, fieldSelector: String? = nil, pageSize: Int = 500) async throws -> KubeList<T> {
        var all = try await list(T.self, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector, limit: pageSize)
        var token = all.metadata.continue
        while let t = token, !t.isEmpty {
            let page = try await list(T.self, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector, limit: pageSize, continue: t)
            all.items += page.items
            token = page.metadata.continue
            all.metadata.resourceVersion = page.metadata.resourceVersion ?? all.metadata.resourceVersion
        }
        all.metadata.continue = nil
        return all
    }

    public func create<T: KubeResource>(_ obj: T, namespace: String? = nil) async throws -> T {
        let n = ns(T.self, namespace ?? obj.metadata.namespace)
        return try decode(T.self, try await send(.POST, T.resource.path(namespace: n), body: try Self.encode(obj)))
    }

    /// PUT of a typed object (carries its metadata.resourceVersion; 409 when stale).
    public func update<T: KubeResource>(_ obj: T, subresource: String? = nil) async throws -> T {
        let n = ns(T.self, obj.metadata.namespace)
        return try decode(T.self, try await send(.PUT, T.resource.path(namespace: n, name: obj.metadata.name ?? "", subresource: subresource), body: try Self.encode(obj)))
    }

    /// PUT that keeps fields the Swift model does not know.
    public func update<T: KubeResource>(_ obj: PreservedObject<T>, subresource: String? = nil) async throws -> PreservedObject<T> {
        let body = obj.merged(current: try Self.encodeJSONValue(obj.value))
        let n = ns(T.self, obj.value.metadata.namespace)
        let r = try await send(.PUT, T.resource.path(namespace: n, name: obj.value.metadata.name ?? "", subresource: subresource), body: body.serializedBytes())
        guard (200..<300).contains(r.status) else { throw Self.apiError(r) }
        let value = try JSONDecoder().decode(T.self, from: Data(r.body.readableBytesView))
        return PreservedObject(value: value, raw: try JSONValue.parse(buffer: r.body), baseline: try Self.encodeJSONValue(value))
    }

    public func patch<T: KubeResource>(_ type: T.Type, namespace: String? = nil, name: String, patch: JSONValue, type patchType: PatchType = .merge,
                                       subresource: String? = nil, fieldManager: String? = nil) async throws -> T {
        var q: [(String, String)] = []
        if let fm = fieldManager { q.append(("fieldManager", fm)) }
        return try decode(T.self, try await send(.PATCH, T.resource.path(namespace: ns(T.self, namespace), name: name, subresource: subresource), query: q,
                                                 body: patch.serializedBytes(), contentType: patchType.rawValue))
    }

    /// Merge-patches `services/{name}/status` with the given status (KUBE-API.md §3, §7).
    public func patchServiceStatus(namespace: String, name: String, status: ServiceStatus, resourceVersion: String? = nil) async throws -> V1Service {
        var p: JSONValue = ["status": try Self.encodeJSONValue(status)]
        // Lists are replaced whole by a merge patch; an explicit null clears a removed ingress.
        if status.loadBalancer?.ingress == nil { p.set(["status", "loadBalancer", "ingress"], .null) }
        if let rv = resourceVersion { p.set(["metadata", "resourceVersion"], .string(rv)) }
        return try await patch(V1Service.self, namespace: namespace, name: name, patch: p, type: .merge, subresource: "status")
    }

    /// JSON patch guarded by a `test` of metadata.resourceVersion (precondition).
    public func jsonPatch<T: KubeResource>(_ type: T.Type, namespace: String? = nil, name: String, expectedResourceVersion: String, operations: [JSONValue],
                                           subresource: String? = nil) async throws -> T {
        let ops: [JSONValue] = [["op": "test", "path": "/metadata/resourceVersion", "value": .string(expectedResourceVersion)]] + operations
        return try await patch(T.self, namespace: namespace, name: name, patch: .array(ops), type: .json, subresource: subresource)
    }

    public func delete<T: KubeResource>(_ type: T.Type, namespace: String? = nil, name: String, preconditionResourceVersion: String? = nil) async throws {
        var body: [UInt8]?
        if let rv = preconditionResourceVersion {
            body = JSONValue.object(["kind": "DeleteOptions", "apiVersion": "v1", "preconditions": ["resourceVersion": .string(rv)]]).serializedBytes()
        }
        let r = try await send(.DELETE, T.resource.path(namespace: ns(T.self, namespace), name: name), body: body)
        guard (200..<300).contains(r.status) else { throw Self.apiError(r) }
    }

    /// Reads a value, applies `mutate`, and PUTs it; re-reads and retries on 409 Conflict.
    @discardableResult
    public func retryOnConflict<T: KubeResource>(_ type: T.Type, namespace: String? = nil, name: String, attempts: Int = 5,
                                                 _ mutate: (inout T) throws -> Void) async throws -> T {
        var last: (any Error)?
        for _ in 0..<attempts {
            var obj = try await getPreserved(T.self, namespace: namespace, name: name)
            try mutate(&obj.value)
            do {
                return try await update(obj).value
            } catch let e as KubeAPIError where e.isConflict {
                last = e
                continue
            }
        }
        throw last!
    }

    // MARK: watch

    /// Opens a watch and hands each event to `onEvent` until the server ends the stream. The
    /// answer is read on one event loop, which frames, decodes and hands over each event as its
    /// bytes arrive: no hop to a task per event (a speaker takes in 10,000 Services as 30,000
    /// events: docs/design/scale.md, "Fifth pass"). So `onEvent` runs on that loop: it must be
    /// short and must not block; what it throws ends the watch with that error.
    /// Throws `KubeAPIError` for a non-200 answer (e.g. 410 when the version is too old).
    public func watch<T: KubeResource>(_ type: T.Type, namespace: String?, resourceVersion: String?, labelSelector: String? = nil, fieldSelector: String? = nil,
                                       timeoutSeconds: Int? = nil, allowBookmarks: Bool = true,
                                       onEvent: @escaping @Sendable (WatchEvent<T>) throws -> Void) async throws {
        var q: [(String, String)] = [("watch", "1")]
        if let rv = resourceVersion { q.append(("resourceVersion", rv)) }
        if let v = labelSelector, !v.isEmpty { q.append(("labelSelector", v)) }
        if let v = fieldSelector, !v.isEmpty { q.append(("fieldSelector", v)) }
        if let t = timeoutSeconds { q.append(("timeoutSeconds", String(t))) }
        if allowBookmarks { q.append(("allowWatchBookmarks", "true")) }
        var retried401 = false
        while true {
            let request = try HTTPClient.Request(url: url(T.resource.path(namespace: T.resource.namespaced ? namespace : nil), q), method: .GET,
                                                 headers: try await headers(body: false, contentType: nil))
            let answer = try await execute(request, delegate: WatchDelegate<T>(onEvent: onEvent), timeout: .seconds(Int64(timeoutSeconds ?? 1800) + 60),
                                           on: http.eventLoopGroup.any())
            if answer.status == 401 && !retried401 {
                retried401 = true
                await credentials.invalidate()
                continue
            }
            guard answer.status == 200 else { throw Self.apiError(answer) }
            return
        }
    }
}

/// A watch's answer, read on the event loop of its connection: each event is framed, decoded
/// (by the type's scanner when it has one: docs/design/scale.md, "Fourth pass"; else by the
/// generic decoder) and handed to `onEvent` as its bytes arrive. A non-200 answer's body is kept
/// (up to 16 MiB) for the error it becomes.
///
/// `@unchecked Sendable`: AsyncHTTPClient calls a delegate on the request's event loop only, one
/// call at a time (`execute(_:delegate:timeout:on:)` puts the connection on the same loop), and
/// nothing else reads or writes its state.
final class WatchDelegate<T: KubeResource>: HTTPClientResponseDelegate, @unchecked Sendable {
    typealias Response = KubeClient.RawResponse

    static var errorBodyLimit: Int { 16 << 20 }

    private var answer = KubeClient.RawResponse(status: 0, headers: [:], body: ByteBuffer())
    private var framer = JSONStreamFramer()
    private let decoder = JSONDecoder()
    private let onEvent: @Sendable (WatchEvent<T>) throws -> Void

    init(onEvent: @escaping @Sendable (WatchEvent<T>) throws -> Void) {
        self.onEvent = onEvent
    }

    func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        answer.status = Int(head.status.code)
        answer.headers = head.headers
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ part: ByteBuffer) -> EventLoopFuture<Void> {
        guard answer.status == 200 else {
            if answer.body.readableBytes + part.readableBytes <= Self.errorBodyLimit {
                var part = part
                answer.body.writeBuffer(&part)
            }
            return task.eventLoop.makeSucceededVoidFuture()
        }
        do {
            framer.append(part)
            while let object = try framer.next() {
                try onEvent(try Self.event(object, decoder: decoder))
            }
            return task.eventLoop.makeSucceededVoidFuture()
        } catch {
            return task.eventLoop.makeFailedFuture(error)
        }
    }

    func didFinishRequest(task: HTTPClient.Task<Response>) throws -> Response { answer }

    /// One framed watch event.
    static func event(_ object: ByteBuffer, decoder: JSONDecoder) throws -> WatchEvent<T> {
        if let scanning = T.scanning, let scanned = try WatchEvent<T>.scan(object, object: scanning) { return scanned }
        return try decoder.decode(WatchEvent<T>.self, from: Data(object.readableBytesView))
    }
}

