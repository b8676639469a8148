import BGPSession
import BGPWire
import NIOCore
import NetPrimitives
import TestSupport

/// A manual clock's instant: tests move time by hand.
struct TestInstant: InstantProtocol, Sendable, CustomStringConvertible {
    var offset: Duration
    static let zero = TestInstant(offset: .zero)
    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (lhs: TestInstant, rhs: TestInstant) -> Bool { lhs.offset < rhs.offset }
    static func + (lhs: TestInstant, rhs: Duration) -> TestInstant { lhs.advanced(by: rhs) }
    var description: String { "t+\(offset)" }
}


typealias Machine = BGPSessionStateMachine<TestInstant, SeededRandom>
typealias Action = BGPSessionAction<TestInstant>

extension Action {
    var sentMessage: BGPMessage? {
        if case .send(let message) = self { return message }
        return nil
    }
    var isClose: Bool {
        if case .closeConnection = self { return true }
        return false
    }
    var isConnect: Bool {
        if case .connect = self { return true }
        return false
    }
    func scheduled(_ timer: BGPSessionTimer) -> TestInstant? {
        if case .scheduleTimer(let t, let deadline) = self, t == timer { return deadline }
        return nil
    }
    var reportedState: BGPSessionState? {
        if case .stateChanged(let state) = self { return state }
        return nil
    }
}

extension Array where Element == Action {
    var sent: [BGPMessage] { compactMap(\.sentMessage) }
    var updates: [BGPUpdate] {
        sent.compactMap { if case .update(let u) = $0 { return u } else { return nil } }
    }
    var notifications: [BGPNotification] {
        sent.compactMap { if case .notification(let n) = $0 { return n } else { return nil } }
    }
    func deadline(_ timer: BGPSessionTimer) -> TestInstant? { lazy.compactMap { $0.scheduled(timer) }.last }
    var closes: Bool { contains { $0.isClose } }
    var states: [BGPSessionState] { compactMap(\.reportedState) }
}

enum Peer {
    static let localID = IPv4Address(192, 0, 2, 10)
    static let peerID = IPv4Address(192, 0, 2, 1)
    static let nextHops = BGPNextHops(ipv4: IPv4Address(192, 0, 2, 10), ipv6: IPv6Address("2001:db8::10")!,
                                      ipv6LinkLocal: IPv6Address("fe80::10")!)

    static func configuration(localASN: UInt32 = 64512, peerASN: UInt32 = 65001, holdTime: UInt16 = 90,
                              families: [BGPAddressFamily] = [.ipv4Unicast, .ipv6Unicast]) -> BGPSessionConfiguration {
        BGPSessionConfiguration(localASN: localASN, peerASN: peerASN, routerID: localID, holdTime: holdTime, families: families,
                                gracefulRestartTime: 120)
    }

    static func open(asn: UInt32 = 65001, holdTime: UInt16 = 90, id: IPv4Address = peerID,
                     families: [BGPAddressFamily] = [.ipv4Unicast, .ipv6Unicast], fourOctet: Bool = true,
                     extendedMessages: Bool = true) -> BGPOpen {
        var capabilities: [BGPCapability] = families.map { .multiprotocol($0) } + [.routeRefresh]
        if extendedMessages { capabilities.append(.extendedMessage) }
        if fourOctet {
            return BGPOpen(asn: asn, holdTime: holdTime, bgpIdentifier: id, capabilities: capabilities)
        }
        return BGPOpen(myAS: UInt16(truncatingIfNeeded: asn), holdTime: holdTime, bgpIdentifier: id, parameters: [.capabilities(capabilities)])
    }
}

/// Drives a machine to Established and returns the actions of the last step.
func establish(_ machine: inout Machine, open: BGPOpen = Peer.open(), at now: TestInstant = .zero) -> [Action] {
    _ = machine.start(now: now)
    _ = machine.connectionEstablished(now: now, nextHops: Peer.nextHops)
    _ = machine.messageReceived(.open(open), now: now)
    return machine.messageReceived(.keepalive, now: now)
}

/// Encodes and decodes each message with the given options: what the peer would read.
func onTheWire(_ messages: [BGPMessage], options: BGPCodecOptions) throws -> [BGPMessage] {
    var buffer = ByteBuffer()
    for message in messages { buffer.writeBGPMessage(message, options: options) }
    var decoded: [BGPMessage] = []
    while let message = try buffer.readBGPMessage(options: options) { decoded.append(message) }
    precondition(buffer.readableBytes == 0)
    return decoded
}
