import YAML

/// Reads typed values out of a composed YAML tree, collecting path-qualified errors instead of
/// stopping at the first one. Scalars must have the YAML type the schema asks for: a quoted
/// `"64500"` is a string, not an ASN, as in MetalLB (Go's yaml.v2 is as strict).
struct YAMLReader {
    /// At most this many errors are reported (then one line counting the rest), each at most
    /// `maximumMessageLength` characters: a hostile or broken configuration cannot turn into
    /// a huge Event or log line.
    static let maximumErrors = 50
    static let maximumMessageLength = 400

    private var reported: [ConfigError] = []
    private var suppressed = 0

    var errors: [ConfigError] {
        guard suppressed > 0 else { return reported }
        return reported + [ConfigError(path: "", message: "... and \(suppressed) more errors")]
    }

    /// Every error found, reported or not (to tell whether a step added one).
    var errorCount: Int { reported.count + suppressed }

    mutating func fail(_ path: String, _ message: String, at node: Node? = nil) {
        guard reported.count < Self.maximumErrors else {
            suppressed += 1
            return
        }
        reported.append(ConfigError(path: Self.shortened(path), message: Self.shortened(message), line: node?.mark?.line, column: node?.mark?.column))
    }

    /// `text` cut to `maximumMessageLength` characters, saying how long it was.
    static func shortened(_ text: String) -> String {
        guard text.count > maximumMessageLength else { return text }
        return "\(text.prefix(maximumMessageLength - 40))... (\(text.utf8.count) bytes)"
    }

    /// The resolved tag of a node (`tag:yaml.org,2002:int`, ...).
    static func tagName(_ node: Node) -> Tag.Name { Tag.Name(rawValue: node.tag.description) }

    static func isNull(_ node: Node) -> Bool {
        if case .scalar = node { return YAMLReader.tagName(node) == .null }
        return false
    }

    /// A mapping's entries as (key, value), checking that keys are strings and not repeated.
    mutating func entries(_ node: Node, _ path: String) -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            fail(path, "must be a mapping, got \(Self.kind(of: node))", at: node)
            return nil
        }
        var seen: Set<String> = []
        var result: [(key: String, keyNode: Node, value: Node)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                fail(path, "keys must be strings", at: keyNode)
                continue
            }
            let key = scalar.string
            if !seen.insert(key).inserted {
                fail(Self.join(path, key), "duplicate key", at: keyNode)
                continue
            }
            result.append((key, keyNode, value))
        }
        return result
    }

    /// A schema mapping: reports unknown keys (suggesting the closest known one) and missing
    /// required ones; a key whose value is null counts as absent.
    mutating func fields(_ node: Node, _ path: String, known: [String], required: [String] = []) -> [String: Node]? {
        guard let entries = entries(node, path) else { return nil }
        var fields: [String: Node] = [:]
        for entry in entries {
            guard known.contains(entry.key) else {
                var message = "unknown key \"\(entry.key)\""
                if let guess = Self.closest(to: entry.key, in: known) { message += "; did you mean \"\(guess)\"?" }
                fail(Self.join(path, entry.key), message, at: entry.keyNode)
                continue
            }
            if !Self.isNull(entry.value) { fields[entry.key] = entry.value }
        }
        for key in required where fields[key] == nil {
            fail(Self.join(path, key), "is required", at: node)
        }
        return fields
    }

    mutating func sequence(_ node: Node, _ path: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            fail(path, "must be a list, got \(Self.kind(of: node))", at: node)
            return nil
        }
        return Array(sequence)
    }

    mutating func string(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            fail(path, "must be a string, got \(Self.kind(of: node))", at: node)
            return nil
        }
        return scalar.string
    }

    /// A non-empty string without surrounding whitespace.
    mutating func nonEmptyString(_ node: Node, _ path: String) -> String? {
        guard let text = string(node, path) else { return nil }
        guard !text.isEmpty else {
            fail(path, "must not be empty", at: node)
            return nil
        }
        return text
    }

    mutating func int(_ node: Node, _ path: String, range: ClosedRange<Int>? = nil) -> Int? {
        guard case .scalar(let scalar) = node, YAMLReader.tagName(node) == .int else {
            fail(path, "must be an integer, got \(Self.kind(of: node))", at: node)
            return nil
        }
        guard let value = node.int else {
            fail(path, "\(scalar.string) is not a representable integer", at: node)
            return nil
        }
        if let range, !range.contains(value) {
            fail(path, "\(value) is out of range \(range.lowerBound)-\(range.upperBound)", at: node)
            return nil
        }
        return value
    }

    mutating func bool(_ node: Node, _ path: String) -> Bool? {
        guard case .scalar = node, YAMLReader.tagName(node) == .bool, let value = node.bool else {
            fail(path, "must be true or false, got \(Self.kind(of: node))", at: node)
            return nil
        }
        return value
    }

    mutating func stringList(_ node: Node, _ path: String) -> [String]? {
        guard let items = sequence(node, path) else { return nil }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            if let text = nonEmptyString(item, "\(path)[\(index)]") { result.append(text) }
        }
        return result
    }

    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    static func kind(of node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar):
            switch YAMLReader.tagName(node) {
            case .null: return "null"
            case .bool: return "a boolean (\(scalar.string))"
            case .int: return "an integer (\(scalar.string))"
            case .float: return "a number (\(scalar.string))"
            default: return "a string (\"\(scalar.string)\")"
            }
        }
    }

    /// The known key within edit distance 2 of `key`, if exactly one is closest.
    static func closest(to key: String, in known: [String]) -> String? {
        let scored = known.map { ($0, editDistance(key, $0)) }.filter { $0.1 <= 2 }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return scored.filter { $0.1 == best.1 }.count == 1 ? best.0 : nil
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
