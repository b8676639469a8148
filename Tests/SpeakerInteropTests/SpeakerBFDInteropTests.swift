import Foundation
import Testing
import TestSupport

/// End to end with BFD (issue 17): `ironlb speaker` with a `bfd-profiles` entry on its peer,
/// FRR with bgpd and bfdd and `neighbor X bfd`. The profile's values reach FRR, and a frozen
/// speaker (SIGSTOP: no FIN, no NOTIFICATION) loses its route at FRR through BFD, not through
/// the 30 s hold timer.
@Suite(.serialized) struct SpeakerBFDInteropTests {
    static let frrConfig = """
    frr defaults traditional
    hostname rtr
    !
    bfd
     profile fast
      receive-interval 300
      transmit-interval 300
    !
    router bgp 65001
     bgp router-id 192.0.2.1
     no bgp ebgp-requires-policy
     no bgp network import-check
     neighbor 192.0.2.11 remote-as 64512
     neighbor 192.0.2.11 timers 10 30
     neighbor 192.0.2.11 timers connect 2
     neighbor 192.0.2.11 bfd
     neighbor 192.0.2.11 bfd profile fast
    !

    """

    static let ironlbConfig = """
    peers:
    - {peer-address: 192.0.2.1, peer-asn: 65001, my-asn: 64512, hold-time: 30s, bfd-profile: quick}
    bfd-profiles:
    - {name: quick, receive-interval: 200, transmit-interval: 250, detect-multiplier: 4}
    address-pools:
    - name: public
      protocol: bgp
      addresses: [203.0.113.0/28]
    """

    func bfdPeer(_ frr: FRRRouter, _ peer: String) -> [String: Any]? {
        guard let text = try? frr.vtysh("show bfd peers json"), let data = text.data(using: .utf8),
              let peers = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else { return nil }
        return peers.first { $0["peer"] as? String == peer }
    }

    @Test func aFrozenSpeakersRouteLeavesTheRouterThroughBFD() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("/usr/lib/frr/bgpd"), .command("/usr/lib/frr/bfdd"),
                                    .command("/usr/bin/vtysh"), .command("curl")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        try lab.addNode("node1", address: "192.0.2.11")
        lab.frr = try FRRRouter(namespace: lab.rtr, config: Self.frrConfig, daemons: ["bgpd", "bfdd"])
        try await lab.startControlPlane(config: Self.ironlbConfig, nodes: ["node1"])
        try lab.startSpeaker("node1", address: "192.0.2.11")
        let frr = try #require(lab.frr)
        #expect(await poll(timeout: 90, interval: 0.5) { frr.neighborState("192.0.2.11") == "Established" })
        #expect(try lab.api("POST", "/api/v1/namespaces/default/services",
                            InteropLab.json(["metadata": ["name": "web"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]])).status == 201)
        // A pod runs (IronLB announces only Services with a usable endpoint).
        #expect(try lab.addEndpoints("web", nodes: ["node1"]) == 201)
        #expect(await poll(timeout: 60, interval: 0.5) { frr.path("203.0.113.0/32", family: "ipv4") != nil })

        // FRR's session runs with the profile IronLB read from the ConfigMap.
        let negotiated = await poll(timeout: 30, interval: 0.25) {
            let peer = bfdPeer(frr, "192.0.2.11")
            return peer?["status"] as? String == "up" && peer?["remote-receive-interval"] as? Int == 200
                && peer?["remote-transmit-interval"] as? Int == 250 && peer?["remote-detect-multiplier"] as? Int == 4
        }
        #expect(negotiated, "\(bfdPeer(frr, "192.0.2.11") ?? [:])")
        let metrics = (try? lab.ctl.run(["curl", "-s", "http://192.0.2.11:7473/metrics"], timeout: 10))?.stdout ?? ""
        #expect(metrics.contains("ironlb_bfd_session_up{peer=\"192.0.2.1\"} 1"), "\(metrics.split(separator: "\n").filter { $0.contains("bfd") })")

        // Frozen: the speaker sends nothing, not even a FIN. FRR's bfdd notices, bgpd drops the
        // session for that reason and the route with it.
        let speaker = try #require(lab.processes["node1"])
        speaker.signal(SIGSTOP)
        let frozenAt = Date()
        let gone = await poll(timeout: 25, interval: 0.05) { frr.path("203.0.113.0/32", family: "ipv4") == nil }
        let elapsed = Date().timeIntervalSince(frozenAt)
        speaker.signal(SIGCONT)
        #expect(gone)
        let neighbor = frr.json("show bgp neighbors 192.0.2.11 json")?["192.0.2.11"] as? [String: Any]
        #expect((neighbor?["lastResetDueTo"] as? String ?? "").contains("BFD"), "\(neighbor?["lastResetDueTo"] ?? "-")")
        print("route gone from FRR's RIB \(Int(elapsed * 1000)) ms after SIGSTOP (FRR detects after 4 × max(300, 250) ms = 1.2 s; BGP hold 30 s)")

        // Thawed: BFD and BGP come back and so does the route.
        #expect(await poll(timeout: 90, interval: 0.5) {
            frr.path("203.0.113.0/32", family: "ipv4") != nil && bfdPeer(frr, "192.0.2.11")?["status"] as? String == "up"
        })
    }
}
