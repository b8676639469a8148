import NIOCore

/// Splits a byte stream of concatenated JSON objects (a Kubernetes watch body) into complete
/// objects. Handles partial objects across reads, several objects per read, and any size
/// (scanning is incremental: each byte is examined once). Whitespace between objects is skipped.
public struct JSONStreamFramer: Sendable {
    public struct Error: Swift.Error, Hashable, Sendable {
        public var code: String
    }

    private var buffer = ByteBuffer()
    private var scanned = 0  // bytes of the current object already scanned (relative to readerIndex)
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var started = false
    public var maxObjectSize: Int

    public init(maxObjectSize: Int = 64 << 20) { self.maxObjectSize = maxObjectSize }

    public mutating func append(_ bytes: ByteBuffer) {
        var readable = bytes
        buffer.writeBuffer(&readable)
    }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        buffer.writeBytes(bytes)
    }

    /// Bytes held but not yet returned as an object.
    public var pendingBytes: Int { buffer.readableBytes }

    /// The next complete top-level JSON object, or nil when more input is needed.
    public mutating func next() throws(Error) -> ByteBuffer? {
        if !started {
            // Skip whitespace before an object.
            while let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
                  byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
                buffer.moveReaderIndex(forwardBy: 1)
            }
            guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else {
                buffer.discardReadBytes()
                return nil
            }
            guard first == UInt8(ascii: "{") else { throw Error(code: "expected_object") }
            started = true
            scanned = 0
            depth = 0
        }
        let result: Int? = buffer.withUnsafeReadableBytes { raw -> Int? in
            var offset = scanned
            while offset < raw.count {
                let byte = raw[offset]
                if inString {
                    if escaped { escaped = false } else if byte == 92 { escaped = true } else if byte == 34 { inString = false }
                } else {
                    switch byte {
                    case 34: inString = true
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 { return offset + 1 }
                    default: break
                    }
                }
                offset += 1
            }
            scanned = offset
            return nil
        }
        guard let end = result else {
            if buffer.readableBytes > maxObjectSize { throw Error(code: "object_too_large") }
            return nil
        }
        let object = buffer.readSlice(length: end)!
        started = false
        scanned = 0
        if buffer.readerIndex > 1 << 20 { buffer.discardReadBytes() }
        return object
    }
}

/// The same framing as a NIO decoder, for channel pipelines.
public struct JSONObjectFrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer
    private var framer = JSONStreamFramer()
    public init() {}

    public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        if buffer.readableBytes > 0, let chunk = buffer.readSlice(length: buffer.readableBytes) { framer.append(chunk) }
        return try framer.next()
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        try decode(buffer: &buffer)
    }
}
