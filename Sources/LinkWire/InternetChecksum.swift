import NIOCore
import NetPrimitives

/// The Internet checksum (RFC 1071): the one's complement of the one's complement sum of
/// 16-bit big-endian words, an odd final byte padded with zero.
public struct InternetChecksum: Sendable {
    private var sum: UInt64 = 0
    /// A byte left over from an odd-length `add(bytes:)`, waiting for its pair.
    private var pending: UInt8?

    public init() {}

    public mutating func add(_ word: UInt16) {
        precondition(pending == nil, "16-bit words must be added on an even boundary")
        sum &+= UInt64(word)
    }

    public mutating func add(_ word: UInt32) {
        add(UInt16(truncatingIfNeeded: word >> 16))
        add(UInt16(truncatingIfNeeded: word))
    }

    public mutating func add(_ address: IPv6Address) {
        add(UInt32(truncatingIfNeeded: address.rawValue >> 96))
        add(UInt32(truncatingIfNeeded: address.rawValue >> 64))
        add(UInt32(truncatingIfNeeded: address.rawValue >> 32))
        add(UInt32(truncatingIfNeeded: address.rawValue))
    }

    public mutating func add<Bytes: Sequence>(bytes: Bytes) where Bytes.Element == UInt8 {
        for byte in bytes {
            if let high = pending {
                sum &+= UInt64(high) << 8 | UInt64(byte)
                pending = nil
            } else {
                pending = byte
            }
        }
    }

    /// The checksum field value: complemented folded sum.
    public var value: UInt16 {
        var total = sum
        if let high = pending { total &+= UInt64(high) << 8 }
        while total >> 16 != 0 { total = (total & 0xffff) + (total >> 16) }
        return ~UInt16(truncatingIfNeeded: total)
    }

    /// The ICMPv6 checksum (RFC 4443 §2.3) of `message` (with its checksum field as it is)
    /// over the IPv6 pseudo-header of RFC 8200 §8.1. A message carrying a correct checksum
    /// gives 0.
    public static func icmpv6(source: IPv6Address, destination: IPv6Address, message: ByteBufferView) -> UInt16 {
        var checksum = InternetChecksum()
        checksum.add(source)
        checksum.add(destination)
        checksum.add(UInt32(message.count))
        checksum.add(UInt32(IPv6Header.nextHeaderICMPv6))
        checksum.add(bytes: message)
        return checksum.value
    }
}
