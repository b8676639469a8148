import NIOCore
import NetPrimitives

/// An IPv6 Neighbor Discovery option (RFC 4861 §4.6).
public enum NDOption: Hashable, Sendable {
    /// Type 1 (§4.6.1): the sender's link-layer address, in solicitations.
    case sourceLinkLayerAddress(MACAddress)
    /// Type 2 (§4.6.1): the target's link-layer address, in advertisements.
    case targetLinkLayerAddress(MACAddress)
    /// Any other option, kept as received: `data` is everything after the type and length
    /// octets (for example the RFC 7527 nonce, type 14, in a DAD probe). Encoding pads it
    /// with zeros to a multiple of 8 octets.
    case other(type: UInt8, data: [UInt8])

    public static let typeSourceLinkLayerAddress: UInt8 = 1
    public static let typeTargetLinkLayerAddress: UInt8 = 2

    /// Octets on the wire, a multiple of 8.
    public var encodedLength: Int {
        switch self {
        case .sourceLinkLayerAddress, .targetLinkLayerAddress: return 8
        case .other(_, let data): return (data.count + 2 + 7) / 8 * 8
        }
    }
}

/// Neighbor Solicitation, ICMPv6 type 135 (RFC 4861 §4.3).
public struct NeighborSolicitation: Hashable, Sendable {
    /// 0 on the wire (§7.1.1 drops anything else); kept so that decoding is faithful.
    public var code: UInt8
    /// Zero when sent, ignored when received (§4.3); kept so that re-encoding is identical.
    public var reserved: UInt32
    public var target: IPv6Address
    public var options: [NDOption]

    public init(code: UInt8 = 0, reserved: UInt32 = 0, target: IPv6Address, options: [NDOption] = []) {
        self.code = code
        self.reserved = reserved
        self.target = target
        self.options = options
    }

    /// The first source link-layer address option, if any.
    public var sourceLinkLayerAddress: MACAddress? {
        for case .sourceLinkLayerAddress(let address) in options { return address }
        return nil
    }
}

/// Neighbor Advertisement, ICMPv6 type 136 (RFC 4861 §4.4).
public struct NeighborAdvertisement: Hashable, Sendable {
    /// The R, S and O flags, the top three bits of the word after the checksum.
    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue & 0xe000_0000 }

        public static let router = Flags(rawValue: 1 << 31)
        public static let solicited = Flags(rawValue: 1 << 30)
        public static let override = Flags(rawValue: 1 << 29)
    }

    public var code: UInt8
    public var flags: Flags
    /// The 29 bits after the flags: zero when sent, ignored when received.
    public var reserved: UInt32
    public var target: IPv6Address
    public var options: [NDOption]

    public init(code: UInt8 = 0, flags: Flags, reserved: UInt32 = 0, target: IPv6Address, options: [NDOption] = []) {
        self.code = code
        self.flags = flags
        self.reserved = reserved & 0x1fff_ffff
        self.target = target
        self.options = options
    }

    /// The first target link-layer address option, if any.
    public var targetLinkLayerAddress: MACAddress? {
        for case .targetLinkLayerAddress(let address) in options { return address }
        return nil
    }
}

/// The two ND messages IronLB decodes.
public enum NDPMessage: Hashable, Sendable {
    case solicitation(NeighborSolicitation)
    case advertisement(NeighborAdvertisement)

    public static let typeNeighborSolicitation: UInt8 = 135
    public static let typeNeighborAdvertisement: UInt8 = 136
    /// Type, code, checksum, a 32-bit word and the target address (§7.1.1: 24 or more).
    public static let fixedLength = 24

    public var encodedLength: Int {
        switch self {
        case .solicitation(let m): return Self.fixedLength + m.options.reduce(0) { $0 + $1.encodedLength }
        case .advertisement(let m): return Self.fixedLength + m.options.reduce(0) { $0 + $1.encodedLength }
        }
    }
}

