/// Refuses text nested too deeply before the YAML target composes it: it builds the node tree
/// recursively, so `[[[[...` 20,000 levels deep overflows the stack and kills the process
/// (the controller, and every speaker reading the same ConfigMap). A configuration needs a
/// handful of levels.
///
/// The scan is conservative: it may overestimate the depth (a `[` inside a quoted scalar still
/// counts as an opening), never underestimate it. Flow depth: `[` and `{` open, `]` and `}`
/// close outside quoted scalars and comments. Block depth: at most twice a line's indentation
/// plus its leading `- ` and `? ` indicators (each nested block collection is indented further,
/// or starts after such an indicator; a sequence may sit at its mapping's indentation).
enum YAMLNestingBound {
    static let maximumFlowDepth = 64
    static let maximumIndentation = 200

    private enum State {
        case text
        case singleQuoted
        case doubleQuoted
        case comment
    }

    static func check(_ text: String) -> ConfigError? {
        var state = State.text
        var flow = 0
        var line = 1
        var column = 0
        var atLineStart = true
        var indentation = 0
        var previous: UInt8 = UInt8(ascii: "\n")
        var escaped = false
        for byte in text.utf8 {
            defer { previous = byte }
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 0
                atLineStart = true
                indentation = 0
                if state == .comment { state = .text }
                continue
            }
            column += 1
            switch state {
            case .comment:
                continue
            case .singleQuoted, .doubleQuoted:
                if state == .doubleQuoted {
                    if escaped { escaped = false; continue }
                    if byte == UInt8(ascii: "\\") { escaped = true; continue }
                }
                if byte == (state == .singleQuoted ? UInt8(ascii: "'") : UInt8(ascii: "\"")) {
                    // `''` inside a single-quoted scalar closes and reopens: the same state after both.
                    state = .text
                } else if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                    flow += 1
                }
            case .text:
                if atLineStart {
                    if byte == UInt8(ascii: " ") {
                        indentation += 1
                    } else if (byte == UInt8(ascii: "-") || byte == UInt8(ascii: "?")) {
                        indentation += 1
                    } else {
                        atLineStart = false
                    }
                    if indentation > maximumIndentation {
                        return ConfigError(path: "", message: "YAML nested too deeply: more than \(maximumIndentation) columns of indentation and block indicators", line: line, column: column)
                    }
                    if atLineStart { continue }
                }
                switch byte {
                case UInt8(ascii: "#") where isSpace(previous):
                    state = .comment
                case UInt8(ascii: "'") where startsNode(previous):
                    state = .singleQuoted
                case UInt8(ascii: "\"") where startsNode(previous):
                    state = .doubleQuoted
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    flow += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    flow = max(0, flow - 1)
                default:
                    break
                }
            }
            if flow > maximumFlowDepth {
                return ConfigError(path: "", message: "YAML nested too deeply: more than \(maximumFlowDepth) levels of [ ] and { }", line: line, column: column)
            }
        }
        return nil
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
    }

    /// Where a quoted scalar may begin (a quote elsewhere is part of a plain scalar).
    private static func startsNode(_ byte: UInt8) -> Bool {
        isSpace(byte) || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") || byte == UInt8(ascii: ",")
            || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "?")
    }
}
