/// An inclusive range of addresses of one family, `first...last`.
public struct IPRange: Hashable, Comparable, Sendable, CustomStringConvertible, Sequence {
    public let first: IPAddress
    public let last: IPAddress

    public var family: IPFamily { first.family }

    public init(first: IPAddress, last: IPAddress) throws(AddressParseError) {
        guard first.family == last.family else { throw .mixedFamilies }
        guard first <= last else { throw .rangeStartAfterEnd }
        self.first = first
        self.last = last
    }

    init(uncheckedFirst first: IPAddress, last: IPAddress) {
        self.first = first
        self.last = last
    }

    /// Parses `start-end`. Whitespace around the dash is allowed (MetalLB accepts
    /// `192.0.2.10 - 192.0.2.20`); whitespace inside an address is not.
    public init(parsing text: Substring) throws(AddressParseError) {
        guard !text.isEmpty else { throw .empty }
        let pieces = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard pieces.count == 2 else { throw .invalidRange(reason: "expected start-end") }
        let start = Self.trim(pieces[0])
        let end = Self.trim(pieces[1])
        guard !start.isEmpty, !end.isEmpty else { throw .invalidRange(reason: "missing start or end") }
        try self.init(first: try IPAddress(parsing: start), last: try IPAddress(parsing: end))
    }

    public init?(_ text: String) {
        guard let value = try? IPRange(parsing: text[...]) else { return nil }
        self = value
    }

    private static func trim(_ text: Substring) -> Substring {
        var text = text
        while let c = text.first, c == " " || c == "\t" { text = text.dropFirst() }
        while let c = text.last, c == " " || c == "\t" { text = text.dropLast() }
        return text
    }

    /// Number of addresses, saturating at `UInt128.max` for the whole IPv6 space.
    public var count: UInt128 {
        let span = last.integer - first.integer
        return span == .max ? .max : span + 1
    }

    public func contains(_ address: IPAddress) -> Bool {
        address.family == family && first <= address && address <= last
    }

    public func contains(_ other: IPRange) -> Bool {
        other.family == family && first <= other.first && other.last <= last
    }

    public func overlaps(_ other: IPRange) -> Bool {
        other.family == family && first <= other.last && other.first <= last
    }

    /// The address `offset` places after `first`, or nil when that is past `last`.
    public func address(at offset: UInt128) -> IPAddress? {
        guard offset <= last.integer - first.integer else { return nil }
        return IPAddress(family: family, integer: first.integer + offset)
    }

    /// The offset of `address` from `first`, or nil when the range does not contain it.
    public func offset(of address: IPAddress) -> UInt128? {
        contains(address) ? address.integer - first.integer : nil
    }

    /// The smallest set of CIDR prefixes that covers exactly this range, in address order.
    public var prefixes: [IPPrefix] {
        var result: [IPPrefix] = []
        let width = family.bitWidth
        var start = first.integer
        let end = last.integer
        while true {
            // The largest block aligned at `start` that does not pass `end`.
            var hostBits = start == 0 ? width : Swift.min(start.trailingZeroBitCount, width)
            while hostBits > 0 {
                let blockLast = start | IPPrefix.hostMask(family: family, length: width - hostBits)
                if blockLast <= end { break }
                hostBits -= 1
            }
            let network = IPAddress(family: family, integer: start)
            result.append(IPPrefix(containing: network, length: width - hostBits))
            let blockLast = start | IPPrefix.hostMask(family: family, length: width - hostBits)
            if blockLast >= end { break }
            start = blockLast + 1
        }
        return result
    }

    public var description: String { "\(first)-\(last)" }

    public static func < (lhs: IPRange, rhs: IPRange) -> Bool {
        (lhs.first, lhs.last) < (rhs.first, rhs.last)
    }

    public struct Iterator: IteratorProtocol {
        var upcoming: IPAddress?
        let last: IPAddress

        public mutating func next() -> IPAddress? {
            guard let current = upcoming else { return nil }
            upcoming = current == last ? nil : current.successor
            return current
        }
    }

    public func makeIterator() -> Iterator { Iterator(upcoming: first, last: last) }
}
