// KubeModel: the Kubernetes objects IronLB reads and writes, as pure value types.
//
// Overview: `JSONValue` is a generic JSON tree with its own parser/serializer (no Foundation),
// used by KubeSim to store objects verbatim and by KubeClient to preserve unknown fields.
// Typed models (`V1Service`, `V1Lease`, ...) are plain Codable structs; `KubeTime`/`MicroTime`
// implement RFC 3339 without Foundation. `JSONMergePatch` implements
// RFC 7386 (KubeClient preserves unknown fields with it). `LabelSelector`/`FieldSelector` parse
// and match selectors. `JSONStreamFramer` splits a watch stream into JSON objects, and
// `Backoff` is client-go's jittered exponential backoff. The API server's own machinery (JSON
// Patch, strategic merge patch, protobuf bodies) is in KubeServerModel; client-go's
// leader-election rules are in LeaderElection.

/// A JSON value. Objects are unordered dictionaries; serialization sorts keys for determinism.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        get {
            if case .object(let members) = self { return members[key] }
            return nil
        }
        set {
            guard case .object(var members) = self else { return }
            members[key] = newValue
            self = .object(members)
        }
    }

    public var objectValue: [String: JSONValue]? { if case .object(let members) = self { return members }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let items) = self { return items }; return nil }
    public var stringValue: String? { if case .string(let text) = self { return text }; return nil }
    public var boolValue: Bool? { if case .bool(let flag) = self { return flag }; return nil }
    public var intValue: Int64? {
        switch self {
        case .int(let integer): return integer
        case .double(let number): return number == number.rounded() && abs(number) < 9.0e18 ? Int64(number) : nil
        default: return nil
        }
    }
    public var isNull: Bool { if case .null = self { return true }; return false }

    /// Value at a dotted path of object keys ("metadata.name").
    public func value(atPath path: String) -> JSONValue? {
        var current: JSONValue? = self
        for part in path.split(separator: ".") { current = current?[String(part)] }
        return current
    }

    /// Sets (or with nil removes) the value at a path of object keys, creating objects on the way.
    public mutating func set(_ path: [String], _ newValue: JSONValue?) {
        guard let first = path.first else {
            if let value = newValue { self = value }
            return
        }
        guard case .object(var members) = self else {
            if newValue == nil { return }
            self = .object([:])
            set(path, newValue)
            return
        }
        if path.count == 1 {
            members[first] = newValue
        } else {
            var child = members[first] ?? .object([:])
            if case .object = child {} else { if newValue == nil { return }; child = .object([:]) }
            child.set(Array(path.dropFirst()), newValue)
            members[first] = child
        }
        self = .object(members)
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null; return }
        if let flag = try? container.decode(Bool.self) { self = .bool(flag); return }
        if let integer = try? container.decode(Int64.self) { self = .int(integer); return }
        if let number = try? container.decode(Double.self) { self = .double(number); return }
        if let text = try? container.decode(String.self) { self = .string(text); return }
        if let items = try? container.decode([JSONValue].self) { self = .array(items); return }
        if let members = try? container.decode([String: JSONValue].self) { self = .object(members); return }
        throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let flag): try container.encode(flag)
        case .int(let integer): try container.encode(integer)
        case .double(let number): try container.encode(number)
        case .string(let text): try container.encode(text)
        case .array(let items): try container.encode(items)
        case .object(let members): try container.encode(members)
        }
    }
}
