import NIOCore
import NetPrimitives

/// The interface a frame arrived on, as the responder needs it.
public struct ResponderInterface: Hashable, Sendable {
    public var name: String
    public var mac: MACAddress
    /// The interface's own addresses (used to choose announce interfaces, not to answer).
    public var addresses: [IPPrefix]
    /// The 802.1Q VLAN ID frames carry on this interface's socket: nil for untagged frames,
    /// the usual case (a VLAN sub-interface such as eth0.100 receives them untagged too).
    public var vlanID: UInt16?

    public init(name: String, mac: MACAddress, addresses: [IPPrefix] = [], vlanID: UInt16? = nil) {
        self.name = name
        self.mac = mac
        self.addresses = addresses
        self.vlanID = vlanID
    }
}

/// Why the responder did not answer a frame. The raw value is the metric label.
public enum DropReason: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Not an ARP request or Neighbor Solicitation (another EtherType or ICMPv6 type, an ARP
    /// reply, a Neighbor Advertisement).
    case notARPOrNS
    /// Truncated, inconsistent lengths, unsupported ARP format, bad ND options.
    case malformed
    /// The ICMPv6 checksum does not verify.
    case badChecksum
    /// An NS whose hop limit is not 255: it may come from off-link (RFC 4861 §7.1.1).
    case hopLimitNot255
    /// A request no host may send: NS code not 0, multicast target or source, DAD probe with
    /// a source link-layer address or to a non-solicited-node group (RFC 4861 §7.1.1), or an
    /// ARP sender hardware address that is multicast or zero.
    case invalidRequest
    /// A gratuitous ARP (announcement): it tells, it does not ask.
    case announcement
    /// Addressed to another host: a unicast MAC not ours, or a multicast group that does not
    /// match the IPv6 destination or the target.
    case notForUs
    /// Sent by this interface itself.
    case ownFrame
    /// Tagged for a VLAN other than the interface's (or tagged on an untagged interface).
    case vlanMismatch
    /// The target address is not a VIP this node owns.
    case notOwned
    /// This node owns the VIP, but not on this interface.
    case wrongInterface

    public var description: String { rawValue }

    public init(_ error: LinkDecodeError) {
        switch error.code {
        case .unsupportedEtherType, .unsupportedNextHeader, .notNeighborDiscovery:
            self = .notARPOrNS
        case .badChecksum:
            self = .badChecksum
        case .truncated, .unsupportedARPFormat, .notIPv6, .messageTooShort, .badOptionLength, .badLinkLayerAddressOption:
            self = .malformed
        }
    }
}

public enum ResponderDecision: Hashable, Sendable {
    case reply(LinkFrame)
    case drop(DropReason)
}

/// Answers ARP requests and Neighbor Solicitations for owned VIPs, as the Linux kernel
/// answers for its own addresses: same addressing, same flags, on the interface the request
/// arrived on only, with that interface's MAC.
public enum Responder {
    /// `owned` maps each VIP this node answers for to the names of the interfaces it may be
    /// answered on.
    public static func decide(_ bytes: ByteBuffer, arrivedOn interface: ResponderInterface, owned: [IPAddress: Set<String>]) -> ResponderDecision {
        var buffer = bytes
        let frame: LinkFrame
        do {
            frame = try buffer.readLinkFrame()
        } catch {
            return .drop(DropReason(error))
        }
        return decide(frame, arrivedOn: interface, owned: owned)
    }

    public static func decide(_ frame: LinkFrame, arrivedOn interface: ResponderInterface, owned: [IPAddress: Set<String>]) -> ResponderDecision {
        // VID 0 is a priority tag: the frame belongs to no VLAN (IEEE 802.1Q §9.6).
        let frameVLAN = frame.ethernet.vlan.flatMap { $0.id == 0 ? nil : $0.id }
        guard frameVLAN == interface.vlanID else { return .drop(.vlanMismatch) }
        guard frame.ethernet.source != interface.mac else { return .drop(.ownFrame) }
        switch frame.packet {
        case .arp(let arp):
            return answer(arp, in: frame.ethernet, on: interface, owned: owned)
        case .ndp(let ndp):
            switch ndp.message {
            case .advertisement:
                return .drop(.notARPOrNS)
            case .solicitation(let ns):
                return answer(ns, in: ndp.ipv6, ethernet: frame.ethernet, on: interface, owned: owned)
            }
        }
    }

