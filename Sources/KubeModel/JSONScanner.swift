import NIOCore

/// Reads chosen fields of one JSON text (RFC 8259) without building the rest: a projection asks
/// for the members it wants and skips the others, which are checked (a malformed text is an
/// error wherever it is malformed) but never turned into values. `JSONDecoder` builds a map of
/// the whole text and goes through the generic `Decoder` machinery per field; a speaker decodes
/// a watch event per Service, and that was a tenth of its CPU (docs/design/scale.md, "Fourth
/// pass"). Built on `JSONByteParser` (the grammar `JSONValue.parse` reads).
///
/// The readers follow `JSONDecoder`'s rules for the optional fields projections use: a missing
/// member or `null` is nil; a value of another type is an error (`type_mismatch`); of a member
/// given twice, the last counts. Strings must be valid UTF-8 (`invalid_utf8`).
public struct JSONScanner {
    var parser: JSONByteParser

    init(bytes: UnsafeBufferPointer<UInt8>) { parser = JSONByteParser(bytes: bytes) }

    /// Scans `bytes` as one JSON text: `read` reads its value; anything after it but whitespace
    /// is an error.
    public static func scan<Result>(_ bytes: UnsafeRawBufferPointer, _ read: (inout JSONScanner) throws(JSONParseError) -> Result) throws(JSONParseError) -> Result {
        var scanner = JSONScanner(bytes: bytes.bindMemory(to: UInt8.self))
        scanner.parser.skipWS()
        let result = try read(&scanner)
        scanner.parser.skipWS()
        guard scanner.parser.pos == scanner.parser.bytes.count else { throw scanner.parser.err("trailing_data") }
        return result
    }

    public static func scan<Result>(_ buffer: ByteBuffer, _ read: (inout JSONScanner) throws(JSONParseError) -> Result) throws(JSONParseError) -> Result {
        try buffer.withUnsafeReadableBytesTyped { (bytes) throws(JSONParseError) in try scan(bytes, read) }
    }

    /// (Tests, tools: the bytes are copied into a buffer.)
    public static func scan<Result>(_ bytes: [UInt8], _ read: (inout JSONScanner) throws(JSONParseError) -> Result) throws(JSONParseError) -> Result {
        try scan(ByteBuffer(bytes: bytes), read)
    }

    /// The byte offset the scanner is at.
    public var offset: Int { parser.pos }

    /// A member's name as it is in the text (compared without building a String when it has no
    /// escapes).
    public struct Key {
        let raw: UnsafeBufferPointer<UInt8>
        let decoded: String?

        /// Whether the name is `name`.
        public static func == (key: Key, name: StaticString) -> Bool {
            if let decoded = key.decoded { return decoded == name.description }
            guard key.raw.count == name.utf8CodeUnitCount else { return false }
            let expected = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
            for index in 0..<key.raw.count where key.raw[index] != expected[index] { return false }
            return true
        }

        /// The name as a String.
        public var string: String {
            decoded ?? String(decoding: raw, as: UTF8.self)
        }
    }

    /// An error `code` at the scanner's offset (a projection's own checks: `type_mismatch`).
    public func error(_ code: String) -> JSONParseError { parser.err(code) }

    private func mismatch() -> JSONParseError { parser.err("type_mismatch") }

    private func peek() throws(JSONParseError) -> UInt8 {
        guard parser.pos < parser.bytes.count else { throw parser.err("unexpected_end") }
        return parser.bytes[parser.pos]
    }

