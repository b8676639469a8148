import BGPWire
import NIOCore
import NetPrimitives

/// Drives a `BGPSessionStateMachine` with a sequence of events read from arbitrary bytes, and
/// checks what it answers. The `FuzzBGPSession` libFuzzer target feeds it mutated inputs; the
/// test suite replays the kept corpus (fuzz/corpus/bgp-session) through the same checks.
///
/// Each event is one opcode byte and its operands: start, stop, TCP up or down, time passing,
/// a timer firing, raw message bytes from the peer (decoded with the options the machine set;
/// a decoding error goes to `decodingFailed`), a well-formed OPEN, KEEPALIVE or ROUTE-REFRESH,
/// and changes of the desired routes. Checked after every event:
///
/// - every message the machine sends encodes within the negotiated size and decodes again
///   (UPDATEs to the same prefixes);
/// - nothing is sent after `closeConnection` in the same batch, and no timer is scheduled in
///   the past;
/// - the state the machine reports is the one it is in;
/// - a peer that applies every UPDATE sent on the connection holds exactly `ribOut.advertised`,
///   and nothing is advertised when the session is not Established.
public enum BGPSessionScript {
    /// A manual clock: the script moves time by hand.
    public struct Instant: InstantProtocol, Sendable {
        public var offset: Duration
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    /// SplitMix64: the backoff jitter, the same for the same input.
    public struct Random: RandomNumberGenerator, Sendable {
        var state: UInt64
        public mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var value = state
            value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
            value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
            return value ^ (value >> 31)
        }
    }

    typealias Machine = BGPSessionStateMachine<Instant, Random>

