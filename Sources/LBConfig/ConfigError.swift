/// One problem in a configuration: where (`address-pools[1].addresses[0]`, and the line when
/// known) and what. `description` is the text operators see: `path: message`.
public struct ConfigError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let message: String
    /// 1-based position in the YAML text it came from, when known.
    public let line: Int?
    public let column: Int?

    public init(path: String, message: String, line: Int? = nil, column: Int? = nil) {
        self.path = path
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Every problem found in one configuration, in document order.
public struct ConfigErrors: Error, Equatable, Sendable, CustomStringConvertible {
    public let errors: [ConfigError]

    public init(_ errors: [ConfigError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