    private static func check(_ target: IPAddress, on interface: ResponderInterface, owned: [IPAddress: Set<String>]) -> DropReason? {
        guard let interfaces = owned[target] else { return .notOwned }
        return interfaces.contains(interface.name) ? nil : .wrongInterface
    }

    /// RFC 826 "packet reception", answered as Linux's arp_process does: the reply goes to
    /// the sender's hardware address, and an RFC 5227 probe (sender 0.0.0.0) is answered too,
    /// which defends the VIP against a host about to take it.
    private static func answer(_ arp: ARPPacket, in ethernet: EthernetHeader, on interface: ResponderInterface, owned: [IPAddress: Set<String>]) -> ResponderDecision {
        guard arp.operation == .request else { return .drop(.notARPOrNS) }
        guard ethernet.destination.isBroadcast || ethernet.destination == interface.mac else { return .drop(.notForUs) }
        guard !arp.senderHardwareAddress.isMulticast, arp.senderHardwareAddress != .zero else { return .drop(.invalidRequest) }
        guard !arp.isAnnouncement else { return .drop(.announcement) }
        if let reason = check(.v4(arp.targetProtocolAddress), on: interface, owned: owned) { return .drop(reason) }
        let reply = ARPPacket(
            hardwareType: arp.hardwareType,
            operation: .reply,
            senderHardwareAddress: interface.mac,
            senderProtocolAddress: arp.targetProtocolAddress,
            targetHardwareAddress: arp.senderHardwareAddress,
            targetProtocolAddress: arp.senderProtocolAddress
        )
        let header = EthernetHeader(destination: arp.senderHardwareAddress, source: interface.mac, vlan: ethernet.vlan, etherType: .arp)
        return .reply(LinkFrame(ethernet: header, packet: .arp(reply)))
    }

    /// RFC 4861 §7.1.1 validation and §7.2.4 response. The advertisement's source is the
    /// target (the VIP), as Linux sends it for an address it holds; Override is set so that
    /// a takeover replaces cached entries.
    private static func answer(_ ns: NeighborSolicitation, in ipv6: IPv6Header, ethernet: EthernetHeader, on interface: ResponderInterface, owned: [IPAddress: Set<String>]) -> ResponderDecision {
        guard ipv6.hopLimit == IPv6Header.ndHopLimit else { return .drop(.hopLimitNot255) }
        guard ns.code == 0, !ns.target.isMulticast, !ipv6.source.isMulticast else { return .drop(.invalidRequest) }
        let sourceLinkLayerAddress = ns.sourceLinkLayerAddress
        let isDAD = ipv6.source == .unspecified
        if isDAD {
            guard ipv6.destination == ns.target.solicitedNodeMulticast, sourceLinkLayerAddress == nil else { return .drop(.invalidRequest) }
        }
        if let address = sourceLinkLayerAddress, address.isMulticast || address == .zero { return .drop(.invalidRequest) }
        if ipv6.destination.isMulticast {
            guard ipv6.destination == ns.target.solicitedNodeMulticast,
                  ethernet.destination == MACAddress(ipv6Multicast: ipv6.destination)
            else { return .drop(.notForUs) }
        } else {
            guard ethernet.destination == interface.mac else { return .drop(.notForUs) }
        }
        if let reason = check(.v6(ns.target), on: interface, owned: owned) { return .drop(reason) }

        // §7.2.4: to the solicitation's source, or to all-nodes with Solicited clear for DAD.
        let destination = isDAD ? LinkAnnouncement.allNodes : ipv6.source
        let destinationMAC = isDAD ? MACAddress(ipv6Multicast: LinkAnnouncement.allNodes) : (sourceLinkLayerAddress ?? ethernet.source)
        let na = NeighborAdvertisement(
            flags: isDAD ? [.override] : [.solicited, .override],
            target: ns.target,
            options: [.targetLinkLayerAddress(interface.mac)]
        )
        return .reply(LinkFrame(
            ethernet: EthernetHeader(destination: destinationMAC, source: interface.mac, vlan: ethernet.vlan, etherType: .ipv6),
            packet: .ndp(NDPPacket(ipv6: IPv6Header(source: ns.target, destination: destination), message: .advertisement(na)))
        ))
    }
}