    /// Consumes a `null` if one is next.
    public mutating func null() throws(JSONParseError) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try parser.literal("null")
        return true
    }

    /// Steps into the container `opener` opens here (one level deeper, past the opener and
    /// whitespace): false for `null`, `type_mismatch` for any other value.
    private mutating func enter(_ opener: UInt8) throws(JSONParseError) -> Bool {
        if try null() { return false }
        guard try peek() == opener else { throw mismatch() }
        guard parser.depth < JSONByteParser.maxDepth else { throw parser.err("too_deep") }
        parser.depth += 1
        parser.pos += 1
        parser.skipWS()
        return true
    }

    /// The members of the object here, each given to `member`, which must read or skip its
    /// value. Returns false (calling nothing) for `null`; any other value is `type_mismatch`.
    @discardableResult
    public mutating func members(_ member: (inout JSONScanner, Key) throws(JSONParseError) -> Void) throws(JSONParseError) -> Bool {
        guard try enter(UInt8(ascii: "{")) else { return false }
        defer { parser.depth -= 1 }
        if try peek() == UInt8(ascii: "}") { parser.pos += 1; return true }
        while true {
            parser.skipWS()
            guard try peek() == UInt8(ascii: "\"") else { throw parser.err("expected_key") }
            let key = try parser.scanKey()
            parser.skipWS()
            guard try peek() == UInt8(ascii: ":") else { throw parser.err("expected_colon") }
            parser.pos += 1
            parser.skipWS()
            let start = parser.pos
            try member(&self, key)
            if try finished(since: start, closer: UInt8(ascii: "}"), expected: "expected_comma_or_brace") { return true }
        }
    }

    /// The elements of the array here, each given to `element`, which must read or skip it.
    /// Returns false (calling nothing) for `null`; any other value is `type_mismatch`.
    @discardableResult
    public mutating func elements(_ element: (inout JSONScanner) throws(JSONParseError) -> Void) throws(JSONParseError) -> Bool {
        guard try enter(UInt8(ascii: "[")) else { return false }
        defer { parser.depth -= 1 }
        if try peek() == UInt8(ascii: "]") { parser.pos += 1; return true }
        while true {
            parser.skipWS()
            let start = parser.pos
            try element(&self)
            if try finished(since: start, closer: UInt8(ascii: "]"), expected: "expected_comma_or_bracket") { return true }
        }
    }

    /// After a member or element that began at `start`: past the comma (false: another
    /// follows) or the container's `closer` (true: it is over); anything else is `expected`.
    /// A reader that neither read nor skipped the value is a programming error.
    private mutating func finished(since start: Int, closer: UInt8, expected: String) throws(JSONParseError) -> Bool {
        precondition(parser.pos > start, "JSONScanner: a member's or element's value was neither read nor skipped")
        parser.skipWS()
        switch try peek() {
        case UInt8(ascii: ","): parser.pos += 1; return false
        case closer: parser.pos += 1; return true
        default: throw parser.err(expected)
        }
    }

    /// The string here; nil for `null`.
    public mutating func string() throws(JSONParseError) -> String? {
        if try null() { return nil }
        guard try peek() == UInt8(ascii: "\"") else { throw mismatch() }
        return try parser.parseString(strictUTF8: true)
    }

    /// The boolean here; nil for `null`.
    public mutating func bool() throws(JSONParseError) -> Bool? {
        switch try peek() {
        case UInt8(ascii: "t"): try parser.literal("true"); return true
        case UInt8(ascii: "f"): try parser.literal("false"); return false
        case UInt8(ascii: "n"): try parser.literal("null"); return nil
        default: throw mismatch()
        }
    }

    /// The object here as `[String: String]` (every value a string); nil for `null`.
    public mutating func stringMap() throws(JSONParseError) -> [String: String]? {
        var map: [String: String] = [:]
        let present = try members { (scanner, key) throws(JSONParseError) in
            guard let value = try scanner.string() else { throw scanner.mismatch() }
            map[key.string] = value
        }
        return present ? map : nil
    }

    /// Skips the value here, checking its syntax.
    public mutating func skip() throws(JSONParseError) {
        try parser.skipValue()
    }
}

