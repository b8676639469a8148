// BFDTransport: BFD control packets over UDP for `BFDSessionStateMachine`s.
//
// `BFDEndpoint` runs every BFD session of a speaker on one event loop of its own (its own
// thread), so that transmissions and detection timers never wait behind Kubernetes or BGP
// work. Single hop follows RFC 5881: packets to UDP 3784 from a source port in 49152-65535,
// sent with TTL / hop limit 255, and only packets that arrive with 255 are accepted. Multihop
// (RFC 5883, for `ebgp-multihop` peers) uses UDP 4784 and accepts packets whose TTL is at
// least the profile's minimum TTL. The TTL checks are classic BPF filters on the receiving
// sockets: the kernel drops a packet that fails them before it is read (SwiftNIO does not
// hand TTL control messages to the channel, and Linux does not apply IP_MINTTL to UDP).
import BFD
import Logging
import NIOCore
import NIOPosix
import NetPrimitives

#if canImport(Glibc)
import Glibc
#endif

/// One BFD session's parameters (intervals in microseconds, as on the wire).
public struct BFDPeerConfiguration: Sendable, Hashable {
    public var peerAddress: IPAddress
    /// The address to send from; by default the kernel's choice for the route to the peer.
    public var localAddress: IPAddress?
    /// RFC 5883 multihop (UDP 4784) instead of RFC 5881 single hop (UDP 3784).
    public var multihop: Bool
    /// Multihop only: packets arriving with a lower TTL / hop limit are dropped.
    public var minimumTTL: UInt8
    public var desiredMinTxInterval: UInt32
    public var requiredMinRxInterval: UInt32
    public var detectMultiplier: UInt8
    public var passive: Bool

    public init(peerAddress: IPAddress, localAddress: IPAddress? = nil, multihop: Bool = false, minimumTTL: UInt8 = 254,
                desiredMinTxInterval: UInt32 = 300_000, requiredMinRxInterval: UInt32 = 300_000, detectMultiplier: UInt8 = 3,
                passive: Bool = false) {
        self.peerAddress = peerAddress
        self.localAddress = localAddress
        self.multihop = multihop
        self.minimumTTL = minimumTTL
        self.desiredMinTxInterval = desiredMinTxInterval
        self.requiredMinRxInterval = requiredMinRxInterval
        self.detectMultiplier = detectMultiplier
        self.passive = passive
    }

    /// RFC 5881 §4 / RFC 5883 §3.
    public var destinationPort: Int { multihop ? 4784 : 3784 }
}

/// A session's state change, as its owner hears it.
public struct BFDStateChange: Sendable, Hashable {
    public var peer: IPAddress
    public var from: BFDState
    public var to: BFDState
    public var diagnostic: BFDDiagnostic
    /// The peer's last packet said AdminDown (RFC 5882 §3.2: not a path failure).
    public var peerAdminDown: Bool
    /// What the session's client (BGP) does now, from the session's `BFDClientGate`.
    public var clientAction: BFDClientGate.Action?
}

/// What a session last negotiated, for logs, tests and `ironlb` status.
public struct BFDSessionStatus: Sendable, Hashable {
    public var state: BFDState
    public var localDiscriminator: UInt32
    public var remoteDiscriminator: UInt32
    /// Microseconds.
    public var transmitInterval: UInt32?
    public var detectionTime: UInt64
    public var remoteDetectMultiplier: UInt8
}

public enum BFDTransportError: Error, Hashable, Sendable {
    /// No source port in 49152-65535 could be bound.
    case noSourcePort
    /// A session for this peer exists already.
    case duplicateSession
}

/// Every BFD session of the process, on one event loop. `start()` it, add sessions, and
/// `shutdown()` it before dropping it.
public final class BFDEndpoint: @unchecked Sendable {
    // All mutable state is confined to `eventLoop`.
    public let eventLoop: EventLoop
    private let group: MultiThreadedEventLoopGroup?
    private let logger: Logger
    private let onDrop: @Sendable (BFDDropReason) -> Void
    private let clock = ContinuousClock()
    private var sessions: [UInt32: Session] = [:]
    private var discriminators: [SessionKey: UInt32] = [:]
    private var receivers: [ReceiverKey: EventLoopFuture<Channel>] = [:]
    private var random = SystemRandomNumberGenerator()
    private var nextSourcePort = Int.random(in: BFDEndpoint.sourcePorts)

