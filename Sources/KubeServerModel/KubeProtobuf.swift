import KubeModel
import NIOCore

// Kubernetes' protobuf media type (`application/vnd.kubernetes.protobuf`) decoded into the JSON
// form a JSON client would have sent, for the kinds this file has field tables for
// (`KubeProtobuf.supportedKinds`, tables in KubeProtobufSchemas.swift).
//
// Body layout (apimachinery `runtime/serializer/protobuf/protobuf.go`): the 4-byte magic
// `k8s\0`, then a `runtime.Unknown` {typeMeta{apiVersion 1, kind 2} 1, raw 2,
// contentEncoding 3, contentType 4} (apimachinery `runtime/generated.proto`) whose `raw` is the
// object's own message (k8s.io/api `<group>/<version>/generated.proto`).
//
// JSON rendering follows the Go types' `json` tags: Go's protobuf encoder writes every
// non-pointer field, zero values included (`clusterIP: ""`, an empty `creationTimestamp`), so
// `omitempty` fields drop zero values here as `encoding/json` does; pointer fields are kept
// whenever present; fields without `omitempty` always appear. Unknown field numbers are skipped.
// A singular message field that occurs twice is merged (protobuf's rule: the concatenation of
// two encodings), scalars take the last value, repeated fields append.

/// The `runtime.Unknown` envelope of a protobuf request or response body.
public struct KubeProtobufEnvelope: Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    /// The object's own protobuf encoding.
    public var raw: ByteBuffer
    public var contentEncoding: String
    public var contentType: String
}

public enum KubeProtobuf {
    /// Media type of Kubernetes protobuf (apimachinery `runtime.ContentTypeProtobuf`).
    public static let mediaType = "application/vnd.kubernetes.protobuf"
    /// `k8s\0`, apimachinery `protobuf.go` `protoEncodingPrefix`.
    public static let magic: [UInt8] = [0x6b, 0x38, 0x73, 0x00]

    /// (apiVersion, kind) pairs `decode` turns into JSON.
    public static var supportedKinds: [(apiVersion: String, kind: String)] {
        topLevel.keys.sorted { ($0.apiVersion, $0.kind) < ($1.apiVersion, $1.kind) }.map { ($0.apiVersion, $0.kind) }
    }

    public static func supports(apiVersion: String, kind: String) -> Bool {
        topLevel[GroupVersionKind(apiVersion: apiVersion, kind: kind)] != nil
    }

    /// Splits a body into its envelope. Checks the magic and that `raw` is plain protobuf.
    public static func envelope<Bytes: Collection<UInt8>>(_ body: Bytes) throws(ProtobufDecodeError) -> KubeProtobufEnvelope {
        var buffer = ByteBuffer(bytes: body)
        guard buffer.readBytes(length: magic.count) == magic else {
            throw ProtobufDecodeError(.badMagic, "the body does not start with k8s\\0")
        }
        var reader = ProtobufReader(buffer)
        var typeMeta = ByteBuffer()
        var raw = ByteBuffer()
        var contentEncoding = "", contentType = ""
        while let field = try reader.next() {
            switch field.number {
            case 1: typeMeta.writeImmutableBuffer(try lengthDelimited(field, "typeMeta"))
            case 2: raw = try lengthDelimited(field, "raw")
            case 3: contentEncoding = try string(lengthDelimited(field, "contentEncoding"), "contentEncoding")
            case 4: contentType = try string(lengthDelimited(field, "contentType"), "contentType")
            default: continue
            }
        }
        var apiVersion = "", kind = ""
        var meta = ProtobufReader(typeMeta)
        while let field = try meta.next() {
            switch field.number {
            case 1: apiVersion = try string(lengthDelimited(field, "typeMeta.apiVersion"), "typeMeta.apiVersion")
            case 2: kind = try string(lengthDelimited(field, "typeMeta.kind"), "typeMeta.kind")
            default: continue
            }
        }
        guard contentEncoding.isEmpty else {
            throw ProtobufDecodeError(.unsupportedEncoding, field: "contentEncoding", contentEncoding)
        }
        guard contentType.isEmpty || contentType == mediaType else {
            throw ProtobufDecodeError(.unsupportedEncoding, field: "contentType", contentType)
        }
        return KubeProtobufEnvelope(apiVersion: apiVersion, kind: kind, raw: raw, contentEncoding: contentEncoding, contentType: contentType)
    }

