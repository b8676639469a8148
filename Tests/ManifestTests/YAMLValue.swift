// ManifestTests: checks the install artifacts (manifests/ironlb.yaml, charts/ironlb, the
// Dockerfile) and the operator documentation against what the code and the design require.
// Kubernetes objects are read with the YAML target (libyaml) into `YAMLValue`, a plain tree that compares by value.
import Foundation
import YAML

/// A YAML document as a value: scalars resolved to their YAML 1.1 types, maps unordered.
indirect enum YAMLValue: Equatable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([YAMLValue])
    case map([String: YAMLValue])

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    init(_ node: Node) throws {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.description) {
            case .null: self = .null
            case .bool: self = .bool(node.bool ?? false)
            case .int:
                guard let value = node.int else { throw Invalid(description: "bad integer \(scalar.string)") }
                self = .int(value)
            case .float: self = .double(node.float ?? .nan)
            default: self = .string(scalar.string)
            }
        case .sequence(let sequence):
            self = .list(try sequence.map(YAMLValue.init))
        case .mapping(let mapping):
            var result: [String: YAMLValue] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { throw Invalid(description: "non-scalar key at line \(key.mark?.line ?? 0)") }
                guard result[name] == nil else { throw Invalid(description: "duplicate key \(name) at line \(key.mark?.line ?? 0)") }
                result[name] = try YAMLValue(value)
            }
            self = .map(result)
        }
    }

    /// Every non-empty document of a multi-document YAML text.
    static func documents(_ text: String) throws -> [YAMLValue] {
        try YAML.composeAll(yaml: text).map(YAMLValue.init).filter { $0 != .null }
    }

    subscript(key: String) -> YAMLValue? {
        if case .map(let map) = self { return map[key] }
        return nil
    }

    /// Follows a dotted path of map keys (`spec.template.spec`).
    func at(_ path: String) -> YAMLValue? {
        var current: YAMLValue? = self
        for key in path.split(separator: ".") { current = current?[String(key)] }
        return current
    }

    var string: String? { if case .string(let value) = self { return value }; return nil }
    var int: Int? { if case .int(let value) = self { return value }; return nil }
    var bool: Bool? { if case .bool(let value) = self { return value }; return nil }
    var list: [YAMLValue]? { if case .list(let value) = self { return value }; return nil }
    var map: [String: YAMLValue]? { if case .map(let value) = self { return value }; return nil }
    var strings: [String]? { list?.compactMap(\.string) }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return "\(value)"
        case .int(let value): return "\(value)"
        case .double(let value): return "\(value)"
        case .string(let value): return "\"\(value)\""
        case .list(let values): return "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .map(let map):
            return "{" + map.keys.sorted().map { "\($0): \(map[$0]!.description)" }.joined(separator: ", ") + "}"
        }
    }

    /// Where two values differ, as `path: this != that` lines (empty when equal).
    static func differences(_ lhs: YAMLValue?, _ rhs: YAMLValue?, path: String = "") -> [String] {
        switch (lhs, rhs) {
        case (.map(let left)?, .map(let right)?):
            return Set(left.keys).union(right.keys).sorted().flatMap {
                differences(left[$0], right[$0], path: path.isEmpty ? $0 : "\(path).\($0)")
            }
        case (.list(let left)?, .list(let right)?) where left.count == right.count:
            return zip(left, right).enumerated().flatMap { differences($1.0, $1.1, path: "\(path)[\($0)]") }
        default:
            return lhs == rhs ? [] : ["\(path): \(lhs?.description ?? "absent") != \(rhs?.description ?? "absent")"]
        }
    }
}
