// BGPTransport: SwiftNIO TCP connections that carry a `BGPSessionStateMachine`.
//
// `BGPPeer` connects out to one router (from a chosen source address, with TCP MD5
// signatures and the TTL `ebgp-multihop` asks for), frames the byte stream with
// `BGPMessageDecoder`, feeds events to the state machine and carries out the actions it
// returns: connecting, sending, arming timers on the event loop, closing. Everything runs on
// one event loop; the public methods hop onto it.
import BGPSession
import BGPWire
import Logging
import NIOCore
import NIOPosix
import NetPrimitives

#if canImport(Glibc)
import Glibc
#endif

/// Where and how to reach one peer.
public struct BGPPeerConfiguration: Sendable {
    public var session: BGPSessionConfiguration
    public var peerAddress: IPAddress
    public var peerPort: Int
    /// The local address to connect from (and the default NEXT_HOP of that family).
    public var sourceAddress: IPAddress?
    /// TCP MD5 signature key (RFC 2385), at most 80 bytes.
    public var password: String?
    /// IP TTL / hop limit of the session's packets: 1 for a directly connected eBGP peer,
    /// more with `ebgp-multihop`, 255 for iBGP.
    public var ttl: Int32
    /// NEXT_HOP overrides; by default the session's own local address for its family.
    public var nextHopIPv4: IPv4Address?
    public var nextHopIPv6: IPv6Address?
    public var nextHopIPv6LinkLocal: IPv6Address?
    /// The RFC 9003 shutdown communication sent when the service shuts down.
    public var shutdownCommunication: String
    /// How the service ends the session on graceful shutdown (`.gracefulRestart` keeps the
    /// routes at the peer when graceful restart was negotiated).
    public var shutdownMode: BGPShutdownMode
    /// Bytes written to the connection and not yet taken by the kernel beyond which the peer
    /// is taken for one that does not read: the connection is reset (and reported) rather
    /// than buffered without end.
    public var outboundBufferLimit: Int

    public init(session: BGPSessionConfiguration, peerAddress: IPAddress, peerPort: Int = 179, sourceAddress: IPAddress? = nil,
                password: String? = nil, ebgpMultihop: Int32? = nil, nextHopIPv4: IPv4Address? = nil,
                nextHopIPv6: IPv6Address? = nil, nextHopIPv6LinkLocal: IPv6Address? = nil,
                shutdownCommunication: String = "IronLB speaker shutting down", shutdownMode: BGPShutdownMode = .withdraw,
                outboundBufferLimit: Int = 4 << 20) {
        self.session = session
        self.outboundBufferLimit = outboundBufferLimit
        self.peerAddress = peerAddress
        self.peerPort = peerPort
        self.sourceAddress = sourceAddress
        self.password = password
        self.ttl = ebgpMultihop ?? (session.isInternal ? 255 : 1)
        self.nextHopIPv4 = nextHopIPv4
        self.nextHopIPv6 = nextHopIPv6
        self.nextHopIPv6LinkLocal = nextHopIPv6LinkLocal
        self.shutdownCommunication = shutdownCommunication
        self.shutdownMode = shutdownMode
    }
}

/// One BGP peering over TCP. Create it, `start()`, feed it `setDesiredRoutes`, and
/// `stop()` it before dropping it.
public final class BGPPeer: @unchecked Sendable {
    // All mutable state is confined to `eventLoop`.
    public let eventLoop: EventLoop
    public let configuration: BGPPeerConfiguration
    private var machine: BGPSessionStateMachine<ContinuousClock.Instant, SystemRandomNumberGenerator>
    private let clock = ContinuousClock()
    private var channel: Channel?
    /// The last write, so that a close waits for a NOTIFICATION to be written.
    private var lastWrite: EventLoopFuture<Void>?
    /// What the current connection has been given and not yet written to its socket.
    private var unwritten = UnwrittenBytes()
    private var timers: [BGPSessionTimer: Scheduled<Void>] = [:]
    private let codec = CodecOptionsBox()
    private var stopPromise: EventLoopPromise<Void>?
    private let onEvent: @Sendable (BGPPeerEvent) -> Void
    private var logger: Logger

