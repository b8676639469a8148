import Foundation
import LBCore
import Testing
import TestSupport

/// End to end over an IPv6 session: the speaker peers with FRR at 2001:db8::1 and advertises an
/// IPv4 and an IPv6 Service; the IPv4 route's next hop is the Node's IPv4 InternalIP (the
/// session runs over IPv6, so the connection cannot give one), the IPv6 route's the session's
/// own address.
@Suite(.serialized) struct SpeakerBGPIPv6InteropTests {
    static let frrConfig = FRRRouter.speakerPeering(neighbors: ["2001:db8::11"], families: ["ipv4", "ipv6"])

    static let ironlbConfig = """
    peers:
    - {peer-address: "2001:db8::1", peer-asn: 65001, my-asn: 64512, hold-time: 9s}
    address-pools:
    - {name: v4, protocol: bgp, addresses: [203.0.113.0/28]}
    - {name: v6, protocol: bgp, addresses: ["2001:db8:1::/124"]}
    """

    @Test func ipv4AndIPv6ServicesOverAnIPv6Session() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("/usr/lib/frr/bgpd"), .command("/usr/bin/vtysh"), .command("curl")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        try lab.addNode("node1", address: "192.0.2.11")
        try lab.rtr.addAddress("2001:db8::1/64", to: "eth0")
        try lab.nodes["node1"]!.addAddress("2001:db8::11/64", to: "eth0")
        lab.frr = try FRRRouter(namespace: lab.rtr, config: Self.frrConfig)
        let frr = try #require(lab.frr)
        try await lab.startControlPlane(config: Self.ironlbConfig, nodes: ["node1"])
        let addresses = InteropLab.json(["status": ["addresses": [
            ["type": "InternalIP", "address": "192.0.2.11"], ["type": "InternalIP", "address": "2001:db8::11"], ["type": "Hostname", "address": "node1"],
        ]]])
        #expect(try lab.api("PATCH", "/api/v1/nodes/node1/status", addresses, contentType: "application/merge-patch+json").status == 200)
        try lab.startSpeaker("node1", address: "192.0.2.11")
        defer { if lab.processes.values.contains(where: { !$0.isRunning }) { lab.dumpLogs() } }

        #expect(try lab.api("POST", "/api/v1/namespaces/default/services", InteropLab.json([
            "metadata": ["name": "web4"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]],
        ])).status == 201)
        #expect(try lab.api("POST", "/api/v1/namespaces/default/services", InteropLab.json([
            "metadata": ["name": "web6"], "spec": ["type": "LoadBalancer", "ipFamilies": ["IPv6"], "ports": [["port": 80]]],
        ])).status == 201)
        // Pods run (IronLB announces only Services with a usable endpoint).
        #expect(try lab.addEndpoints("web4", nodes: ["node1"]) == 201)
        #expect(try lab.addEndpoints("web6", nodes: ["node1"]) == 201)
        #expect(await poll(timeout: 60) { lab.ingressIP("web4") == "203.0.113.0" && lab.ingressIP("web6") == "2001:db8:1::" })

        let up = await poll(timeout: 90, interval: 0.5) { frr.neighborState("2001:db8::11") == "Established" }
        #expect(up, "session over IPv6: \(frr.neighborState("2001:db8::11") ?? "-")")
        let v4 = await poll(timeout: 30, interval: 0.25) { frr.nextHops("203.0.113.0/32", family: "ipv4") == ["192.0.2.11"] }
        #expect(v4, "IPv4 route over the IPv6 session: \(frr.nextHops("203.0.113.0/32", family: "ipv4"))")
        let v6 = await poll(timeout: 30, interval: 0.25) { frr.nextHops("2001:db8:1::/128", family: "ipv6").contains("2001:db8::11") }
        #expect(v6, "IPv6 route: \(frr.nextHops("2001:db8:1::/128", family: "ipv6"))")
        if !(up && v4 && v6) { lab.dumpLogs() }
    }
}
