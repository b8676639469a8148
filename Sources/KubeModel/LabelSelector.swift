/// A Kubernetes label selector (`match-labels` and `match-expressions`), as MetalLB's
/// `node-selectors` spell it. Every part must match (AND); an empty selector matches everything.
public struct LabelSelector: Equatable, Hashable, Sendable {
    public enum Operator: String, Equatable, Hashable, Sendable, CaseIterable {
        case `in` = "In"
        case notIn = "NotIn"
        case exists = "Exists"
        case doesNotExist = "DoesNotExist"
    }

    public struct Requirement: Equatable, Hashable, Sendable {
        public var key: String
        public var `operator`: Operator
        public var values: [String]

        public init(key: String, operator: Operator, values: [String] = []) {
            self.key = key
            self.operator = `operator`
            self.values = values
        }

        public func matches(_ labels: [String: String]) -> Bool {
            switch `operator` {
            case .in: return labels[key].map(values.contains) ?? false
            case .notIn: return labels[key].map { !values.contains($0) } ?? true
            case .exists: return labels[key] != nil
            case .doesNotExist: return labels[key] == nil
            }
        }
    }

    public var matchLabels: [String: String]
    public var matchExpressions: [Requirement]

    public init(matchLabels: [String: String] = [:], matchExpressions: [Requirement] = []) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    public func matches(_ labels: [String: String]) -> Bool {
        matchLabels.allSatisfy { labels[$0.key] == $0.value } && matchExpressions.allSatisfy { $0.matches(labels) }
    }

    /// True when some selector in `selectors` matches, or `selectors` is empty.
    public static func anyMatches(_ selectors: [LabelSelector], _ labels: [String: String]) -> Bool {
        selectors.isEmpty || selectors.contains { $0.matches(labels) }
    }

    /// Checks a label key: an optional DNS-subdomain prefix and `/`, then a name of at most
    /// 63 characters, alphanumeric at both ends, with `-`, `_`, `.` inside. Returns the problem.
    public static func problem(withKey key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return "label key \"\(key)\" has more than one \"/\"" }
        if parts.count == 2 {
            let prefix = parts[0]
            guard !prefix.isEmpty, prefix.utf8.count <= 253,
                  prefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ isDNSLabel($0) })
            else { return "label key prefix \"\(prefix)\" is not a DNS subdomain" }
        }
        guard isLabelName(parts[parts.count - 1]) else {
            return "label key \"\(key)\" is not a valid label name (at most 63 characters: letters, digits, '-', '_', '.', alphanumeric at both ends)"
        }
        return nil
    }

    /// Checks a label value: empty, or a label name.
    public static func problem(withValue value: String) -> String? {
        value.isEmpty || isLabelName(value[...]) ? nil
            : "label value \"\(value)\" is not valid (at most 63 characters: letters, digits, '-', '_', '.', alphanumeric at both ends)"
    }

    public static func isLabelName(_ name: Substring) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 63, let first = name.utf8.first, let last = name.utf8.last,
              isAlphanumeric(first), isAlphanumeric(last) else { return false }
        return name.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    public static func isDNSLabel(_ label: Substring) -> Bool {
        guard !label.isEmpty, label.utf8.count <= 63, let first = label.utf8.first, let last = label.utf8.last,
              isLowerAlphanumeric(first), isLowerAlphanumeric(last) else { return false }
        return label.utf8.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    static func isAlphanumeric(_ c: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
    }

    static func isLowerAlphanumeric(_ c: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
    }
}
