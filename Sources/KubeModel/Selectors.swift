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
        var reqs: [Requirement] = []
        // Split on commas not inside parentheses.
        var parts: [String] = []
        var depth = 0
        var cur = ""
        for ch in text {
            if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 }
            if ch == "," && depth == 0 { parts.append(cur); cur = "" } else { cur.append(ch) }
        }
        parts.append(cur)
        for raw in parts {
            let p = raw.trimmed()
            if p.isEmpty {
                if text.trimmed().isEmpty { continue }
                throw SelectorError(message: "found '', expected: identifier")
            }
            if p.hasPrefix("!") {
                let k = String(p.dropFirst()).trimmed()
                try Self.validateKey(k)
                reqs.append(.doesNotExist(k))
            } else if let r = p.firstRange(of: "!=") {
                let k = String(p[..<r.lowerBound]).trimmed()
                try Self.validateKey(k)
                reqs.append(.notEquals(k, String(p[r.upperBound...]).trimmed()))
            } else if let r = p.firstRange(of: "==") ?? p.firstRange(of: "=") {
                let k = String(p[..<r.lowerBound]).trimmed()
                try Self.validateKey(k)
                let v = String(p[r.upperBound...]).trimmed()
                try Self.validateValue(v)
                reqs.append(.equals(k, v))
            } else if let r = p.firstRange(of: " notin ") ?? p.firstRange(of: " notin(") {
                let k = String(p[..<r.lowerBound]).trimmed()
                try Self.validateKey(k)
                reqs.append(.notIn(k, try Self.parseSet(String(p[r.lowerBound...]).trimmed().dropFirst(5))))
            } else if let r = p.firstRange(of: " in ") ?? p.firstRange(of: " in(") {
                let k = String(p[..<r.lowerBound]).trimmed()
                try Self.validateKey(k)
                reqs.append(.isIn(k, try Self.parseSet(String(p[r.lowerBound...]).trimmed().dropFirst(2))))
            } else {
                try Self.validateKey(p)
                reqs.append(.exists(p))
            }
        }
        self.requirements = reqs
        self.description = text
    }

    static func parseSet(_ s: Substring) throws(SelectorError) -> Set<String> {
        let t = String(s).trimmed()
        guard t.hasPrefix("("), t.hasSuffix(")") else {
            throw SelectorError(message: "found '\(t)', expected: '('")
        }
        return Set(t.dropFirst().dropLast().split(separator: ",").map { String($0).trimmed() })
    }

    static func validateKey(_ k: String) throws(SelectorError) {
        guard !k.isEmpty, k.utf8.count <= 317,
              k.allSatisfy({ $0.isLetter || $0.isNumber || "-_./".contains($0) })
        else { throw SelectorError(message: "unable to parse requirement: invalid label key \"\(k)\"") }
    }

    static func validateValue(_ v: String) throws(SelectorError) {
        guard v.utf8.count <= 63, v.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw SelectorError(message: "unable to parse requirement: invalid label value: \"\(v)\"")
        }
    }

    public func matches(_ labels: [String: String]) -> Bool {
        for r in requirements {
            switch r {
            case .equals(let k, let v): if labels[k] != v { return false }
            case .notEquals(let k, let v): if labels[k] == v { return false }
            case .isIn(let k, let s): guard let v = labels[k], s.contains(v) else { return false }
            case .notIn(let k, let s): if let v = labels[k], s.contains(v) { return false }
            case .exists(let k): if labels[k] == nil { return false }
            case .doesNotExist(let k): if labels[k] != nil { return false }
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
        var reqs: [Requirement] = []
        for raw in text.split(separator: ",") {
            let p = String(raw).trimmed()
            if p.isEmpty { continue }
            if let r = p.firstRange(of: "!=") {
                reqs.append(.init(field: String(p[..<r.lowerBound]), value: String(p[r.upperBound...]), negated: true))
            } else if let r = p.firstRange(of: "==") ?? p.firstRange(of: "=") {
                reqs.append(.init(field: String(p[..<r.lowerBound]), value: String(p[r.upperBound...]), negated: false))
            } else {
                throw SelectorError(message: "invalid selector: '\(text)'; can't understand '\(p)'")
            }
        }
        self.requirements = reqs
    }

    /// Matches using `value(field)`; a field that is absent compares as "".
    public func matches(_ value: (String) -> String?) -> Bool {
        for r in requirements {
            let v = value(r.field) ?? ""
            if (v == r.value) == r.negated { return false }
        }
        return true
    }
}

extension String {
    func trimmed() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }

    func firstRange(of needle: String) -> Range<String.Index>? {
        Substring(self).range(of: needle)
    }
}
