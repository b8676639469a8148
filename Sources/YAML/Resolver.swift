/// Yams' default resolver and scalar constructors (YAML 1.1 types for plain scalars), written
/// as byte matchers instead of regular expressions (NSRegularExpression needs ICU). The rules,
/// in Yams' order, first match wins: bool, int, float, merge, null, timestamp, value; else str.
enum Resolver {
    static func resolve(_ text: String) -> Tag.Name {
        let bytes = Array(text.utf8)
        if booleans[text] != nil { return .bool }
        if isInt(bytes) { return .int }
        if isFloat(bytes) { return .float }
        if text == "<<" { return .merge }
        if text == "~" || text == "null" || text == "Null" || text == "NULL" || text.isEmpty { return .null }
        if isTimestamp(bytes) { return .timestamp }
        if text == "=" { return .value }
        return .str
    }

    private static let booleans: [String: Bool] = [
        "yes": true, "Yes": true, "YES": true, "no": false, "No": false, "NO": false,
        "true": true, "True": true, "TRUE": true, "false": false, "False": false, "FALSE": false,
        "on": true, "On": true, "ON": true, "off": false, "Off": false, "OFF": false,
    ]

    // MARK: Constructors (Yams' `ScalarConstructible` rules)

    static func bool(_ scalar: Node.Scalar) -> Bool? {
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: return nil
        }
    }

    static func int(_ scalar: Node.Scalar) -> Int? {
        guard scalar.style == .any || scalar.style == .plain else { return nil }
        let withSign = scalar.string.filter { $0 != "_" }
        if withSign == "0" { return 0 }
        let negative = withSign.hasPrefix("-")
        let hasSign = negative || withSign.hasPrefix("+")
        let digits = withSign.dropFirst(hasSign ? 1 : 0)
        let sign = negative ? "-" : ""
        for (prefix, radix) in [("0x", 16), ("0b", 2), ("0o", 8), ("0", 8)] where digits.hasPrefix(prefix) {
            return Int(sign + digits.dropFirst(prefix.count), radix: radix)
        }
        if digits.contains(":") {
            guard let magnitude = sexagesimal(digits) else { return nil }
            return negative ? -magnitude : magnitude
        }
        return Int(withSign)
    }

    static func float(_ scalar: Node.Scalar) -> Double? {
        guard scalar.style == .any || scalar.style == .plain else { return nil }
        switch scalar.string {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default:
            let text = scalar.string.filter { $0 != "_" }
            guard text.contains(":") else { return Double(text) }
            let negative = text.hasPrefix("-")
            let digits = text.dropFirst(negative || text.hasPrefix("+") ? 1 : 0)
            var value = 0.0
            var base = 1.0
            for part in digits.split(separator: ":", omittingEmptySubsequences: false).reversed() {
                guard let digit = Double(part) else { continue }
                value += digit * base
                base *= 60
            }
            return negative ? -value : value
        }
    }

    /// `1:30` as 90; nil on overflow (Yams would trap). Unparsable parts are skipped, as in Yams.
    private static func sexagesimal(_ text: Substring) -> Int? {
        var value = 0
        var base = 1
        for part in text.split(separator: ":", omittingEmptySubsequences: false).reversed() {
            guard let digit = Int(part, radix: 10) else { continue }
            let (product, productOverflow) = digit.multipliedReportingOverflow(by: base)
            let (sum, sumOverflow) = value.addingReportingOverflow(product)
            guard !productOverflow, !sumOverflow else { return nil }
            value = sum
            base = base.multipliedReportingOverflow(by: 60).partialValue
        }
        return value
    }

    // MARK: Matchers

    private struct Cursor {
        let bytes: [UInt8]
        var index = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }
        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        /// Takes one byte if it satisfies `test`.
        mutating func take(_ test: (UInt8) -> Bool) -> Bool {
            guard let byte = current, test(byte) else { return false }
            index += 1
            return true
        }

        mutating func take(_ byte: UInt8) -> Bool { take { $0 == byte } }

        /// Takes every following byte that satisfies `test`; how many.
        @discardableResult
        mutating func takeAll(_ test: (UInt8) -> Bool) -> Int {
            let start = index
            while take(test) {}
            return index - start
        }

        mutating func takeSign() { _ = take { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") } }

        /// `(?::[0-5]?[0-9])+`
        mutating func takeSexagesimalParts() -> Bool {
            var parts = 0
            while current == UInt8(ascii: ":") {
                let save = index
                index += 1
                if let first = current, (UInt8(ascii: "0")...UInt8(ascii: "5")).contains(first),
                   index + 1 < bytes.count, isDigit(bytes[index + 1]) {
                    index += 2
                } else if take(isDigit) {
                } else {
                    index = save
                    break
                }
                parts += 1
            }
            return parts > 0
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
    private static func isDigitOrUnderscore(_ byte: UInt8) -> Bool { isDigit(byte) || byte == UInt8(ascii: "_") }

    private static func matches(_ bytes: [UInt8], _ pattern: (inout Cursor) -> Bool) -> Bool {
        var cursor = Cursor(bytes)
        return pattern(&cursor) && cursor.atEnd
    }

    static func isInt(_ bytes: [UInt8]) -> Bool {
        // [-+]?0b[0-1_]+
        matches(bytes) { cursor in
            cursor.takeSign()
            return cursor.take(UInt8(ascii: "0")) && cursor.take(UInt8(ascii: "b"))
                && cursor.takeAll { $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: "1") || $0 == UInt8(ascii: "_") } > 0
        }
            // [-+]?0o?[0-7_]+
            || matches(bytes) { cursor in
                cursor.takeSign()
                guard cursor.take(UInt8(ascii: "0")) else { return false }
                _ = cursor.take(UInt8(ascii: "o"))
                return cursor.takeAll { (UInt8(ascii: "0")...UInt8(ascii: "7")).contains($0) || $0 == UInt8(ascii: "_") } > 0
            }
            // [-+]?(?:0|[1-9][0-9_]*)
            || matches(bytes) { cursor in
                cursor.takeSign()
                if cursor.take(UInt8(ascii: "0")) { return true }
                guard cursor.take({ (UInt8(ascii: "1")...UInt8(ascii: "9")).contains($0) }) else { return false }
                cursor.takeAll(isDigitOrUnderscore)
                return true
            }
            // [-+]?0x[0-9a-fA-F_]+
            || matches(bytes) { cursor in
                cursor.takeSign()
                return cursor.take(UInt8(ascii: "0")) && cursor.take(UInt8(ascii: "x"))
                    && cursor.takeAll { isDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0) || $0 == UInt8(ascii: "_") } > 0
            }
            // [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+
            || matches(bytes) { cursor in
                cursor.takeSign()
                guard cursor.take({ (UInt8(ascii: "1")...UInt8(ascii: "9")).contains($0) }) else { return false }
                cursor.takeAll(isDigitOrUnderscore)
                return cursor.takeSexagesimalParts()
            }
    }

    static func isFloat(_ bytes: [UInt8]) -> Bool {
        // [-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?
        matches(bytes) { cursor in
            cursor.takeSign()
            guard cursor.take(isDigit) else { return false }
            cursor.takeAll(isDigitOrUnderscore)
            if cursor.take(UInt8(ascii: ".")) { cursor.takeAll(isDigitOrUnderscore) }
            let save = cursor.index
            if cursor.take({ $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
                cursor.takeSign()
                if cursor.takeAll(isDigit) == 0 { cursor.index = save }
            }
            return true
        }
            // \.[0-9_]+(?:[eE][-+][0-9]+)?
            || matches(bytes) { cursor in
                guard cursor.take(UInt8(ascii: ".")), cursor.takeAll(isDigitOrUnderscore) > 0 else { return false }
                let save = cursor.index
                if cursor.take({ $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
                    if !(cursor.take { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") } && cursor.takeAll(isDigit) > 0) { cursor.index = save }
                }
                return true
            }
            // [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
            || matches(bytes) { cursor in
                cursor.takeSign()
                guard cursor.take(isDigit) else { return false }
                cursor.takeAll(isDigitOrUnderscore)
                guard cursor.takeSexagesimalParts(), cursor.take(UInt8(ascii: ".")) else { return false }
                cursor.takeAll(isDigitOrUnderscore)
                return true
            }
            // [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
            || [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"].contains(String(decoding: bytes, as: UTF8.self))
    }

    static func isTimestamp(_ bytes: [UInt8]) -> Bool {
        func digits(_ cursor: inout Cursor, _ minimum: Int, _ maximum: Int) -> Bool {
            var count = 0
            while count < maximum, cursor.take(isDigit) { count += 1 }
            return count >= minimum
        }
        // [0-9]{4}-[0-9]{2}-[0-9]{2}
        return matches(bytes) { cursor in
            digits(&cursor, 4, 4) && cursor.take(UInt8(ascii: "-")) && digits(&cursor, 2, 2) && cursor.take(UInt8(ascii: "-")) && digits(&cursor, 2, 2)
        }
            // [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?
            || matches(bytes) { cursor in
                guard digits(&cursor, 4, 4), cursor.take(UInt8(ascii: "-")), digits(&cursor, 1, 2), cursor.take(UInt8(ascii: "-")), digits(&cursor, 1, 2) else { return false }
                let isBlank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
                guard cursor.take({ $0 == UInt8(ascii: "T") || $0 == UInt8(ascii: "t") }) || cursor.takeAll(isBlank) > 0 else { return false }
                guard digits(&cursor, 1, 2), cursor.take(UInt8(ascii: ":")), digits(&cursor, 2, 2), cursor.take(UInt8(ascii: ":")), digits(&cursor, 2, 2) else { return false }
                if cursor.take(UInt8(ascii: ".")) { cursor.takeAll(isDigit) }
                let save = cursor.index
                cursor.takeAll(isBlank)
                if cursor.take(UInt8(ascii: "Z")) { return true }
                if cursor.take({ $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }), digits(&cursor, 1, 2) {
                    let beforeMinutes = cursor.index
                    if !(cursor.take(UInt8(ascii: ":")) && digits(&cursor, 2, 2)) { cursor.index = beforeMinutes }
                    return true
                }
                cursor.index = save
                return true
            }
    }
}
