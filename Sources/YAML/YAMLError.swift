/// What libyaml refused, and where. The description names the position and the problem only:
/// it never quotes the text (a kubeconfig line can hold a token or a key).
public struct YAMLError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Stage: String, Sendable {
        /// The bytes (control characters, bad encoding).
        case reader
        case scanner
        case parser
        /// Building the node tree (an undefined alias, a second document where one was expected).
        case composer
        case emitter
        case memory
    }

    public var stage: Stage
    public var problem: String
    /// Where the problem is; nil for reader, emitter and memory errors.
    public var mark: Mark?
    /// The byte offset of a reader error.
    public var offset: Int?

    public init(stage: Stage, problem: String, mark: Mark? = nil, offset: Int? = nil) {
        self.stage = stage
        self.problem = problem
        self.mark = mark
        self.offset = offset
    }

    /// A stable code for logs and error structs: `yaml_scanner`, `yaml_parser`, ...
    public var code: String { "yaml_\(stage.rawValue)" }

    public var description: String {
        if let mark { return "\(mark): error: \(stage.rawValue): \(problem)" }
        if let offset { return "error: \(stage.rawValue): \(problem) at byte \(offset)" }
        return "error: \(stage.rawValue): \(problem)"
    }
}
