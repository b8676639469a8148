import KubeModel
import NIOCore
import NIOHTTP1
import NIOSSL

/// One HTTP/1.1 connection: aggregates each request, authenticates it, applies faults, and
/// writes a JSON response or a chunked watch stream.
final class SimHTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: KubeSimServer
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var context: ChannelHandlerContext?
    private var watcherID: Int?
    private var watchTimers: [Scheduled<Void>] = []
    private var watchKeepAlive = true
    private var splitIndex = 0
    private var busy = false
    private var streaming = false
    private var tableMode: (resource: ResourceDescriptor, includeObject: String)?
    private var queued: [(HTTPRequestHead, ByteBuffer)] = []

    init(server: KubeSimServer) { self.server = server }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        stopWatch()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopWatch()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.clear()
        case .body(var b):
            body.writeBuffer(&b)
        case .end:
            guard let h = head else { return }
            head = nil
            let b = body
            body = ByteBuffer()
            if busy {
                queued.append((h, b))
            } else {
                process(h, b)
            }
        }
    }

    private func process(_ h: HTTPRequestHead, _ b: ByteBuffer) {
        guard let context else { return }
        busy = true
        var headers: [String: String] = [:]
        for (k, v) in h.headers { headers[k.lowercased()] = v }
        let user = authenticate(headers, context)
        let isWatch = h.uri.contains("watch=1") || h.uri.contains("watch=true") || h.uri.contains("/watch/")
        server.faults.lock.withLock {
            server.faults.requestCount += 1
            if h.version.major == 2 { server.faults.http2RequestCount += 1 }
            if server.faults.logRequests { server.faults.requestLog.append("\(h.method.rawValue) \(h.uri)") }
        }
        let keepAlive = h.version.major >= 2 || h.isKeepAlive
        let respond: () -> Void = { [self] in
            guard self.context != nil else { return }
            guard let user else {
                writeJSON(401, SimErrors.json(SimErrors.unauthorized()), [], keepAlive: keepAlive)
                return
            }
            let path = String(h.uri.split(separator: "?", maxSplits: 1).first ?? "")
            if let rule = server.faults.takeError(method: h.method.rawValue, path: h.uri, isWatch: isWatch) {
                let s = KubeSimServer.injectedStatus(rule.status, retryAfter: rule.retryAfterSeconds)
                var extra: [(String, String)] = []
                if let ra = rule.retryAfterSeconds ?? (rule.status == 429 ? 1 : nil) { extra.append(("Retry-After", String(ra))) }
                writeJSON(rule.status, SimErrors.json(s), extra, keepAlive: keepAlive)
                return
            }
            if path.hasPrefix("/kubesim/faults/") {
                let (code, v) = server.handleFault(method: h.method.rawValue, path: path, body: Array(b.readableBytesView))
                writeJSON(code, v, [], keepAlive: keepAlive)
                return
            }
            let req = SimRequest(method: h.method.rawValue, uri: h.uri, headers: headers, body: Array(b.readableBytesView), user: user)
            switch server.api.handle(req) {
            case .json(let code, let v, let extra):
                writeJSON(code, v, extra, keepAlive: keepAlive)
            case .text(let code, let s):
                writeRaw(code, Array(s.utf8), contentType: "text/plain; charset=utf-8", [], keepAlive: keepAlive)
            case .watchExpired(let s):
                startStream(keepAlive: keepAlive)
                writeWatch(.events([SimStore.event("ERROR", SimErrors.json(s))]))
                writeWatch(.end)
            case .watch(let setup):
                startWatch(setup, keepAlive: keepAlive)
            }
        }
        let latency = server.faults.lock.withLock { server.faults.latency }
        if latency > .zero {
            let c = latency.components
            context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000)) { respond() }
        } else {
            respond()
        }
    }

    private func authenticate(_ headers: [String: String], _ context: ChannelHandlerContext) -> String? {
        if let auth = headers["authorization"], auth.hasPrefix("Bearer ") {
            let t = String(auth.dropFirst(7)).trimmingSpaces()
            return server.isValidToken(t) ? "kubesim-admin" : nil
        }
        // HTTP/1: TLS is in this pipeline; HTTP/2 streams: in the parent connection's.
        let ssl = (try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self))
            ?? (try? context.channel.parent?.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self))
        if let ssl,
           let cert = ssl.peerCertificate, let der = try? cert.toDERBytes() {
            return SimCertificates.commonName(derBytes: der)
        }
        if !server.configuration.tls { return "anonymous" }
        return nil
    }

    private func finishRequest() {
        busy = false
        if !queued.isEmpty {
            let (h, b) = queued.removeFirst()
            process(h, b)
        }
    }

    private func writeJSON(_ code: Int, _ v: JSONValue, _ extra: [(String, String)], keepAlive: Bool) {
        var bytes = v.serializedBytes()
        bytes.append(10)
        // A Content-Type among the extra headers (aggregated discovery) replaces the default.
        let contentType = extra.first { $0.0.lowercased() == "content-type" }?.1 ?? "application/json"
        writeRaw(code, bytes, contentType: contentType, extra.filter { $0.0.lowercased() != "content-type" }, keepAlive: keepAlive)
    }

    private func writeRaw(_ code: Int, _ bytes: [UInt8], contentType: String, _ extra: [(String, String)], keepAlive: Bool) {
        guard let context else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(bytes.count))
        headers.add(name: "Cache-Control", value: "no-cache, private")
        for (k, v) in extra { headers.add(name: k, value: v) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: code), headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
        let closeAfter = !keepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if closeAfter { context.close(promise: nil) }
        }
        finishRequest()
    }

    private func startStream(keepAlive: Bool) {
        guard let context else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Cache-Control", value: "no-cache, private")
        watchKeepAlive = keepAlive
        splitIndex = 0
        streaming = true
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
    }

    private func startWatch(_ setup: WatchSetup, keepAlive: Bool) {
        guard let context else { return }
        startStream(keepAlive: keepAlive)
        tableMode = setup.table.map { (setup.filter.resource, $0) }
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let start = server.store.lock.withLock {
            server.store.addWatcher(setup.filter, fromRV: setup.fromRV) { output in
                loop.execute { bound.value.writeWatch(output) }
            }
        }
        switch start {
        case .expired(let s):
            writeWatch(.events([SimStore.event("ERROR", SimErrors.json(s))]))
            writeWatch(.end)
            return
        case .started(let id):
            watcherID = id
        }
        let c = setup.timeout.components
        let iso = loop.assumeIsolated()
        watchTimers.append(iso.scheduleTask(in: .nanoseconds(c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000)) { [self] in
            if let id = watcherID { server.store.lock.withLock { server.store.removeWatcher(id) } }
            writeWatch(.end)
        })
        if setup.filter.bookmarks && setup.timeout > .seconds(3) {
            // The real watch cache sends a bookmark ~2 s before the watch deadline.
            let before = setup.timeout - .seconds(2)
            let bc = before.components
            watchTimers.append(iso.scheduleTask(in: .nanoseconds(bc.seconds * 1_000_000_000 + bc.attoseconds / 1_000_000_000)) { [self] in
                guard watcherID != nil else { return }
                enqueueBookmark(setup.filter.resource, loop: loop, bound: bound)
            })
        }
        if setup.filter.bookmarks, let interval = server.configuration.bookmarkInterval {
            let ic = interval.components
            let amount = TimeAmount.nanoseconds(ic.seconds * 1_000_000_000 + ic.attoseconds / 1_000_000_000)
            let task = loop.scheduleRepeatedTask(initialDelay: amount, delay: amount) { _ in
                loop.execute {
                    let me = bound.value
                    guard me.watcherID != nil else { return }
                    me.enqueueBookmark(setup.filter.resource, loop: loop, bound: bound)
                }
            }
            watchTimers.append(Scheduled(promise: loop.makePromise(), cancellationTask: { task.cancel() }))
        }
    }

    /// Builds a bookmark under the store lock and queues it behind every event already queued,
    /// so a bookmark never overtakes an event with a smaller resourceVersion.
    private func enqueueBookmark(_ r: ResourceDescriptor, loop: any EventLoop, bound: NIOLoopBound<SimHTTPHandler>) {
        server.store.lock.withLock {
            let bm = server.store.bookmark(for: r)
            loop.execute { bound.value.writeWatch(.events([bm])) }
        }
    }

    func writeWatch(_ output: WatchOutput) {
        guard let context else { return }
        switch output {
        case .events(let evs):
            guard streaming, !evs.isEmpty else { return }
            var bytes: [UInt8] = []
            for var e in evs {
                if let tm = tableMode, let type = e["type"]?.stringValue, ["ADDED", "MODIFIED", "DELETED"].contains(type), let obj = e["object"] {
                    let meta: JSONValue = ["resourceVersion": obj.value(atPath: "metadata.resourceVersion") ?? .string("")]
                    e["object"] = SimTables.table([obj], tm.resource, meta: meta, includeObject: tm.includeObject)
                }
                e.write(to: &bytes)
                bytes.append(10)
            }
            let sizes = server.faults.lock.withLock { server.faults.watchWriteSizes }
            if sizes.isEmpty {
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
            } else {
                var off = 0
                while off < bytes.count {
                    let n = min(sizes[splitIndex % sizes.count], bytes.count - off)
                    splitIndex += 1
                    context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes[off..<(off + n)])))), promise: nil)
                    off += n
                }
            }
        case .end:
            guard streaming else { return }
            streaming = false
            tableMode = nil
            stopWatch()
            let closeAfter = !watchKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if closeAfter { context.close(promise: nil) }
            }
            finishRequest()
        }
    }

    private func stopWatch() {
        for t in watchTimers { t.cancel() }
        watchTimers = []
        if let id = watcherID {
            server.store.lock.withLock { server.store.removeWatcher(id) }
            watcherID = nil
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " || s.last == "\r" || s.last == "\n" { s = s.dropLast() }
        return String(s)
    }
}
