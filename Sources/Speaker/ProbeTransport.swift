#if canImport(Glibc)
import Glibc
#endif
import L2Ownership
import Logging
import NIOCore
import NIOPosix
import NetPrimitives
import Synchronization

/// The failure detector's UDP edge: the sockets bound to the probe port, IPv4 and IPv6 (requests
/// in, replies out) and, per peer, one socket connected to the peer's probe port (pings, ping requests and
/// claims out, their answers in). A connected UDP socket learns of the ICMP port unreachable
/// the peer's kernel sends when no process listens on the port: that is the "refused" evidence
/// (`PeerProber.refused`). Everything received goes to `inbound` in arrival order.
final class ProbeTransport: Sendable {
    enum Event: Sendable {
        case datagram([UInt8], from: ProbeEndpoint)
        case refused(node: String)
    }

    let inbound: AsyncStream<Event>
    private let sink: AsyncStream<Event>.Continuation
    private let group: any EventLoopGroup
    private let port: Int
    private let logger: Logger
    /// The probe port's sockets, per address family.
    private let listeners = Mutex<[IPFamily: any Channel]>([:])
    /// Per peer: the connected channel (or its pending connect) and the endpoint it goes to.
    private let peers = Mutex<[String: (endpoint: ProbeEndpoint, channel: EventLoopFuture<any Channel>)]>([:])

    init(port: UInt16, group: any EventLoopGroup, logger: Logger) {
        (inbound, sink) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(4096))
        self.group = group
        self.port = Int(port)
        self.logger = logger
    }

    /// Binds the probe port on every address: one IPv4 socket and, where the host has IPv6, one
    /// IPv6-only socket (a node whose InternalIP is IPv6 is probed over IPv6).
    func bind() async throws {
        let sink = self.sink
        func bootstrap() -> DatagramBootstrap {
            DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { channel in channel.pipeline.addHandler(Reader(sink: sink, node: nil)) }
        }
        let v4 = try await bootstrap().bind(host: "0.0.0.0", port: port).get()
        listeners.withLock { $0[.ipv4] = v4 }
        do {
            let v6 = try await bootstrap()
                .channelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
                .bind(host: "::", port: port).get()
            listeners.withLock { $0[.ipv6] = v6 }
        } catch {
            logger.info("layer 2 probes: no IPv6 socket (IPv6 off on this host?); probing over IPv4 only", metadata: ["lb.error": "\(error)"])
        }
    }

    /// A datagram to `node`'s probe port, from its connected socket.
    func send(_ bytes: [UInt8], to endpoint: ProbeEndpoint, node: String) {
        let channel = peers.withLock { peers -> EventLoopFuture<any Channel> in
            if let existing = peers[node], existing.endpoint == endpoint { return existing.channel }
            if let existing = peers[node] { existing.channel.whenSuccess { _ = $0.close() } }
            let sink = self.sink
            let future: EventLoopFuture<any Channel>
            do {
                let address = try SocketAddress(ipAddress: endpoint.address.description, port: Int(endpoint.port))
                future = DatagramBootstrap(group: group)
                    .channelInitializer { channel in channel.pipeline.addHandler(Reader(sink: sink, node: node)) }
                    .connect(to: address)
            } catch {
                future = group.next().makeFailedFuture(error)
            }
            peers[node] = (endpoint, future)
            return future
        }
        let sink = self.sink
        channel.whenComplete { result in
            guard case .success(let channel) = result else { return }
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            channel.writeAndFlush(buffer).whenFailure { error in
                if Self.isRefusal(error) { sink.yield(.refused(node: node)) }
            }
        }
    }

    /// An answer from the probe port to where a request came from.
    func reply(_ bytes: [UInt8], to endpoint: ProbeEndpoint) {
        guard let channel = listeners.withLock({ $0[endpoint.address.family] }),
              let address = try? SocketAddress(ipAddress: endpoint.address.description, port: Int(endpoint.port)) else { return }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
    }

    /// Closes the sockets of peers no longer probed.
    func keep(only nodes: Set<String>) {
        let dropped = peers.withLock { peers -> [EventLoopFuture<any Channel>] in
            let gone = peers.keys.filter { !nodes.contains($0) }
            return gone.compactMap { peers.removeValue(forKey: $0)?.channel }
        }
        for channel in dropped { channel.whenSuccess { _ = $0.close() } }
    }

    func close() {
        keep(only: [])
        for channel in listeners.withLock({ $0.values }) { _ = channel.close() }
        sink.finish()
    }

    static func isRefusal(_ error: any Error) -> Bool {
        (error as? IOError)?.errnoCode == ECONNREFUSED
    }

    /// Hands datagrams (and, on a connected socket, refusals) to the stream.
    private final class Reader: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let sink: AsyncStream<Event>.Continuation
        let node: String?

        init(sink: AsyncStream<Event>.Continuation, node: String?) {
            self.sink = sink
            self.node = node
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = Self.unwrapInboundIn(data)
            guard let ip = envelope.remoteAddress.ipAddress, let address = IPAddress(ip), let port = envelope.remoteAddress.port,
                  envelope.data.readableBytes <= 1500 else { return }
            sink.yield(.datagram(Array(envelope.data.readableBytesView), from: ProbeEndpoint(address: address, port: UInt16(port))))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // A datagram socket stays open after ECONNREFUSED (NIO does not close it).
            if let node, ProbeTransport.isRefusal(error) { sink.yield(.refused(node: node)) }
        }
    }
}
