/// A parse error for label/field selectors; `message` matches the API server's 400 body closely.
public struct SelectorError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A Kubernetes label selector (`k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k`, `!k`),
/// comma-separated requirements ANDed together.
public struct LabelSelector: Sendable, Hashable, CustomStringConvertible {
    public enum Requirement: Sendable, Hashable {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case doesNotExist(String)
    }

    public var requirements: [Requirement]
    public let description: String

    public init(requirements: [Requirement], text: String) {
        self.requirements = requirements
        self.description = text
    }

    /// Selector matching `labels` exactly (what `matchLabels` means).
    public init(matchLabels: [String: String]) {
        self.requirements = matchLabels.sorted { $0.key < $1.key }.map { .equals($0.key, $0.value) }
        self.description = matchLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    public init(parsing text: String) throws(SelectorError) {
        var parsed: [Requirement] = []
        // Split on commas not inside parentheses.
        var parts: [String] = []
        var depth = 0
        var current = ""
        for character in text {
            if character == "(" { depth += 1 } else if character == ")" { depth -= 1 }
            if character == "," && depth == 0 { parts.append(current); current = "" } else { current.append(character) }
        }
        parts.append(current)
        for raw in parts {
            let part = raw.trimmed()
            if part.isEmpty {
                if text.trimmed().isEmpty { continue }
                throw SelectorError(message: "found '', expected: identifier")
            }
            if part.hasPrefix("!") {
                let key = String(part.dropFirst()).trimmed()
                try Self.validateKey(key)
                parsed.append(.doesNotExist(key))
            } else if let range = part.firstRange(of: "!=") {
                let key = String(part[..<range.lowerBound]).trimmed()
                try Self.validateKey(key)
                parsed.append(.notEquals(key, String(part[range.upperBound...]).trimmed()))
            } else if let range = part.firstRange(of: "==") ?? part.firstRange(of: "=") {
                let key = String(part[..<range.lowerBound]).trimmed()
                try Self.validateKey(key)
                let value = String(part[range.upperBound...]).trimmed()
                try Self.validateValue(value)
                parsed.append(.equals(key, value))
            } else if let range = part.firstRange(of: " notin ") ?? part.firstRange(of: " notin(") {
                let key = String(part[..<range.lowerBound]).trimmed()
                try Self.validateKey(key)
                parsed.append(.notIn(key, try Self.parseSet(String(part[range.lowerBound...]).trimmed().dropFirst(5))))
            } else if let range = part.firstRange(of: " in ") ?? part.firstRange(of: " in(") {
                let key = String(part[..<range.lowerBound]).trimmed()
                try Self.validateKey(key)
                parsed.append(.isIn(key, try Self.parseSet(String(part[range.lowerBound...]).trimmed().dropFirst(2))))
            } else {
                try Self.validateKey(part)
                parsed.append(.exists(part))
            }
        }
        self.requirements = parsed
        self.description = text
    }

    static func parseSet(_ source: Substring) throws(SelectorError) -> Set<String> {
        let setText = String(source).trimmed()
        guard setText.hasPrefix("("), setText.hasSuffix(")") else {
            throw SelectorError(message: "found '\(setText)', expected: '('")
        }
        return Set(setText.dropFirst().dropLast().split(separator: ",").map { String($0).trimmed() })
    }

    static func validateKey(_ key: String) throws(SelectorError) {
        guard !key.isEmpty, key.utf8.count <= 317,
              key.allSatisfy({ $0.isLetter || $0.isNumber || "-_./".contains($0) })
        else { throw SelectorError(message: "unable to parse requirement: invalid label key \"\(key)\"") }
    }

    static func validateValue(_ value: String) throws(SelectorError) {
        guard value.utf8.count <= 63, value.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw SelectorError(message: "unable to parse requirement: invalid label value: \"\(value)\"")
        }
    }

    public func matches(_ labels: [String: String]) -> Bool {
        for requirement in requirements {
            switch requirement {
            case .equals(let key, let value): if labels[key] != value { return false }
            case .notEquals(let key, let value): if labels[key] == value { return false }
            case .isIn(let key, let values): guard let actual = labels[key], values.contains(actual) else { return false }
            case .notIn(let key, let values): if let actual = labels[key], values.contains(actual) { return false }
            case .exists(let key): if labels[key] == nil { return false }
            case .doesNotExist(let key): if labels[key] != nil { return false }
            }
        }
        return true
    }

    public var isEmpty: Bool { requirements.isEmpty }
}

/// A field selector: `field=value`, `field==value`, `field!=value`, comma = AND.
public struct FieldSelector: Sendable, Hashable {
    public struct Requirement: Sendable, Hashable {
        public var field: String
        public var value: String
        public var negated: Bool
    }

    public var requirements: [Requirement]

    public init(parsing text: String) throws(SelectorError) {
        var parsed: [Requirement] = []
        for raw in text.split(separator: ",") {
            let part = String(raw).trimmed()
            if part.isEmpty { continue }
            if let range = part.firstRange(of: "!=") {
                parsed.append(.init(field: String(part[..<range.lowerBound]), value: String(part[range.upperBound...]), negated: true))
            } else if let range = part.firstRange(of: "==") ?? part.firstRange(of: "=") {
                parsed.append(.init(field: String(part[..<range.lowerBound]), value: String(part[range.upperBound...]), negated: false))
            } else {
                throw SelectorError(message: "invalid selector: '\(text)'; can't understand '\(part)'")
            }
        }
        self.requirements = parsed
    }

    /// Matches using `value(field)`; a field that is absent compares as "".
    public func matches(_ value: (String) -> String?) -> Bool {
        for requirement in requirements {
            let actual = value(requirement.field) ?? ""
            if (actual == requirement.value) == requirement.negated { return false }
        }
        return true
    }
}

extension String {
    func trimmed() -> String {
        var rest = Substring(self)
        while let first = rest.first, first == " " || first == "\t" { rest = rest.dropFirst() }
        while let last = rest.last, last == " " || last == "\t" { rest = rest.dropLast() }
        return String(rest)
    }

    func firstRange(of needle: String) -> Range<String.Index>? {
        Substring(self).range(of: needle)
    }
}
