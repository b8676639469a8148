import Foundation
import Logging

/// A swift-log handler writing one JSON object per line: `time`, `level`, `logger`, `msg`,
/// then the metadata keys (`lb.service`, `lb.peer`, ...). Executables bootstrap it; libraries
/// only log.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: @Sendable (String) -> Void

    public init(label: String, level: Logger.Level = .info, sink: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.logLevel = level
        self.sink = sink
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8))
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        write(level: event.level, message: event.message, explicit: event.metadata, error: event.error)
    }

    private func write(level: Logger.Level, message: Logger.Message, explicit: Logger.Metadata?, error: (any Error)?) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit { merged.merge(explicit) { $1 } }
        var fields: [String: Logger.Metadata.Value] = [
            "time": .string(Self.timestamp(Date())),
            "level": .string(level.rawValue),
            "logger": .string(label),
            "msg": .string(message.description),
        ]
        for (key, value) in merged { fields[key] = value }
        if let error { fields["error"] = .string("\(error)") }
        var line: [UInt8] = []
        line.reserveCapacity(256)
        Self.write(.dictionary(fields), to: &line)
        sink(String(decoding: line, as: UTF8.self))
    }

    /// JSON with sorted keys, slashes not escaped: the text `JSONSerialization` wrote with
    /// `[.sortedKeys, .withoutEscapingSlashes]`, without building Foundation objects per line
    /// (that was a twelfth of the speaker's CPU at 10,000 Services: one log line each).
    static func write(_ value: Logger.Metadata.Value, to out: inout [UInt8]) {
        switch value {
        case .string(let text): writeString(text, to: &out)
        case .stringConvertible(let value): writeString(value.description, to: &out)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .dictionary(let values):
            out.append(UInt8(ascii: "{"))
            for (index, key) in values.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(values[key]!, to: &out)
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
            case 0x08: out.append(contentsOf: [92, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [92, UInt8(ascii: "f")])
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

    /// `2026-12-06T13:19:14.379Z`. The format style (FoundationEssentials) is the same text as
    /// an `ISO8601DateFormatter` with fractional seconds, without building one per line through
    /// ICU (that was a tenth of the speaker's CPU at 10,000 Services: one log line each).
    static func timestamp(_ date: Date) -> String {
        date.formatted(Self.timestampStyle)
    }

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}
