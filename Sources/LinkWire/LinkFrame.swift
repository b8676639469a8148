import NIOCore
import NetPrimitives

/// An IPv6 packet carrying an ND message.
public struct NDPPacket: Hashable, Sendable {
    public var ipv6: IPv6Header
    public var message: NDPMessage

    public init(ipv6: IPv6Header, message: NDPMessage) {
        self.ipv6 = ipv6
        self.message = message
    }
}

/// What an Ethernet frame carries, as far as LinkWire is concerned.
public enum LinkPacket: Hashable, Sendable {
    case arp(ARPPacket)
    case ndp(NDPPacket)
}

/// One Ethernet frame holding ARP or an NS/NA.
public struct LinkFrame: Hashable, Sendable {
    public var ethernet: EthernetHeader
    public var packet: LinkPacket
    /// Bytes after the packet: the padding to Ethernet's 60-octet minimum that senders and
    /// NICs add. Kept so that decoding then encoding gives the same bytes; empty when built.
    public var trailer: [UInt8]

    public init(ethernet: EthernetHeader, packet: LinkPacket, trailer: [UInt8] = []) {
        self.ethernet = ethernet
        self.packet = packet
        self.trailer = trailer
    }

    /// Decodes all of `bytes` (one frame as a packet socket delivers it, without FCS).
    public init<Bytes: Sequence>(decoding bytes: Bytes) throws(LinkDecodeError) where Bytes.Element == UInt8 {
        var buffer = ByteBuffer(bytes: bytes)
        self = try buffer.readLinkFrame()
    }

    /// The frame's bytes.
    public var bytes: [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeLinkFrame(self)
        return Array(buffer.readableBytesView)
    }
}

extension ByteBuffer {
    /// Reads one frame from all readable bytes. On success the buffer is consumed; on a throw
    /// its reader index is where it was.
    public mutating func readLinkFrame() throws(LinkDecodeError) -> LinkFrame {
        var copy = self
        guard let ethernet = copy.readEthernetHeader() else { throw LinkDecodeError(.truncated) }
        let packet: LinkPacket
        switch ethernet.etherType {
        case .arp:
            guard let arp = try copy.readARPPacket() else { throw LinkDecodeError(.truncated) }
            packet = .arp(arp)
        case .ipv6:
            guard let (header, payloadLength) = try copy.readIPv6Header() else { throw LinkDecodeError(.truncated) }
            guard let message = try copy.readNDPMessage(length: payloadLength, source: header.source, destination: header.destination) else {
                throw LinkDecodeError(.truncated)
            }
            packet = .ndp(NDPPacket(ipv6: header, message: message))
        default:
            throw LinkDecodeError(.unsupportedEtherType)
        }
        let trailer = copy.readBytes(length: copy.readableBytes) ?? []
        self = copy
        return LinkFrame(ethernet: ethernet, packet: packet, trailer: trailer)
    }

    /// Writes a frame. The EtherType written is the one the packet needs (ARP or IPv6),
    /// whatever `frame.ethernet.etherType` says.
    @discardableResult
    public mutating func writeLinkFrame(_ frame: LinkFrame) -> Int {
        var ethernet = frame.ethernet
        var written = 0
        switch frame.packet {
        case .arp(let arp):
            ethernet.etherType = .arp
            written += writeEthernetHeader(ethernet)
            written += writeARPPacket(arp)
        case .ndp(let ndp):
            ethernet.etherType = .ipv6
            written += writeEthernetHeader(ethernet)
            let length = ndp.message.encodedLength
            // ND messages are a few dozen octets; a frame holding more than 65535 is our bug.
            precondition(length <= Int(UInt16.max), "ND message longer than an IPv6 payload")
            written += writeIPv6Header(ndp.ipv6, payloadLength: UInt16(length))
            written += writeNDPMessage(ndp.message, source: ndp.ipv6.source, destination: ndp.ipv6.destination)
        }
        return written + writeBytes(frame.trailer)
    }
}
