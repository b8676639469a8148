import Foundation
import Testing
import TestSupport

/// End to end: KubeSim and the controller in a "control" namespace, two speakers each in its own
/// "node" namespace, and FRR in a "router" namespace, all on one bridge (192.0.2.0/24). The test
/// drives the cluster through KubeSim's HTTP API and checks FRR's RIB.
@Suite(.serialized) struct SpeakerBGPInteropTests {
    static let frrConfig = """
    frr defaults traditional
    hostname rtr
    !
    router bgp 65001
     bgp router-id 192.0.2.1
     no bgp ebgp-requires-policy
     no bgp network import-check
     neighbor 192.0.2.11 remote-as 64512
     neighbor 192.0.2.11 timers 3 9
     neighbor 192.0.2.11 timers connect 2
     neighbor 192.0.2.12 remote-as 64512
     neighbor 192.0.2.12 timers 3 9
     neighbor 192.0.2.12 timers connect 2
     !
     address-family ipv4 unicast
      maximum-paths 8
      neighbor 192.0.2.11 activate
      neighbor 192.0.2.12 activate
     exit-address-family
    !
    """

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

    static func json(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    @Test func servicesAreAdvertisedByEveryNodeAndWithdrawn() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("/usr/lib/frr/bgpd"), .command("/usr/bin/vtysh"), .command("curl")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        try lab.addNode("node1", address: "192.0.2.11")
        try lab.addNode("node2", address: "192.0.2.12")
        lab.frr = try FRRRouter(namespace: lab.rtr, config: Self.frrConfig)

        let simDirectory = lab.directory + "/kubesim"
        try lab.start("kubesim", [ironlb, "kubesim", "--host", "192.0.2.100", "--port", "6443", "--insecure", "--directory", simDirectory], in: lab.ctl)
        #expect(await poll(timeout: 60) { FileManager.default.fileExists(atPath: simDirectory + "/token") })
        lab.token = try String(contentsOfFile: simDirectory + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(await poll(timeout: 60) { ((try? lab.api("GET", "/api/v1/namespaces"))?.status ?? 0) == 200 })

        try lab.api("POST", "/api/v1/namespaces", Self.json(["metadata": ["name": "ironlb-system"]]))
        #expect(try lab.api("POST", "/api/v1/namespaces/ironlb-system/configmaps",
                            Self.json(["metadata": ["name": "config"], "data": ["config": Self.ironlbConfig]])).status == 201)
        for node in ["node1", "node2"] {
            #expect(try lab.api("POST", "/api/v1/nodes", Self.json(["metadata": ["name": node, "labels": ["kubernetes.io/hostname": node]]])).status == 201)
        }
        let kubeconfig = simDirectory + "/kubeconfig"
        try lab.start("controller", [ironlb, "controller", "--kubeconfig", kubeconfig, "--no-leader-elect", "--metrics-address", "192.0.2.100:7472"], in: lab.ctl)
        for (node, address) in [("node1", "192.0.2.11"), ("node2", "192.0.2.12")] {
            try lab.start(node, [ironlb, "speaker", "--kubeconfig", kubeconfig, "--node-name", node, "--metrics-address", "\(address):7473"], in: lab.nodes[node]!)
        }
        let frr = try #require(lab.frr)
        let sessionsUp = await poll(timeout: 90, interval: 0.5) {
            frr.neighborState("192.0.2.11") == "Established" && frr.neighborState("192.0.2.12") == "Established"
        }
        #expect(sessionsUp, "sessions: \(frr.neighborState("192.0.2.11") ?? "-"), \(frr.neighborState("192.0.2.12") ?? "-")")

        // A Service gets an IP, and FRR learns it from both nodes (ECMP).
        #expect(try lab.api("POST", "/api/v1/namespaces/default/services",
                            Self.json(["metadata": ["name": "web"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]])).status == 201)
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

        // A planned stop (SIGTERM) withdraws that node's route at once; the other node's stays.
        let node2 = try #require(lab.processes["node2"])
        node2.stop(signal: SIGTERM, timeout: 30)
        let onlyNode1 = await poll(timeout: 30, interval: 0.25) { frr.nextHops("203.0.113.0/32", family: "ipv4") == ["192.0.2.11"] }
        #expect(onlyNode1, "next hops after SIGTERM: \(frr.nextHops("203.0.113.0/32", family: "ipv4"))")

        // Deleting the Service withdraws the route everywhere.
        #expect(try lab.api("DELETE", "/api/v1/namespaces/default/services/web").status == 200)
        let withdrawn = await poll(timeout: 60, interval: 0.25) { frr.paths("203.0.113.0/32", family: "ipv4").isEmpty }
        #expect(withdrawn)
        if !withdrawn || !bothNodes || !sessionsUp {
            for (name, process) in lab.processes { print("--- \(name) stderr (tail)\n" + String(process.stderr.suffix(3000))) }
        }
    }
}
