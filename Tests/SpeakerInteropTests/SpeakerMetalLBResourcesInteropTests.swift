import Foundation
import Testing
import TestSupport

/// Issue #14 end to end: the cluster configured only with MetalLB's objects (IronLB's shipped
/// CRDs, then an IPAddressPool, a BGPAdvertisement, a BGPPeer whose `passwordSecret` names a
/// `kubernetes.io/basic-auth` Secret), the controller and a speaker with `--metallb-resources`,
/// and FRR requiring TCP MD5 with that password: the session comes up and FRR learns the route.
@Suite(.serialized) struct SpeakerMetalLBResourcesInteropTests {
    static let password = "md5-from-secret"

    static var frrConfig: String {
        FRRRouter.speakerPeering(neighbors: ["192.0.2.11"])
            .replacingOccurrences(of: " neighbor 192.0.2.11 timers 3 9\n", with: " neighbor 192.0.2.11 timers 3 9\n neighbor 192.0.2.11 password \(password)\n")
    }

    /// manifests/crds.yaml as JSON documents (PyYAML, a test dependency).
    static func definitions() throws -> [String] {
        let script = "import json,sys,yaml\nfor d in yaml.safe_load_all(open(sys.argv[1])):\n    print(json.dumps(d)) if d else None"
        let output = try Shell.check(["python3", "-c", script, BuiltProducts.repositoryRoot.appendingPathComponent("manifests/crds.yaml").path])
        return output.split(separator: "\n").map(String.init)
    }

    static func object(_ apiVersion: String, _ kind: String, _ name: String, _ spec: [String: Any]) -> String {
        InteropLab.json(["apiVersion": apiVersion, "kind": kind, "metadata": ["name": name, "namespace": "ironlb-system"], "spec": spec])
    }

