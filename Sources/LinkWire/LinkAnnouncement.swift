import NetPrimitives

/// The frames a new owner sends to move neighbours' caches to its MAC.
public enum LinkAnnouncement {
    /// The two forms of gratuitous ARP. IronLB sends both on takeover: the request form is
    /// what RFC 5227 specifies and Linux sends itself; some routers update only on replies.
    public enum ARPForm: Hashable, Sendable, CaseIterable {
        /// RFC 5227 §3 announcement: an ARP request, sender and target protocol address the
        /// VIP, target hardware address zero (as Linux's own `arp_notify` sends it).
        case request
        /// RFC 5944 §4.6 gratuitous reply: opcode 2, target hardware address the sender's.
        case reply
    }

    /// A broadcast gratuitous ARP for `address` at `mac`.
    public static func gratuitousARP(_ form: ARPForm, address: IPv4Address, mac: MACAddress, vlan: VLANTag? = nil) -> LinkFrame {
        let arp: ARPPacket
        switch form {
        case .request:
            arp = ARPPacket(
                operation: .request, senderHardwareAddress: mac, senderProtocolAddress: address,
                targetHardwareAddress: .zero, targetProtocolAddress: address
            )
        case .reply:
            arp = ARPPacket(
                operation: .reply, senderHardwareAddress: mac, senderProtocolAddress: address,
                targetHardwareAddress: mac, targetProtocolAddress: address
            )
        }
        return LinkFrame(ethernet: EthernetHeader(destination: .broadcast, source: mac, vlan: vlan, etherType: .arp), packet: .arp(arp))
    }

    /// All-nodes multicast, ff02::1 (RFC 4291 §2.7.1).
    public static let allNodes = IPv6Address(high: 0xff02_0000_0000_0000, low: 1)

    /// An unsolicited Neighbor Advertisement for `address` at `mac` (RFC 4861 §7.2.6): to
    /// all-nodes, hop limit 255, Override set, Solicited and Router clear, with a target
    /// link-layer address option; source the address itself, as Linux sends it.
    public static func unsolicitedNA(address: IPv6Address, mac: MACAddress, vlan: VLANTag? = nil) -> LinkFrame {
        let na = NeighborAdvertisement(flags: .override, target: address, options: [.targetLinkLayerAddress(mac)])
        return LinkFrame(
            ethernet: EthernetHeader(destination: MACAddress(ipv6Multicast: allNodes), source: mac, vlan: vlan, etherType: .ipv6),
            packet: .ndp(NDPPacket(ipv6: IPv6Header(source: address, destination: allNodes), message: .advertisement(na)))
        )
    }

    /// The announcement frames for one VIP: both gratuitous ARP forms for IPv4, one
    /// unsolicited NA for IPv6.
    public static func frames(for address: IPAddress, mac: MACAddress, vlan: VLANTag? = nil) -> [LinkFrame] {
        switch address {
        case .v4(let v4): return ARPForm.allCases.map { gratuitousARP($0, address: v4, mac: mac, vlan: vlan) }
        case .v6(let v6): return [unsolicitedNA(address: v6, mac: mac, vlan: vlan)]
        }
    }
}

extension LinkAnnouncement {
    /// The announcement frames for `address` on each interface it is answered on (`plan`:
    /// VIP → interface names), with that interface's MAC, in interface-name order.
    public static func frames(for address: IPAddress, plan: [IPAddress: Set<String>], interfaces: [InterfaceInfo]) -> [(interface: String, frame: LinkFrame)] {
        guard let names = plan[address] else { return [] }
        return interfaces.filter { names.contains($0.name) }.sorted { $0.name < $1.name }.flatMap { info in
            frames(for: address, mac: info.mac).map { (info.name, $0) }
        }
    }
}
