import Foundation
import NIOCore
import NIOPosix
import NetworkLab
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Makes a TCP port on the host's loopback reachable on the loopback of other network
/// namespaces: the lab's speakers, in their node namespaces, reach the in-process API server at
/// the same `https://127.0.0.1:PORT` the kubeconfig names (TLS passes through untouched, so the
/// certificate's 127.0.0.1 matches). The listening socket is created by a short-lived thread
/// that entered the namespace with setns(2); a socket stays in the namespace it was created in,
/// whichever thread uses it afterwards.
final class NamespaceRelay: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let listeners = Mutex<[Channel]>([])

    init(group: MultiThreadedEventLoopGroup) {
        self.group = group
    }

    /// Listens on 127.0.0.1:`port` inside `namespace` and relays every connection to
    /// 127.0.0.1:`port` here.
    func open(namespace: String, port: Int) async throws {
        let socket = try await Self.listeningSocket(namespace: namespace, port: port)
        let group = self.group
        let channel = try await ServerBootstrap(group: group)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                let inboundGlue = RelayGlue()
                return inbound.pipeline.addHandler(inboundGlue).flatMap {
                    ClientBootstrap(group: inbound.eventLoop)
                        .channelInitializer { outbound in outbound.pipeline.addHandler(RelayGlue(partner: inbound)) }
                        .connect(host: "127.0.0.1", port: port)
                }.flatMap { outbound in
                    // The initializer runs before the accepted channel is registered: reading
                    // starts with its activation, or at once when it is already active.
                    inboundGlue.partner = outbound
                    inbound.closeFuture.whenComplete { _ in outbound.close(promise: nil) }
                    return inbound.setOption(.autoRead, value: true)
                }.flatMapErrorThrowing { error in
                    inbound.close(promise: nil)
                    throw error
                }
            }
            .withBoundSocket(socket).get()
        listeners.withLock { $0.append(channel) }
    }

    /// Stops listening (open connections end with their processes).
    func close() async {
        let channels = listeners.withLock { channels in
            defer { channels.removeAll() }
            return channels
        }
        for channel in channels { try? await channel.close() }
    }

    /// A listening TCP socket on 127.0.0.1:`port` in the named namespace (`ip netns` names).
    static func listeningSocket(namespace: String, port: Int) async throws -> CInt {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CInt, any Error>) in
            let thread = Thread {
                continuation.resume(with: Result { try openInNamespace(namespace, port: port) })
            }
            thread.start()
        }
    }

    /// Runs on a thread of its own: the thread enters the namespace and never leaves it.
    private static func openInNamespace(_ namespace: String, port: Int) throws -> CInt {
        #if canImport(Glibc)
        do {
            try NetworkNamespace.enterOnCurrentThread(namespace)
        } catch {
            throw LabError(code: "setns", description: "\(error)")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LabError(code: "relay", description: "socket: errno \(errno)") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let code = errno
            Glibc.close(fd)
            throw LabError(code: "relay", description: "cannot listen on 127.0.0.1:\(port) in \(namespace): errno \(code)")
        }
        return fd
        #else
        throw LabError(code: "setns", description: "network namespaces need Linux")
        #endif
    }
}

/// Copies what one channel reads to its partner and closes the partner when it closes.
/// Confined to its channel's event loop (the lab's relay channels share one loop).
private final class RelayGlue: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    var partner: Channel?

    init(partner: Channel? = nil) {
        self.partner = partner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.writeAndFlush(Self.unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