    /// Reads operands; past the end every read is 0.
    struct Reader {
        let bytes: [UInt8]
        var position = 0
        var atEnd: Bool { position >= bytes.count }
        mutating func byte() -> UInt8 {
            defer { position += 1 }
            return position < bytes.count ? bytes[position] : 0
        }
        mutating func word() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }
        mutating func take(_ count: Int) -> [UInt8] {
            let end = min(bytes.count, position + count)
            defer { position = end }
            return position < end ? Array(bytes[position..<end]) : []
        }
    }

    static let peerASN: UInt32 = 64512
    static let localASN: UInt32 = 64512
    static let families: [BGPAddressFamily] = [.ipv4Unicast, .ipv6Unicast]

    /// What a script did.
    public struct Report: Sendable {
        /// What went wrong (empty: nothing).
        public var problems: [String] = []
        public var statesReached: Set<BGPSessionState> = []
        public var updatesSent = 0
    }

    /// Runs the events in `bytes`.
    public static func run(_ bytes: [UInt8]) -> Report {
        var reader = Reader(bytes: bytes)
        // The first byte picks the configuration: hold time, graceful restart, extended messages.
        let setup = reader.byte()
        let configuration = BGPSessionConfiguration(
            localASN: localASN, peerASN: setup & 0x01 == 0 ? peerASN : 65001, routerID: IPv4Address(192, 0, 2, 10),
            holdTime: [0, 3, 90, 240][Int(setup >> 1) & 3], gracefulRestartTime: setup & 0x08 == 0 ? nil : 120,
            extendedMessages: setup & 0x10 == 0, routeRefreshInterval: .milliseconds(Int64(setup >> 5) * 250))
        var machine = Machine(configuration: configuration, random: Random(state: UInt64(setup)))
        var now = Instant(offset: .zero)
        var codec = BGPCodecOptions()
        var peerRIB: Set<IPPrefix> = []
        var report = Report()
        var steps = 0

        while !reader.atEnd && steps < 4096 && report.problems.isEmpty {
            steps += 1
            let opcode = reader.byte() % 14
            let actions: [BGPSessionAction<Instant>]
            switch opcode {
            case 0: actions = machine.start(now: now)
            case 1: actions = machine.stop(now: now, communication: reader.byte() & 1 == 0 ? nil : "fuzz", mode: reader.byte() & 1 == 0 ? .withdraw : .gracefulRestart)
            case 2:
                let hops = BGPNextHops(ipv4: IPv4Address(192, 0, 2, 10), ipv6: reader.byte() & 1 == 0 ? nil : IPv6Address(high: 0x2001_0db8_0000_0000, low: 10))
                actions = machine.connectionEstablished(now: now, nextHops: hops)
            case 3: actions = machine.connectionClosed(now: now)
            case 4:
                now = now.advanced(by: .milliseconds(Int64(reader.word()) * 10))
                actions = []
            case 5:
                let timers: [BGPSessionTimer] = [.connectRetry, .hold, .keepalive, .routeRefresh]
                actions = machine.timerFired(timers[Int(reader.byte()) % timers.count], now: now)
            case 6:
                // Raw bytes from the peer, framed as the transport frames them.
                let length = Int(reader.word()) % 8192
                var buffer = ByteBuffer(bytes: reader.take(length))
                do {
                    guard let message = try buffer.readBGPMessage(options: codec) else { actions = []; break }
                    actions = machine.messageReceived(message, now: now)
                } catch {
                    actions = machine.decodingFailed(error, now: now)
                }
            case 7:
                let flags = reader.byte()
                var capabilities: [BGPCapability] = []
                if flags & 0x01 != 0 { capabilities.append(.multiprotocol(.ipv4Unicast)) }
                if flags & 0x02 != 0 { capabilities.append(.multiprotocol(.ipv6Unicast)) }
                if flags & 0x04 != 0 { capabilities.append(.routeRefresh) }
                if flags & 0x08 != 0 { capabilities.append(.extendedMessage) }
                if flags & 0x10 != 0 { capabilities.append(.gracefulRestart(BGPGracefulRestart(flags: 0, restartTime: 120, families: []))) }
                if flags & 0x20 != 0 { capabilities.append(.fourOctetASN(peerASN)) }
                let hold = [0, 3, 30, 180][Int(flags >> 6)]
                let open = BGPOpen(asn: peerASN, holdTime: UInt16(hold), bgpIdentifier: IPv4Address(192, 0, 2, reader.byte()), capabilities: capabilities)
                actions = machine.messageReceived(.open(open), now: now)
            case 8: actions = machine.messageReceived(.keepalive, now: now)
            case 9:
                let family = reader.byte() & 1 == 0 ? BGPAddressFamily.ipv4Unicast : .ipv6Unicast
                actions = machine.messageReceived(.routeRefresh(BGPRouteRefresh(family: family, subtype: reader.byte() % 3)), now: now)
            case 10: actions = machine.setDesiredRoutes(routes(&reader))
            case 11:
                var changes: [IPPrefix: BGPRouteAttributes?] = [:]
                for (prefix, attributes) in routes(&reader) { changes[prefix] = reader.byte() & 1 == 0 ? attributes : nil }
                actions = machine.updateDesiredRoutes(changes)
            case 12: actions = machine.messageReceived(.notification(BGPNotification(code: 6, subcode: reader.byte() % 10)), now: now)
            default: actions = machine.messageReceived(.update(BGPUpdate(nlri: [IPPrefix(host: .v4(IPv4Address(203, 0, 113, reader.byte())))])), now: now)
            }
            report.problems += check(actions, machine: machine, now: now, codec: &codec, peerRIB: &peerRIB)
            report.statesReached.insert(machine.sessionState)
            report.updatesSent += actions.count(where: { if case .send(.update) = $0 { true } else { false } })
        }
        return report
    }

    /// Up to 32 routes with up to 16 communities each, from the operands.
    static func routes(_ reader: inout Reader) -> [IPPrefix: BGPRouteAttributes] {
        var routes: [IPPrefix: BGPRouteAttributes] = [:]
        for _ in 0..<(reader.byte() % 33) {
            let kind = reader.byte()
            let prefix: IPPrefix
            if kind & 1 == 0 {
                prefix = IPPrefix(containing: .v4(IPv4Address(198, 51, 100, reader.byte())), length: 24 + Int(kind >> 1) % 9)
            } else {
                prefix = IPPrefix(containing: .v6(IPv6Address(high: 0x2001_0db8_0000_0000 | UInt64(reader.byte()), low: UInt64(reader.byte()))),
                                  length: 48 + Int(kind >> 1) % 81)
            }
            let communities = (0..<(reader.byte() % 17)).map { _ in BGPCommunity(asn: 64512, value: UInt16(reader.byte())) }
            routes[prefix] = BGPRouteAttributes(origin: kind & 0x80 == 0 ? .igp : .incomplete, communities: communities,
                                                multiExitDisc: kind & 0x40 == 0 ? nil : UInt32(reader.byte()))
        }
        return routes
    }

    static func check(_ actions: [BGPSessionAction<Instant>], machine: Machine, now: Instant, codec: inout BGPCodecOptions,
                      peerRIB: inout Set<IPPrefix>) -> [String] {
        var problems: [String] = []
        var closed = false
        var reported: BGPSessionState?
        for action in actions {
            switch action {
            case .send(let message):
                if closed { problems.append("sent \(message) after closeConnection") }
                var buffer = ByteBuffer()
                buffer.writeBGPMessage(message, options: codec)
                let limit: Int
                switch message {
                case .open, .keepalive: limit = BGPLimits.maximumMessageLength
                case .update, .notification, .routeRefresh: limit = codec.maximumMessageLength
                }
                if buffer.readableBytes > limit { problems.append("a \(buffer.readableBytes)-byte message over the limit \(limit)") }
                do {
                    guard let decoded = try buffer.readBGPMessage(options: codec) else {
                        problems.append("a message the machine sent does not decode: \(message)")
                        break
                    }
                    if case .update(let update) = decoded {
                        peerRIB.subtract(update.withdrawnRoutes + (update.mpUnreach?.withdrawn.prefixes ?? []))
                        peerRIB.formUnion(update.nlri + (update.mpReach?.nlri.prefixes ?? []))
                    }
                } catch {
                    problems.append("a message the machine sent does not decode (\(error.reason)): \(message)")
                }
            case .setCodecOptions(let options): codec = options
            case .scheduleTimer(let timer, let deadline):
                if deadline < now { problems.append("\(timer) scheduled in the past") }
            case .closeConnection: closed = true
            case .stateChanged(let state):
                reported = state
                if state == .openSent || state == .active || state == .idle { peerRIB = [] }
            case .connect, .cancelTimer, .peerNotification: break
            }
        }
        if let reported, reported != machine.sessionState {
            problems.append("reported \(reported), is \(machine.sessionState)")
        }
        if machine.sessionState == .established {
            if peerRIB != Set(machine.ribOut.advertised.keys) {
                problems.append("the peer holds \(peerRIB.count) prefixes, the Adj-RIB-Out says \(machine.ribOut.advertised.count)")
            }
        } else if !machine.ribOut.advertised.isEmpty {
            problems.append("\(machine.ribOut.advertised.count) prefixes advertised while \(machine.sessionState)")
        }
        return problems
    }
}
