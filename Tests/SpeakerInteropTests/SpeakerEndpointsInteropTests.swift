import Foundation
import LBCore
import Testing
import TestSupport
import Announcements

/// Announcements follow endpoints (issue 13), end to end with KubeSim running the workloads
/// (`ironlb kubesim --workloads`: Deployments, Pods, EndpointSlices): a Cluster Service scaled to
/// zero is neither advertised to FRR nor answered over ARP, and says why in its announced-by
/// annotation and an Event; scaled to one it is, scaled back to zero it is withdrawn; a Local
/// Service follows its pod from node to node.
@Suite(.serialized) struct SpeakerEndpointsInteropTests {
    static let withheld = "none (no ready endpoints)"

    static let bgpConfig = """
    peers:
    - {peer-address: 192.0.2.1, peer-asn: 65001, my-asn: 64512, hold-time: 9s}
    address-pools:
    - {name: public, protocol: bgp, addresses: [203.0.113.0/28]}
    """

    static let layer2Config = """
    address-pools:
    - {name: lan, protocol: layer2, addresses: [192.0.2.200-192.0.2.210]}
    """

    static func service(_ name: String, ip: String, local: Bool = false) -> String {
        var spec: [String: Any] = ["type": "LoadBalancer", "ports": [["port": 80, "targetPort": 8080]], "selector": ["app": name]]
        if local { spec["externalTrafficPolicy"] = "Local" }
        return InteropLab.json(["metadata": ["name": name, "annotations": ["ironlb.io/loadBalancerIPs": ip]], "spec": spec])
    }

    /// Creates a Deployment and its Service.
    static func workload(_ lab: InteropLab, _ name: String, ip: String, replicas: Int, node: String? = nil, local: Bool = false) throws -> Bool {
        let deployment = try lab.api("POST", "/apis/apps/v1/namespaces/default/deployments", InteropLab.deployment(name, replicas: replicas, node: node)).status
        let service = try lab.api("POST", "/api/v1/namespaces/default/services", Self.service(name, ip: ip, local: local)).status
        return deployment == 201 && service == 201
    }

    /// Moves a Deployment's pods to `node` (a new template: a rolling update).
    static func pin(_ lab: InteropLab, _ name: String, to node: String) throws -> Int {
        try lab.api("PATCH", "/apis/apps/v1/namespaces/default/deployments/\(name)",
                    InteropLab.json(["spec": ["template": ["spec": ["nodeSelector": ["kubernetes.io/hostname": node]]]]]),
                    contentType: "application/merge-patch+json").status
    }

    /// The withheld annotation and the `NotAnnounced` Event, both saying "no ready endpoints".
    static func saysNoReadyEndpoints(_ lab: InteropLab, _ service: String) async -> Bool {
        await poll(timeout: 60, interval: 0.5) {
            lab.annotation(service, AnnouncedByIndex.annotation) == Self.withheld
                && lab.eventMessages(service, reason: "NotAnnounced").contains { $0.contains("no ready endpoints") }
        }
    }

    @Test func bgpAdvertisesOnlyServicesWithReadyEndpoints() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("/usr/lib/frr/bgpd"), .command("/usr/bin/vtysh"), .command("curl")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        try lab.addNode("node1", address: "192.0.2.11")
        try lab.addNode("node2", address: "192.0.2.12")
        lab.frr = try FRRRouter(namespace: lab.rtr, config: FRRRouter.speakerPeering(neighbors: ["192.0.2.11", "192.0.2.12"]))
        let frr = try #require(lab.frr)
        try await lab.startControlPlane(config: Self.bgpConfig, nodes: ["node1", "node2"], workloads: true)
        try lab.startSpeaker("node1", address: "192.0.2.11")
        try lab.startSpeaker("node2", address: "192.0.2.12")
        var failed = false
        defer { if failed { lab.dumpLogs() } }
        func hops(_ prefix: String) -> Set<String> { frr.nextHops(prefix, family: "ipv4") }