    /// The object in `envelope` as JSON, with `apiVersion` and `kind` set.
    public static func decode(_ envelope: KubeProtobufEnvelope) throws(ProtobufDecodeError) -> JSONValue {
        guard let schema = topLevel[GroupVersionKind(apiVersion: envelope.apiVersion, kind: envelope.kind)] else {
            throw ProtobufDecodeError(.unsupportedKind, "\(envelope.apiVersion) \(envelope.kind)")
        }
        var object = try decodeMessage(envelope.raw, schema, path: "")
        object["apiVersion"] = .string(envelope.apiVersion)
        object["kind"] = .string(envelope.kind)
        return .object(object)
    }

    /// `envelope` then `decode`.
    public static func decode<Bytes: Collection<UInt8>>(body: Bytes) throws(ProtobufDecodeError) -> JSONValue {
        try decode(envelope(body))
    }

    /// Decodes one message with a field table into a JSON object.
    public static func decodeMessage(_ bytes: ByteBuffer, _ schema: ProtobufMessageSchema, path: String) throws(ProtobufDecodeError) -> [String: JSONValue] {
        var reader = ProtobufReader(bytes)
        var singular: [Int: JSONValue] = [:]
        var nested: [Int: ByteBuffer] = [:]
        var lists: [Int: [JSONValue]] = [:]
        var maps: [Int: [String: JSONValue]] = [:]
        while true {
            let next: ProtobufField?
            do { next = try reader.next() } catch { throw error.at(path.isEmpty ? schema.name : path) }
            guard let wireField = next else { break }
            guard let field = schema.fields[wireField.number] else { continue }
            let fieldPath = path.isEmpty ? field.name : path + "." + field.name
            switch field.cardinality {
            case .map:
                let (entryKey, entryValue) = try mapEntry(wireField, field.type, fieldPath)
                maps[wireField.number, default: [:]][entryKey] = entryValue
            case .repeated:
                if case .lengthDelimited(let packed) = wireField.value, field.type.isVarint {
                    // A packed repeated scalar (Go's decoder accepts both encodings).
                    var reader = ProtobufReader(packed)
                    do {
                        while let element = try reader.nextVarint() {
                            lists[wireField.number, default: []].append(scalar(varint: element, field.type))
                        }
                    } catch { throw error.at(fieldPath) }
                    continue
                }
                let itemPath = fieldPath + "[\(lists[wireField.number]?.count ?? 0)]"
                lists[wireField.number, default: []].append(try scalarOrMessage(wireField, field.type, itemPath))
            case .omitEmpty, .pointer, .always:
                if case .message = field.type {
                    nested[wireField.number, default: ByteBuffer()].writeImmutableBuffer(try lengthDelimited(wireField, fieldPath))
                } else {
                    singular[wireField.number] = try scalarOrMessage(wireField, field.type, fieldPath)
                }
            }
        }
        var out: [String: JSONValue] = [:]
        for (number, field) in schema.fields {
            let fieldPath = path.isEmpty ? field.name : path + "." + field.name
            var value: JSONValue?
            switch field.cardinality {
            case .map:
                if let entries = maps[number], !entries.isEmpty { value = .object(entries) }
            case .repeated:
                if let items = lists[number], !items.isEmpty { value = .array(items) }
            case .omitEmpty, .pointer, .always:
                if let messageBytes = nested[number], case .message(let nestedSchema) = field.type {
                    value = .object(try decodeMessage(messageBytes, nestedSchema, path: fieldPath))
                } else {
                    value = singular[number]
                }
            }
            switch field.cardinality {
            case .map, .repeated, .pointer:
                break
            case .omitEmpty:
                if let present = value, isEmpty(present, field.type) { value = nil }
            case .always:
                if value == nil { value = try zeroValue(field.type, fieldPath) }
            }
            // A zero metav1.Time marshals as null (`omitempty`/`omitzero`: dropped).
            if field.type.isTime, value == .null, field.cardinality != .always { value = nil }
            if let value { out[field.name] = value }
        }
        return out
    }

    // MARK: values

    private static func scalarOrMessage(_ field: ProtobufField, _ type: ProtobufFieldType, _ path: String) throws(ProtobufDecodeError) -> JSONValue {
        switch type {
        case .string:
            return .string(try string(lengthDelimited(field, path), path))
        case .int32, .int64, .bool:
            return scalar(varint: try varint(field, path), type)
        case .bytes:
            return .string(Base64.encode(Array(try lengthDelimited(field, path).readableBytesView)))
        case .message(let schema):
            return .object(try decodeMessage(lengthDelimited(field, path), schema, path: path))
        case .intOrString:
            return try intOrString(lengthDelimited(field, path), path)
        case .time:
            return try time(lengthDelimited(field, path), path, fractionDigits: 0)
        case .microTime:
            return try time(lengthDelimited(field, path), path, fractionDigits: 6)
        case .quantity:
            return try quantity(lengthDelimited(field, path), path)
        case .rawExtension:
            return try rawExtension(lengthDelimited(field, path), path)
        }
    }

