// BGPWire: BGP-4 messages, path attributes and capabilities as value types, with
// `ByteBuffer` decode/encode extensions.
//
// Covers RFC 4271 (BGP-4), RFC 4760 (multiprotocol), RFC 6793 (4-octet AS numbers with
// AS_TRANS and AS4_PATH), RFC 2918/7313 (route refresh), RFC 4724 (graceful restart),
// RFC 8654 (extended messages), RFC 1997 (communities), RFC 8092 (large communities),
// RFC 9003 (shutdown communication), RFC 9072 (extended optional parameters length) and
// RFC 7606 (revised error handling).
//
// Decoding never trusts a length and never traps: a peer's malformation is a `BGPError`
// carrying the NOTIFICATION code, subcode and data RFC 4271 §6 names, plus the RFC 7606
// handling (session reset, treat-as-withdraw, attribute discard). Errors that do not reset
// the session are reported on the decoded `BGPUpdate` instead of being thrown.
// Readers leave the buffer untouched when a message is incomplete or malformed.

/// Message types, RFC 4271 §4.1 and RFC 2918 §3.
public enum BGPMessageType: UInt8, Hashable, Sendable, CaseIterable {
    case open = 1
    case update = 2
    case notification = 3
    case keepalive = 4
    case routeRefresh = 5
}

/// Sizes from RFC 4271 §4.1 and RFC 8654 §4.
public enum BGPLimits {
    /// Marker (16) + Length (2) + Type (1).
    public static let headerLength = 19
    public static let markerLength = 16
    /// The maximum message size without the extended message capability.
    public static let maximumMessageLength = 4096
    /// The maximum message size once both sides advertised extended messages (RFC 8654).
    public static let maximumExtendedMessageLength = 65535
    /// BGP version 4 (RFC 4271 §4.2).
    public static let version: UInt8 = 4
    /// The 2-octet placeholder for a 4-octet AS number (RFC 6793 §9).
    public static let asTrans: UInt16 = 23456
}

/// Address Family Identifier, IANA "Address Family Numbers".
public struct BGPAFI: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let ipv4 = BGPAFI(rawValue: 1)
    public static let ipv6 = BGPAFI(rawValue: 2)
    public var description: String {
        switch self {
        case .ipv4: return "ipv4"
        case .ipv6: return "ipv6"
        default: return "afi\(rawValue)"
        }
    }
}

/// Subsequent Address Family Identifier, RFC 4760 §6.
public struct BGPSAFI: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let unicast = BGPSAFI(rawValue: 1)
    public static let multicast = BGPSAFI(rawValue: 2)
    public var description: String { self == .unicast ? "unicast" : "safi\(rawValue)" }
}

/// An AFI/SAFI pair.
public struct BGPAddressFamily: Hashable, Sendable, CustomStringConvertible {
    public var afi: BGPAFI
    public var safi: BGPSAFI
    public init(afi: BGPAFI, safi: BGPSAFI) {
        self.afi = afi
        self.safi = safi
    }
    public static let ipv4Unicast = BGPAddressFamily(afi: .ipv4, safi: .unicast)
    public static let ipv6Unicast = BGPAddressFamily(afi: .ipv6, safi: .unicast)
    public var description: String { "\(afi)-\(safi)" }
}

/// What the codec must know about the session: settings negotiated by the OPEN exchange.
public struct BGPCodecOptions: Hashable, Sendable {
    /// Both sides advertised the 4-octet AS capability (RFC 6793): AS_PATH and AGGREGATOR
    /// carry 4-octet AS numbers.
    public var fourOctetASN: Bool
    /// Both sides advertised the extended message capability (RFC 8654).
    public var extendedMessages: Bool

    public init(fourOctetASN: Bool = true, extendedMessages: Bool = false) {
        self.fourOctetASN = fourOctetASN
        self.extendedMessages = extendedMessages
    }

    /// The largest UPDATE, NOTIFICATION or ROUTE-REFRESH allowed; OPEN and KEEPALIVE stay at
    /// 4096 (RFC 8654 §4).
    public var maximumMessageLength: Int {
        extendedMessages ? BGPLimits.maximumExtendedMessageLength : BGPLimits.maximumMessageLength
    }
}