        // A Service with a running pod: its route proves both speakers advertise.
        #expect(try Self.workload(lab, "probe", ip: "203.0.113.1", replicas: 1))
        let ready = await poll(timeout: 90, interval: 0.5) { hops("203.0.113.1/32") == ["192.0.2.11", "192.0.2.12"] }
        #expect(ready, "probe: next hops \(hops("203.0.113.1/32"))"); failed = failed || !ready

        // Cluster, zero replicas: an IP, no route, and the reason where operators look.
        #expect(try Self.workload(lab, "web", ip: "203.0.113.2", replicas: 0))
        #expect(await poll(timeout: 60) { lab.ingressIP("web") == "203.0.113.2" })
        let said = await Self.saysNoReadyEndpoints(lab, "web")
        #expect(said, "announced-by \(lab.annotation("web", AnnouncedByIndex.annotation) ?? "-"), events \(lab.eventMessages("web", reason: "NotAnnounced"))")
        #expect(hops("203.0.113.2/32").isEmpty, "advertised without endpoints: \(hops("203.0.113.2/32"))")
        let metrics = (try? lab.ctl.run(["curl", "-s", "http://192.0.2.11:7473/metrics"], timeout: 10))?.stdout ?? ""
        #expect(metrics.contains(#"ironlb_speaker_withheld{service="default/web",reason="noEndpoints"} 1"#)
                || metrics.contains(#"ironlb_speaker_withheld{reason="noEndpoints",service="default/web"} 1"#), "metrics: \(metrics.split(separator: "\n").filter { $0.contains("withheld") })")

        // Scaled to one: a pod becomes ready, both nodes advertise (Cluster: anywhere will do).
        #expect(try lab.scale("web", to: 1) == 200)
        let up = await poll(timeout: 60, interval: 0.5) { hops("203.0.113.2/32") == ["192.0.2.11", "192.0.2.12"] }
        #expect(up, "after scaling to 1: \(hops("203.0.113.2/32")), endpoints on \(lab.endpointNodes("web"))"); failed = failed || !up
        let shown = await poll(timeout: 60, interval: 0.5) { lab.annotation("web", AnnouncedByIndex.annotation) == "node1,node2 (bgp 1 peer)" }
        #expect(shown, "announced-by: \(lab.annotation("web", AnnouncedByIndex.annotation) ?? "-")")

        // Back to zero: withdrawn (after the pod's graceful stop), and the reason again.
        #expect(try lab.scale("web", to: 0) == 200)
        let withdrawn = await poll(timeout: 60, interval: 0.5) { hops("203.0.113.2/32").isEmpty }
        #expect(withdrawn, "after scaling to 0: \(hops("203.0.113.2/32"))"); failed = failed || !withdrawn
        #expect(await poll(timeout: 60, interval: 0.5) { lab.annotation("web", AnnouncedByIndex.annotation) == Self.withheld })
        #expect(hops("203.0.113.1/32") == ["192.0.2.11", "192.0.2.12"], "the probe's route stays")

        // Local: only the pod's node advertises, and the route follows the pod.
        #expect(try Self.workload(lab, "local", ip: "203.0.113.3", replicas: 1, node: "node1", local: true))
        let onNode1 = await poll(timeout: 60, interval: 0.5) { hops("203.0.113.3/32") == ["192.0.2.11"] }
        #expect(onNode1, "local on node1: \(hops("203.0.113.3/32")), endpoints on \(lab.endpointNodes("local"))"); failed = failed || !onNode1
        #expect(try Self.pin(lab, "local", to: "node2") == 200)
        let onNode2 = await poll(timeout: 60, interval: 0.5) { hops("203.0.113.3/32") == ["192.0.2.12"] && lab.endpointNodes("local") == ["node2"] }
        #expect(onNode2, "local moved to node2: \(hops("203.0.113.3/32")), endpoints on \(lab.endpointNodes("local"))"); failed = failed || !onNode2
        #expect(await poll(timeout: 60, interval: 0.5) { lab.annotation("local", AnnouncedByIndex.annotation) == "node2 (bgp 1 peer)" })
    }