    /// RFC 5881 §4: the source port range.
    public static let sourcePorts = 49152...65535

    struct SessionKey: Hashable {
        var peer: IPAddress
        var multihop: Bool
    }

    struct ReceiverKey: Hashable {
        var family: IPFamily
        var multihop: Bool
    }

    final class Session {
        var configuration: BFDPeerConfiguration
        var machine: BFDSessionStateMachine<ContinuousClock.Instant, SystemRandomNumberGenerator>
        var channel: Channel?
        var timers: [BFDTimer: Scheduled<Void>] = [:]
        let onChange: @Sendable (BFDStateChange) -> Void
        var gate = BFDClientGate()

        init(configuration: BFDPeerConfiguration, machine: BFDSessionStateMachine<ContinuousClock.Instant, SystemRandomNumberGenerator>,
             onChange: @escaping @Sendable (BFDStateChange) -> Void) {
            self.configuration = configuration
            self.machine = machine
            self.onChange = onChange
        }
    }

    /// With no `eventLoop`, the endpoint starts a thread of its own for it.
    public init(eventLoop: EventLoop? = nil, logger: Logger = Logger(label: "ironlb.bfd"),
                onDrop: @escaping @Sendable (BFDDropReason) -> Void = { _ in }) {
        if let eventLoop {
            self.eventLoop = eventLoop
            self.group = nil
        } else {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            self.group = group
            self.eventLoop = group.next()
        }
        self.logger = logger
        self.onDrop = onDrop
    }

