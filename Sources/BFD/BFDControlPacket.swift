// BFD: Bidirectional Forwarding Detection (RFC 5880) as pure code.
//
// `BFDControlPacket` is the control packet codec (RFC 5880 §4.1, §4.2): `ByteBuffer`
// read/write extensions plus the datagram-level reception checks of §6.8.6 that need no
// session, each refusal a `BFDDropReason`. `BFDSessionStateMachine` is one asynchronous-mode
// session (§6.2, §6.8): events in, actions out, the instant and the jitter generator passed
// in. Nothing here reads a clock, sleeps, or touches a socket; the speaker's BFD transport
// (RFC 5881 single hop, RFC 5883 multihop) carries the packets.
//
// Decisions (docs/design/bfd.md): authentication sections are decoded and refused (a packet
// with the A bit is dropped as `authenticationNotSupported`); the echo function and demand
// mode are not implemented (IronLB never sets D and advertises a Required Min Echo RX
// Interval of 0).
import NIOCore

/// Session state as carried in the Sta field (RFC 5880 §4.1).
public enum BFDState: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case adminDown = 0
    case down = 1
    case initializing = 2
    case up = 3

    public var description: String {
        switch self {
        case .adminDown: "AdminDown"
        case .down: "Down"
        case .initializing: "Init"
        case .up: "Up"
        }
    }
}

/// The Diag field (RFC 5880 §4.1): why the session last left Up. Values 9-31 are reserved
/// and kept as received.
public struct BFDDiagnostic: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x1F }

    public static let none = BFDDiagnostic(rawValue: 0)
    public static let controlDetectionTimeExpired = BFDDiagnostic(rawValue: 1)
    public static let echoFunctionFailed = BFDDiagnostic(rawValue: 2)
    public static let neighborSignaledSessionDown = BFDDiagnostic(rawValue: 3)
    public static let forwardingPlaneReset = BFDDiagnostic(rawValue: 4)
    public static let pathDown = BFDDiagnostic(rawValue: 5)
    public static let concatenatedPathDown = BFDDiagnostic(rawValue: 6)
    public static let administrativelyDown = BFDDiagnostic(rawValue: 7)
    public static let reverseConcatenatedPathDown = BFDDiagnostic(rawValue: 8)

    public var description: String {
        switch rawValue {
        case 0: "none"
        case 1: "control-detection-time-expired"
        case 2: "echo-function-failed"
        case 3: "neighbor-signaled-session-down"
        case 4: "forwarding-plane-reset"
        case 5: "path-down"
        case 6: "concatenated-path-down"
        case 7: "administratively-down"
        case 8: "reverse-concatenated-path-down"
        default: "reserved-\(rawValue)"
        }
    }
}

/// The optional authentication section (RFC 5880 §4.2-§4.4), decoded so that a refusal can
/// name it; IronLB verifies none of them.
public struct BFDAuthentication: Sendable, Hashable {
    /// 1 Simple Password, 2 Keyed MD5, 3 Meticulous Keyed MD5, 4 Keyed SHA1, 5 Meticulous Keyed SHA1.
    public var type: UInt8
    /// The section after Auth Type and Auth Len (key ID, sequence number, digest or password).
    public var data: [UInt8]

    public init(type: UInt8, data: [UInt8]) {
        self.type = type
        self.data = data
    }

    /// The length each type must have (§4.2-§4.4); Simple Password is 4-19 bytes.
    static func lengthIsValid(type: UInt8, length: Int) -> Bool {
        switch type {
        case 1: (4...19).contains(length)
        case 2, 3: length == 24
        case 4, 5: length == 28
        default: length >= 2
        }
    }
}

/// A BFD Control packet (RFC 5880 §4.1). Intervals are in microseconds, as on the wire.
public struct BFDControlPacket: Sendable, Hashable {
    public static let version: UInt8 = 1
    /// Length of the mandatory section (§4.1).
    public static let mandatoryLength = 24

