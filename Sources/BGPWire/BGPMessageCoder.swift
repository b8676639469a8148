import NIOCore

/// Frames a TCP byte stream into BGP messages. Set `options` once the OPEN exchange has
/// negotiated 4-octet AS numbers and extended messages.
public struct BGPMessageDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = BGPMessage

    public var options: BGPCodecOptions

    public init(options: BGPCodecOptions = BGPCodecOptions()) {
        self.options = options
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> BGPMessage? {
        try buffer.readBGPMessage(options: options)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> BGPMessage? {
        // A message cut short by the connection closing is dropped with it.
        try decode(buffer: &buffer)
    }
}

/// Encodes BGP messages for a channel pipeline.
public struct BGPMessageEncoder: MessageToByteEncoder {
    public typealias OutboundIn = BGPMessage

    public var options: BGPCodecOptions

    public init(options: BGPCodecOptions = BGPCodecOptions()) {
        self.options = options
    }

    public func encode(data: BGPMessage, out: inout ByteBuffer) throws {
        out.writeBGPMessage(data, options: options)
    }
}
