import NIOCore

/// A JSON syntax error at a byte offset. Code usable as a metric label.
public struct JSONParseError: Error, Hashable, CustomStringConvertible, Sendable {
    public var code: String
    public var offset: Int
    public var description: String { "json: \(code) at byte \(offset)" }
}

extension JSONValue {
    /// Parses one complete JSON text (RFC 8259). Trailing non-whitespace is an error.
    public static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(JSONParseError) -> JSONValue {
        let contiguous = Array(bytes)
        return try contiguous.withUnsafeBufferPointer { (buffer) throws(JSONParseError) -> JSONValue in
            var parser = JSONByteParser(bytes: buffer)
            parser.skipWS()
            let value = try parser.parseValue(depth: 0)
            parser.skipWS()
            if parser.pos != buffer.count { throw JSONParseError(code: "trailing_data", offset: parser.pos) }
            return value
        }
    }

    public static func parse(_ string: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(string.utf8))
    }

    public static func parse(buffer: ByteBuffer) throws(JSONParseError) -> JSONValue {
        try parse(buffer.readableBytesView)
    }

    /// Compact serialization with sorted object keys.
    public func serialized() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public func serializedBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out)
        return out
    }

    public func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let integer): out.append(contentsOf: String(integer).utf8)
        case .double(let number):
            if number.isFinite {
                if number == number.rounded() && abs(number) < 1e15 { out.append(contentsOf: String(Int64(number)).utf8) } else { out.append(contentsOf: "\(number)".utf8) }
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .string(let text): Self.writeString(text, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, element) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                element.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                members[key]!.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 0x0A: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

struct JSONByteParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var pos = 0
    /// The containers `JSONScanner` is inside.
    var depth = 0
    static let maxDepth = 512

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func skipWS() {
        while pos < bytes.count {
            let byte = bytes[pos]
            if byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { pos += 1 } else { break }
        }
    }

    func err(_ code: String) -> JSONParseError { JSONParseError(code: code, offset: pos) }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth < Self.maxDepth else { throw err("too_deep") }
        guard pos < bytes.count else { throw err("unexpected_end") }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            var members: [String: JSONValue] = [:]
            skipWS()
            if pos < bytes.count && bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
            while true {
                skipWS()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw err("expected_key") }
                let key = try parseString()
                skipWS()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw err("expected_colon") }
                pos += 1
                skipWS()
                members[key] = try parseValue(depth: depth + 1)
                skipWS()
                guard pos < bytes.count else { throw err("unexpected_end") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
                throw err("expected_comma_or_brace")
            }
        case UInt8(ascii: "["):
            pos += 1
            var items: [JSONValue] = []
            skipWS()
            if pos < bytes.count && bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            while true {
                skipWS()
                items.append(try parseValue(depth: depth + 1))
                skipWS()
                guard pos < bytes.count else { throw err("unexpected_end") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                throw err("expected_comma_or_bracket")
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            return try parseNumber()
        }
    }

    mutating func literal(_ expected: StaticString) throws(JSONParseError) {
        let count = expected.utf8CodeUnitCount
        guard pos + count <= bytes.count else { throw err("unexpected_end") }
        for index in 0..<count where bytes[pos + index] != expected.utf8Start[index] { throw err("bad_literal") }
        pos += count
    }

    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = pos
        let isInt = try scanNumber(leadingZeros: true)
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        if isInt, let integer = Int64(text) { return .int(integer) }
        guard let number = Double(text) else { throw err("bad_number") }
        return .double(number)
    }

    /// Moves past the number here (`-`, digits, a fraction, an exponent), checking its syntax;
    /// returns whether it has neither fraction nor exponent. `leadingZeros`: whether `01` passes
    /// (`JSONValue.parse` has always taken it; RFC 8259, and `JSONScanner`, do not).
    mutating func scanNumber(leadingZeros: Bool) throws(JSONParseError) -> Bool {
        var isInt = true
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        let first = pos
        var digits = 0
        while pos < bytes.count, bytes[pos] >= 48, bytes[pos] <= 57 { pos += 1; digits += 1 }
        guard digits > 0, leadingZeros || digits == 1 || bytes[first] != 48 else { throw err("bad_number") }
        if pos < bytes.count && bytes[pos] == UInt8(ascii: ".") {
            isInt = false
            pos += 1
            var fractionDigits = 0
            while pos < bytes.count, bytes[pos] >= 48, bytes[pos] <= 57 { pos += 1; fractionDigits += 1 }
            guard fractionDigits > 0 else { throw err("bad_number") }
        }
        if pos < bytes.count && (bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E")) {
            isInt = false
            pos += 1
            if pos < bytes.count && (bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-")) { pos += 1 }
            var exponentDigits = 0
            while pos < bytes.count, bytes[pos] >= 48, bytes[pos] <= 57 { pos += 1; exponentDigits += 1 }
            guard exponentDigits > 0 else { throw err("bad_number") }
        }
        return isInt
    }

    /// `strictUTF8`: invalid UTF-8 is an error (`invalid_utf8`) instead of being repaired.
    mutating func parseString(strictUTF8: Bool = false) throws(JSONParseError) -> String {
        pos += 1  // opening quote
        var out: [UInt8] = []
        let start = pos
        // Fast path: no escapes.
        while pos < bytes.count {
            let byte = bytes[pos]
            if byte == UInt8(ascii: "\"") {
                let run = UnsafeBufferPointer(rebasing: bytes[start..<pos])
                if strictUTF8 {
                    guard let text = String(validating: run, as: UTF8.self) else { throw JSONParseError(code: "invalid_utf8", offset: start) }
                    pos += 1
                    return text
                }
                let text = String(decoding: run, as: UTF8.self)
                pos += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw err("control_in_string") }
            pos += 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<pos]))
        while pos < bytes.count {
            let byte = bytes[pos]
            if byte == UInt8(ascii: "\"") {
                if strictUTF8 {
                    guard let text = String(validating: out, as: UTF8.self) else { throw JSONParseError(code: "invalid_utf8", offset: start) }
                    pos += 1
                    return text
                }
                pos += 1
                return String(decoding: out, as: UTF8.self)
            }
            if byte < 0x20 { throw err("control_in_string") }
            if byte == UInt8(ascii: "\\") {
                pos += 1
                guard pos < bytes.count else { throw err("unexpected_end") }
                let escaped = bytes[pos]
                pos += 1
                switch escaped {
                case UInt8(ascii: "\""): out.append(34)
                case UInt8(ascii: "\\"): out.append(92)
                case UInt8(ascii: "/"): out.append(47)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard pos + 6 <= bytes.count, bytes[pos] == 92, bytes[pos + 1] == UInt8(ascii: "u") else {
                            throw err("lone_surrogate")
                        }
                        pos += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw err("lone_surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw err("lone_surrogate")
                    }
                    guard let unicodeScalar = Unicode.Scalar(scalar) else { throw err("bad_escape") }
                    out.append(contentsOf: Array(String(Character(unicodeScalar)).utf8))
                default: throw err("bad_escape")
                }
                continue
            }
            out.append(byte)
            pos += 1
        }
        throw err("unexpected_end")
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw err("unexpected_end") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[pos]
            let digit: UInt32
            switch byte {
            case 48...57: digit = UInt32(byte - 48)
            case 65...70: digit = UInt32(byte - 55)
            case 97...102: digit = UInt32(byte - 87)
            default: throw err("bad_escape")
            }
            value = value * 16 + digit
            pos += 1
        }
        return value
    }
}
