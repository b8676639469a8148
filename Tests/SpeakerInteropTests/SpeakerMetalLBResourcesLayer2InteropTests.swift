import Foundation
import Testing
import TestSupport

/// Issue #14, layer 2 end to end on MetalLB's objects only, two of MetalLB's documented examples
/// (Tests/Fixtures/config/metallb-docs, with this lab's names and documentation addresses): an
/// IPAddressPool whose `serviceAllocation` admits `default` (advanced-ipaddresspool-3), and an
/// L2Advertisement limited to node2 by `nodeSelectors` and to `eth0` by `interfaces`
/// (advanced-l2-7). Two real speakers and the controller with
/// `--metallb-resources`: the client's `arping` is answered by node2's MAC only, although both
/// nodes run the Service's pods; a Service in another namespace gets no address. Then an object
/// IronLB refuses is reported by the speakers as by the controller (Warning Event on it,
/// `ironlb_config_stale 1`) and the VIP stays answered: the last good configuration is kept.
@Suite(.serialized) struct SpeakerMetalLBResourcesLayer2InteropTests {
    typealias Resources = SpeakerMetalLBResourcesInteropTests

    /// The Events in `namespace` about `kind/name` with this reason: (reporting controller,
    /// reporting instance, note).
    static func events(_ lab: InteropLab, namespace: String, kind: String, name: String, reason: String) -> [(controller: String, instance: String, note: String)] {
        let list = (try? lab.api("GET", "/apis/events.k8s.io/v1/namespaces/\(namespace)/events"))?.json as? [String: Any]
        return (list?["items"] as? [[String: Any]] ?? []).compactMap { item in
            let regarding = item["regarding"] as? [String: Any]
            guard regarding?["kind"] as? String == kind, regarding?["name"] as? String == name, item["reason"] as? String == reason else { return nil }
            return (item["reportingController"] as? String ?? "", item["reportingInstance"] as? String ?? "", item["note"] as? String ?? "")
        }
    }

