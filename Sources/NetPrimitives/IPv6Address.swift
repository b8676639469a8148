/// An IPv6 address as a 128-bit integer (the first group in the high bits).
///
/// Stored as two 64-bit halves: a `UInt128` is aligned to 16 bytes, which made every
/// `IPAddress` take 32 bytes in arrays and hash tables instead of 24 (docs/design/scale.md).
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public var rawValue: UInt128 {
        get { UInt128(high) << 64 | UInt128(low) }
        set {
            high = UInt64(truncatingIfNeeded: newValue >> 64)
            low = UInt64(truncatingIfNeeded: newValue)
        }
    }

    public init(rawValue: UInt128) {
        high = UInt64(truncatingIfNeeded: rawValue >> 64)
        low = UInt64(truncatingIfNeeded: rawValue)
    }

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Network-order bytes; `bytes` must hold exactly 16.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 16 else { return nil }
        self.init(rawValue: bytes.reduce(0) { $0 << 8 | UInt128($1) })
    }

    public var bytes: [UInt8] {
        (0..<16).map { UInt8(truncatingIfNeeded: rawValue >> (120 - 8 * $0)) }
    }

    /// The eight 16-bit groups, first group first.
    public var groups: [UInt16] {
        (0..<8).map { UInt16(truncatingIfNeeded: rawValue >> (112 - 16 * $0)) }
    }

    public init(groups: [UInt16]) {
        precondition(groups.count == 8, "an IPv6 address has eight groups")
        self.init(rawValue: groups.reduce(0) { $0 << 16 | UInt128($1) })
    }

    /// Parses RFC 4291 §2.2 text: up to eight hex groups of one to four digits, one `::`,
    /// and an optional trailing dotted-quad. Zones (`%eth0`) and whitespace are rejected.
    public init(parsing text: Substring) throws(AddressParseError) {
        guard !text.isEmpty else { throw .empty }
        if text.utf8.contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) {
            throw .whitespace
        }
        if text.contains("%") { throw .scopedAddress }

        var groups: [UInt16]
        if let range = text.firstRange(of: "::") {
            let before = text[..<range.lowerBound]
            let after = text[range.upperBound...]
            if after.contains("::") || before.hasSuffix(":") || after.hasPrefix(":") {
                throw .invalidIPv6(reason: "more than one \"::\"")
            }
            let head = try Self.parseGroups(before, allowEmbeddedIPv4: false)
            let tail = try Self.parseGroups(after, allowEmbeddedIPv4: true)
            guard head.count + tail.count <= 7 else { throw .invalidIPv6(reason: "too many groups") }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            groups = try Self.parseGroups(text, allowEmbeddedIPv4: true)
            guard groups.count == 8 else {
                throw .invalidIPv6(reason: groups.count < 8 ? "too few groups" : "too many groups")
            }
        }
        self.init(groups: groups)
    }

    public init?(_ text: String) {
        guard let value = try? IPv6Address(parsing: text[...]) else { return nil }
        self = value
    }

    private static func parseGroups(_ text: Substring, allowEmbeddedIPv4: Bool) throws(AddressParseError) -> [UInt16] {
        if text.isEmpty { return [] }
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (index, field) in fields.enumerated() {
            if field.isEmpty { throw .invalidIPv6(reason: "empty group") }
            if field.contains(".") {
                guard allowEmbeddedIPv4, index == fields.count - 1 else {
                    throw .invalidIPv6(reason: "embedded IPv4 address not in the last 32 bits")
                }
                let v4: IPv4Address
                do { v4 = try IPv4Address(parsing: field) } catch { throw .invalidIPv6(reason: "bad embedded IPv4 address") }
                groups.append(UInt16(v4.rawValue >> 16))
                groups.append(UInt16(truncatingIfNeeded: v4.rawValue))
                continue
            }
            guard field.utf8.count <= 4 else { throw .invalidIPv6(reason: "group longer than four hex digits") }
            guard let value = UInt16(field, radix: 16), field.utf8.allSatisfy({ $0.isHexDigit }) else {
                throw .invalidIPv6(reason: "group is not hexadecimal")
            }
            groups.append(value)
        }
        return groups
    }

    /// RFC 5952 §4: lowercase, no leading zeros, the longest run (first on a tie) of two or
    /// more zero groups as `::`; IPv4-mapped addresses (§5) end in dotted-quad form.
    public var description: String {
        let groups = self.groups
        if high == 0, low >> 32 == 0xffff {
            return "::ffff:" + IPv4Address(rawValue: UInt32(truncatingIfNeeded: low)).description
        }
        var bestStart = -1, bestLength = 0
        var index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - index > bestLength { bestStart = index; bestLength = end - index }
                index = end
            } else {
                index += 1
            }
        }
        if bestLength < 2 { bestStart = -1 }
        var text = ""
        index = 0
        while index < 8 {
            if index == bestStart {
                text += "::"
                index += bestLength
                continue
            }
            if !text.isEmpty && !text.hasSuffix(":") { text += ":" }
            text += String(groups[index], radix: 16)
            index += 1
        }
        return text
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool { (lhs.high, lhs.low) < (rhs.high, rhs.low) }

    public static let unspecified = IPv6Address(rawValue: 0)

    /// True for fe80::/10.
    public var isLinkLocal: Bool { rawValue >> 118 == 0x3fa }
    /// True for ff00::/8.
    public var isMulticast: Bool { rawValue >> 120 == 0xff }

    /// The solicited-node multicast address ff02::1:ffXX:XXXX for this address (RFC 4291 §2.7.1).
    public var solicitedNodeMulticast: IPv6Address {
        IPv6Address(rawValue: (UInt128(0xff02) << 112) | (UInt128(0x1_ff00_0000)) | (rawValue & 0x00ff_ffff))
    }
}

extension UInt8 {
    @inlinable var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
            || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}
