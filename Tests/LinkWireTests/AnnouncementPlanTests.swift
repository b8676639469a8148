import LinkWire
import NetPrimitives
import Testing

/// LinkAnnouncement frames per answered interface, and the plan as `Responder.decide` takes it.
struct AnnouncementPlanTests {
    static let interfaces = [
        InterfaceInfo(name: "eth0", mac: MACAddress("02:00:00:00:00:01")!, addresses: [IPPrefix("192.0.2.0/25")!, IPPrefix("2001:db8::/64")!]),
        InterfaceInfo(name: "eth1", mac: MACAddress("02:00:00:00:00:02")!, addresses: [IPPrefix("198.51.100.0/24")!]),
        InterfaceInfo(name: "kube-ipvs0", mac: MACAddress("02:00:00:00:00:03")!, addresses: [IPPrefix("203.0.113.0/32")!]),
    ]

    @Test func framesPerInterfaceWithItsMAC() {
        let vip = IPAddress("203.0.113.5")!
        let plan: [IPAddress: Set<String>] = [vip: ["eth1", "eth0"]]
        let frames = LinkAnnouncement.frames(for: vip, plan: plan, interfaces: Self.interfaces)
        #expect(frames.map(\.interface) == ["eth0", "eth0", "eth1", "eth1"])
        #expect(frames.map(\.frame.ethernet.source) == [Self.interfaces[0].mac, Self.interfaces[0].mac, Self.interfaces[1].mac, Self.interfaces[1].mac])
        #expect(LinkAnnouncement.frames(for: IPAddress("203.0.113.6")!, plan: plan, interfaces: Self.interfaces).isEmpty)
        let v6 = IPAddress("2001:db8::100")!
        let na = LinkAnnouncement.frames(for: v6, plan: [v6: ["eth0"]], interfaces: Self.interfaces)
        #expect(na.count == 1 && na.first?.frame == LinkAnnouncement.unsolicitedNA(address: IPv6Address("2001:db8::100")!, mac: Self.interfaces[0].mac))
    }

    /// The interface selection feeds the responder: an ARP request for the VIP arriving on a
    /// selected interface is answered with that interface's MAC, and dropped elsewhere.
    @Test func selectionDrivesTheResponder() {
        let vip = IPv4Address("203.0.113.5")!
        let names = AnnounceInterfaces.select(for: .v4(vip), among: Self.interfaces, configured: [])
        #expect(names == ["eth0", "eth1"])
        let plan: [IPAddress: Set<String>] = [.v4(vip): names]
        let client = MACAddress("02:00:00:00:01:01")!
        let request = LinkFrame(
            ethernet: EthernetHeader(destination: .broadcast, source: client, etherType: .arp),
            packet: .arp(ARPPacket(operation: .request, senderHardwareAddress: client, senderProtocolAddress: IPv4Address("192.0.2.10")!, targetHardwareAddress: .zero, targetProtocolAddress: vip))
        )
        let eth1 = Self.interfaces[1]
        guard case .reply(let reply) = Responder.decide(request, arrivedOn: ResponderInterface(name: eth1.name, mac: eth1.mac), owned: plan) else {
            Issue.record("no reply on eth1")
            return
        }
        #expect(reply.ethernet.source == eth1.mac)
        #expect(Responder.decide(request, arrivedOn: ResponderInterface(name: "kube-ipvs0", mac: eth1.mac), owned: plan) == .drop(.wrongInterface))
    }
}
