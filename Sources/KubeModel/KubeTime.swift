/// A Kubernetes `Time` (RFC 3339, serialized in UTC with whole seconds) — metav1.Time.
/// Parses RFC 3339 with or without fractional seconds and with any UTC offset.
public struct KubeTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Seconds since the Unix epoch.
    public var seconds: Int64
    /// Nanoseconds within the second, 0..<1e9.
    public var nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// From a count of nanoseconds since the epoch.
    public init(epochNanoseconds ns: Int64) {
        var s = ns / 1_000_000_000
        var r = ns % 1_000_000_000
        if r < 0 { r += 1_000_000_000; s -= 1 }
        self.init(seconds: s, nanoseconds: Int32(r))
    }

    public var epochNanoseconds: Int64 { seconds * 1_000_000_000 + Int64(nanoseconds) }

    public static func < (a: KubeTime, b: KubeTime) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    public static func + (a: KubeTime, d: Duration) -> KubeTime {
        let c = d.components
        return KubeTime(epochNanoseconds: a.epochNanoseconds + c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000)
    }

    public static func - (a: KubeTime, b: KubeTime) -> Duration {
        .nanoseconds(a.epochNanoseconds - b.epochNanoseconds)
    }

    public struct ParseError: Error, Hashable, Sendable {
        public var input: String
    }

    /// Parses `2006-01-02T15:04:05Z`, `2006-01-02T15:04:05.999999Z`, `…+07:00`, lower-case t/z.
    public init(rfc3339 s: String) throws(ParseError) {
        let b = Array(s.utf8)
        func num(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            var v = 0
            for i in at..<(at + n) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, let y = num(0, 4), b[4] == 45, let mo = num(5, 2), b[7] == 45, let d = num(8, 2),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == 32,
              let h = num(11, 2), b[13] == 58, let mi = num(14, 2), b[16] == 58, let se = num(17, 2),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, se <= 60
        else { throw ParseError(input: s) }
        var i = 19
        var nanos: Int64 = 0
        if i < b.count && b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 9 { nanos = nanos * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { throw ParseError(input: s) }
            for _ in min(digits, 9)..<9 { nanos *= 10 }
        }
        guard i < b.count else { throw ParseError(input: s) }
        var offset = 0
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
            guard let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == 58, let om = num(i + 4, 2) else {
                throw ParseError(input: s)
            }
            offset = sign * (oh * 3600 + om * 60)
            i += 6
        } else {
            throw ParseError(input: s)
        }
        guard i == b.count else { throw ParseError(input: s) }
        let days = Self.daysFromCivil(y, mo, d)
        let secs = Int64(days) * 86400 + Int64(h * 3600 + mi * 60 + se) - Int64(offset)
        self.init(seconds: secs, nanoseconds: Int32(nanos))
    }

    // Howard Hinnant's days_from_civil / civil_from_days.
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// RFC 3339 in UTC with `fractionDigits` digits (0 = none, as metav1.Time; 6 = MicroTime).
    public func format(fractionDigits: Int = 0) -> String {
        var days = Int(seconds / 86400)
        var rem = Int(seconds % 86400)
        if rem < 0 { rem += 86400; days -= 1 }
        let (y, m, d) = Self.civilFromDays(days)
        func pad(_ v: Int, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        var out = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rem / 3600, 2)):\(pad(rem / 60 % 60, 2)):\(pad(rem % 60, 2))"
        if fractionDigits > 0 {
            var frac = Int(nanoseconds)
            for _ in fractionDigits..<9 { frac /= 10 }
            out += "." + pad(frac, fractionDigits)
        }
        return out + "Z"
    }

    public var description: String { format() }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        do { self = try KubeTime(rfc3339: s) } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not RFC 3339: \(s)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(format())
    }
}

/// metav1.MicroTime: serialized with exactly 6 fractional digits (`2006-01-02T15:04:05.000000Z`).
public struct MicroTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var time: KubeTime
    public init(_ time: KubeTime) {
        // Truncate to microseconds, as the API server stores it.
        self.time = KubeTime(seconds: time.seconds, nanoseconds: time.nanoseconds / 1000 * 1000)
    }
    public init(rfc3339 s: String) throws(KubeTime.ParseError) { self.init(try KubeTime(rfc3339: s)) }
    public static func < (a: MicroTime, b: MicroTime) -> Bool { a.time < b.time }
    public var description: String { time.format(fractionDigits: 6) }

    public init(from decoder: any Decoder) throws { self.init(try KubeTime(from: decoder)) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
