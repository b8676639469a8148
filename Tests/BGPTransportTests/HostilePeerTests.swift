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

    /// Waits up to 60 s for the speaker to connect, then sends OPEN (with `holdTime`) and KEEPALIVE.
    func acceptAndOpen(asn: UInt32, holdTime: UInt16 = 90) throws {
        var request = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&request, 1, 60_000) == 1 else { throw ScriptError(step: "accept", errno: errno) }
        let accepted = accept(listener, nil, nil)
        guard accepted >= 0 else { throw ScriptError(step: "accept", errno: errno) }
        lock.withLock { connection = accepted }
        let open = BGPOpen(asn: asn, holdTime: holdTime, bgpIdentifier: IPv4Address(192, 0, 2, 1),
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

    /// Reads everything until the connection ends, noting when each KEEPALIVE arrives, and
    /// sends one KEEPALIVE every `interval` seconds (on threads of their own).
    func keepAlive(every interval: Double, arrivals: KeepaliveArrivals) {
        let descriptor = lock.withLock { connection }
        Thread {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count <= 0 { break }
                pending.append(contentsOf: buffer[0..<count])
                // Whole messages: 16-byte marker, 2-byte length, 1-byte type.
                var start = 0
                while pending.count - start >= 19 {
                    let length = Int(pending[start + 16]) << 8 | Int(pending[start + 17])
                    guard length >= 19, pending.count - start >= length else { break }
                    if pending[start + 18] == 4 { arrivals.note() }
                    start += length
                }
                pending.removeFirst(start)
            }
            arrivals.closed()
        }.start()
        Thread {
            while self.send([.keepalive]) { Thread.sleep(forTimeInterval: interval) }
        }.start()
    }

    func close() {
        lock.withLock {
            if connection >= 0 { shutdown(connection, Int32(SHUT_RDWR)) }
        }
        Glibc.close(listener)
    }
}

/// When each KEEPALIVE reached a scripted peer (monotonic seconds).
final class KeepaliveArrivals: @unchecked Sendable {
    private let lock = NSLock()
    private var times: [Double] = []
    private var ended = false

    func note() { lock.withLock { times.append(Self.now()) } }
    func closed() { lock.withLock { ended = true } }
    var count: Int { lock.withLock { times.count } }
    var connectionEnded: Bool { lock.withLock { ended } }

    /// The longest time between two KEEPALIVEs, or from the last one to now.
    var longestGap: Double {
        lock.withLock {
            let now = Self.now()
            return zip(times, times.dropFirst() + [now]).map { $1 - $0 }.max() ?? 0
        }
    }

    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// Issue 15, item 4: a peer that floods ROUTE-REFRESH and does not read.
@Suite struct HostilePeerTests {
    static let asn: UInt32 = 64512

    static func routes(_ count: Int) -> [IPPrefix: BGPRouteAttributes] {
        var routes: [IPPrefix: BGPRouteAttributes] = [:]
        for index in 0..<count {
            routes[IPPrefix(host: .v4(IPv4Address(198, 51, UInt8(100 + index / 256), UInt8(index % 256))))] = BGPRouteAttributes()
        }
        return routes
    }

