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
            if case .object(let o) = self { return o[key] }
            return nil
        }
        set {
            guard case .object(var o) = self else { return }
            o[key] = newValue
            self = .object(o)
        }
    }

    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d): return d == d.rounded() && abs(d) < 9.0e18 ? Int64(d) : nil
        default: return nil
        }
    }
    public var isNull: Bool { if case .null = self { return true }; return false }

    /// Value at a dotted path of object keys ("metadata.name").
    public func value(atPath path: String) -> JSONValue? {
        var cur: JSONValue? = self
        for part in path.split(separator: ".") { cur = cur?[String(part)] }
        return cur
    }

    /// Sets (or with nil removes) the value at a path of object keys, creating objects on the way.
    public mutating func set(_ path: [String], _ newValue: JSONValue?) {
        guard let first = path.first else {
            if let v = newValue { self = v }
            return
        }
        guard case .object(var o) = self else {
            if newValue == nil { return }
            self = .object([:])
            set(path, newValue)
            return
        }
        if path.count == 1 {
            o[first] = newValue
        } else {
            var child = o[first] ?? .object([:])
            if case .object = child {} else { if newValue == nil { return }; child = .object([:]) }
            child.set(Array(path.dropFirst()), newValue)
            o[first] = child
        }
        self = .object(o)
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
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int64.self) { self = .int(i); return }
        if let d = try? c.decode(Double.self) { self = .double(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        if let o = try? c.decode([String: JSONValue].self) { self = .object(o); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a JSON value")
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}
