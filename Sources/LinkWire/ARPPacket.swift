import NIOCore
import NetPrimitives

/// An ARP operation code (RFC 826; IANA "Operation Codes", RFC 5494).
public struct ARPOperation: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let request = ARPOperation(rawValue: 1)
    public static let reply = ARPOperation(rawValue: 2)

    public var description: String {
        switch rawValue {
        case 1: return "request"
        case 2: return "reply"
        default: return "operation \(rawValue)"
        }
    }
}

/// ARP for IPv4 over Ethernet (RFC 826): hardware length 6, protocol type 0x0800, protocol
/// length 4. Other ARP formats fail to decode with `unsupportedARPFormat`.
public struct ARPPacket: Hashable, Sendable {
    /// Ethernet (1), RFC 826. Linux also accepts IEEE 802 (6) on Ethernet devices; so do we.
    public var hardwareType: UInt16
    public var operation: ARPOperation
    public var senderHardwareAddress: MACAddress
    public var senderProtocolAddress: IPv4Address
    public var targetHardwareAddress: MACAddress
    public var targetProtocolAddress: IPv4Address

    public static let hardwareTypeEthernet: UInt16 = 1
    public static let hardwareTypeIEEE802: UInt16 = 6
    /// Octets of an Ethernet/IPv4 ARP packet.
    public static let encodedLength = 28

    public init(
        hardwareType: UInt16 = ARPPacket.hardwareTypeEthernet,
        operation: ARPOperation,
        senderHardwareAddress: MACAddress,
        senderProtocolAddress: IPv4Address,
        targetHardwareAddress: MACAddress,
        targetProtocolAddress: IPv4Address
    ) {
        self.hardwareType = hardwareType
        self.operation = operation
        self.senderHardwareAddress = senderHardwareAddress
        self.senderProtocolAddress = senderProtocolAddress
        self.targetHardwareAddress = targetHardwareAddress
        self.targetProtocolAddress = targetProtocolAddress
    }

    /// An announcement (gratuitous ARP): sender and target protocol addresses are the same
    /// and not 0.0.0.0 (RFC 5227 §3).
    public var isAnnouncement: Bool {
        senderProtocolAddress == targetProtocolAddress && senderProtocolAddress != .any
    }

    /// A probe: a request whose sender protocol address is 0.0.0.0 (RFC 5227 §2.1.1).
    public var isProbe: Bool {
        operation == .request && senderProtocolAddress == .any
    }
}

extension ByteBuffer {
    /// Reads an Ethernet/IPv4 ARP packet. Returns nil when fewer than 28 bytes are readable
    /// and throws for other ARP formats; either way the buffer is left untouched.
    public mutating func readARPPacket() throws(LinkDecodeError) -> ARPPacket? {
        guard readableBytes >= ARPPacket.encodedLength else { return nil }
        var copy = self
        guard let fixed = copy.readBytes(length: 6) else { return nil }
        try Self.checkARPFormat(fixed)
        guard let operation = copy.readInteger(as: UInt16.self),
              let sha = copy.readMACAddress(),
              let spa = copy.readInteger(as: UInt32.self),
              let tha = copy.readMACAddress(),
              let tpa = copy.readInteger(as: UInt32.self)
        else { return nil }
        self = copy
        return ARPPacket(
            hardwareType: UInt16(fixed[0]) << 8 | UInt16(fixed[1]),
            operation: ARPOperation(rawValue: operation),
            senderHardwareAddress: sha,
            senderProtocolAddress: IPv4Address(rawValue: spa),
            targetHardwareAddress: tha,
            targetProtocolAddress: IPv4Address(rawValue: tpa)
        )
    }

    /// Hardware type, protocol type, hardware length, protocol length (RFC 826).
    private static func checkARPFormat(_ fixed: [UInt8]) throws(LinkDecodeError) {
        let hardwareType = UInt16(fixed[0]) << 8 | UInt16(fixed[1])
        let protocolType = UInt16(fixed[2]) << 8 | UInt16(fixed[3])
        guard hardwareType == ARPPacket.hardwareTypeEthernet || hardwareType == ARPPacket.hardwareTypeIEEE802,
              protocolType == EtherType.ipv4.rawValue, fixed[4] == 6, fixed[5] == 4
        else { throw LinkDecodeError(.unsupportedARPFormat) }
    }

    @discardableResult
    public mutating func writeARPPacket(_ packet: ARPPacket) -> Int {
        var written = writeInteger(packet.hardwareType) + writeInteger(EtherType.ipv4.rawValue)
        written += writeInteger(UInt8(6)) + writeInteger(UInt8(4)) + writeInteger(packet.operation.rawValue)
        written += writeMACAddress(packet.senderHardwareAddress) + writeInteger(packet.senderProtocolAddress.rawValue)
        written += writeMACAddress(packet.targetHardwareAddress) + writeInteger(packet.targetProtocolAddress.rawValue)
        return written
    }
}
