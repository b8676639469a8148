import Foundation
import Testing
import TestSupport

/// End to end, layer 2: KubeSim and the controller in a control namespace, two speakers in node
/// namespaces and a client namespace on one bridge. The client's `arping` gets exactly one
/// answer, from the owner's MAC, and a stopped owner's VIP moves to the other node.
@Suite(.serialized) struct SpeakerLayer2InteropTests {
    static let config = """
    address-pools:
    - {name: lan, protocol: layer2, addresses: [192.0.2.200-192.0.2.210]}
    """

    /// `arping` from the client: the MACs that answered (empty when nobody did).
    static func arping(_ client: NetworkNamespace, _ ip: String) -> [String] {
        guard let output = try? client.run(["arping", "-c", "1", "-w", "2", "-I", "eth0", ip], timeout: 10) else { return [] }
        // "Unicast reply from 192.0.2.200 [02:AA:..]  0.8ms" (iputils) or "... from 192.0.2.200 (02:aa:...)"
        let pattern = try! NSRegularExpression(pattern: #"([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})"#)
        let text = output.stdout
        return pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range(at: 1), in: text).map { text[$0].lowercased() }
        }
    }

    static func mac(_ namespace: NetworkNamespace) -> String {
        ((try? namespace.check(["cat", "/sys/class/net/eth0/address"])) ?? "").trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    @Test func exactlyOneNodeAnswersAndTheVIPMovesOnStop() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("arping"), .command("curl")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        try lab.addNode("node1", address: "192.0.2.11")
        try lab.addNode("node2", address: "192.0.2.12")
        try lab.addNode("client", address: "192.0.2.50")
        let client = try #require(lab.nodes["client"])
        try await lab.startControlPlane(config: Self.config, nodes: ["node1", "node2"])
        try lab.startSpeaker("node1", address: "192.0.2.11")
        try lab.startSpeaker("node2", address: "192.0.2.12")
        let macs = ["node1": Self.mac(lab.nodes["node1"]!), "node2": Self.mac(lab.nodes["node2"]!)]

        #expect(try lab.api("POST", "/api/v1/namespaces/default/services",
                            InteropLab.json(["metadata": ["name": "web"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]])).status == 201)
        #expect(try lab.addEndpoints("web", nodes: ["node1"]) == 201)      // a pod runs: the Service may be answered
        #expect(await poll(timeout: 60) { lab.ingressIP("web") == "192.0.2.200" })

        // Speakers answer once their Lease is held past the hand-off delay (about 12 s).
        var answers: [String] = []
        let answered = await poll(timeout: 90, interval: 1) {
            answers = Self.arping(client, "192.0.2.200")
            return !answers.isEmpty
        }
        #expect(answered, "nobody answered ARP for the VIP")
        #expect(Set(answers).count == 1, "more than one MAC answered: \(answers)")
        let ownerMAC = try #require(answers.first)
        let owner = try #require(macs.first { $0.value == ownerMAC }?.key, "the answer \(ownerMAC) is from neither node \(macs)")
        let other = owner == "node1" ? "node2" : "node1"
        // Several more probes: always the same single owner.
        for _ in 0..<3 { #expect(Set(Self.arping(client, "192.0.2.200")) == [ownerMAC]) }

        // A planned stop releases the owner's Lease; the other node takes over.
        lab.processes[owner]?.stop(signal: SIGTERM, timeout: 30)
        var after: [String] = []
        let moved = await poll(timeout: 60, interval: 1) {
            after = Self.arping(client, "192.0.2.200")
            return after == [macs[other]!]
        }
        #expect(moved, "after stopping \(owner), arping saw \(after)")
        if !moved || !answered { lab.dumpLogs() }
    }
}
