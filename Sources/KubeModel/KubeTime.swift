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
    public init(epochNanoseconds total: Int64) {
        var wholeSeconds = total / 1_000_000_000
        var remainder = total % 1_000_000_000
        if remainder < 0 { remainder += 1_000_000_000; wholeSeconds -= 1 }
        self.init(seconds: wholeSeconds, nanoseconds: Int32(remainder))
    }

    public var epochNanoseconds: Int64 { seconds * 1_000_000_000 + Int64(nanoseconds) }

    public static func < (lhs: KubeTime, rhs: KubeTime) -> Bool {
        (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
    }

    public static func + (time: KubeTime, duration: Duration) -> KubeTime {
        let components = duration.components
        return KubeTime(epochNanoseconds: time.epochNanoseconds + components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
    }

    public static func - (lhs: KubeTime, rhs: KubeTime) -> Duration {
        .nanoseconds(lhs.epochNanoseconds - rhs.epochNanoseconds)
    }

    public struct ParseError: Error, Hashable, Sendable {
        public var input: String
    }

    /// Parses `2006-01-02T15:04:05Z`, `2006-01-02T15:04:05.999999Z`, `…+07:00`, lower-case t/z.
    public init(rfc3339 text: String) throws(ParseError) {
        let bytes = Array(text.utf8)
        func num(_ start: Int, _ length: Int) -> Int? {
            guard start + length <= bytes.count else { return nil }
            var value = 0
            for index in start..<(start + length) {
                guard bytes[index] >= 48 && bytes[index] <= 57 else { return nil }
                value = value * 10 + Int(bytes[index] - 48)
            }
            return value
        }
        guard bytes.count >= 20, let year = num(0, 4), bytes[4] == 45, let month = num(5, 2), bytes[7] == 45, let day = num(8, 2),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t") || bytes[10] == 32,
              let hour = num(11, 2), bytes[13] == 58, let minute = num(14, 2), bytes[16] == 58, let second = num(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { throw ParseError(input: text) }
        var cursor = 19
        var nanos: Int64 = 0
        if cursor < bytes.count && bytes[cursor] == UInt8(ascii: ".") {
            cursor += 1
            var digits = 0
            while cursor < bytes.count, bytes[cursor] >= 48, bytes[cursor] <= 57 {
                if digits < 9 { nanos = nanos * 10 + Int64(bytes[cursor] - 48) }
                digits += 1
                cursor += 1
            }
            guard digits > 0 else { throw ParseError(input: text) }
            for _ in min(digits, 9)..<9 { nanos *= 10 }
        }
        guard cursor < bytes.count else { throw ParseError(input: text) }
        var offset = 0
        if bytes[cursor] == UInt8(ascii: "Z") || bytes[cursor] == UInt8(ascii: "z") {
            cursor += 1
        } else if bytes[cursor] == UInt8(ascii: "+") || bytes[cursor] == UInt8(ascii: "-") {
            let sign = bytes[cursor] == UInt8(ascii: "-") ? -1 : 1
            guard let offsetHours = num(cursor + 1, 2), cursor + 3 < bytes.count, bytes[cursor + 3] == 58, let offsetMinutes = num(cursor + 4, 2) else {
                throw ParseError(input: text)
            }
            offset = sign * (offsetHours * 3600 + offsetMinutes * 60)
            cursor += 6
        } else {
            throw ParseError(input: text)
        }
        guard cursor == bytes.count else { throw ParseError(input: text) }
        let days = Self.daysFromCivil(year, month, day)
        let secs = Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
        self.init(seconds: secs, nanoseconds: Int32(nanos))
    }

    // Howard Hinnant's days_from_civil / civil_from_days.
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yoe = shiftedYear - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let shifted = days + 719468
        let era = (shifted >= 0 ? shifted : shifted - 146096) / 146097
        let doe = shifted - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let year = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let marchMonth = (5 * doy + 2) / 153
        let day = doy - (153 * marchMonth + 2) / 5 + 1
        let month = marchMonth + (marchMonth < 10 ? 3 : -9)
        return (month <= 2 ? year + 1 : year, month, day)
    }

    /// RFC 3339 in UTC with `fractionDigits` digits (0 = none, as metav1.Time; 6 = MicroTime).
    public func format(fractionDigits: Int = 0) -> String {
        var days = Int(seconds / 86400)
        var rem = Int(seconds % 86400)
        if rem < 0 { rem += 86400; days -= 1 }
        let (year, month, day) = Self.civilFromDays(days)
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        var out = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(rem / 3600, 2)):\(pad(rem / 60 % 60, 2)):\(pad(rem % 60, 2))"
        if fractionDigits > 0 {
            var frac = Int(nanoseconds)
            for _ in fractionDigits..<9 { frac /= 10 }
            out += "." + pad(frac, fractionDigits)
        }
        return out + "Z"
    }

    public var description: String { format() }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do { self = try KubeTime(rfc3339: text) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not RFC 3339: \(text)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(format())
    }
}

/// metav1.MicroTime: serialized with exactly 6 fractional digits (`2006-01-02T15:04:05.000000Z`).
public struct MicroTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var time: KubeTime
    public init(_ time: KubeTime) {
        // Truncate to microseconds, as the API server stores it.
        self.time = KubeTime(seconds: time.seconds, nanoseconds: time.nanoseconds / 1000 * 1000)
    }
    public init(rfc3339 text: String) throws(KubeTime.ParseError) { self.init(try KubeTime(rfc3339: text)) }
    public static func < (lhs: MicroTime, rhs: MicroTime) -> Bool { lhs.time < rhs.time }
    public var description: String { time.format(fractionDigits: 6) }

    public init(from decoder: any Decoder) throws { self.init(try KubeTime(from: decoder)) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
