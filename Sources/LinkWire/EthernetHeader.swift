import NIOCore
import NetPrimitives

/// An Ethernet II type field. Values below 0x0600 are IEEE 802.3 lengths, not types.
public struct EtherType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// IPv4, RFC 894.
    public static let ipv4 = EtherType(rawValue: 0x0800)
    /// ARP, RFC 826.
    public static let arp = EtherType(rawValue: 0x0806)
    /// IEEE 802.1Q customer VLAN tag.
    public static let vlan = EtherType(rawValue: 0x8100)
    /// IPv6, RFC 2464 §3.
    public static let ipv6 = EtherType(rawValue: 0x86DD)

    public var description: String {
        let hex = String(rawValue, radix: 16)
        return "0x" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}

/// An IEEE 802.1Q tag: priority code point, drop eligible indicator and VLAN identifier.
/// VID 0 marks a priority-tagged frame that belongs to no VLAN.
public struct VLANTag: Hashable, Sendable {
    public var priority: UInt8
    public var dropEligible: Bool
    public var id: UInt16

    /// `priority` is taken modulo 8 and `id` modulo 4096, as they fill 3 and 12 bits.
    public init(id: UInt16, priority: UInt8 = 0, dropEligible: Bool = false) {
        self.id = id & 0x0fff
        self.priority = priority & 0x07
        self.dropEligible = dropEligible
    }

    /// From the 16-bit tag control information.
    public init(tci: UInt16) {
        self.init(id: tci & 0x0fff, priority: UInt8(tci >> 13), dropEligible: tci & 0x1000 != 0)
    }

    public var tci: UInt16 {
        UInt16(priority) << 13 | (dropEligible ? 0x1000 : 0) | id
    }
}

/// An Ethernet II header with at most one 802.1Q tag. A second tag (QinQ) is left as the
/// `etherType` (0x8100 or 0x88a8), which IronLB does not answer.
public struct EthernetHeader: Hashable, Sendable {
    public var destination: MACAddress
    public var source: MACAddress
    public var vlan: VLANTag?
    public var etherType: EtherType

    public init(destination: MACAddress, source: MACAddress, vlan: VLANTag? = nil, etherType: EtherType) {
        self.destination = destination
        self.source = source
        self.vlan = vlan
        self.etherType = etherType
    }

    /// 14 octets, 18 with a tag (no FCS: sockets neither give nor take it).
    public var encodedLength: Int { vlan == nil ? 14 : 18 }
}

extension ByteBuffer {
    /// Reads a MAC address, or returns nil (buffer untouched) when fewer than 6 bytes remain.
    public mutating func readMACAddress() -> MACAddress? {
        guard let high = getInteger(at: readerIndex, as: UInt16.self),
              let low = getInteger(at: readerIndex + 2, as: UInt32.self)
        else { return nil }
        moveReaderIndex(forwardBy: 6)
        return MACAddress(rawValue: UInt64(high) << 32 | UInt64(low))
    }

    @discardableResult
    public mutating func writeMACAddress(_ address: MACAddress) -> Int {
        writeInteger(UInt16(truncatingIfNeeded: address.rawValue >> 32)) + writeInteger(UInt32(truncatingIfNeeded: address.rawValue))
    }

    /// Reads an Ethernet header (and one 802.1Q tag if present), or returns nil, leaving the
    /// buffer untouched, when the header is cut short.
    public mutating func readEthernetHeader() -> EthernetHeader? {
        var copy = self
        guard let destination = copy.readMACAddress(),
              let source = copy.readMACAddress(),
              var type = copy.readInteger(as: UInt16.self)
        else { return nil }
        var vlan: VLANTag?
        if type == EtherType.vlan.rawValue {
            guard let tci = copy.readInteger(as: UInt16.self), let inner = copy.readInteger(as: UInt16.self) else { return nil }
            vlan = VLANTag(tci: tci)
            type = inner
        }
        self = copy
        return EthernetHeader(destination: destination, source: source, vlan: vlan, etherType: EtherType(rawValue: type))
    }

    @discardableResult
    public mutating func writeEthernetHeader(_ header: EthernetHeader) -> Int {
        var written = writeMACAddress(header.destination) + writeMACAddress(header.source)
        if let vlan = header.vlan {
            written += writeInteger(EtherType.vlan.rawValue) + writeInteger(vlan.tci)
        }
        return written + writeInteger(header.etherType.rawValue)
    }
}

extension MACAddress {
    /// The Ethernet multicast address an IPv6 multicast address maps to: 33:33 and the low
    /// 32 bits of the address (RFC 2464 §7).
    public init(ipv6Multicast address: IPv6Address) {
        self.init(rawValue: 0x3333_0000_0000 | UInt64(truncatingIfNeeded: address.rawValue & 0xffff_ffff))
    }
}