extension JSONByteParser {
    /// A member name: its raw bytes when it has no escapes (most do not), else decoded.
    mutating func scanKey() throws(JSONParseError) -> JSONScanner.Key {
        let start = pos + 1
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
                try checkUTF8(start..<index)
                pos = index + 1
                return JSONScanner.Key(raw: raw, decoded: nil)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { pos = index; throw err("control_in_string") }
            index += 1
        }
        let decoded = try parseString(strictUTF8: true)
        return JSONScanner.Key(raw: UnsafeBufferPointer(start: nil, count: 0), decoded: decoded)
    }

    /// Skips one value, checking it as `parseValue` would, without building it.
    mutating func skipValue() throws(JSONParseError) {
        guard pos < bytes.count else { throw err("unexpected_end") }
        switch bytes[pos] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            // Iterative, with a stack of the open containers' closing bytes.
            var closers: [UInt8] = []
            repeat {
                guard pos < bytes.count else { throw err("unexpected_end") }
                let byte = bytes[pos]
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                    guard depth + closers.count < Self.maxDepth else { throw err("too_deep") }
                    let object = byte == UInt8(ascii: "{")
                    closers.append(object ? UInt8(ascii: "}") : UInt8(ascii: "]"))
                    pos += 1
                    skipWS()
                    guard pos < bytes.count else { throw err("unexpected_end") }
                    if bytes[pos] == closers.last! { pos += 1; closers.removeLast() } else {
                        if object { try skipMemberName() }
                        continue
                    }
                } else {
                    try skipScalar()
                }
                // After a value: a comma and the next one, or closing brackets.
                while let closer = closers.last {
                    skipWS()
                    guard pos < bytes.count else { throw err("unexpected_end") }
                    if bytes[pos] == UInt8(ascii: ",") {
                        pos += 1
                        skipWS()
                        if closer == UInt8(ascii: "}") { try skipMemberName() }
                        break
                    }
                    guard bytes[pos] == closer else { throw err(closer == UInt8(ascii: "}") ? "expected_comma_or_brace" : "expected_comma_or_bracket") }
                    pos += 1
                    closers.removeLast()
                }
            } while !closers.isEmpty
        default:
            try skipScalar()
        }
    }

    /// `"name" :` and the whitespace after it.
    private mutating func skipMemberName() throws(JSONParseError) {
        skipWS()
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw err("expected_key") }
        try skipString()
        skipWS()
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw err("expected_colon") }
        pos += 1
        skipWS()
    }

    private mutating func skipScalar() throws(JSONParseError) {
        guard pos < bytes.count else { throw err("unexpected_end") }
        switch bytes[pos] {
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try scanNumber(leadingZeros: false)
        }
    }

    /// A string, checked as `parseString(strictUTF8: true)` would (escapes, surrogate pairs,
    /// control bytes, UTF-8), not built.
    mutating func skipString() throws(JSONParseError) {
        pos += 1
        var runStart = pos
        while pos < bytes.count {
            let byte = bytes[pos]
            if byte == UInt8(ascii: "\"") {
                try checkUTF8(runStart..<pos)
                pos += 1
                return
            }
            if byte < 0x20 { throw err("control_in_string") }
            if byte == UInt8(ascii: "\\") {
                try checkUTF8(runStart..<pos)
                pos += 1
                guard pos < bytes.count else { throw err("unexpected_end") }
                let escaped = bytes[pos]
                pos += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    let scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard pos + 6 <= bytes.count, bytes[pos] == 92, bytes[pos + 1] == UInt8(ascii: "u") else { throw err("lone_surrogate") }
                        pos += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw err("lone_surrogate") }
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw err("lone_surrogate")
                    }
                default: throw err("bad_escape")
                }
                runStart = pos
                continue
            }
            pos += 1
        }
        throw err("unexpected_end")
    }

    func checkUTF8(_ range: Range<Int>) throws(JSONParseError) {
        let run = UnsafeBufferPointer(rebasing: bytes[range])
        // ASCII (almost every run) needs no decoding.
        for byte in run where byte >= 0x80 {
            guard String(validating: run, as: UTF8.self) != nil else { throw JSONParseError(code: "invalid_utf8", offset: range.lowerBound) }
            return
        }
    }

}

