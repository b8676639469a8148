import Foundation
import Testing
import TestSupport

/// End to end, BGP, with changes: configuration edits (communities, local-pref, aggregation)
/// reach FRR without resetting sessions, an invalid ConfigMap changes nothing,
/// `externalTrafficPolicy: Local` follows the endpoints, and a killed speaker's routes go when
/// FRR's hold timer expires. iBGP (AS 64512 on both sides), so that LOCAL_PREF is carried.
@Suite(.serialized) struct SpeakerBGPChangesInteropTests {
    static let frrConfig = FRRRouter.speakerPeering(asn: 64512, neighbors: ["192.0.2.11", "192.0.2.12"])

    static func config(community: String, localPref: Int = 100, aggregation: Int = 32) -> String {
        """
        peers:
        - {peer-address: 192.0.2.1, peer-asn: 64512, my-asn: 64512, hold-time: 9s}
        address-pools:
        - name: public
          protocol: bgp
          addresses: [203.0.113.0/28]
          bgp-advertisements:
          - {communities: ["\(community)"], localpref: \(localPref), aggregation-length: \(aggregation)}
        """
    }

    static func endpointSlice(service: String, node: String) -> String {
        InteropLab.json([
            "metadata": ["name": "\(service)-slice", "labels": ["kubernetes.io/service-name": service]],
            "addressType": "IPv4",
            "endpoints": [["addresses": ["10.244.0.7"], "nodeName": node, "conditions": ["ready": true]]],
            "ports": [["port": 8080, "protocol": "TCP"]],
        ])
    }

    /// How many times FRR's session with `neighbor` was established and dropped; a reset
    /// changes both.
    static func sessionCounters(_ frr: FRRRouter, _ neighbor: String) -> [Int]? {
        guard let info = frr.json("show bgp neighbors \(neighbor) json")?[neighbor] as? [String: Any],
              let established = info["connectionsEstablished"] as? Int, let dropped = info["connectionsDropped"] as? Int
        else { return nil }
        return [established, dropped]
    }

    static func community(_ frr: FRRRouter, _ prefix: String) -> String? {
        let paths = frr.json("show bgp ipv4 unicast \(prefix) json")?["paths"] as? [[String: Any]]
        return (paths?.first?["community"] as? [String: Any])?["string"] as? String
    }

    /// The LOCAL_PREF of every path FRR holds for the prefix.
    static func localPrefs(_ frr: FRRRouter, _ prefix: String) -> [Int] {
        frr.paths(prefix, family: "ipv4").compactMap { $0["locPrf"] as? Int }
    }

    /// Replaces the configuration through a merge patch of the ConfigMap.
    static func edit(_ lab: InteropLab, _ config: String) throws -> Int {
        try lab.api("PATCH", "/api/v1/namespaces/ironlb-system/configmaps/config", InteropLab.json(["data": ["config": config]]),
                    contentType: "application/merge-patch+json").status
    }

    @Test func configEditsLocalPolicyAndACrashedSpeaker() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("/usr/lib/frr/bgpd"), .command("/usr/bin/vtysh"), .command("curl")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        try lab.addNode("node1", address: "192.0.2.11")
        try lab.addNode("node2", address: "192.0.2.12")
        lab.frr = try FRRRouter(namespace: lab.rtr, config: Self.frrConfig)
        let frr = try #require(lab.frr)
        try await lab.startControlPlane(config: Self.config(community: "64512:100"), nodes: ["node1", "node2"])
        try lab.startSpeaker("node1", address: "192.0.2.11")
        try lab.startSpeaker("node2", address: "192.0.2.12")
        defer { if lab.processes.values.contains(where: { !$0.isRunning }) { lab.dumpLogs() } }

