import BGPSession
import BGPTransport
import BGPWire
import Foundation
import NIOCore
import NIOPosix
import NetPrimitives
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A scripted BGP peer on loopback: accepts one connection, sends OPEN and KEEPALIVE blind,
/// then whatever the test asks, and reads (or not).
final class ScriptedBGPPeer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private var connection: Int32 = -1
    private let lock = NSLock()

    /// `receiveBuffer`: SO_RCVBUF of the accepted socket (small: a peer that reads slowly).
    init(receiveBuffer: Int32? = nil) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        if var size = receiveBuffer {
            setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && listen(listener, 4) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        guard bound else { throw ScriptError(step: "listen", errno: errno) }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    struct ScriptError: Error { let step: String; let errno: Int32 }

    /// Waits up to 60 s for the speaker to connect, then sends OPEN and KEEPALIVE.
    func acceptAndOpen(asn: UInt32) throws {
        var request = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&request, 1, 60_000) == 1 else { throw ScriptError(step: "accept", errno: errno) }
        let accepted = accept(listener, nil, nil)
        guard accepted >= 0 else { throw ScriptError(step: "accept", errno: errno) }
        lock.withLock { connection = accepted }
        let open = BGPOpen(asn: asn, holdTime: 90, bgpIdentifier: IPv4Address(192, 0, 2, 1),
                           capabilities: [.multiprotocol(.ipv4Unicast), .routeRefresh, .fourOctetASN(asn)])
        _ = send([.open(open), .keepalive])
    }

    /// Writes the messages; false once the connection is gone.
    func send(_ messages: [BGPMessage]) -> Bool {
        var buffer = ByteBuffer()
        for message in messages { buffer.writeBGPMessage(message, options: BGPCodecOptions()) }
        let bytes = Array(buffer.readableBytesView)
        let descriptor = lock.withLock { connection }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }

    /// Reads and discards everything until the connection ends (on a thread of its own).
    func drain() {
        let descriptor = lock.withLock { connection }
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while recv(descriptor, &buffer, buffer.count, 0) > 0 {}
        }
        thread.start()
    }

    func close() {
        lock.withLock {
            if connection >= 0 { shutdown(connection, Int32(SHUT_RDWR)) }
        }
        Glibc.close(listener)
    }
}

/// Issue 15, item 4: a peer that floods ROUTE-REFRESH and does not read.
@Suite struct HostilePeerTests {
    static let asn: UInt32 = 64512

    func routes(_ count: Int) -> [IPPrefix: BGPRouteAttributes] {
        var routes: [IPPrefix: BGPRouteAttributes] = [:]
        for index in 0..<count {
            routes[IPPrefix(host: .v4(IPv4Address(198, 51, UInt8(100 + index / 256), UInt8(index % 256))))] = BGPRouteAttributes()
        }
        return routes
    }

    func makeSpeaker(port: Int, refreshInterval: Duration, outboundBufferLimit: Int = 4 << 20, loop: EventLoop, events: PeerEvents) -> BGPPeer {
        let session = BGPSessionConfiguration(localASN: Self.asn, peerASN: Self.asn, routerID: IPv4Address(192, 0, 2, 10),
                                              families: [.ipv4Unicast], backoff: BGPBackoff(initial: .seconds(600), maximum: .seconds(600)),
                                              routeRefreshInterval: refreshInterval)
        let configuration = BGPPeerConfiguration(session: session, peerAddress: .v4(IPv4Address(127, 0, 0, 1)), peerPort: port,
                                                 outboundBufferLimit: outboundBufferLimit)
        return BGPPeer(configuration: configuration, eventLoop: loop) { events.record($0) }
    }

    /// Thousands of refreshes within one interval cost one resend, not thousands.
    @Test func aRefreshFloodIsCoalesced() async throws {
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let peer = try ScriptedBGPPeer()
        let events = PeerEvents()
        let speaker = makeSpeaker(port: peer.port, refreshInterval: .seconds(3600), loop: loops.next(), events: events)
        speaker.setDesiredRoutes(routes(1))
        speaker.start()
        try peer.acceptAndOpen(asn: Self.asn)
        peer.drain()
        #expect(await eventually(timeout: 60, interval: 0.05) { events.established(since: 0) })
        let refreshes = [BGPMessage](repeating: .routeRefresh(BGPRouteRefresh(family: .ipv4Unicast)), count: 5000)
        #expect(peer.send(refreshes + [.notification(.cease(.administrativeReset, communication: nil))]))
        // The NOTIFICATION comes after every refresh was handled.
        #expect(await eventually(timeout: 60, interval: 0.05) { !events.notifications(since: 0).isEmpty })
        let updates = events.since(0).reduce(0) { total, event in
            if case .updatesSent(let count) = event { total + count } else { total }
        }
        // The table (one UPDATE), End-of-RIB, and one resend for the first refresh.
        #expect(updates == 3)
        _ = try? await speaker.stop().get()
        peer.close()
        try await loops.shutdownGracefully()
    }

    /// A peer that does not read is reset once its unread bytes pass the limit.
    @Test func aPeerThatDoesNotReadIsReset() async throws {
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let peer = try ScriptedBGPPeer(receiveBuffer: 4096)
        let events = PeerEvents()
        let speaker = makeSpeaker(port: peer.port, refreshInterval: .zero, outboundBufferLimit: 256 << 10, loop: loops.next(), events: events)
        speaker.setDesiredRoutes(routes(2000))
        speaker.start()
        try peer.acceptAndOpen(asn: Self.asn)
        #expect(await eventually(timeout: 60, interval: 0.05) { events.established(since: 0) })
        // Refreshes until the speaker gives up on us (bounded: 200,000 of them).
        let burst = [BGPMessage](repeating: .routeRefresh(BGPRouteRefresh(family: .ipv4Unicast)), count: 100)
        var sent = 0
        while sent < 200_000, peer.send(burst) {
            sent += burst.count
            if events.since(0).contains(where: { if case .outboundBufferExceeded = $0 { true } else { false } }) { break }
        }
        #expect(await eventually(timeout: 60, interval: 0.05) {
            events.since(0).contains { if case .outboundBufferExceeded(let bytes) = $0 { bytes > 256 << 10 } else { false } }
        })
        #expect(await eventually(timeout: 60, interval: 0.05) { events.since(0).contains(.stateChanged(.active)) })
        _ = try? await speaker.stop().get()
        peer.close()
        try await loops.shutdownGracefully()
    }
}