    static func makeSpeaker(port: Int, refreshInterval: Duration, outboundBufferLimit: Int = 4 << 20, loop: EventLoop, events: PeerEvents) -> BGPPeer {
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
        let speaker = Self.makeSpeaker(port: peer.port, refreshInterval: .seconds(3600), loop: loops.next(), events: events)
        speaker.setDesiredRoutes(Self.routes(1))
        speaker.start()
        try await offCooperativePool { try peer.acceptAndOpen(asn: Self.asn) }
        peer.drain()
        #expect(await eventually(timeout: 60, interval: 0.05) { events.established(since: 0) })
        let refreshes = [BGPMessage](repeating: .routeRefresh(BGPRouteRefresh(family: .ipv4Unicast)), count: 5000)
        #expect(try await offCooperativePool { peer.send(refreshes + [.notification(.cease(.administrativeReset, communication: nil))]) })
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
        let speaker = Self.makeSpeaker(port: peer.port, refreshInterval: .zero, outboundBufferLimit: 256 << 10, loop: loops.next(), events: events)
        speaker.setDesiredRoutes(Self.routes(2000))
        speaker.start()
        try await offCooperativePool { try peer.acceptAndOpen(asn: Self.asn) }
        #expect(await eventually(timeout: 60, interval: 0.05) { events.established(since: 0) })
        // Refreshes until the speaker gives up on us (bounded: 200,000 of them).
        let burst = [BGPMessage](repeating: .routeRefresh(BGPRouteRefresh(family: .ipv4Unicast)), count: 100)
        // Blocking sends, on a thread of their own (not a cooperative pool thread).
        try await offCooperativePool {
            var sent = 0
            while sent < 200_000, peer.send(burst) {
                sent += burst.count
                if events.since(0).contains(where: { if case .outboundBufferExceeded = $0 { true } else { false } }) { break }
            }
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

extension HostilePeerTests {
    /// The property of this suite is a time bound a router enforces (a 6 s hold time) on the
    /// speaker's one event loop, so it runs with the process to itself: `scripts/test-all` runs
    /// suites named "Serial" one at a time after the parallel tests. Beside hundreds of parallel
    /// tests and a build on two cores, the loop's thread can go without CPU for longer than the
    /// hold time, and the session then ends for a reason this test is not about.
    @Suite struct Serial {
        /// A peer that floods refreshes and does not read shares the speaker's one event loop with
        /// a well-behaved peer; the well-behaved peer's session never reaches its hold time: every
        /// KEEPALIVE arrives within the negotiated 6 s hold time (the bound a router enforces), the
        /// session stays Established, and KEEPALIVEs keep coming while the flood goes on.
        @Test func aSlowPeerDoesNotDelayAnotherPeersKeepalives() async throws {
            let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let loop = loops.next()
            let slow = try ScriptedBGPPeer(receiveBuffer: 4096)
            let healthy = try ScriptedBGPPeer()
            let slowEvents = PeerEvents()
            let healthyEvents = PeerEvents()
            // The shipped coalescing interval (1 s); with none (`.zero`, every refresh a full resend,
            // as before issue 15) the flood holds the loop and the healthy session's hold timer expires.
            let interval = BGPSessionConfiguration(localASN: 1, peerASN: 1, routerID: IPv4Address(192, 0, 2, 10)).routeRefreshInterval
            let slowSpeaker = HostilePeerTests.makeSpeaker(port: slow.port, refreshInterval: interval, loop: loop, events: slowEvents)
            let healthySpeaker = HostilePeerTests.makeSpeaker(port: healthy.port, refreshInterval: interval, loop: loop, events: healthyEvents)
            slowSpeaker.setDesiredRoutes(HostilePeerTests.routes(2000))
            healthySpeaker.setDesiredRoutes(HostilePeerTests.routes(10))
            slowSpeaker.start()
            healthySpeaker.start()
            try await offCooperativePool {
                try slow.acceptAndOpen(asn: HostilePeerTests.asn)
                try healthy.acceptAndOpen(asn: HostilePeerTests.asn, holdTime: 6)
            }
            let arrivals = KeepaliveArrivals()
            healthy.keepAlive(every: 1, arrivals: arrivals)
            #expect(await eventually(timeout: 60, interval: 0.05) { slowEvents.established(since: 0) && healthyEvents.established(since: 0) })
            let established = healthyEvents.mark
            let before = arrivals.count

            // The flood lasts until the healthy peer has had 5 more KEEPALIVEs (2 s apart: about
            // 10 s), the slow session is reset, or 200,000 refreshes went out.
            let burst = [BGPMessage](repeating: .routeRefresh(BGPRouteRefresh(family: .ipv4Unicast)), count: 100)
            // Blocking sends, on a thread of their own (not a cooperative pool thread).
            var (sent, longestGap) = try await offCooperativePool {
                var sent = 0
                var longestGap = 0.0
                while sent < 200_000, arrivals.count < before + 5, !arrivals.connectionEnded, slow.send(burst) {
                    sent += burst.count
                    longestGap = max(longestGap, arrivals.longestGap)
                }
                return (sent, longestGap)
            }
            // If the slow peer was reset early, the healthy one must still get its KEEPALIVEs.
            #expect(await eventually(timeout: 60, interval: 0.1) {
                longestGap = max(longestGap, arrivals.longestGap)
                return arrivals.count >= before + 5 || arrivals.connectionEnded
            })
            #expect(sent > 0)
            #expect(arrivals.count >= before + 5)
            #expect(!arrivals.connectionEnded)
            #expect(longestGap < 6, "a KEEPALIVE came \(longestGap) s after the previous one: the peer's hold timer (6 s) would have expired")
            #expect(!healthyEvents.since(established).contains { if case .stateChanged = $0 { true } else { false } })
            _ = try? await slowSpeaker.stop().get()
            _ = try? await healthySpeaker.stop().get()
            slow.close()
            healthy.close()
            try await loops.shutdownGracefully()
        }
    }
}
