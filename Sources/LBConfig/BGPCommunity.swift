/// A BGP community: standard (RFC 1997, `AS:value`, two 16-bit halves) or large
/// (RFC 8092, `large:global:local1:local2`, three 32-bit parts).
public enum BGPCommunity: Hashable, Comparable, Sendable, CustomStringConvertible {
    case standard(UInt32)
    case large(globalAdministrator: UInt32, localData1: UInt32, localData2: UInt32)

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
            self = .large(globalAdministrator: parts[0], localData1: parts[1], localData2: parts[2])
            return
        }
        guard fields.count == 2, Self.isDecimal(fields[0]), Self.isDecimal(fields[1]) else { throw .syntax }
        var halves: [UInt32] = []
        for field in fields {
            guard let value = UInt16(field) else { throw .halfOutOfRange(String(field)) }
            halves.append(UInt32(value))
        }
        self = .standard(halves[0] << 16 | halves[1])
    }

    private static func isDecimal(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.count <= 12 && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    public var description: String {
        switch self {
        case .standard(let value): return "\(value >> 16):\(value & 0xffff)"
        case .large(let a, let b, let c): return "large:\(a):\(b):\(c)"
        }
    }

    public var isLarge: Bool {
        if case .large = self { return true }
        return false
    }
}
