/// A community as configuration spells it (MetalLB's syntax): standard (RFC 1997, `AS:value`,
/// two 16-bit halves) or large (RFC 8092, `large:global:local1:local2`, three 32-bit parts).
public enum BGPCommunityValue: Hashable, Comparable, Sendable, CustomStringConvertible {
    case standard(BGPCommunity)
    case large(BGPLargeCommunity)

    public enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        case syntax
        case halfOutOfRange(String)
        case partOutOfRange(String)

        public var description: String {
            switch self {
            case .syntax: return "is not a community (AS:value or large:A:B:C)"
            case .halfOutOfRange(let text): return "community part \(text) is not a 16-bit number (0-65535)"
            case .partOutOfRange(let text): return "large community part \(text) is not a 32-bit number (0-4294967295)"
            }
        }
    }

    public init(parsing text: String) throws(ParseError) {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        if fields.first == "large" {
            guard fields.count == 4 else { throw .syntax }
            var parts: [UInt32] = []
            for field in fields.dropFirst() {
                guard Self.isDecimal(field) else { throw .syntax }
                guard let value = UInt32(field) else { throw .partOutOfRange(String(field)) }
                parts.append(value)
            }
            self = .large(BGPLargeCommunity(parts[0], parts[1], parts[2]))
            return
        }
        guard fields.count == 2, Self.isDecimal(fields[0]), Self.isDecimal(fields[1]) else { throw .syntax }
        var halves: [UInt32] = []
        for field in fields {
            guard let value = UInt16(field) else { throw .halfOutOfRange(String(field)) }
            halves.append(UInt32(value))
        }
        self = .standard(BGPCommunity(rawValue: halves[0] << 16 | halves[1]))
    }

    private static func isDecimal(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.count <= 12 && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    public var description: String {
        switch self {
        case .standard(let community): return community.description
        case .large(let community): return "large:\(community)"
        }
    }

    public var isLarge: Bool {
        if case .large = self { return true }
        return false
    }
}

extension BGPCommunity: Comparable {
    public static func < (lhs: BGPCommunity, rhs: BGPCommunity) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension BGPLargeCommunity: Comparable {
    public static func < (lhs: BGPLargeCommunity, rhs: BGPLargeCommunity) -> Bool {
        (lhs.globalAdministrator, lhs.localData1, lhs.localData2) < (rhs.globalAdministrator, rhs.localData1, rhs.localData2)
    }
}