    /// Starts a session to `configuration.peerAddress`; `onChange` is called on the endpoint's
    /// event loop at every state change.
    public func addSession(_ configuration: BFDPeerConfiguration,
                           onChange: @escaping @Sendable (BFDStateChange) -> Void) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            let key = SessionKey(peer: configuration.peerAddress, multihop: configuration.multihop)
            guard self.discriminators[key] == nil else { return self.eventLoop.makeFailedFuture(BFDTransportError.duplicateSession) }
            var candidate: UInt32 = 0
            while candidate == 0 || self.sessions[candidate] != nil { candidate = UInt32.random(in: 1...UInt32.max, using: &self.random) }
            let discriminator = candidate
            let machine = BFDSessionStateMachine<ContinuousClock.Instant, SystemRandomNumberGenerator>(
                configuration: Self.sessionConfiguration(configuration, discriminator: discriminator), random: SystemRandomNumberGenerator()
            )
            let session = Session(configuration: configuration, machine: machine, onChange: onChange)
            self.sessions[discriminator] = session
            self.discriminators[key] = discriminator
            let receiver = self.receiver(family: configuration.peerAddress.family, multihop: configuration.multihop,
                                         minimumTTL: configuration.multihop ? configuration.minimumTTL : 255)
            return receiver.flatMap { _ in self.bindSender(configuration, attempts: 64) }.map { channel in
                guard self.sessions[discriminator] === session else {
                    channel.close(promise: nil)
                    return
                }
                session.channel = channel
                self.logger.info("BFD session started", metadata: [
                    "lb.peer": "\(configuration.peerAddress)", "lb.bfd.discriminator": "\(discriminator)",
                    "lb.bfd.source_port": "\(channel.localAddress?.port ?? 0)",
                ])
                self.run(session, discriminator: discriminator, session.machine.start(now: self.clock.now))
            }.flatMapErrorThrowing { error in
                self.sessions[discriminator] = nil
                self.discriminators[key] = nil
                throw error
            }
        }
    }

    /// New intervals for a running session: a Poll Sequence while Up (RFC 5880 §6.8.3).
    public func updateSession(_ configuration: BFDPeerConfiguration) {
        eventLoop.execute {
            let key = SessionKey(peer: configuration.peerAddress, multihop: configuration.multihop)
            guard let discriminator = self.discriminators[key], let session = self.sessions[discriminator] else { return }
            session.configuration = configuration
            self.run(session, discriminator: discriminator,
                     session.machine.reconfigure(Self.sessionConfiguration(configuration, discriminator: discriminator), now: self.clock.now))
        }
    }

    /// Tells the peer AdminDown (RFC 5880 §6.8.16) and ends the session.
    public func removeSession(peer: IPAddress, multihop: Bool) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            let key = SessionKey(peer: peer, multihop: multihop)
            guard let discriminator = self.discriminators.removeValue(forKey: key),
                  let session = self.sessions.removeValue(forKey: discriminator) else { return self.eventLoop.makeSucceededVoidFuture() }
            // One AdminDown packet tells the peer this is not a failure (RFC 5882 §3.2); the owner
            // removed the session and hears no more of it.
            let actions = session.machine.adminDown(now: self.clock.now)
            for case .send(let packet) in actions { self.write(packet, session: session) }
            for timer in session.timers.values { timer.cancel() }
            session.timers = [:]
            self.logger.info("BFD session removed", metadata: ["lb.peer": "\(peer)"])
            guard let channel = session.channel else { return self.eventLoop.makeSucceededVoidFuture() }
            session.channel = nil
            return channel.close()
        }
    }

    public func status(peer: IPAddress, multihop: Bool = false) -> EventLoopFuture<BFDSessionStatus?> {
        eventLoop.submit {
            guard let discriminator = self.discriminators[SessionKey(peer: peer, multihop: multihop)],
                  let session = self.sessions[discriminator] else { return nil }
            return BFDSessionStatus(state: session.machine.state, localDiscriminator: discriminator,
                                    remoteDiscriminator: session.machine.remote.discriminator,
                                    transmitInterval: session.machine.transmitInterval, detectionTime: session.machine.detectionTime,
                                    remoteDetectMultiplier: session.machine.remote.detectMultiplier)
        }
    }

    /// AdminDown to every peer, then closes every socket and stops the thread.
    public func shutdown() async {
        let keys = (try? await eventLoop.submit { Array(self.discriminators.keys) }.get()) ?? []
        for key in keys { try? await removeSession(peer: key.peer, multihop: key.multihop).get() }
        let receivers = (try? await eventLoop.submit { () -> [EventLoopFuture<Channel>] in
            let all = Array(self.receivers.values)
            self.receivers = [:]
            return all
        }.get()) ?? []
        for receiver in receivers { try? await receiver.get().close() }
        try? await group?.shutdownGracefully()
    }

    // MARK: - Actions

    private func run(_ session: Session, discriminator: UInt32, _ actions: [BFDSessionAction<ContinuousClock.Instant>]) {
        eventLoop.preconditionInEventLoop()
        for action in actions {
            switch action {
            case .send(let packet):
                write(packet, session: session)
            case .scheduleTimer(let timer, let deadline):
                session.timers[timer]?.cancel()
                let delay = clock.now.duration(to: deadline)
                let nanoseconds = max(0, delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
                session.timers[timer] = eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
                    session.timers[timer] = nil
                    guard self.sessions[discriminator] === session else { return }
                    self.run(session, discriminator: discriminator, session.machine.timerFired(timer, now: self.clock.now))
                }
            case .cancelTimer(let timer):
                session.timers.removeValue(forKey: timer)?.cancel()
            case .stateChanged(let from, let to, let diagnostic):
                logger.info("BFD session \(to)", metadata: [
                    "lb.peer": "\(session.configuration.peerAddress)", "lb.bfd.from": "\(from)", "lb.bfd.diagnostic": "\(diagnostic)",
                ])
                let peerAdminDown = session.machine.remote.state == .adminDown
                let clientAction = session.gate.stateChanged(from: from, to: to, peerAdminDown: peerAdminDown)
                session.onChange(BFDStateChange(peer: session.configuration.peerAddress, from: from, to: to, diagnostic: diagnostic,
                                                peerAdminDown: peerAdminDown, clientAction: clientAction))
            case .dropped(let reason):
                onDrop(reason)
            }
        }
    }

    private func write(_ packet: BFDControlPacket, session: Session) {
        guard let channel = session.channel,
              let remote = try? SocketAddress(ipAddress: session.configuration.peerAddress.description,
                                              port: session.configuration.destinationPort) else { return }
        var buffer = channel.allocator.buffer(capacity: BFDControlPacket.mandatoryLength)
        buffer.writeBFDControlPacket(packet)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
    }

    // MARK: - Inbound

    fileprivate func received(_ envelope: AddressedEnvelope<ByteBuffer>, multihop: Bool) {
        let packet: BFDControlPacket
        do {
            packet = try BFDControlPacket.decode(datagram: envelope.data)
        } catch {
            onDrop(error)
            return
        }
        // RFC 5880 §6.8.6: by Your Discriminator when set, else by the source address.
        let discriminator: UInt32?
        if packet.yourDiscriminator != 0 {
            discriminator = packet.yourDiscriminator
        } else if let source = envelope.remoteAddress.ipAddress.flatMap(IPAddress.init) {
            discriminator = discriminators[SessionKey(peer: source.unmapped, multihop: multihop)]
        } else {
            discriminator = nil
        }
        guard let discriminator, let session = sessions[discriminator], session.configuration.multihop == multihop else {
            onDrop(packet.yourDiscriminator != 0 ? .unknownDiscriminator : .noSession)
            return
        }
        // The packet must come from the session's peer (RFC 5881 §4: source address).
        if let source = envelope.remoteAddress.ipAddress.flatMap(IPAddress.init), source.unmapped != session.configuration.peerAddress {
            onDrop(.noSession)
            return
        }
        run(session, discriminator: discriminator, session.machine.received(packet, now: clock.now))
    }

    // MARK: - Sockets

    private func receiver(family: IPFamily, multihop: Bool, minimumTTL: UInt8) -> EventLoopFuture<Channel> {
        let key = ReceiverKey(family: family, multihop: multihop)
        if let existing = receivers[key] { return existing }
        let port = multihop ? 4784 : 3784
        let host = family == .ipv4 ? "0.0.0.0" : "::"
        var bootstrap = DatagramBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BFDReceiveHandler(endpoint: self, multihop: multihop))
                }.flatMap {
                    BFDTTLFilter.attach(to: channel, family: family, minimum: minimumTTL)
                }
            }
        if family == .ipv6 {
            bootstrap = bootstrap.channelOption(ChannelOptions.Types.SocketOption(level: .init(IPPROTO_IPV6), name: .init(IPV6_V6ONLY)), value: 1)
        }
        let future = bootstrap.bind(host: host, port: port)
        receivers[key] = future
        future.whenFailure { error in
            self.logger.error("cannot receive BFD packets", metadata: ["lb.bfd.port": "\(port)", "lb.bfd.error": "\(error)"])
            self.receivers[key] = nil
        }
        return future
    }

    /// A socket of its own per session, from the next free port in 49152-65535 (RFC 5881 §4),
    /// sending with TTL / hop limit 255.
    private func bindSender(_ configuration: BFDPeerConfiguration, attempts: Int) -> EventLoopFuture<Channel> {
        guard attempts > 0 else { return eventLoop.makeFailedFuture(BFDTransportError.noSourcePort) }
        let port = nextSourcePort
        nextSourcePort = port == Self.sourcePorts.upperBound ? Self.sourcePorts.lowerBound : port + 1
        let family = configuration.peerAddress.family
        let ttlOption: ChannelOptions.Types.SocketOption = family == .ipv4
            ? .init(level: .init(IPPROTO_IP), name: .init(IP_TTL))
            : .init(level: .init(IPPROTO_IPV6), name: .init(IPV6_UNICAST_HOPS))
        let host = configuration.localAddress?.description ?? (family == .ipv4 ? "0.0.0.0" : "::")
        return DatagramBootstrap(group: eventLoop)
            .channelOption(ttlOption, value: 255)
            .channelInitializer { channel in
                // Replies come to the receiving socket; anything sent here is read and dropped.
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(BFDDiscardHandler()) }
            }
            .bind(host: host, port: port)
            .flatMapError { _ in self.bindSender(configuration, attempts: attempts - 1) }
    }

    static func sessionConfiguration(_ configuration: BFDPeerConfiguration, discriminator: UInt32) -> BFDSessionConfiguration {
        BFDSessionConfiguration(
            localDiscriminator: discriminator, desiredMinTxInterval: configuration.desiredMinTxInterval,
            requiredMinRxInterval: configuration.requiredMinRxInterval, detectMultiplier: max(1, configuration.detectMultiplier),
            passive: configuration.passive
        )
    }
}

final class BFDReceiveHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let endpoint: BFDEndpoint
    private let multihop: Bool

    init(endpoint: BFDEndpoint, multihop: Bool) {
        self.endpoint = endpoint
        self.multihop = multihop
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        endpoint.received(unwrapInboundIn(data), multihop: multihop)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A UDP socket reports ICMP errors (peer port unreachable) here; BFD's timers handle it.
    }
}

final class BFDDiscardHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    func errorCaught(context: ChannelHandlerContext, error: Error) {}
}

extension IPAddress {
    /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as IPv4.
    var unmapped: IPAddress {
        guard case .v6 = self, integer >> 32 == 0xFFFF else { return self }
        return IPAddress(family: .ipv4, integer: integer & 0xFFFF_FFFF)
    }
}