    /// A documented example as JSON, with `replacements` applied to its text (names, addresses).
    static func documented(_ fixture: String, _ replacements: [(String, String)]) throws -> String {
        let url = BuiltProducts.repositoryRoot.appendingPathComponent("Tests/Fixtures/config/metallb-docs/\(fixture).yaml")
        var text = try String(contentsOf: url, encoding: .utf8)
        for (from, to) in replacements + [("metallb-system", "ironlb-system")] {
            #expect(text.contains(from), "\(fixture) has no \(from)")
            text = text.replacingOccurrences(of: from, with: to)
        }
        let script = "import json,sys,yaml\nprint(json.dumps(yaml.safe_load(sys.stdin)))"
        return try Shell.check(["python3", "-c", script], input: text).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `ironlb_config_stale` as a speaker's /metrics shows it (nil when unreadable).
    static func stale(_ lab: InteropLab, _ address: String) -> Double? {
        let metrics = (try? lab.ctl.run(["curl", "-s", "http://\(address)/metrics"], timeout: 10))?.stdout ?? ""
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("ironlb_config_stale ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func nodeSelectorsPickTheAnsweringNodeAndABadObjectKeepsTheLastGoodOne() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("arping"), .command("curl"), .command("python3")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        try lab.addNode("node1", address: "192.0.2.11")
        try lab.addNode("node2", address: "192.0.2.12")
        try lab.addNode("client", address: "192.0.2.50")
        let client = try #require(lab.nodes["client"])
        let definitions = try Resources.definitions()
        try await lab.startControlPlane(config: "", nodes: ["node1", "node2"], definitions: definitions, controllerArguments: ["--metallb-resources"])
        #expect(try lab.api("POST", "/api/v1/namespaces", InteropLab.json(["metadata": ["name": "other"]])).status == 201)

        let base = "/apis/metallb.io/v1beta1/namespaces/ironlb-system"
        // serviceAllocation: namespaces [default, tenant-b] or namespaces labelled foo=bar, and
        // Services labelled app=bar; priority 50; avoidBuggyIPs (no .0 or .255 in this range).
        let pool = try Self.documented("advanced-ipaddresspool-3", [
            ("192.168.20.0/24", "192.0.2.200-192.0.2.210"), ("namespace-a", "default"), ("namespace-b", "tenant-b"),
        ])
        #expect(pool.contains("\"serviceAllocation\""), "\(pool)")
        #expect(try lab.api("POST", "\(base)/ipaddresspools", pool).status == 201)
        let advertisement = try Self.documented("advanced-l2-7", [
            ("fourth-pool", "ippool-ns-service-alloc-sample"), ("NodeA", "node2"), ("eth3", "eth0"),
        ])
        #expect(try lab.api("POST", "\(base)/l2advertisements", advertisement).status == 201)
        try lab.startSpeaker("node1", address: "192.0.2.11", arguments: ["--metallb-resources"])
        try lab.startSpeaker("node2", address: "192.0.2.12", arguments: ["--metallb-resources"])
        let macs = ["node1": SpeakerLayer2InteropTests.mac(lab.nodes["node1"]!), "node2": SpeakerLayer2InteropTests.mac(lab.nodes["node2"]!)]

        #expect(try lab.api("POST", "/api/v1/namespaces/default/services", InteropLab.json([
            "metadata": ["name": "web", "labels": ["app": "bar"]], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]],
        ])).status == 201)
        #expect(try lab.addEndpoints("web", nodes: ["node1", "node2"]) == 201)     // pods on both nodes
        let allocated = await poll(timeout: 60) { lab.ingressIP("web") == "192.0.2.200" }
        #expect(allocated, "ingress: \(lab.ingressIP("web") ?? "-")")

        // serviceAllocation.namespaces: a Service of another namespace (with the pool's Service
        // label) is refused the pool, the only one there is.
        #expect(try lab.api("POST", "/api/v1/namespaces/other/services", InteropLab.json([
            "metadata": ["name": "intruder", "labels": ["app": "bar"]], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]],
        ])).status == 201)
        let refused = await poll(timeout: 60) { !Self.events(lab, namespace: "other", kind: "Service", name: "intruder", reason: "AllocationFailed").isEmpty }
        #expect(refused, "no AllocationFailed Event on other/intruder")
        let intruder = (try? lab.api("GET", "/api/v1/namespaces/other/services/intruder"))?.json as? [String: Any]
        let intruderIngress = ((intruder?["status"] as? [String: Any])?["loadBalancer"] as? [String: Any])?["ingress"] as? [[String: Any]]
        #expect(intruderIngress?.isEmpty ?? true, "other/intruder got \(String(describing: intruderIngress))")

        // Answers once node2 holds its Lease past the hand-off delay (about 12 s); never node1.
        var answers: [String] = []
        let answered = await poll(timeout: 90, interval: 1) {
            answers = SpeakerLayer2InteropTests.arping(client, "192.0.2.200")
            return !answers.isEmpty
        }
        #expect(answered, "nobody answered ARP for the VIP")
        #expect(answers == [macs["node2"]!], "answers \(answers); node2 is \(macs["node2"]!), node1 \(macs["node1"]!)")
        for _ in 0..<3 { #expect(SpeakerLayer2InteropTests.arping(client, "192.0.2.200") == [macs["node2"]!]) }

        // An object IronLB refuses: every speaker reports it on the object and keeps announcing.
        #expect(try lab.api("POST", "/apis/metallb.io/v1beta2/namespaces/ironlb-system/bgppeers", Resources.object("metallb.io/v1beta2", "BGPPeer", "router", [
            "myASN": 64512, "peerASN": 65001, "peerAddress": "192.0.2.1", "vrf": "red",
        ])).status == 201)
        var reports: [(controller: String, instance: String, note: String)] = []
        let reported = await poll(timeout: 60, interval: 0.5) {
            reports = Self.events(lab, namespace: "ironlb-system", kind: "BGPPeer", name: "router", reason: "InvalidConfig")
            return Set(reports.filter { $0.controller == "ironlb.io/speaker" }.map(\.instance)) == ["node1", "node2"]
        }
        #expect(reported, "speaker Events: \(reports)")
        #expect(reports.contains { $0.controller == "ironlb.io/controller" }, "controller Event: \(reports)")
        #expect(reports.allSatisfy { $0.note.contains("spec.vrf: is not supported") }, "\(reports)")
        #expect(await poll(timeout: 30) { Self.stale(lab, "192.0.2.11:7473") == 1 && Self.stale(lab, "192.0.2.12:7473") == 1 },
                "stale: \(String(describing: Self.stale(lab, "192.0.2.11:7473"))), \(String(describing: Self.stale(lab, "192.0.2.12:7473")))")
        for _ in 0..<3 { #expect(SpeakerLayer2InteropTests.arping(client, "192.0.2.200") == [macs["node2"]!], "the last good configuration was dropped") }

        // Removing it makes the set valid again.
        #expect(try lab.api("DELETE", "/apis/metallb.io/v1beta2/namespaces/ironlb-system/bgppeers/router").status == 200)
        #expect(await poll(timeout: 30) { Self.stale(lab, "192.0.2.11:7473") == 0 && Self.stale(lab, "192.0.2.12:7473") == 0 })
        #expect(SpeakerLayer2InteropTests.arping(client, "192.0.2.200") == [macs["node2"]!])
        if !answered || !reported { lab.dumpLogs() }
    }
}
