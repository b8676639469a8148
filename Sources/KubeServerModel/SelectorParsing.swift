import KubeModel

/// A parse error for label/field selectors; `message` matches the API server's 400 body closely.
public struct SelectorError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The API server's text form of a label selector (`k=v`, `k==v`, `k!=v`, `k in (a,b)`,
/// `k notin (a)`, `k`, `!k`; comma-separated requirements ANDed together), read into the same
/// `LabelSelector` a `matchExpressions` list gives, as kube-apiserver's `labels.Parse` does:
/// `k=v` is `k In (v)`, `k!=v` is `k NotIn (v)` (which an object without `k` matches too).
extension LabelSelector {
    public init(parsing text: String) throws(SelectorError) {
        var requirements: [Requirement] = []
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
                let key = try Self.validKey(String(part.dropFirst()).trimmed())
                requirements.append(Requirement(key: key, operator: .doesNotExist))
            } else if let range = part.firstRange(of: "!=") {
                let key = try Self.validKey(String(part[..<range.lowerBound]).trimmed())
                let value = try Self.validValue(String(part[range.upperBound...]).trimmed())
                requirements.append(Requirement(key: key, operator: .notIn, values: [value]))
            } else if let range = part.firstRange(of: "==") ?? part.firstRange(of: "=") {
                let key = try Self.validKey(String(part[..<range.lowerBound]).trimmed())
                let value = try Self.validValue(String(part[range.upperBound...]).trimmed())
                requirements.append(Requirement(key: key, operator: .in, values: [value]))
            } else if let range = part.firstRange(of: " notin ") ?? part.firstRange(of: " notin(") {
                let key = try Self.validKey(String(part[..<range.lowerBound]).trimmed())
                let values = try Self.parseSet(String(part[range.lowerBound...]).trimmed().dropFirst(5))
                requirements.append(Requirement(key: key, operator: .notIn, values: values))
            } else if let range = part.firstRange(of: " in ") ?? part.firstRange(of: " in(") {
                let key = try Self.validKey(String(part[..<range.lowerBound]).trimmed())
                let values = try Self.parseSet(String(part[range.lowerBound...]).trimmed().dropFirst(2))
                requirements.append(Requirement(key: key, operator: .in, values: values))
            } else {
                requirements.append(Requirement(key: try Self.validKey(part), operator: .exists))
            }
        }
        self.init(matchExpressions: requirements)
    }

    static func parseSet(_ source: Substring) throws(SelectorError) -> [String] {
        let setText = String(source).trimmed()
        guard setText.hasPrefix("("), setText.hasSuffix(")") else {
            throw SelectorError(message: "found '\(setText)', expected: '('")
        }
        var values: [String] = []
        for item in setText.dropFirst().dropLast().split(separator: ",") {
            let value = try validValue(String(item).trimmed())
            if !values.contains(value) { values.append(value) }
        }
        return values
    }

    /// The key, if `LabelSelector.problem(withKey:)` (the one label-key rule) accepts it.
    static func validKey(_ key: String) throws(SelectorError) -> String {
        if let problem = problem(withKey: key) { throw SelectorError(message: "unable to parse requirement: \(problem)") }
        return key
    }

    static func validValue(_ value: String) throws(SelectorError) -> String {
        if let problem = problem(withValue: value) { throw SelectorError(message: "unable to parse requirement: \(problem)") }
        return value
    }
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
