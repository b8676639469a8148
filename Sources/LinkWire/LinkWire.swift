// LinkWire: the layer 2 wire formats IronLB speaks in layer-2 mode, and the responder's
// decision. Pure: no sockets, no clocks.
//
// - Ethernet II with an optional IEEE 802.1Q tag (`EthernetHeader`).
// - ARP for IPv4 over Ethernet, RFC 826 (`ARPPacket`), including gratuitous ARP in the
//   request form (RFC 5227 §3 announcement) and the reply form (RFC 5944 §4.6).
// - IPv6 Neighbor Solicitation and Advertisement, RFC 4861 §4.3/§4.4, with the link-layer
//   address options of §4.6.1 and the ICMPv6 checksum over the RFC 8200 §8.1 pseudo-header
//   (RFC 4443 §2.3), verified on decode and computed on encode.
// - `Responder.decide`: given a received frame, the interface it arrived on and the VIPs
//   this node owns, the reply to send or the reason to drop it (a metric label).
//
// Decoding is total: any byte sequence gives a frame or a `LinkDecodeError`, never a trap,
// and a failed read leaves the buffer's reader index where it was. Encoding a decoded frame
// gives back the same bytes (Ethernet padding is kept as the frame's `trailer`).

/// Why bytes are not a frame LinkWire understands. `code` is fit for a metric label.
public struct LinkDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable, CaseIterable {
        /// Fewer bytes than a header or a length field says.
        case truncated
        /// The EtherType is neither ARP nor IPv6 (after at most one 802.1Q tag).
        case unsupportedEtherType
        /// ARP for something other than IPv4 over Ethernet (hardware/protocol type or length).
        case unsupportedARPFormat
        /// An IPv6 EtherType whose version field is not 6.
        case notIPv6
        /// IPv6 whose next header is not ICMPv6 (extension headers are not followed).
        case unsupportedNextHeader
        /// ICMPv6 other than Neighbor Solicitation (135) or Advertisement (136).
        case notNeighborDiscovery
        /// An NS/NA shorter than its fixed part (RFC 4861 §7.1.1: 24 octets or more).
        case messageTooShort
        /// The ICMPv6 checksum does not verify.
        case badChecksum
        /// An ND option of length 0 or running past the message (RFC 4861 §4.6).
        case badOptionLength
        /// A link-layer address option whose length is not one unit (RFC 2464 §8).
        case badLinkLayerAddressOption
    }

    public var code: Code

    public init(_ code: Code) { self.code = code }

    public var description: String { code.rawValue }
}