    /// A varint field's JSON value (int32 fields take the low 32 bits, as Go's decoder does).
    private static func scalar(varint value: UInt64, _ type: ProtobufFieldType) -> JSONValue {
        switch type {
        case .bool: return .bool(value != 0)
        case .int32: return .int(Int64(Int32(truncatingIfNeeded: value)))
        default: return .int(Int64(bitPattern: value))
        }
    }

    /// resource.Quantity {string 1}: its JSON form is the string.
    private static func quantity(_ bytes: ByteBuffer, _ path: String) throws(ProtobufDecodeError) -> JSONValue {
        var reader = ProtobufReader(bytes)
        var value = "0"
        while true {
            let next: ProtobufField?
            do { next = try reader.next() } catch { throw error.at(path) }
            guard let field = next else { break }
            if field.number == 1 { value = try string(lengthDelimited(field, path + ".string"), path + ".string") }
        }
        return .string(value.isEmpty ? "0" : value)
    }

    /// runtime.RawExtension {raw 1}: the raw bytes are the embedded object's JSON.
    private static func rawExtension(_ bytes: ByteBuffer, _ path: String) throws(ProtobufDecodeError) -> JSONValue {
        var reader = ProtobufReader(bytes)
        var raw = ByteBuffer()
        while true {
            let next: ProtobufField?
            do { next = try reader.next() } catch { throw error.at(path) }
            guard let field = next else { break }
            if field.number == 1 { raw = try lengthDelimited(field, path + ".raw") }
        }
        if raw.readableBytes == 0 { return .null }
        guard let value = try? JSONValue.parse(Array(raw.readableBytesView)) else {
            throw ProtobufDecodeError(.invalidValue, field: path, "RawExtension bytes are not JSON")
        }
        return value
    }

    private static func isEmpty(_ value: JSONValue, _ type: ProtobufFieldType) -> Bool {
        switch value {
        case .string(let text): return text.isEmpty
        case .int(let integer): return integer == 0
        case .bool(let flag): return !flag
        case .null: return true
        case .array(let items): return items.isEmpty
        // encoding/json's omitempty never drops a struct; a zero Time is handled by the caller.
        case .object: return false
        case .double(let number): return number == 0
        }
    }

    private static func zeroValue(_ type: ProtobufFieldType, _ path: String) throws(ProtobufDecodeError) -> JSONValue {
        switch type {
        case .string: return .string("")
        case .int32, .int64: return .int(0)
        case .bool: return .bool(false)
        case .bytes: return .string("")
        case .message(let schema): return .object(try decodeMessage(ByteBuffer(), schema, path: path))
        case .intOrString: return .int(0)
        case .time, .microTime, .rawExtension: return .null
        case .quantity: return .string("0")
        }
    }

    /// intstr.IntOrString {type 1 (0 = Int, 1 = String), intVal 2, strVal 3}.
    private static func intOrString(_ bytes: ByteBuffer, _ path: String) throws(ProtobufDecodeError) -> JSONValue {
        var reader = ProtobufReader(bytes)
        var type: Int64 = 0, intVal: Int32 = 0, strVal = ""
        while true {
            let next: ProtobufField?
            do { next = try reader.next() } catch { throw error.at(path) }
            guard let field = next else { break }
            switch field.number {
            case 1: type = Int64(bitPattern: try varint(field, path + ".type"))
            case 2: intVal = Int32(truncatingIfNeeded: try varint(field, path + ".intVal"))
            case 3: strVal = try string(lengthDelimited(field, path + ".strVal"), path + ".strVal")
            default: continue
            }
        }
        switch type {
        case 0: return .int(Int64(intVal))
        case 1: return .string(strVal)
        default: throw ProtobufDecodeError(.invalidValue, field: path, "IntOrString type \(type)")
        }
    }

    /// metav1.Time and MicroTime {seconds 1, nanos 2}: RFC 3339 in whole seconds (Time) or with
    /// 6 fraction digits (MicroTime), as their JSON forms; zero is null.
    private static func time(_ bytes: ByteBuffer, _ path: String, fractionDigits: Int) throws(ProtobufDecodeError) -> JSONValue {
        var reader = ProtobufReader(bytes)
        var seconds: Int64 = 0, nanos: Int32 = 0
        while true {
            let next: ProtobufField?
            do { next = try reader.next() } catch { throw error.at(path) }
            guard let field = next else { break }
            switch field.number {
            case 1: seconds = Int64(bitPattern: try varint(field, path + ".seconds"))
            case 2: nanos = Int32(truncatingIfNeeded: try varint(field, path + ".nanos"))
            default: continue
            }
        }
        if seconds == 0 && nanos == 0 { return .null }
        // Years 0001 through 9999, the range RFC 3339 (and Go's MarshalJSON) can write.
        guard (-62_135_596_800...253_402_300_799).contains(seconds), (0..<1_000_000_000).contains(nanos) else {
            throw ProtobufDecodeError(.invalidValue, field: path, "time \(seconds)s \(nanos)ns out of range")
        }
        if fractionDigits == 0 { return .string(KubeTime(seconds: seconds).format()) }
        return .string(KubeTime(seconds: seconds, nanoseconds: nanos).format(fractionDigits: fractionDigits))
    }