    /// How long a closing connection may take to write its last messages (the NOTIFICATION,
    /// withdrawals before a Cease) before it is closed without them.
    static let closeTimeout: TimeAmount = .seconds(5)

    /// `onEvent` is called on the event loop for state changes, the peer's NOTIFICATIONs and
    /// the UPDATEs written.
    public init(configuration: BGPPeerConfiguration, eventLoop: EventLoop, logger: Logger = Logger(label: "ironlb.bgp"),
                onEvent: @escaping @Sendable (BGPPeerEvent) -> Void = { _ in }) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.onEvent = onEvent
        self.logger = logger
        self.logger[metadataKey: "lb.peer"] = "\(configuration.peerAddress)"
        self.machine = BGPSessionStateMachine(configuration: configuration.session, random: SystemRandomNumberGenerator())
    }

    public func start() {
        eventLoop.execute { self.run(self.machine.start(now: self.clock.now)) }
    }

    /// Withdraws everything, sends a Cease (with `communication`) and closes; or, with
    /// `.gracefulRestart` and graceful restart negotiated, closes and leaves the routes to the
    /// peer's restart handling.
    public func stop(communication: String? = nil, mode: BGPShutdownMode = .withdraw) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            let closed = self.channel?.closeFuture ?? self.eventLoop.makeSucceededVoidFuture()
            self.run(self.machine.stop(now: self.clock.now, communication: communication, mode: mode))
            return closed
        }
    }

    public func setDesiredRoutes(_ routes: [IPPrefix: BGPRouteAttributes]) {
        eventLoop.execute { self.run(self.machine.setDesiredRoutes(routes)) }
    }

    /// Changes part of the desired routes (nil: withdraw); only those prefixes are compared.
    public func updateDesiredRoutes(_ changes: [IPPrefix: BGPRouteAttributes?]) {
        eventLoop.execute { self.run(self.machine.updateDesiredRoutes(changes)) }
    }

    /// BFD saw the path to the peer fail: Cease/BFD Down now, then the normal reconnect, or
    /// with `holding` no reconnect until `start()`.
    public func bfdDown(holding: Bool = false) {
        eventLoop.execute {
            self.run(self.machine.bfdDown(now: self.clock.now))
            if holding { self.run(self.machine.stop(now: self.clock.now)) }
        }
    }

    /// The current state, read on the event loop.
    public func state() -> EventLoopFuture<BGPSessionState> {
        eventLoop.submit { self.machine.sessionState }
    }

    // MARK: - Actions

    private func run(_ actions: [BGPSessionAction<ContinuousClock.Instant>]) {
        eventLoop.preconditionInEventLoop()
        var needsFlush = false
        var updates = 0
        defer {
            if needsFlush { channel?.flush() }
            if updates > 0 { onEvent(.updatesSent(updates)) }
            if let channel, unwritten.count > configuration.outboundBufferLimit { resetSlowReader(channel) }
        }
        for action in actions {
            switch action {
            case .connect:
                connect()
            case .send(let message):
                if case .notification(let notification) = message {
                    logger.warning("sending NOTIFICATION", metadata: ["lb.bgp.notification": "\(notification)"])
                    onEvent(.notificationSent(notification))
                }
                guard let channel else { continue }
                if case .update = message { updates += 1 }
                var buffer = channel.allocator.buffer(capacity: 64)
                buffer.writeBGPMessage(message, options: codec.options)
                // Flushed once per batch of actions: a table of UPDATEs leaves in few syscalls.
                let write = channel.write(buffer)
                let size = buffer.readableBytes
                let unwritten = self.unwritten
                unwritten.count += size
                write.whenComplete { _ in unwritten.count -= size }
                lastWrite = write
                needsFlush = true
            case .setCodecOptions(let options):
                codec.options = options
            case .scheduleTimer(let timer, let deadline):
                timers[timer]?.cancel()
                let delay = clock.now.duration(to: deadline)
                let nanoseconds = max(0, delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
                timers[timer] = eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
                    self.timers[timer] = nil
                    self.run(self.machine.timerFired(timer, now: self.clock.now))
                }
            case .cancelTimer(let timer):
                timers.removeValue(forKey: timer)?.cancel()
            case .closeConnection:
                if let channel {
                    if needsFlush {
                        channel.flush()
                        needsFlush = false
                    }
                    self.channel = nil
                    let written = lastWrite ?? eventLoop.makeSucceededVoidFuture()
                    lastWrite = nil
                    written.whenComplete { _ in channel.close(promise: nil) }
                    // A peer that stopped reading (a hung router whose window is full) never
                    // lets that write finish: close all the same, dropping what is unwritten.
                    let deadline = eventLoop.scheduleTask(in: Self.closeTimeout) { channel.close(promise: nil) }
                    channel.closeFuture.whenComplete { _ in deadline.cancel() }
                }
            case .stateChanged(let state):
                logger.info("BGP session state changed", metadata: ["lb.bgp.state": "\(state.rawValue)"])
                onEvent(.stateChanged(state))
            case .peerNotification(let notification):
                logger.warning("peer sent NOTIFICATION", metadata: ["lb.bgp.notification": "\(notification)"])
                onEvent(.peerNotification(notification))
            }
        }
    }

    /// The peer does not read what it is sent: close now (a NOTIFICATION would queue behind
    /// the unread bytes) and let the state machine back off and reconnect.
    private func resetSlowReader(_ channel: Channel) {
        let pending = unwritten.count
        logger.warning("closing BGP session: the peer does not read", metadata: [
            "lb.bgp.unwritten_bytes": "\(pending)", "lb.bgp.limit": "\(configuration.outboundBufferLimit)",
        ])
        onEvent(.outboundBufferExceeded(pending))
        self.channel = nil
        lastWrite = nil
        channel.close(mode: .all, promise: nil)
        run(machine.connectionClosed(now: clock.now))
    }

    private func connect() {
        let configuration = self.configuration
        let target: SocketAddress
        do {
            target = try SocketAddress(ipAddress: configuration.peerAddress.description, port: configuration.peerPort)
        } catch {
            eventLoop.execute { self.run(self.machine.connectionClosed(now: self.clock.now)) }
            return
        }
        let ttlOption: ChannelOptions.Types.SocketOption = configuration.peerAddress.family == .ipv4
            ? .init(level: .init(IPPROTO_IP), name: .init(IP_TTL))
            : .init(level: .init(IPPROTO_IPV6), name: .init(IPV6_UNICAST_HOPS))
        // TCP_NODELAY is a TCP-level option: `.socketOption(.tcp_nodelay)` would be
        // setsockopt(SOL_SOCKET, 1) = SO_DEBUG, which needs CAP_NET_ADMIN (EACCES in a pod).
        var bootstrap = ClientBootstrap(group: eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(ttlOption, value: SocketOptionValue(configuration.ttl))
            .connectTimeout(.seconds(Int64(configuration.session.connectTimeout.components.seconds)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SharedOptionsDecoder(box: self.codec)))
                    try channel.pipeline.syncOperations.addHandler(BGPPeerHandler(peer: self))
                }.flatMap {
                    guard let password = configuration.password else { return channel.eventLoop.makeSucceededVoidFuture() }
                    return Self.setMD5(channel: channel, peer: target, password: password)
                }
            }
        if let source = configuration.sourceAddress, let address = try? SocketAddress(ipAddress: source.description, port: 0) {
            bootstrap = bootstrap.bind(to: address)
        }
        bootstrap.connect(to: target).whenComplete { result in
            switch result {
            case .success(let channel):
                // The machine may have been stopped meanwhile.
                guard self.machine.sessionState == .connect else {
                    channel.close(promise: nil)
                    return
                }
                self.channel = channel
                self.unwritten = UnwrittenBytes()
                self.run(self.machine.connectionEstablished(now: self.clock.now, nextHops: self.nextHops(for: channel)))
            case .failure(let error):
                self.logger.debug("connection attempt failed", metadata: ["lb.bgp.error": "\(error)"])
                self.run(self.machine.connectionClosed(now: self.clock.now))
            }
        }
    }

    private func nextHops(for channel: Channel) -> BGPNextHops {
        var hops = BGPNextHops(ipv4: configuration.nextHopIPv4, ipv6: configuration.nextHopIPv6, ipv6LinkLocal: configuration.nextHopIPv6LinkLocal)
        if let local = channel.localAddress?.ipAddress, let address = IPAddress(local) {
            switch address {
            case .v4(let v4): if hops.ipv4 == nil { hops.ipv4 = v4 }
            case .v6(let v6) where !v6.isLinkLocal: if hops.ipv6 == nil { hops.ipv6 = v6 }
            case .v6: break
            }
        }
        return hops
    }

    // MARK: - Inbound, from the handler

    fileprivate func received(_ message: BGPMessage, channel: Channel) {
        guard channel === self.channel else { return }
        run(machine.messageReceived(message, now: clock.now))
    }

    fileprivate func failed(_ error: Error, channel: Channel) {
        guard channel === self.channel else { return }
        if let error = error as? BGPError {
            run(machine.decodingFailed(error, now: clock.now))
        } else {
            self.channel = nil
            channel.close(promise: nil)
            run(machine.connectionClosed(now: clock.now))
        }
    }

    fileprivate func closed(channel: Channel) {
        guard channel === self.channel else { return }
        self.channel = nil
        run(machine.connectionClosed(now: clock.now))
    }

    // MARK: - TCP MD5 (RFC 2385)

    static func setMD5(channel: Channel, peer: SocketAddress, password: String) -> EventLoopFuture<Void> {
        #if canImport(Glibc)
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(BGPTransportError.md5Unsupported)
        }
        let key = Array(password.utf8)
        guard key.count <= Int(TCP_MD5SIG_MAXKEYLEN) else {
            return channel.eventLoop.makeFailedFuture(BGPTransportError.md5KeyTooLong)
        }
        var signature = tcp_md5sig()
        peer.withSockAddr { address, length in
            withUnsafeMutableBytes(of: &signature.tcpm_addr) { storage in
                storage.copyMemory(from: UnsafeRawBufferPointer(start: address, count: length))
            }
        }
        signature.tcpm_keylen = UInt16(key.count)
        withUnsafeMutableBytes(of: &signature.tcpm_key) { $0.copyBytes(from: key) }
        return provider.unsafeSetSocketOption(level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_MD5SIG), value: signature)
        #else
        return channel.eventLoop.makeFailedFuture(BGPTransportError.md5Unsupported)
        #endif
    }
}