extension WatchEvent {
    /// The watch event in `frame` (`{"type":…,"object":…}`, members in any order), its object
    /// read with `read`, for ADDED, MODIFIED and DELETED; nil for the other types (BOOKMARK,
    /// ERROR, unknown): the caller decodes those as before. As `init(from:)`: a missing or null
    /// `type` or `object` is an error.
    public static func scan(_ frame: ByteBuffer, object read: (inout JSONScanner) throws(JSONParseError) -> Object) throws(JSONParseError) -> WatchEvent? {
        try JSONScanner.scan(frame) { (scanner) throws(JSONParseError) -> WatchEvent? in
            var type: String?
            var object: Object?
            /// Where the object is when it came before the type.
            var objectRange: Range<Int>?
            let present = try scanner.members { (scanner, key) throws(JSONParseError) in
                if key == "type" {
                    guard let value = try scanner.string() else { throw JSONParseError(code: "missing_type", offset: scanner.offset) }
                    type = value
                } else if key == "object" {
                    if try scanner.null() { throw JSONParseError(code: "missing_object", offset: scanner.offset) }
                    if let type, Self.carriesObject(type) {
                        object = try read(&scanner)
                        objectRange = nil
                    } else {
                        let start = scanner.offset
                        try scanner.skip()
                        objectRange = start..<scanner.offset
                        object = nil
                    }
                } else {
                    try scanner.skip()
                }
            }
            guard present else { throw JSONParseError(code: "type_mismatch", offset: 0) }
            guard let type else { throw JSONParseError(code: "missing_type", offset: scanner.offset) }
            guard Self.carriesObject(type) else { return nil }
            if object == nil, let objectRange {
                var inner = JSONScanner(bytes: UnsafeBufferPointer(rebasing: scanner.parser.bytes[objectRange]))
                inner.parser.depth = 1
                object = try read(&inner)
            }
            guard let object else { throw JSONParseError(code: "missing_object", offset: scanner.offset) }
            switch type {
            case "ADDED": return .added(object)
            case "MODIFIED": return .modified(object)
            default: return .deleted(object)
            }
        }
    }

    static func carriesObject(_ type: String) -> Bool { type == "ADDED" || type == "MODIFIED" || type == "DELETED" }
}

extension ByteBuffer {
    /// `withUnsafeReadableBytes` with the scanner's error type.
    func withUnsafeReadableBytesTyped<Result>(_ body: (UnsafeRawBufferPointer) throws(JSONParseError) -> Result) throws(JSONParseError) -> Result {
        let outcome: Swift.Result<Result, JSONParseError> = withUnsafeReadableBytes { bytes in
            do throws(JSONParseError) { return .success(try body(bytes)) } catch { return .failure(error) }
        }
        return try outcome.get()
    }
}

extension ObjectIdentity {
    /// The identity from the `metadata` value here (an object or null): name, namespace, uid,
    /// resourceVersion, deletionTimestamp, and of its labels only `labels`; the rest skipped
    /// (what `ObjectMeta(identityFrom:labels:)` decodes, read by a `JSONScanner`).
    public init(scanning scanner: inout JSONScanner, labels wanted: Set<String> = []) throws(JSONParseError) {
        self.init(ObjectMeta())
        var scanned = self
        try scanner.members { (scanner, key) throws(JSONParseError) in
            if key == "name" {
                scanned.name = try scanner.string()
            } else if key == "namespace" {
                scanned.namespace = try scanner.string()
            } else if key == "uid" {
                scanned.uid = try scanner.string()
            } else if key == "resourceVersion" {
                scanned.resourceVersion = try scanner.string()
            } else if key == "deletionTimestamp" {
                let offset = scanner.offset
                if let text = try scanner.string() {
                    do { scanned.deletionTimestamp = try KubeTime(rfc3339: text) } catch { throw JSONParseError(code: "bad_time", offset: offset) }
                } else {
                    scanned.deletionTimestamp = nil
                }
            } else if key == "labels", !wanted.isEmpty {
                let kept = try scanner.stringMap()?.filter { wanted.contains($0.key) }
                scanned.labels = kept.map { $0.isEmpty ? nil : $0 } ?? nil
            } else {
                try scanner.skip()
            }
        }
        self = scanned
    }
}