    public var diagnostic: BFDDiagnostic
    public var state: BFDState
    public var poll: Bool
    public var final: Bool
    /// Control Plane Independent.
    public var controlPlaneIndependent: Bool
    public var demand: Bool
    /// Multipoint: reserved, always clear in what IronLB sends (§4.1).
    public var multipoint: Bool
    public var detectMultiplier: UInt8
    public var myDiscriminator: UInt32
    public var yourDiscriminator: UInt32
    public var desiredMinTxInterval: UInt32
    public var requiredMinRxInterval: UInt32
    public var requiredMinEchoRxInterval: UInt32
    /// Present exactly when the A bit is set.
    public var authentication: BFDAuthentication?

    public init(diagnostic: BFDDiagnostic = .none, state: BFDState, poll: Bool = false, final: Bool = false,
                controlPlaneIndependent: Bool = false, demand: Bool = false, multipoint: Bool = false,
                detectMultiplier: UInt8, myDiscriminator: UInt32, yourDiscriminator: UInt32,
                desiredMinTxInterval: UInt32, requiredMinRxInterval: UInt32, requiredMinEchoRxInterval: UInt32 = 0,
                authentication: BFDAuthentication? = nil) {
        self.diagnostic = diagnostic
        self.state = state
        self.poll = poll
        self.final = final
        self.controlPlaneIndependent = controlPlaneIndependent
        self.demand = demand
        self.multipoint = multipoint
        self.detectMultiplier = detectMultiplier
        self.myDiscriminator = myDiscriminator
        self.yourDiscriminator = yourDiscriminator
        self.desiredMinTxInterval = desiredMinTxInterval
        self.requiredMinRxInterval = requiredMinRxInterval
        self.requiredMinEchoRxInterval = requiredMinEchoRxInterval
        self.authentication = authentication
    }

    /// The Length field this packet is written with.
    public var length: Int {
        Self.mandatoryLength + (authentication.map { 2 + $0.data.count } ?? 0)
    }

    /// Decodes one UDP payload: the whole datagram is one packet (§6.8.6), bytes after
    /// Length are ignored. Every refusal is a `BFDDropReason`; nothing here traps.
    public static func decode(datagram: ByteBuffer) throws(BFDDropReason) -> BFDControlPacket {
        var buffer = datagram
        guard let packet = try buffer.readBFDControlPacket() else { throw .truncated }
        return packet
    }
}

/// Why a received BFD packet was discarded. The raw value is the metric label.
public enum BFDDropReason: String, Error, Sendable, Hashable, CaseIterable {
    /// Fewer bytes than the mandatory section or than the Length field says (§6.8.6).
    case truncated = "truncated"
    case badVersion = "bad_version"
    /// Length below 24 (26 with the A bit), or an authentication section of the wrong size.
    case badLength = "bad_length"
    case zeroDetectMultiplier = "zero_detect_multiplier"
    case multipointSet = "multipoint_set"
    case zeroMyDiscriminator = "zero_my_discriminator"
    /// Your Discriminator is zero while the sender is neither Down nor AdminDown.
    case zeroYourDiscriminator = "zero_your_discriminator"
    /// A packet must not carry both Poll and Final (§6.5).
    case pollAndFinal = "poll_and_final"
    /// The A bit is set: IronLB does not run BFD authentication (§6.7).
    case authenticationNotSupported = "authentication_not_supported"
    /// Your Discriminator names no session of ours (§6.8.6).
    case unknownDiscriminator = "unknown_discriminator"
    /// The local session is AdminDown (§6.8.6).
    case sessionAdminDown = "session_admin_down"
    /// Single hop: TTL/hop limit not 255 (RFC 5881 §5); multihop: below the minimum TTL.
    case ttlTooLow = "ttl_too_low"
    /// No session is configured for the packet's source address.
    case noSession = "no_session"
}