    /// A map<string, V> entry: {key 1, value 2}; a missing value is V's zero value.
    private static func mapEntry(_ field: ProtobufField, _ valueType: ProtobufFieldType, _ path: String) throws(ProtobufDecodeError) -> (String, JSONValue) {
        var reader = ProtobufReader(try lengthDelimited(field, path))
        var key = ""
        var value: JSONValue?
        while true {
            let next: ProtobufField?
            do { next = try reader.next() } catch { throw error.at(path) }
            guard let entry = next else { break }
            switch entry.number {
            case 1: key = try string(lengthDelimited(entry, path), path)
            case 2: value = try scalarOrMessage(entry, valueType, path + "." + key)
            default: continue
            }
        }
        if let value { return (key, value) }
        return (key, try zeroValue(valueType, path + "." + key))
    }

    private static func varint(_ field: ProtobufField, _ path: String) throws(ProtobufDecodeError) -> UInt64 {
        guard case .varint(let value) = field.value else {
            throw ProtobufDecodeError(.wrongWireType, field: path, "wire type \(field.value.wireType), expected 0")
        }
        return value
    }

    private static func lengthDelimited(_ field: ProtobufField, _ path: String) throws(ProtobufDecodeError) -> ByteBuffer {
        guard case .lengthDelimited(let bytes) = field.value else {
            throw ProtobufDecodeError(.wrongWireType, field: path, "wire type \(field.value.wireType), expected 2")
        }
        return bytes
    }

    private static func string(_ bytes: ByteBuffer, _ path: String) throws(ProtobufDecodeError) -> String {
        guard let text = String(validating: bytes.readableBytesView, as: UTF8.self) else {
            throw ProtobufDecodeError(.invalidUTF8, field: path)
        }
        return text
    }
}

struct GroupVersionKind: Hashable, Sendable {
    var apiVersion: String
    var kind: String
}

/// How a field is read and rendered.
public indirect enum ProtobufFieldType: Sendable {
    case string
    case int32
    case int64
    case bool
    /// `bytes`: a base64 JSON string.
    case bytes
    case message(ProtobufMessageSchema)
    /// intstr.IntOrString: a JSON number or string.
    case intOrString
    /// metav1.Time: an RFC 3339 string.
    case time
    /// metav1.MicroTime: an RFC 3339 string with 6 fraction digits.
    case microTime
    /// resource.Quantity: its canonical string.
    case quantity
    /// runtime.RawExtension: the embedded JSON object.
    case rawExtension

    var isTime: Bool {
        switch self {
        case .time, .microTime: return true
        default: return false
        }
    }

    var isVarint: Bool {
        switch self {
        case .int32, .int64, .bool: return true
        default: return false
        }
    }
}

/// Cardinality plus the Go field's JSON presence rule.
public enum ProtobufFieldCardinality: Sendable {
    /// Non-pointer Go field tagged `omitempty`: zero values are dropped.
    case omitEmpty
    /// Pointer Go field: present in JSON exactly when present on the wire.
    case pointer
    /// Go field without `omitempty` (or a struct, which `omitempty` never drops): always present.
    case always
    /// `repeated`: a JSON array, dropped when empty (every such field here is `omitempty`).
    case repeated
    /// `map<string, V>` (the field's type is V's): a JSON object, dropped when empty.
    case map
}

public struct ProtobufFieldSchema: Sendable {
    public var name: String
    public var type: ProtobufFieldType
    public var cardinality: ProtobufFieldCardinality

    public init(_ name: String, _ type: ProtobufFieldType, _ cardinality: ProtobufFieldCardinality) {
        self.name = name
        self.type = type
        self.cardinality = cardinality
    }
}

/// A message's field table: field number to JSON name, type and presence rule.
public struct ProtobufMessageSchema: Sendable {
    public var name: String
    public var fields: [Int: ProtobufFieldSchema]

    public init(_ name: String, _ fields: [Int: ProtobufFieldSchema]) {
        self.name = name
        self.fields = fields
    }
}
