#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeModel
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
        StandardStream.error.write(line + "\n")
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
        var fields: [String: JSONValue] = [
            "time": .string(Self.timestamp(Date())),
            "level": .string(level.rawValue),
            "logger": .string(label),
            "msg": .string(message.description),
        ]
        for (key, value) in merged { fields[key] = Self.json(value) }
        if let error { fields["error"] = .string("\(error)") }
        // KubeModel's writer: sorted keys, slashes not escaped, as `JSONSerialization` wrote it
        // with `[.sortedKeys, .withoutEscapingSlashes]`, without building Foundation objects per
        // line (that was a twelfth of the speaker's CPU at 10,000 Services: one line each).
        sink(JSONValue.object(fields).serialized())
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .stringConvertible(let value): return .string(value.description)
        case .array(let values): return .array(values.map(json))
        case .dictionary(let values): return .object(values.mapValues(json))
        }
    }

    /// `2026-12-06T13:19:14.379Z`. The format style (FoundationEssentials) is the same text as
    /// an `ISO8601DateFormatter` with fractional seconds, without building one per line through
    /// ICU (that was a tenth of the speaker's CPU at 10,000 Services: one log line each).
    static func timestamp(_ date: Date) -> String {
        date.formatted(Self.timestampStyle)
    }

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}
