/// The two IP families, named as Kubernetes names them in `spec.ipFamilies`.
public enum IPFamily: String, Hashable, Comparable, Sendable, CaseIterable, CustomStringConvertible {
    case ipv4 = "IPv4"
    case ipv6 = "IPv6"

    public var bitWidth: Int { self == .ipv4 ? 32 : 128 }
    public var description: String { rawValue }

    public static func < (lhs: IPFamily, rhs: IPFamily) -> Bool { lhs == .ipv4 && rhs == .ipv6 }
}

/// An IPv4 or IPv6 address. IPv4 sorts before IPv6.
///
/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) stay IPv6: Kubernetes and the kernel treat
/// them as distinct from the IPv4 address, and so does IronLB.
public enum IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Parses either family; text containing `:` is IPv6.
    public init(parsing text: Substring) throws(AddressParseError) {
        if text.contains(":") {
            self = .v6(try IPv6Address(parsing: text))
        } else {
            self = .v4(try IPv4Address(parsing: text))
        }
    }

    public init?(_ text: String) {
        guard let value = try? IPAddress(parsing: text[...]) else { return nil }
        self = value
    }

    public var family: IPFamily {
        switch self {
        case .v4: return .ipv4
        case .v6: return .ipv6
        }
    }

    /// The address as an unsigned integer of its family's width (IPv4 in the low 32 bits).
    public var integer: UInt128 {
        switch self {
        case .v4(let a): return UInt128(a.rawValue)
        case .v6(let a): return a.rawValue
        }
    }

    /// Rebuilds an address of `family` from its integer form; bits above the family's width are dropped.
    public init(family: IPFamily, integer: UInt128) {
        switch family {
        case .ipv4: self = .v4(IPv4Address(rawValue: UInt32(truncatingIfNeeded: integer)))
        case .ipv6: self = .v6(IPv6Address(rawValue: integer))
        }
    }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let a): return a.bytes
        case .v6(let a): return a.bytes
        }
    }

    public var description: String {
        switch self {
        case .v4(let a): return a.description
        case .v6(let a): return a.description
        }
    }

    /// The next address, or nil past the end of the family's space.
    public var successor: IPAddress? {
        let max = Self.maxInteger(family)
        return integer == max ? nil : IPAddress(family: family, integer: integer + 1)
    }

    /// The previous address, or nil before the start of the family's space.
    public var predecessor: IPAddress? {
        integer == 0 ? nil : IPAddress(family: family, integer: integer - 1)
    }

    static func maxInteger(_ family: IPFamily) -> UInt128 {
        family == .ipv4 ? UInt128(UInt32.max) : UInt128.max
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): return a < b
        case (.v6(let a), .v6(let b)): return a < b
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }
}
