import KubeModel
import NIOCore

// Protocol Buffers wire format, read side only (https://protobuf.dev/programming-guides/encoding/):
// varints, the four wire types proto2/proto3 messages use (VARINT 0, I64 1, LEN 2, I32 5) and
// field keys `(field_number << 3) | wire_type`. Groups (SGROUP 3, EGROUP 4) are deprecated and
// never produced by Kubernetes' generated code; they are an error here.
//
// Reading is total: any bytes give fields or a `ProtobufDecodeError`, never a trap. No length
// read from the input is trusted: it is checked against the bytes that are really there before
// anything is sliced or allocated.

/// Why bytes are not the protobuf message expected. `code` is fit for a metric label; `field`
/// names where (a JSON path such as `spec.ports[0].targetPort`, or empty for the envelope).
public struct ProtobufDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable, CaseIterable {
        /// A varint, fixed-size value or length-delimited field runs past the end of its message.
        case truncated
        /// A varint longer than 10 bytes, or whose 10th byte carries bits beyond 64.
        case varintOverflow
        /// Field number 0 or above 2^29-1 (the key varint does not fit the encoding's limits).
        case badFieldNumber
        /// Wire type 3, 4 (groups), 6 or 7.
        case unsupportedWireType
        /// A known field encoded with a wire type its declared type never uses.
        case wrongWireType
        /// A string field that is not valid UTF-8.
        case invalidUTF8
        /// A value its type does not allow (IntOrString type other than 0/1, a time out of range).
        case invalidValue
        /// The body does not start with Kubernetes' `k8s\0` magic.
        case badMagic
        /// `runtime.Unknown.contentEncoding`/`contentType` name something other than plain protobuf.
        case unsupportedEncoding
        /// The envelope names a kind this decoder has no field table for.
        case unsupportedKind
    }

    public var code: Code
    public var field: String
    public var detail: String

    public init(_ code: Code, field: String = "", _ detail: String = "") {
        self.code = code
        self.field = field
        self.detail = detail
    }

    public var description: String {
        var text = "protobuf: \(code.rawValue)"
        if !field.isEmpty { text += " at \(field)" }
        if !detail.isEmpty { text += ": \(detail)" }
        return text
    }

    func at(_ path: String) -> ProtobufDecodeError {
        var located = self
        if located.field.isEmpty { located.field = path }
        return located
    }
}

/// One field of a message as it is on the wire.
public struct ProtobufField: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        case varint(UInt64)
        case fixed64(UInt64)
        case lengthDelimited(ByteBuffer)
        case fixed32(UInt32)

        /// The wire type number (encoding guide, "Message Structure").
        public var wireType: UInt8 {
            switch self {
            case .varint: return 0
            case .fixed64: return 1
            case .lengthDelimited: return 2
            case .fixed32: return 5
            }
        }
    }

    public var number: Int
    public var value: Value

    public init(number: Int, value: Value) {
        self.number = number
        self.value = value
    }
}

extension ByteBuffer {
    /// Reads a base-128 varint. Returns nil, leaving the buffer untouched, when the bytes end
    /// before the varint does; throws when it is longer than 64 bits can hold.
    public mutating func readProtobufVarint() throws(ProtobufDecodeError) -> UInt64? {
        var result: UInt64 = 0
        var index = readerIndex
        for position in 0..<10 {
            guard let byte = getInteger(at: index, as: UInt8.self) else { return nil }
            index += 1
            if position == 9 && byte > 1 { throw ProtobufDecodeError(.varintOverflow) }
            result |= UInt64(byte & 0x7f) << (7 * UInt64(position))
            if byte & 0x80 == 0 {
                moveReaderIndex(to: index)
                return result
            }
        }
        throw ProtobufDecodeError(.varintOverflow)
    }

    /// Reads one field (key and value). Returns nil, leaving the buffer untouched, when the
    /// bytes end before the field does (a length-delimited field longer than what is left
    /// counts as short input); throws on keys and wire types that no valid message holds.
    public mutating func readProtobufField() throws(ProtobufDecodeError) -> ProtobufField? {
        let start = readerIndex
        do {
            guard let field = try readProtobufFieldMovingOnError() else {
                moveReaderIndex(to: start)
                return nil
            }
            return field
        } catch {
            moveReaderIndex(to: start)
            throw error
        }
    }

    /// `readProtobufField` without restoring the reader index on nil or error.
    private mutating func readProtobufFieldMovingOnError() throws(ProtobufDecodeError) -> ProtobufField? {
        guard let key = try readProtobufVarint() else { return nil }
        let number = key >> 3
        guard number >= 1, number <= 0x1FFF_FFFF else {
            throw ProtobufDecodeError(.badFieldNumber, "\(number)")
        }
        let value: ProtobufField.Value
        switch UInt8(key & 7) {
        case 0:
            guard let payload = try readProtobufVarint() else { return nil }
            value = .varint(payload)
        case 1:
            guard let payload = readInteger(endianness: .little, as: UInt64.self) else { return nil }
            value = .fixed64(payload)
        case 2:
            guard let length = try readProtobufVarint(), length <= UInt64(readableBytes),
                  let slice = readSlice(length: Int(length))
            else { return nil }
            value = .lengthDelimited(slice)
        case 5:
            guard let payload = readInteger(endianness: .little, as: UInt32.self) else { return nil }
            value = .fixed32(payload)
        case let wireType:
            throw ProtobufDecodeError(.unsupportedWireType, "wire type \(wireType) for field \(number)")
        }
        return ProtobufField(number: Int(number), value: value)
    }
}

/// Reads the fields of one complete message in order. Input that ends inside a field is
/// `.truncated`: the message's bytes are all there is.
public struct ProtobufReader: Sendable {
    private var buffer: ByteBuffer

    public init(_ buffer: ByteBuffer) { self.buffer = buffer }
    public init(bytes: some Sequence<UInt8>) { self.buffer = ByteBuffer(bytes: bytes) }

    /// The next field, or nil at the end of the message.
    public mutating func next() throws(ProtobufDecodeError) -> ProtobufField? {
        guard buffer.readableBytes > 0 else { return nil }
        guard let field = try buffer.readProtobufField() else {
            throw ProtobufDecodeError(.truncated, "\(buffer.readableBytes) bytes left do not hold a whole field")
        }
        return field
    }

    /// The next varint of a packed repeated field's payload, or nil at its end.
    public mutating func nextVarint() throws(ProtobufDecodeError) -> UInt64? {
        guard buffer.readableBytes > 0 else { return nil }
        guard let value = try buffer.readProtobufVarint() else {
            throw ProtobufDecodeError(.truncated, "\(buffer.readableBytes) bytes left do not hold a whole varint")
        }
        return value
    }
}