    /// Issue #14's migration, end to end: a speaker announcing from the ConfigMap; the
    /// equivalent objects (`ironlb config convert --to crds`) applied (the names clash: both
    /// processes keep what they have), then the ConfigMap deleted. No Service's IP changes, FRR's
    /// session is never reset (its established and dropped counters stay), and the objects alone
    /// then allocate and announce a new Service.
    @Test func switchingFromTheConfigMapToObjectsResetsNoSession() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("/usr/lib/frr/bgpd"), .command("/usr/bin/vtysh"), .command("curl"), .command("python3")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let config = """
        peers:
        - {peer-address: 192.0.2.1, peer-asn: 65001, my-asn: 64512, hold-time: 9s}
        address-pools:
        - {name: public, protocol: bgp, addresses: [203.0.113.0/28]}
        """
        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        try lab.addNode("node1", address: "192.0.2.11")
        lab.frr = try FRRRouter(namespace: lab.rtr, config: FRRRouter.speakerPeering(neighbors: ["192.0.2.11"]))
        try await lab.startControlPlane(config: config, nodes: ["node1"], definitions: try Self.definitions(), controllerArguments: ["--metallb-resources"])
        try lab.startSpeaker("node1", address: "192.0.2.11", arguments: ["--metallb-resources"])
        let frr = try #require(lab.frr)
        #expect(try lab.api("POST", "/api/v1/namespaces/default/services",
                            InteropLab.json(["metadata": ["name": "web"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]])).status == 201)
        #expect(try lab.addEndpoints("web", nodes: ["node1"]) == 201)
        let learned = await poll(timeout: 90, interval: 0.5) {
            lab.ingressIP("web") == "203.0.113.0" && frr.nextHops("203.0.113.0/32", family: "ipv4") == ["192.0.2.11"]
        }
        if !learned { lab.dumpLogs() }
        #expect(learned, "ingress \(lab.ingressIP("web") ?? "-"), next hops \(frr.nextHops("203.0.113.0/32", family: "ipv4"))")
        let counters = SpeakerBGPChangesInteropTests.sessionCounters(frr, "192.0.2.11")
        #expect((counters?.first ?? 0) >= 1, "\(String(describing: counters))")

        // The objects, as the migration guide makes them.
        let file = lab.directory + "/config.yaml"
        try Data(config.utf8).write(to: URL(fileURLWithPath: file))
        let converted = try Shell.run([ironlb, "config", "convert", "--to", "crds", file])
        #expect(converted.status == 0, "\(converted.stderr)")
        let script = "import json,sys,yaml\nfor d in yaml.safe_load_all(sys.stdin):\n    print(json.dumps(d)) if d else None"
        let objects = try Shell.check(["python3", "-c", script], input: converted.stdout).split(separator: "\n").map(String.init)
        #expect(objects.count == 3, "\(objects)")                     // IPAddressPool, BGPAdvertisement, BGPPeer
        for object in objects {
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(object.utf8)) as? [String: Any])
            let kind = parsed["kind"] as? String ?? "", apiVersion = parsed["apiVersion"] as? String ?? ""
            let plural = ["IPAddressPool": "ipaddresspools", "BGPAdvertisement": "bgpadvertisements", "BGPPeer": "bgppeers"][kind] ?? kind
            #expect(try lab.api("POST", "/apis/\(apiVersion)/namespaces/ironlb-system/\(plural)", object).status == 201, "\(kind)")
        }
        let controllerStale = { () -> Double? in
            let metrics = (try? lab.ctl.run(["curl", "-s", "http://192.0.2.100:7472/metrics"], timeout: 10))?.stdout ?? ""
            return metrics.split(separator: "\n").first { $0.hasPrefix("ironlb_config_stale ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        let speakerStale = { SpeakerMetalLBResourcesLayer2InteropTests.stale(lab, "192.0.2.11:7473") }
        #expect(await poll(timeout: 60) { controllerStale() == 1 && speakerStale() == 1 }, "while both exist the names clash")

        #expect(try lab.api("DELETE", "/api/v1/namespaces/ironlb-system/configmaps/config").status == 200)
        let switched = await poll(timeout: 60) { controllerStale() == 0 && speakerStale() == 0 }
        #expect(switched, "the objects alone never loaded: controller \(String(describing: controllerStale())), speaker \(String(describing: speakerStale()))")

        #expect(try lab.api("POST", "/api/v1/namespaces/default/services",
                            InteropLab.json(["metadata": ["name": "after"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]])).status == 201)
        #expect(try lab.addEndpoints("after", nodes: ["node1"]) == 201)
        let announced = await poll(timeout: 60, interval: 0.5) {
            lab.ingressIP("after") == "203.0.113.1" && frr.nextHops("203.0.113.1/32", family: "ipv4") == ["192.0.2.11"]
        }
        #expect(announced, "after: ingress \(lab.ingressIP("after") ?? "-"), next hops \(frr.nextHops("203.0.113.1/32", family: "ipv4"))")
        #expect(lab.ingressIP("web") == "203.0.113.0", "migrating moved web's IP")
        #expect(frr.nextHops("203.0.113.0/32", family: "ipv4") == ["192.0.2.11"])
        #expect(SpeakerBGPChangesInteropTests.sessionCounters(frr, "192.0.2.11") == counters, "the session was reset")
        if !switched || !announced { lab.dumpLogs() }
    }

    @Test func passwordSecretReachesFRRAsAnMD5Session() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("/usr/lib/frr/bgpd"), .command("/usr/bin/vtysh"), .command("curl"), .command("python3")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        try lab.addNode("node1", address: "192.0.2.11")
        lab.frr = try FRRRouter(namespace: lab.rtr, config: Self.frrConfig)
        let definitions = try Self.definitions()
        #expect(definitions.count == 6)
        try await lab.startControlPlane(config: "", nodes: ["node1"], definitions: definitions, controllerArguments: ["--metallb-resources"])

        let base = "/apis/metallb.io"
        let secret = InteropLab.json([
            "metadata": ["name": "bgp-auth"], "type": "kubernetes.io/basic-auth",
            "data": ["username": Data("ironlb".utf8).base64EncodedString(), "password": Data(Self.password.utf8).base64EncodedString()],
        ])
        #expect(try lab.api("POST", "/api/v1/namespaces/ironlb-system/secrets", secret).status == 201)
        #expect(try lab.api("POST", "\(base)/v1beta1/namespaces/ironlb-system/ipaddresspools",
                            Self.object("metallb.io/v1beta1", "IPAddressPool", "public", ["addresses": ["203.0.113.0/28"]])).status == 201)
        #expect(try lab.api("POST", "\(base)/v1beta1/namespaces/ironlb-system/bgpadvertisements",
                            Self.object("metallb.io/v1beta1", "BGPAdvertisement", "public", ["ipAddressPools": ["public"]])).status == 201)
        #expect(try lab.api("POST", "\(base)/v1beta2/namespaces/ironlb-system/bgppeers", Self.object("metallb.io/v1beta2", "BGPPeer", "router", [
            "myASN": 64512, "peerASN": 65001, "peerAddress": "192.0.2.1", "holdTime": "9s", "passwordSecret": ["name": "bgp-auth", "namespace": "ironlb-system"],
        ])).status == 201)

        try lab.startSpeaker("node1", address: "192.0.2.11", arguments: ["--metallb-resources"])
        let frr = try #require(lab.frr)
        let established = await poll(timeout: 90, interval: 0.5) { frr.neighborState("192.0.2.11") == "Established" }
        if !established { lab.dumpLogs() }
        #expect(established, "session: \(frr.neighborState("192.0.2.11") ?? "-")")

        #expect(try lab.api("POST", "/api/v1/namespaces/default/services",
                            InteropLab.json(["metadata": ["name": "web"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]])).status == 201)
        // A pod runs (IronLB announces only Services with a usable endpoint).
        #expect(try lab.addEndpoints("web", nodes: ["node1"]) == 201)
        let allocated = await poll(timeout: 60) { lab.ingressIP("web") == "203.0.113.0" }
        #expect(allocated, "ingress: \(lab.ingressIP("web") ?? "-")")
        let learned = await poll(timeout: 60, interval: 0.5) { frr.nextHops("203.0.113.0/32", family: "ipv4") == ["192.0.2.11"] }
        #expect(learned, "next hops: \(frr.nextHops("203.0.113.0/32", family: "ipv4"))")
    }
}
