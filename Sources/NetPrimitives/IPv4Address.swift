// NetPrimitives: IP addresses, prefixes, ranges and MAC addresses as small value types.
//
// Parsing is strict (no leading zeros in IPv4 octets, no zones, no surrounding whitespace)
// because these types back configuration that decides which addresses the cluster owns:
// an ambiguous spelling is an error, not a guess. Formatting of IPv6 follows RFC 5952.

/// Why a string is not an address, prefix or range. The `description` is a short phrase
/// fit for an error message ("leading zero in octet").
public enum AddressParseError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case whitespace
    case scopedAddress
    case invalidIPv4(reason: String)
    case invalidIPv6(reason: String)
    case invalidPrefixLength(String)
    case prefixLengthOutOfRange(length: Int, maximum: Int)
    case hostBitsSet(canonical: String)
    case invalidRange(reason: String)
    case mixedFamilies
    case rangeStartAfterEnd
    case invalidMAC

    public var description: String {
        switch self {
        case .empty: return "empty"
        case .whitespace: return "contains whitespace"
        case .scopedAddress: return "scoped addresses (with %zone) are not allowed"
        case .invalidIPv4(let reason): return "not an IPv4 address: \(reason)"
        case .invalidIPv6(let reason): return "not an IPv6 address: \(reason)"
        case .invalidPrefixLength(let text): return "prefix length \"\(text)\" is not a decimal number"
        case .prefixLengthOutOfRange(let length, let maximum): return "prefix length \(length) is out of range 0-\(maximum)"
        case .hostBitsSet(let canonical): return "host bits are set (the network is \(canonical))"
        case .invalidRange(let reason): return "not an address range: \(reason)"
        case .mixedFamilies: return "start and end are of different address families"
        case .rangeStartAfterEnd: return "range start is after its end"
        case .invalidMAC: return "not a MAC address"
        }
    }
}

/// An IPv4 address in host byte order.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Network-order bytes; `bytes` must hold exactly 4.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 4 else { return nil }
        rawValue = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Parses dotted-quad text strictly: four decimal octets, no leading zeros.
    public init(parsing text: Substring) throws(AddressParseError) {
        guard !text.isEmpty else { throw .empty }
        var value: UInt32 = 0
        var octets = 0
        var digits = 0
        var octet: UInt32 = 0
        var leadingZero = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if digits == 1 && leadingZero { throw .invalidIPv4(reason: "leading zero in octet") }
                if digits == 0 { leadingZero = byte == UInt8(ascii: "0") }
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                if octet > 255 { throw .invalidIPv4(reason: "octet greater than 255") }
            case UInt8(ascii: "."):
                guard digits > 0 else { throw .invalidIPv4(reason: "empty octet") }
                octets += 1
                guard octets < 4 else { throw .invalidIPv4(reason: "more than four octets") }
                value = value << 8 | octet
                octet = 0
                digits = 0
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw .whitespace
            case UInt8(ascii: "%"):
                throw .scopedAddress
            default:
                throw .invalidIPv4(reason: "unexpected character")
            }
        }
        guard digits > 0 else { throw .invalidIPv4(reason: "empty octet") }
        guard octets == 3 else { throw .invalidIPv4(reason: "fewer than four octets") }
        rawValue = value << 8 | octet
    }

    public init?(_ text: String) {
        guard let value = try? IPv4Address(parsing: text[...]) else { return nil }
        self = value
    }

    public var bytes: [UInt8] {
        [UInt8(rawValue >> 24), UInt8(truncatingIfNeeded: rawValue >> 16), UInt8(truncatingIfNeeded: rawValue >> 8), UInt8(truncatingIfNeeded: rawValue)]
    }

    public var description: String {
        "\(rawValue >> 24).\((rawValue >> 16) & 0xff).\((rawValue >> 8) & 0xff).\(rawValue & 0xff)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.rawValue < rhs.rawValue }

    public static let any = IPv4Address(rawValue: 0)
    public static let broadcast = IPv4Address(rawValue: .max)
}
