import NIOCore
import NetPrimitives

/// The fields of a fixed IPv6 header (RFC 8200 §3) that an NDP packet sets. The payload
/// length and next header (ICMPv6, 58) follow from the message when encoding.
public struct IPv6Header: Hashable, Sendable {
    public var trafficClass: UInt8
    /// 20 bits.
    public var flowLabel: UInt32
    public var hopLimit: UInt8
    public var source: IPv6Address
    public var destination: IPv6Address

    public static let encodedLength = 40
    /// ICMPv6's protocol number (RFC 4443 §1).
    public static let nextHeaderICMPv6: UInt8 = 58
    /// Every ND message is sent with, and must arrive with, hop limit 255 (RFC 4861 §7.1).
    public static let ndHopLimit: UInt8 = 255

    public init(trafficClass: UInt8 = 0, flowLabel: UInt32 = 0, hopLimit: UInt8 = IPv6Header.ndHopLimit, source: IPv6Address, destination: IPv6Address) {
        self.trafficClass = trafficClass
        self.flowLabel = flowLabel & 0xf_ffff
        self.hopLimit = hopLimit
        self.source = source
        self.destination = destination
    }
}

extension ByteBuffer {
    /// Reads an IPv6 address, or returns nil (buffer untouched) when fewer than 16 bytes remain.
    public mutating func readIPv6Address() -> IPv6Address? {
        guard let high = getInteger(at: readerIndex, as: UInt64.self),
              let low = getInteger(at: readerIndex + 8, as: UInt64.self)
        else { return nil }
        moveReaderIndex(forwardBy: 16)
        return IPv6Address(high: high, low: low)
    }

    @discardableResult
    public mutating func writeIPv6Address(_ address: IPv6Address) -> Int {
        writeInteger(address.high) + writeInteger(address.low)
    }

    /// Reads a fixed IPv6 header whose next header is ICMPv6, returning it with the payload
    /// length; nil (untouched) when cut short. Throws `notIPv6` or `unsupportedNextHeader`.
    public mutating func readIPv6Header() throws(LinkDecodeError) -> (header: IPv6Header, payloadLength: Int)? {
        var copy = self
        guard let word = copy.readInteger(as: UInt32.self),
              let payloadLength = copy.readInteger(as: UInt16.self),
              let nextHeader = copy.readInteger(as: UInt8.self),
              let hopLimit = copy.readInteger(as: UInt8.self),
              let source = copy.readIPv6Address(),
              let destination = copy.readIPv6Address()
        else {
            if let first = getInteger(at: readerIndex, as: UInt8.self), first >> 4 != 6 { throw LinkDecodeError(.notIPv6) }
            return nil
        }
        guard word >> 28 == 6 else { throw LinkDecodeError(.notIPv6) }
        guard nextHeader == IPv6Header.nextHeaderICMPv6 else { throw LinkDecodeError(.unsupportedNextHeader) }
        self = copy
        let header = IPv6Header(
            trafficClass: UInt8(truncatingIfNeeded: word >> 20),
            flowLabel: word & 0xf_ffff,
            hopLimit: hopLimit,
            source: source,
            destination: destination
        )
        return (header, Int(payloadLength))
    }

    @discardableResult
    public mutating func writeIPv6Header(_ header: IPv6Header, payloadLength: UInt16, nextHeader: UInt8 = IPv6Header.nextHeaderICMPv6) -> Int {
        let word = 6 << 28 | UInt32(header.trafficClass) << 20 | (header.flowLabel & 0xf_ffff)
        var written = writeInteger(word) + writeInteger(payloadLength)
        written += writeInteger(nextHeader) + writeInteger(header.hopLimit)
        return written + writeIPv6Address(header.source) + writeIPv6Address(header.destination)
    }
}