/// What a peer reports to its owner.
public enum BGPPeerEvent: Sendable, Equatable {
    case stateChanged(BGPSessionState)
    case peerNotification(BGPNotification)
    /// The speaker sent this NOTIFICATION (hold timer expired, Cease, an error in what the peer sent).
    case notificationSent(BGPNotification)
    /// This many UPDATE messages (End-of-RIB included) were written to the session.
    case updatesSent(Int)
    /// The session was reset because this many bytes waited for the peer to read them,
    /// more than `outboundBufferLimit`.
    case outboundBufferExceeded(Int)
}

public enum BGPTransportError: Error, Hashable, Sendable {
    case md5Unsupported
    case md5KeyTooLong
}

/// Bytes given to one connection and not yet written to its socket; on the event loop.
final class UnwrittenBytes: @unchecked Sendable {
    var count = 0
}

/// Codec options shared by the decoder and the peer, both on the event loop.
final class CodecOptionsBox: @unchecked Sendable {
    var options = BGPCodecOptions()
}

/// `BGPMessageDecoder` reading the options the OPEN exchange settled.
struct SharedOptionsDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = BGPMessage
    let box: CodecOptionsBox

    mutating func decode(buffer: inout ByteBuffer) throws -> BGPMessage? {
        try buffer.readBGPMessage(options: box.options)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> BGPMessage? {
        try decode(buffer: &buffer)
    }
}

/// Passes messages, errors and the end of the connection to the peer.
final class BGPPeerHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = BGPMessage
    private let peer: BGPPeer

    init(peer: BGPPeer) { self.peer = peer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        peer.received(unwrapInboundIn(data), channel: context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        peer.failed(error, channel: context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.closed(channel: context.channel)
        context.fireChannelInactive()
    }
}
