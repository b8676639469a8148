import YAML

/// Bounds what YAML aliases may add to a configuration. The YAML target resolves an alias to
/// the anchored node itself (as Yams did), so a 65 KB text that aliases one long list into a
/// thousand pools composes cheaply but reads as a million entries: every later step (validation, the overlap check,
/// the error report, each speaker's parse) would pay for the expansion. Anchors and aliases
/// stay allowed (operators use them to share advertisements); what they add beyond the text as
/// written is capped, and the walk that measures it stops at the cap.
enum YAMLAliasBudget {
    /// Nodes that aliases may add to the document as written.
    static let maximumAddedNodes = 10_000
    /// Scalar bytes that aliases may add.
    static let maximumAddedBytes = 256 * 1024

    /// Where a node starts in the text, with its kind: a repeated one is an alias's copy.
    private struct Origin: Hashable {
        var line: Int
        var column: Int
        var kind: UInt8
    }

    /// The error to report when aliases expand `root` beyond the budget; nil within it.
    static func check(_ root: Node) -> ConfigError? {
        var seen: Set<Origin> = []
        var addedNodes = 0
        var addedBytes = 0
        // An explicit stack: no recursion, however deep the document.
        var stack: [(node: Node, copied: Bool)] = [(root, false)]
        while let (node, inCopy) = stack.popLast() {
            var copied = inCopy
            // An empty scalar (a key without a value) starts where the next token does, so it
            // may share its position with a real node: never count it as a copy by itself.
            if !copied, let mark = node.mark, !isEmptyScalar(node) {
                copied = !seen.insert(Origin(line: mark.line, column: mark.column, kind: kind(node))).inserted
            }
            if copied {
                addedNodes += 1
                if case .scalar(let scalar) = node { addedBytes += scalar.string.utf8.count }
                if addedNodes > maximumAddedNodes || addedBytes > maximumAddedBytes {
                    return ConfigError(
                        path: "",
                        message: "YAML aliases expand the configuration by more than \(maximumAddedNodes) nodes or \(maximumAddedBytes / 1024) KiB of text; write the repeated parts out, or share less",
                        line: node.mark?.line, column: node.mark?.column
                    )
                }
            }
            switch node {
            case .scalar: continue
            case .sequence(let sequence):
                for child in sequence.reversed() { stack.append((child, copied)) }
            case .mapping(let mapping):
                for (key, value) in mapping.reversed() {
                    stack.append((value, copied))
                    stack.append((key, copied))
                }
            }
        }
        return nil
    }

    private static func isEmptyScalar(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node { return scalar.string.isEmpty }
        return false
    }

    private static func kind(_ node: Node) -> UInt8 {
        switch node {
        case .scalar: return 0
        case .sequence: return 1
        case .mapping: return 2
        }
    }
}