    @Test func layer2AnswersOnlyServicesWithReadyEndpoints() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("arping"), .command("curl")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        try lab.addNode("node1", address: "192.0.2.11")
        try lab.addNode("node2", address: "192.0.2.12")
        try lab.addNode("client", address: "192.0.2.50")
        let client = try #require(lab.nodes["client"])
        try await lab.startControlPlane(config: Self.layer2Config, nodes: ["node1", "node2"], workloads: true)
        try lab.startSpeaker("node1", address: "192.0.2.11", arguments: SpeakerLayer2InteropTests.fastTimings)
        try lab.startSpeaker("node2", address: "192.0.2.12", arguments: SpeakerLayer2InteropTests.fastTimings)
        let macs = ["node1": SpeakerLayer2InteropTests.mac(lab.nodes["node1"]!), "node2": SpeakerLayer2InteropTests.mac(lab.nodes["node2"]!)]
        var failed = false
        defer { if failed { lab.dumpLogs() } }
        func arping(_ ip: String) -> [String] { Set(SpeakerLayer2InteropTests.arping(client, ip)).sorted() }

        // A Service with a running pod: its answer proves the speakers answer.
        #expect(try Self.workload(lab, "probe", ip: "192.0.2.201", replicas: 1))
        let ready = await poll(timeout: 90, interval: 1) { arping("192.0.2.201").count == 1 }
        #expect(ready, "probe unanswered: \(arping("192.0.2.201"))"); failed = failed || !ready

        // Cluster, zero replicas: an IP, no answer, and the reason.
        #expect(try Self.workload(lab, "web", ip: "192.0.2.202", replicas: 0))
        #expect(await poll(timeout: 60) { lab.ingressIP("web") == "192.0.2.202" })
        let said = await Self.saysNoReadyEndpoints(lab, "web")
        #expect(said, "announced-by \(lab.annotation("web", AnnouncedByIndex.annotation) ?? "-"), events \(lab.eventMessages("web", reason: "NotAnnounced"))")
        for _ in 0..<3 { #expect(arping("192.0.2.202").isEmpty, "answered without endpoints") }

        // Scaled to one: exactly one node answers.
        #expect(try lab.scale("web", to: 1) == 200)
        var answers: [String] = []
        let answered = await poll(timeout: 60, interval: 1) { answers = arping("192.0.2.202"); return answers.count == 1 }
        #expect(answered, "after scaling to 1: \(answers)"); failed = failed || !answered
        #expect(answers.allSatisfy { macs.values.contains($0) }, "answered by \(answers), nodes \(macs)")

        // Back to zero: unanswered again, and the reason again.
        #expect(try lab.scale("web", to: 0) == 200)
        let silent = await poll(timeout: 60, interval: 1) { arping("192.0.2.202").isEmpty && lab.annotation("web", AnnouncedByIndex.annotation) == Self.withheld }
        #expect(silent, "after scaling to 0: \(arping("192.0.2.202")), \(lab.annotation("web", AnnouncedByIndex.annotation) ?? "-")"); failed = failed || !silent

        // Local: the pod's node answers, and the answer follows the pod.
        #expect(try Self.workload(lab, "local", ip: "192.0.2.203", replicas: 1, node: "node1", local: true))
        let onNode1 = await poll(timeout: 60, interval: 1) { arping("192.0.2.203") == [macs["node1"]!] }
        #expect(onNode1, "local on node1: \(arping("192.0.2.203")), endpoints on \(lab.endpointNodes("local"))"); failed = failed || !onNode1
        #expect(try Self.pin(lab, "local", to: "node2") == 200)
        let onNode2 = await poll(timeout: 60, interval: 1) { arping("192.0.2.203") == [macs["node2"]!] && lab.endpointNodes("local") == ["node2"] }
        #expect(onNode2, "local moved to node2: \(arping("192.0.2.203")), endpoints on \(lab.endpointNodes("local"))"); failed = failed || !onNode2
        #expect(await poll(timeout: 60, interval: 0.5) { lab.annotation("local", AnnouncedByIndex.annotation)?.hasPrefix("node2 ") == true })
    }
}
