/// A CIDR prefix: a network address with all host bits clear, and a length.
public struct IPPrefix: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let network: IPAddress
    /// Stored in a byte (at most 128): with `network` the prefix takes 24 bytes, not 32.
    private let storedLength: UInt8
    public var length: Int { Int(storedLength) }

    public var family: IPFamily { network.family }

    /// Exact: throws when host bits are set, so that `192.0.2.7/24` is never silently widened.
    public init(network: IPAddress, length: Int) throws(AddressParseError) {
        let width = network.family.bitWidth
        guard (0...width).contains(length) else {
            throw .prefixLengthOutOfRange(length: length, maximum: width)
        }
        let masked = Self.mask(network, length: length)
        guard masked == network else {
            throw .hostBitsSet(canonical: "\(masked)/\(length)")
        }
        self.network = network
        self.storedLength = UInt8(length)
    }

    /// The prefix of `length` bits that contains `address` (host bits cleared).
    public init(containing address: IPAddress, length: Int) {
        let clamped = min(max(length, 0), address.family.bitWidth)
        self.network = Self.mask(address, length: clamped)
        self.storedLength = UInt8(clamped)
    }

    /// A host prefix: /32 or /128.
    public init(host address: IPAddress) {
        self.network = address
        self.storedLength = UInt8(address.family.bitWidth)
    }

    /// Parses `address/length` strictly: the length is decimal without leading zeros, and
    /// host bits must be clear.
    public init(parsing text: Substring) throws(AddressParseError) {
        guard !text.isEmpty else { throw .empty }
        guard let slash = text.firstIndex(of: "/") else { throw .invalidPrefixLength("") }
        let address = try IPAddress(parsing: text[..<slash])
        let lengthText = text[text.index(after: slash)...]
        guard !lengthText.isEmpty, lengthText.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              lengthText.utf8.count <= 3, !(lengthText.utf8.count > 1 && lengthText.hasPrefix("0")),
              let length = Int(lengthText)
        else {
            if lengthText.contains(where: { $0.isWhitespace }) { throw .whitespace }
            throw .invalidPrefixLength(String(lengthText))
        }
        try self.init(network: address, length: length)
    }

    public init?(_ text: String) {
        guard let value = try? IPPrefix(parsing: text[...]) else { return nil }
        self = value
    }

    static func hostMask(family: IPFamily, length: Int) -> UInt128 {
        let hostBits = family.bitWidth - length
        if hostBits == 0 { return 0 }
        if hostBits == 128 { return .max }
        return (UInt128(1) << hostBits) - 1
    }

    static func mask(_ address: IPAddress, length: Int) -> IPAddress {
        IPAddress(family: address.family, integer: address.integer & ~hostMask(family: address.family, length: length))
    }

    public var first: IPAddress { network }
    public var last: IPAddress {
        IPAddress(family: family, integer: network.integer | Self.hostMask(family: family, length: length))
    }

    public var range: IPRange { IPRange(uncheckedFirst: first, last: last) }

    /// Number of addresses, saturating at `UInt128.max` for `::/0`.
    public var count: UInt128 { range.count }

    public func contains(_ address: IPAddress) -> Bool {
        address.family == family && Self.mask(address, length: length) == network
    }

    public func contains(_ other: IPPrefix) -> Bool {
        other.family == family && other.length >= length && contains(other.network)
    }

    public func overlaps(_ other: IPPrefix) -> Bool {
        contains(other) || other.contains(self)
    }

    public var description: String { "\(network)/\(length)" }

    public static func < (lhs: IPPrefix, rhs: IPPrefix) -> Bool {
        (lhs.network, lhs.length) < (rhs.network, rhs.length)
    }
}
