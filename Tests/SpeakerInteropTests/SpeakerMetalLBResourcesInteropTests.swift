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