        #expect(try lab.api("POST", "/api/v1/namespaces/default/services",
                            InteropLab.json(["metadata": ["name": "web"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]])).status == 201)
        #expect(try lab.addEndpoints("web", nodes: ["node2"]) == 201)      // a pod runs: the Service may be announced
        let both = await poll(timeout: 90, interval: 0.5) { frr.nextHops("203.0.113.0/32", family: "ipv4") == ["192.0.2.11", "192.0.2.12"] }
        #expect(both, "next hops: \(frr.nextHops("203.0.113.0/32", family: "ipv4"))")
        #expect(Self.community(frr, "203.0.113.0/32") == "64512:100")
        let upSince = [Self.sessionCounters(frr, "192.0.2.11"), Self.sessionCounters(frr, "192.0.2.12")]
        #expect(upSince.allSatisfy { $0 != nil })

        // An invalid ConfigMap changes nothing on the wire.
        let bad = InteropLab.json(["data": ["config": "address-pools: [{name: public, protocol: bgp, addresses: [203.0.113.0/28], bgp-advertisements: [{communities: [\"99999:1\"]}]}]"]])
        #expect(try lab.api("PATCH", "/api/v1/namespaces/ironlb-system/configmaps/config", bad, contentType: "application/merge-patch+json").status == 200)
        try await Task.sleep(for: .seconds(3))
        #expect(Self.community(frr, "203.0.113.0/32") == "64512:100")
        #expect(frr.nextHops("203.0.113.0/32", family: "ipv4") == ["192.0.2.11", "192.0.2.12"])

        // A new community and local-pref reach FRR as UPDATEs; neither session is reset.
        #expect(Self.localPrefs(frr, "203.0.113.0/32") == [100, 100])
        #expect(try Self.edit(lab, Self.config(community: "64512:200", localPref: 250)) == 200)
        let updated = await poll(timeout: 30, interval: 0.25) {
            Self.community(frr, "203.0.113.0/32") == "64512:200" && Self.localPrefs(frr, "203.0.113.0/32") == [250, 250]
        }
        #expect(updated, "community: \(Self.community(frr, "203.0.113.0/32") ?? "-"), local-pref: \(Self.localPrefs(frr, "203.0.113.0/32"))")
        #expect([Self.sessionCounters(frr, "192.0.2.11"), Self.sessionCounters(frr, "192.0.2.12")] == upSince, "a session was reset by a configuration edit")

        // Aggregation: the /32 becomes the /30 that holds it, from both nodes, then back.
        #expect(try Self.edit(lab, Self.config(community: "64512:200", localPref: 250, aggregation: 30)) == 200)
        let aggregated = await poll(timeout: 30, interval: 0.25) {
            frr.nextHops("203.0.113.0/30", family: "ipv4") == ["192.0.2.11", "192.0.2.12"] && frr.paths("203.0.113.0/32", family: "ipv4").isEmpty
        }
        #expect(aggregated, "/30: \(frr.nextHops("203.0.113.0/30", family: "ipv4")), /32: \(frr.nextHops("203.0.113.0/32", family: "ipv4"))")
        #expect(try Self.edit(lab, Self.config(community: "64512:200", localPref: 250)) == 200)
        let disaggregated = await poll(timeout: 30, interval: 0.25) {
            frr.nextHops("203.0.113.0/32", family: "ipv4") == ["192.0.2.11", "192.0.2.12"] && frr.paths("203.0.113.0/30", family: "ipv4").isEmpty
        }
        #expect(disaggregated, "/32: \(frr.nextHops("203.0.113.0/32", family: "ipv4")), /30: \(frr.nextHops("203.0.113.0/30", family: "ipv4"))")
        #expect([Self.sessionCounters(frr, "192.0.2.11"), Self.sessionCounters(frr, "192.0.2.12")] == upSince, "a session was reset by an aggregation edit")

        // externalTrafficPolicy: Local: only the node with a ready endpoint announces, and the
        // announcement follows the endpoint.
        #expect(try lab.api("POST", "/api/v1/namespaces/default/services", InteropLab.json([
            "metadata": ["name": "local"], "spec": ["type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": [["port": 80]]],
        ])).status == 201)
        #expect(await poll(timeout: 60) { lab.ingressIP("local") == "203.0.113.1" })
        #expect(try lab.api("POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", Self.endpointSlice(service: "local", node: "node1")).status == 201)
        let onNode1 = await poll(timeout: 30, interval: 0.25) { frr.nextHops("203.0.113.1/32", family: "ipv4") == ["192.0.2.11"] }
        #expect(onNode1, "Local next hops: \(frr.nextHops("203.0.113.1/32", family: "ipv4"))")
        #expect(try lab.api("DELETE", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/local-slice").status == 200)
        #expect(try lab.api("POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", Self.endpointSlice(service: "local", node: "node2")).status == 201)
        let onNode2 = await poll(timeout: 30, interval: 0.25) { frr.nextHops("203.0.113.1/32", family: "ipv4") == ["192.0.2.12"] }
        #expect(onNode2, "Local next hops after the move: \(frr.nextHops("203.0.113.1/32", family: "ipv4"))")

        // A killed speaker sends nothing: FRR drops its routes when the 9 s hold timer expires.
        lab.processes["node2"]?.stop(signal: SIGKILL, timeout: 10)
        let expired = await poll(timeout: 40, interval: 0.5) { frr.nextHops("203.0.113.0/32", family: "ipv4") == ["192.0.2.11"] }
        #expect(expired, "after SIGKILL: \(frr.nextHops("203.0.113.0/32", family: "ipv4"))")
        #expect(frr.neighborState("192.0.2.12") != "Established")
        // Once node1 breaks node2's expired Lease, node2 leaves the Service's announced-by.
        let shown = await poll(timeout: 60, interval: 0.5) { lab.annotation("web", "ironlb.io/announced-by") == "node1 (bgp 1 peer)" }
        #expect(shown, "announced-by after SIGKILL: \(lab.annotation("web", "ironlb.io/announced-by") ?? "-")")
    }
}
