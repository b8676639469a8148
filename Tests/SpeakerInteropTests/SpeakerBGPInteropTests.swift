import Foundation
import Testing
import LBCore
import TestSupport
import Announcements

/// End to end: KubeSim and the controller in a "control" namespace, two speakers each in its own
/// "node" namespace, and FRR in a "router" namespace, all on one bridge (192.0.2.0/24). The test
/// drives the cluster through KubeSim's HTTP API and checks FRR's RIB.
@Suite(.serialized) struct SpeakerBGPInteropTests {
    static let frrConfig = FRRRouter.speakerPeering(neighbors: ["192.0.2.11", "192.0.2.12"])

    static let ironlbConfig = """
    peers:
    - {peer-address: 192.0.2.1, peer-asn: 65001, my-asn: 64512, hold-time: 9s}
    bgp-communities:
      no-export: 65535:65281
    address-pools:
    - name: public
      protocol: bgp
      addresses: [203.0.113.0/28]
      bgp-advertisements:
      - communities: [no-export, "large:64512:1:2"]
    """

    @Test func servicesAreAdvertisedByEveryNodeAndWithdrawn() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("/usr/lib/frr/bgpd"), .command("/usr/bin/vtysh"), .command("curl")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        try lab.addNode("node1", address: "192.0.2.11")
        try lab.addNode("node2", address: "192.0.2.12")
        lab.frr = try FRRRouter(namespace: lab.rtr, config: Self.frrConfig)

        try await lab.startControlPlane(config: Self.ironlbConfig, nodes: ["node1", "node2"])
        try lab.startSpeaker("node1", address: "192.0.2.11")
        try lab.startSpeaker("node2", address: "192.0.2.12")
        let frr = try #require(lab.frr)
        let sessionsUp = await poll(timeout: 90, interval: 0.5) {
            frr.neighborState("192.0.2.11") == "Established" && frr.neighborState("192.0.2.12") == "Established"
        }
        #expect(sessionsUp, "sessions: \(frr.neighborState("192.0.2.11") ?? "-"), \(frr.neighborState("192.0.2.12") ?? "-")")
        // The speaker's sockets (API client, BGP, metrics) share its own group of event loops:
        // NIO's process-wide group, a thread per core, is never started.
        let threads = try #require(lab.processes["node1"]).threadNames()
        #expect(threads.contains { $0.hasPrefix("NIO-ELT-") }, "\(threads)")
        #expect(!threads.contains { $0.hasPrefix("NIO-SGLTN-") }, "\(threads)")

        // A Service gets an IP, and FRR learns it from both nodes (ECMP).
        #expect(try lab.api("POST", "/api/v1/namespaces/default/services",
                            InteropLab.json(["metadata": ["name": "web"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]])).status == 201)
        // A pod runs (IronLB announces only Services with a usable endpoint).
        #expect(try lab.addEndpoints("web", nodes: ["node1"]) == 201)
        let allocated = await poll(timeout: 60) {
            let service = (try? lab.api("GET", "/api/v1/namespaces/default/services/web"))?.json as? [String: Any]
            let ingress = ((service?["status"] as? [String: Any])?["loadBalancer"] as? [String: Any])?["ingress"] as? [[String: Any]]
            return ingress?.first?["ip"] as? String == "203.0.113.0"
        }
        #expect(allocated)
        let bothNodes = await poll(timeout: 60, interval: 0.5) { frr.nextHops("203.0.113.0/32", family: "ipv4") == ["192.0.2.11", "192.0.2.12"] }
        #expect(bothNodes, "next hops: \(frr.nextHops("203.0.113.0/32", family: "ipv4"))")
        let path = try #require(frr.paths("203.0.113.0/32", family: "ipv4").first)
        #expect((path["aspath"] as? [String: Any])?["string"] as? String == "64512")
        let detail = frr.json("show bgp ipv4 unicast 203.0.113.0/32 json")
        let first = (detail?["paths"] as? [[String: Any]])?.first
        #expect((first?["community"] as? [String: Any])?["string"] as? String == "no-export")
        #expect((first?["largeCommunity"] as? [String: Any])?["string"] as? String == "64512:1:2")

        // Where operators look: the Service says which nodes announce it, and each speaker counts
        // the UPDATEs it sent.
        var announcedBy: String?
        let shown = await poll(timeout: 60, interval: 0.5) {
            announcedBy = lab.annotation("web", AnnouncedByIndex.annotation)
            return announcedBy == "node1,node2 (bgp 1 peer)"
        }
        #expect(shown, "announced-by: \(announcedBy ?? "-")")
        let metrics = (try? lab.ctl.run(["curl", "-s", "http://192.0.2.11:7473/metrics"], timeout: 10))?.stdout ?? ""
        let updates = metrics.split(separator: "\n").first { $0.hasPrefix("ironlb_bgp_updates_total{peer=\"192.0.2.1:179\"}") }
        #expect(updates.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }.map { $0 >= 1 } == true, "\(updates ?? "no ironlb_bgp_updates_total")")

        // A planned stop (SIGTERM) withdraws that node's route at once; the other node's stays.
        let node2 = try #require(lab.processes["node2"])
        node2.stop(signal: SIGTERM, timeout: 30)
        let onlyNode1 = await poll(timeout: 30, interval: 0.25) { frr.nextHops("203.0.113.0/32", family: "ipv4") == ["192.0.2.11"] }
        #expect(onlyNode1, "next hops after SIGTERM: \(frr.nextHops("203.0.113.0/32", family: "ipv4"))")
        // Its released Lease takes it off the Service's announced-by at once.
        let node1Only = await poll(timeout: 30, interval: 0.25) { lab.annotation("web", AnnouncedByIndex.annotation) == "node1 (bgp 1 peer)" }
        #expect(node1Only, "announced-by after SIGTERM: \(lab.annotation("web", AnnouncedByIndex.annotation) ?? "-")")

        // Deleting the Service withdraws the route everywhere.
        #expect(try lab.api("DELETE", "/api/v1/namespaces/default/services/web").status == 200)
        let withdrawn = await poll(timeout: 60, interval: 0.25) { frr.paths("203.0.113.0/32", family: "ipv4").isEmpty }
        #expect(withdrawn)
        if !withdrawn || !bothNodes || !sessionsUp {
            for (name, process) in lab.processes { print("--- \(name) stderr (tail)\n" + String(process.stderr.suffix(3000))) }
        }
    }
}