extension ByteBuffer {
    /// Reads an NS or NA occupying exactly `length` bytes (the IPv6 payload), verifying its
    /// checksum over the pseudo-header built from `source` and `destination`. Returns nil when
    /// fewer than `length` bytes are readable; on nil or a throw the buffer is untouched.
    public mutating func readNDPMessage(length: Int, source: IPv6Address, destination: IPv6Address) throws(LinkDecodeError) -> NDPMessage? {
        guard length >= 0, readableBytes >= length else { return nil }
        guard let type = getInteger(at: readerIndex, as: UInt8.self), length >= 1 else {
            throw LinkDecodeError(.messageTooShort)
        }
        guard type == NDPMessage.typeNeighborSolicitation || type == NDPMessage.typeNeighborAdvertisement else {
            throw LinkDecodeError(.notNeighborDiscovery)
        }
        guard length >= NDPMessage.fixedLength else { throw LinkDecodeError(.messageTooShort) }
        guard var message = getSlice(at: readerIndex, length: length) else { return nil }
        guard InternetChecksum.icmpv6(source: source, destination: destination, message: message.readableBytesView) == 0 else {
            throw LinkDecodeError(.badChecksum)
        }
        guard message.readInteger(as: UInt8.self) != nil,
              let code = message.readInteger(as: UInt8.self),
              message.readInteger(as: UInt16.self) != nil,
              let word = message.readInteger(as: UInt32.self),
              let target = message.readIPv6Address()
        else { throw LinkDecodeError(.messageTooShort) }
        let options = try message.readNDOptions()
        moveReaderIndex(forwardBy: length)
        if type == NDPMessage.typeNeighborSolicitation {
            return .solicitation(NeighborSolicitation(code: code, reserved: word, target: target, options: options))
        }
        return .advertisement(NeighborAdvertisement(
            code: code, flags: NeighborAdvertisement.Flags(rawValue: word), reserved: word, target: target, options: options
        ))
    }

    /// Reads options until the buffer is empty (RFC 4861 §4.6: each a multiple of 8 octets,
    /// length 0 invalid).
    mutating func readNDOptions() throws(LinkDecodeError) -> [NDOption] {
        var options: [NDOption] = []
        while readableBytes > 0 {
            guard let type = getInteger(at: readerIndex, as: UInt8.self),
                  let units = getInteger(at: readerIndex + 1, as: UInt8.self),
                  units > 0, Int(units) * 8 <= readableBytes
            else { throw LinkDecodeError(.badOptionLength) }
            let length = Int(units) * 8
            switch type {
            case NDOption.typeSourceLinkLayerAddress, NDOption.typeTargetLinkLayerAddress:
                // Ethernet addresses fill exactly one unit (RFC 2464 §8); Linux drops others too.
                guard units == 1 else { throw LinkDecodeError(.badLinkLayerAddressOption) }
                moveReaderIndex(forwardBy: 2)
                guard let address = readMACAddress() else { throw LinkDecodeError(.badOptionLength) }
                options.append(type == NDOption.typeSourceLinkLayerAddress ? .sourceLinkLayerAddress(address) : .targetLinkLayerAddress(address))
            default:
                moveReaderIndex(forwardBy: 2)
                guard let data = readBytes(length: length - 2) else { throw LinkDecodeError(.badOptionLength) }
                options.append(.other(type: type, data: data))
            }
        }
        return options
    }

    /// Writes an NS or NA with its checksum computed over the pseudo-header.
    @discardableResult
    public mutating func writeNDPMessage(_ message: NDPMessage, source: IPv6Address, destination: IPv6Address) -> Int {
        let start = writerIndex
        let type: UInt8, code: UInt8, word: UInt32, target: IPv6Address, options: [NDOption]
        switch message {
        case .solicitation(let m):
            (type, code, word, target, options) = (NDPMessage.typeNeighborSolicitation, m.code, m.reserved, m.target, m.options)
        case .advertisement(let m):
            let bits = m.flags.rawValue | (m.reserved & 0x1fff_ffff)
            (type, code, word, target, options) = (NDPMessage.typeNeighborAdvertisement, m.code, bits, m.target, m.options)
        }
        writeInteger(type)
        writeInteger(code)
        writeInteger(UInt16(0))
        writeInteger(word)
        writeIPv6Address(target)
        for option in options { writeNDOption(option) }
        let written = writerIndex - start
        guard let view = getSlice(at: start, length: written)?.readableBytesView else {
            preconditionFailure("the bytes just written are readable")
        }
        setInteger(InternetChecksum.icmpv6(source: source, destination: destination, message: view), at: start + 2)
        return written
    }

    @discardableResult
    public mutating func writeNDOption(_ option: NDOption) -> Int {
        let length = option.encodedLength
        switch option {
        case .sourceLinkLayerAddress(let address):
            return writeInteger(NDOption.typeSourceLinkLayerAddress) + writeInteger(UInt8(1)) + writeMACAddress(address)
        case .targetLinkLayerAddress(let address):
            return writeInteger(NDOption.typeTargetLinkLayerAddress) + writeInteger(UInt8(1)) + writeMACAddress(address)
        case .other(let type, let data):
            // An option longer than 255 units cannot be encoded; it could not have been decoded.
            precondition(length / 8 <= 255, "ND option data longer than 2038 octets")
            var written = writeInteger(type) + writeInteger(UInt8(length / 8)) + writeBytes(data)
            written += writeRepeatingByte(0, count: length - 2 - data.count)
            return written
        }
    }
}
