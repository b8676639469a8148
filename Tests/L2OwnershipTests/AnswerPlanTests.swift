import L2Ownership
import LinkWire
import NetPrimitives
import Testing

struct AnswerPlanTests {
    static let names = ["node-a", "node-b", "node-c"]
    static let nodes = names.map { NodeCandidacy(name: $0, leaseEligible: true) }
    static let interfaces = [
        InterfaceInfo(name: "eth0", mac: MACAddress("02:00:00:00:00:01")!, addresses: [IPPrefix("192.0.2.0/25")!, IPPrefix("2001:db8::/64")!]),
        InterfaceInfo(name: "eth1", mac: MACAddress("02:00:00:00:00:02")!, addresses: [IPPrefix("198.51.100.0/24")!]),
        InterfaceInfo(name: "kube-ipvs0", mac: MACAddress("02:00:00:00:00:03")!, addresses: [IPPrefix("203.0.113.0/32")!]),
    ]
    static let vips = (0..<30).map { i in
        LayerTwoVIP(address: .v4(IPv4Address(203, 0, 113, UInt8(i))), services: [ServiceRequirement(service: "ns/s\(i)", selectedNodes: Set(names))])
    } + [
        LayerTwoVIP(address: IPAddress("192.0.2.100")!, services: [ServiceRequirement(service: "ns/onlink", selectedNodes: Set(names))]),
        LayerTwoVIP(address: IPAddress("2001:db8::100")!, services: [ServiceRequirement(service: "ns/v6", selectedNodes: Set(names))]),
        LayerTwoVIP(address: IPAddress("203.0.113.200")!, services: [ServiceRequirement(service: "ns/pinned", selectedNodes: Set(names))], interfaces: ["eth1"]),
    ]

    /// Every VIP is planned on exactly one node, on the interfaces selection gives.
    @Test func everyVIPOnExactlyOneNode() {
        let plans = Self.names.map { AnswerPlan.owned(by: $0, vips: Self.vips, nodes: Self.nodes, interfaces: Self.interfaces) }
        for vip in Self.vips {
            let holders = plans.filter { $0[vip.address] != nil }
            #expect(holders.count == 1, "\(vip.address)")
        }
        #expect(plans.allSatisfy { !$0.isEmpty })
        let merged = plans.reduce(into: [IPAddress: Set<String>]()) { $0.merge($1) { a, _ in a } }
        #expect(merged[IPAddress("192.0.2.100")!] == ["eth0"])
        #expect(merged[IPAddress("2001:db8::100")!] == ["eth0"])
        #expect(merged[IPAddress("203.0.113.200")!] == ["eth1"])
        // Off-link VIPs go to every candidate interface, never to kube-ipvs0.
        #expect(merged[IPAddress("203.0.113.5")!] == ["eth0", "eth1"])
    }

    @Test func nodeThatIsNotEligibleOwnsNothing() {
        var nodes = Self.nodes
        nodes[1].leaseEligible = false
        #expect(AnswerPlan.owned(by: "node-b", vips: Self.vips, nodes: nodes, interfaces: Self.interfaces).isEmpty)
        nodes[1].leaseEligible = true
        nodes[1].excludedByLabel = true
        #expect(AnswerPlan.owned(by: "node-b", vips: Self.vips, nodes: nodes, interfaces: Self.interfaces).isEmpty)
    }

    @Test func announcementsPerInterfaceWithItsMAC() {
        let vip = IPAddress("203.0.113.5")!
        let plan: [IPAddress: Set<String>] = [vip: ["eth0", "eth1"]]
        let frames = AnswerPlan.announcements(for: vip, plan: plan, interfaces: Self.interfaces)
        #expect(frames.map(\.interface) == ["eth0", "eth0", "eth1", "eth1"])
        #expect(frames.map(\.frame.ethernet.source) == [Self.interfaces[0].mac, Self.interfaces[0].mac, Self.interfaces[1].mac, Self.interfaces[1].mac])
        #expect(AnswerPlan.announcements(for: IPAddress("203.0.113.6")!, plan: plan, interfaces: Self.interfaces).isEmpty)
    }

    /// The plan is what Responder.decide takes: an ARP request for an owned VIP arriving on
    /// a planned interface is answered with that interface's MAC.
    @Test func planDrivesTheResponder() {
        let owner = Self.names.first { !AnswerPlan.owned(by: $0, vips: Self.vips, nodes: Self.nodes, interfaces: Self.interfaces).isEmpty }!
        let plan = AnswerPlan.owned(by: owner, vips: Self.vips, nodes: Self.nodes, interfaces: Self.interfaces)
        let (vip, names) = plan.min { $0.key < $1.key }!
        guard case .v4(let v4) = vip, let name = names.sorted().first, let info = Self.interfaces.first(where: { $0.name == name }) else { return }
        let client = MACAddress("02:00:00:00:01:01")!
        let request = LinkFrame(
            ethernet: EthernetHeader(destination: .broadcast, source: client, etherType: .arp),
            packet: .arp(ARPPacket(operation: .request, senderHardwareAddress: client, senderProtocolAddress: IPv4Address("192.0.2.10")!, targetHardwareAddress: .zero, targetProtocolAddress: v4))
        )
        let decision = Responder.decide(request, arrivedOn: ResponderInterface(name: info.name, mac: info.mac), owned: plan)
        guard case .reply(let reply) = decision else {
            Issue.record("\(decision)")
            return
        }
        #expect(reply.ethernet.source == info.mac)
        #expect(Responder.decide(request, arrivedOn: ResponderInterface(name: "kube-ipvs0", mac: info.mac), owned: plan) == .drop(.wrongInterface))
    }
}