extension ByteBuffer {
    /// Reads one control packet. Returns nil and leaves the buffer untouched when fewer bytes
    /// than the packet needs are readable; throws (leaving the buffer untouched) when the
    /// packet fails a check of RFC 5880 §6.8.6 that needs no session.
    public mutating func readBFDControlPacket() throws(BFDDropReason) -> BFDControlPacket? {
        guard readableBytes >= 4,
              let first = getInteger(at: readerIndex, as: UInt8.self),
              let flags = getInteger(at: readerIndex + 1, as: UInt8.self),
              let detectMultiplier = getInteger(at: readerIndex + 2, as: UInt8.self),
              let lengthByte = getInteger(at: readerIndex + 3, as: UInt8.self) else { return nil }
        guard first >> 5 == BFDControlPacket.version else { throw .badVersion }
        let length = Int(lengthByte)
        let authenticated = flags & 0x04 != 0
        guard length >= BFDControlPacket.mandatoryLength + (authenticated ? 2 : 0) else { throw .badLength }
        guard readableBytes >= length else { return nil }
        guard let my = getInteger(at: readerIndex + 4, as: UInt32.self),
              let your = getInteger(at: readerIndex + 8, as: UInt32.self),
              let desiredTx = getInteger(at: readerIndex + 12, as: UInt32.self),
              let requiredRx = getInteger(at: readerIndex + 16, as: UInt32.self),
              let requiredEchoRx = getInteger(at: readerIndex + 20, as: UInt32.self) else { return nil }
        guard let state = BFDState(rawValue: flags >> 6) else { preconditionFailure("two bits make a state") }
        guard detectMultiplier != 0 else { throw .zeroDetectMultiplier }
        guard flags & 0x01 == 0 else { throw .multipointSet }
        guard my != 0 else { throw .zeroMyDiscriminator }
        guard your != 0 || state == .down || state == .adminDown else { throw .zeroYourDiscriminator }
        let poll = flags & 0x20 != 0
        let final = flags & 0x10 != 0
        guard !(poll && final) else { throw .pollAndFinal }
        var authentication: BFDAuthentication?
        if authenticated {
            let base = readerIndex + BFDControlPacket.mandatoryLength
            guard let type = getInteger(at: base, as: UInt8.self),
                  let authLength = getInteger(at: base + 1, as: UInt8.self) else { return nil }
            // The section fills the packet exactly (§4.1: Length covers the whole packet).
            guard Int(authLength) == length - BFDControlPacket.mandatoryLength,
                  BFDAuthentication.lengthIsValid(type: type, length: Int(authLength)),
                  let data = getBytes(at: base + 2, length: Int(authLength) - 2) else { throw .badLength }
            authentication = BFDAuthentication(type: type, data: data)
        }
        moveReaderIndex(forwardBy: length)
        return BFDControlPacket(
            diagnostic: BFDDiagnostic(rawValue: first & 0x1F), state: state, poll: poll, final: final,
            controlPlaneIndependent: flags & 0x08 != 0, demand: flags & 0x02 != 0, multipoint: false,
            detectMultiplier: detectMultiplier, myDiscriminator: my, yourDiscriminator: your,
            desiredMinTxInterval: desiredTx, requiredMinRxInterval: requiredRx, requiredMinEchoRxInterval: requiredEchoRx,
            authentication: authentication
        )
    }

    /// Writes the packet; returns the bytes written.
    @discardableResult
    public mutating func writeBFDControlPacket(_ packet: BFDControlPacket) -> Int {
        var flags = packet.state.rawValue << 6
        if packet.poll { flags |= 0x20 }
        if packet.final { flags |= 0x10 }
        if packet.controlPlaneIndependent { flags |= 0x08 }
        if packet.authentication != nil { flags |= 0x04 }
        if packet.demand { flags |= 0x02 }
        if packet.multipoint { flags |= 0x01 }
        var written = writeInteger(BFDControlPacket.version << 5 | packet.diagnostic.rawValue)
        written += writeInteger(flags)
        written += writeInteger(packet.detectMultiplier)
        written += writeInteger(UInt8(clamping: packet.length))
        written += writeInteger(packet.myDiscriminator)
        written += writeInteger(packet.yourDiscriminator)
        written += writeInteger(packet.desiredMinTxInterval)
        written += writeInteger(packet.requiredMinRxInterval)
        written += writeInteger(packet.requiredMinEchoRxInterval)
        if let authentication = packet.authentication {
            written += writeInteger(authentication.type)
            written += writeInteger(UInt8(clamping: authentication.data.count + 2))
            written += writeBytes(authentication.data)
        }
        return written
    }
}
