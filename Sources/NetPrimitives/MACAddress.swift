/// A 48-bit IEEE 802 MAC address, kept in the low 48 bits of `rawValue`.
public struct MACAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue & 0xffff_ffff_ffff }

    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 6 else { return nil }
        rawValue = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Parses six two-digit hex octets separated by `:` or `-` (one separator throughout).
    public init(parsing text: Substring) throws(AddressParseError) {
        let separator: Character = text.contains("-") ? "-" : ":"
        let fields = text.split(separator: separator, omittingEmptySubsequences: false)
        guard fields.count == 6 else { throw .invalidMAC }
        var value: UInt64 = 0
        for field in fields {
            guard field.utf8.count == 2, field.utf8.allSatisfy({ $0.isHexDigit }), let octet = UInt8(field, radix: 16) else {
                throw .invalidMAC
            }
            value = value << 8 | UInt64(octet)
        }
        rawValue = value
    }

    public init?(_ text: String) {
        guard let value = try? MACAddress(parsing: text[...]) else { return nil }
        self = value
    }

    public var bytes: [UInt8] {
        (0..<6).map { UInt8(truncatingIfNeeded: rawValue >> (40 - 8 * $0)) }
    }

    public var description: String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    public var isBroadcast: Bool { rawValue == 0xffff_ffff_ffff }
    /// The group bit (least significant bit of the first octet).
    public var isMulticast: Bool { (rawValue >> 40) & 1 == 1 }

    public static let broadcast = MACAddress(rawValue: 0xffff_ffff_ffff)
    public static let zero = MACAddress(rawValue: 0)

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.rawValue < rhs.rawValue }
}
