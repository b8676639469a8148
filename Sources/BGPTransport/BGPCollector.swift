import BGPWire
import NIOCore
import NIOPosix
import NetPrimitives
import Synchronization

/// A passive BGP route collector: accepts sessions from any peer in `peerASN` on a TCP port,
/// answers OPEN with its own OPEN and KEEPALIVEs, and keeps the routes each peer advertises.
/// It advertises nothing. `ironlb lab` peers its simulated nodes with it on loopback; tests use
/// it as a minimal router.
public final class BGPCollector: Sendable {
    /// One route as received: the prefix, from which peer (its BGP identifier and address), and
    /// the NEXT_HOP it carried.
    public struct Route: Hashable, Sendable, Comparable {
        public let prefix: IPPrefix
        public let peer: String
        public let nextHop: String

        public static func < (lhs: Route, rhs: Route) -> Bool { (lhs.prefix, lhs.peer) < (rhs.prefix, rhs.peer) }
    }

    private let localASN: UInt32
    private let routerID: IPv4Address
    private let holdTime: UInt16
    private let table = Mutex<[String: [IPPrefix: String]]>([:])
    private let sessionsBox = Mutex<Set<String>>([])
    private let channel = Mutex<Channel?>(nil)

    public init(localASN: UInt32, routerID: IPv4Address, holdTime: UInt16 = 90) {
        self.localASN = localASN
        self.routerID = routerID
        self.holdTime = holdTime
    }

    /// Listens on `host:port` (0 picks a port); returns the bound port.
    public func start(host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> Int {
        let collector = self
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BGPMessageDecoder()))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(BGPMessageEncoder()))
                    try channel.pipeline.syncOperations.addHandler(CollectorSessionHandler(collector: collector))
                }
            }
            .bind(host: host, port: port)
            .get()
        channel.withLock { $0 = server }
        return server.localAddress?.port ?? port
    }

    public func stop() async {
        let server = channel.withLock { channel -> Channel? in
            defer { channel = nil }
            return channel
        }
        try? await server?.close()
    }

    /// Peers with an Established session (by address).
    public var sessions: Set<String> { sessionsBox.withLock { $0 } }

    /// Every route held, sorted by prefix then peer.
    public var routes: [Route] {
        table.withLock { table in
            table.flatMap { peer, routes in routes.map { Route(prefix: $0.key, peer: peer, nextHop: $0.value) } }.sorted()
        }
    }

    // MARK: Session events

    fileprivate func established(_ peer: String) { _ = sessionsBox.withLock { $0.insert(peer) } }

    fileprivate func closed(_ peer: String) {
        _ = sessionsBox.withLock { $0.remove(peer) }
        table.withLock { $0[peer] = nil }
    }

    fileprivate func received(_ update: BGPUpdate, from peer: String) {
        table.withLock { table in
            var routes = table[peer] ?? [:]
            for prefix in update.withdrawnRoutes { routes[prefix] = nil }
            var nextHop = "-"
            for attribute in update.attributes {
                switch attribute.value {
                case .nextHop(let address): nextHop = address.description
                case .mpReach(let reach):
                    let hop: String
                    switch reach.nextHop {
                    case .ipv4(let address): hop = address.description
                    case .ipv6(let global, _): hop = global.description
                    case .opaque: hop = "-"
                    }
                    for prefix in reach.nlri.prefixes { routes[prefix] = hop }
                case .mpUnreach(let unreach):
                    for prefix in unreach.withdrawn.prefixes { routes[prefix] = nil }
                default:
                    continue
                }
            }
            for prefix in update.nlri { routes[prefix] = nextHop }
            table[peer] = routes
        }
    }

    fileprivate var open: BGPOpen {
        BGPOpen(asn: localASN, holdTime: holdTime, bgpIdentifier: routerID,
                capabilities: [.multiprotocol(.ipv4Unicast), .multiprotocol(.ipv6Unicast), .routeRefresh])
    }

    fileprivate var configuredHoldTime: UInt16 { holdTime }
}

/// One accepted session: OPEN for OPEN, KEEPALIVEs at a third of the negotiated hold time,
/// routes to the collector's table; a NOTIFICATION or a close ends it.
private final class CollectorSessionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = BGPMessage
    typealias OutboundOut = BGPMessage

    private let collector: BGPCollector
    private var peer = "?"
    private var keepalives: RepeatedTask?

    init(collector: BGPCollector) { self.collector = collector }

    func channelActive(context: ChannelHandlerContext) {
        peer = context.remoteAddress?.ipAddress ?? "?"
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .open(let open):
            context.write(wrapOutboundOut(.open(collector.open)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.keepalive), promise: nil)
            let negotiated = min(open.holdTime, collector.configuredHoldTime)
            if negotiated >= 3 {
                let interval = TimeAmount.seconds(Int64(negotiated / 3))
                let channel = context.channel
                keepalives = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                    channel.writeAndFlush(NIOAny(BGPMessage.keepalive), promise: nil)
                }
            }
            collector.established(peer)
        case .update(let update):
            collector.received(update, from: peer)
        case .notification:
            context.close(promise: nil)
        case .keepalive, .routeRefresh:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        keepalives?.cancel()
        collector.closed(peer)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
