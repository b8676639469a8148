/// Go's `time.ParseDuration` syntax, which MetalLB's `hold-time` and `keepalive-time` use:
/// a sequence of decimal numbers with units (`90s`, `1m30s`, `1.5h`); `0` alone needs no unit.
public enum GoDuration {
    public enum ParseError: Error, Equatable, Sendable {
        case syntax
        case missingUnit
        case unknownUnit(String)
        case negative
    }

    /// Parses to nanoseconds.
    public static func parse(_ text: String) throws(ParseError) -> Double {
        var rest = Substring(text)
        if rest == "0" { return 0 }
        if rest.hasPrefix("-") { throw .negative }
        if rest.hasPrefix("+") { rest = rest.dropFirst() }
        guard !rest.isEmpty else { throw .syntax }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1, let value = Double(number) else {
                throw .syntax
            }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard !unit.isEmpty else { throw .missingUnit }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: throw .unknownUnit(String(unit))
            }
            total += value * scale
        }
        return total
    }
}
