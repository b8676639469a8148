import Foundation
import L2Ownership
import NetPrimitives
import Testing
import TestSupport

/// The failure detector end to end (issue 12): three speakers with a probe key in node namespaces
/// on a bridge, a client; the fast Lease profile. Each step asserts the order of events (logs,
/// who answers), never how long they took:
/// - start-up: every speaker's claim is granted before it answers, and each VIP has one answerer;
/// - datagrams to the probe port from the client (garbage, and a claim signed with another key)
///   are counted as rejected and change nothing;
/// - SIGKILL: a survivor logs the refusal verdict, then the next owner answers;
/// - the killed speaker started again: the current owner yields to its claim before it answers;
/// - SIGSTOP: a survivor logs the timeout verdict, then the next owner answers; after SIGCONT the
///   frozen speaker logs the stall and stops before it answers again;
/// - the owner's API cut (its LAN up): it stops answering before anyone else answers its VIP, and
///   nobody gives a probe verdict against it (it still answers probes).
extension SpeakerLayer2InteropTests {
    static let probeNodes = ["node1", "node2", "node3"]
    static let probeNodeAddresses = ["node1": "192.0.2.11", "node2": "192.0.2.12", "node3": "192.0.2.13"]

    /// The first JSON log line of `process` containing `text`, with its time; nil if none.
    static func logTime(_ process: ManagedProcess?, _ text: String, after: Date = .distantPast) -> Date? {
        process?.logTime(text, after: after)
    }

    static func count(_ process: ManagedProcess?, _ text: String) -> Int {
        (process?.stderr.components(separatedBy: text).count ?? 1) - 1
    }

    @Test func probesFailoverHandBackFencesAndSpoofing() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("arping"), .command("curl"), .command("bash")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let names = Self.probeNodes
        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        for name in names { try lab.addNode(name, address: Self.probeNodeAddresses[name]!) }
        try lab.addNode("client", address: "192.0.2.50")
        let client = try #require(lab.nodes["client"])
        let macs = Dictionary(uniqueKeysWithValues: names.map { ($0, Self.mac(lab.nodes[$0]!)) })
        try await lab.startControlPlane(config: Self.config, nodes: names)
        try await lab.enableProbes(nodeAddresses: Self.probeNodeAddresses)
        // Three Services; pick one VIP per step by its predicted owner.
        for index in 0..<3 {
            #expect(try lab.api("POST", "/api/v1/namespaces/default/services",
                                InteropLab.json(["metadata": ["name": "svc\(index)"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]])).status == 201)
            // A pod runs (IronLB announces only Services with a usable endpoint).
            #expect(try lab.addEndpoints("svc\(index)", nodes: ["node1"]) == 201)
        }
        #expect(await poll(timeout: 60) { (0..<3).allSatisfy { lab.ingressIP("svc\($0)") != nil } })
        let vips = (0..<3).compactMap { lab.ingressIP("svc\($0)") }
        try #require(vips.count == 3)

        let failures = Failures()
        defer { if failures.count > 0 { lab.dumpLogs() } }
        func check(_ condition: Bool, _ comment: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
            guard !condition else { return }
            failures.count += 1
            Issue.record(Comment(rawValue: comment()), sourceLocation: sourceLocation)
        }
        func answers(_ vip: String) -> Set<String> { Set(Self.arping(client, vip)) }
        func owner(_ vip: String, among alive: [String]) -> String { Self.owner(vip, among: alive) }

        // Start-up: all three at once. Each answers only after its claim was granted (no hand-off
        // wait), and every VIP ends with exactly its predicted owner.
        for name in names { try lab.startSpeaker(name, address: Self.probeNodeAddresses[name]!, arguments: Self.fastTimings) }
        for name in names {
            check(await poll(timeout: 60, interval: 0.2) { Self.logTime(lab.processes[name], "this node may answer") != nil }, "\(name) never answered")
            let granted = Self.logTime(lab.processes[name], "yielded to this node's claim")
            let answering = Self.logTime(lab.processes[name], "this node may answer")
            check(granted != nil && answering != nil && granted! <= answering!, "\(name): claim granted \(String(describing: granted)), answering \(String(describing: answering))")
        }
        for vip in vips {
            let expected = macs[owner(vip, among: names)]!
            check(await poll(timeout: 30, interval: 0.5) { answers(vip) == [expected] }, "\(vip): \(answers(vip)), expected \(expected)")
        }

        // Spoofing from the client: garbage, and a claim signed with a key the cluster does not use.
        let forged = ProbeMessage(kind: .claim, incarnation: UInt64(Date().timeIntervalSince1970 * 1000) + 1_000_000, counter: 1, nonce: 7,
                                  from: "node3", to: "node1").encoded(key: ProbeKey(Array("not-the-cluster-key-0000".utf8))!)
        let yieldsBefore = Self.count(lab.processes["node1"], "yielded to node3's claim")
        let forgedFile = lab.directory + "/forged-claim"
        try Data(forged).write(to: URL(fileURLWithPath: forgedFile))
        for address in Self.probeNodeAddresses.values.sorted() {
            _ = try? client.run(["bash", "-c", "cat \(forgedFile) > /dev/udp/\(address)/7946; printf 'garbage datagram' > /dev/udp/\(address)/7946"], timeout: 5)
        }
        check(await poll(timeout: 20, interval: 0.5) {
            let metrics = (try? client.run(["curl", "-s", "http://192.0.2.11:7473/metrics"], timeout: 5))?.stdout ?? ""
            return metrics.contains("ironlb_layer2_probes_rejected_total{reason=\"badTag\"}") || metrics.contains("reason=\"badTag\"")
        }, "node1 did not count the forged datagrams as rejected")
        for vip in vips { check(answers(vip) == [macs[owner(vip, among: names)]!], "\(vip) changed after the spoofed datagrams: \(answers(vip))") }
        check(Self.count(lab.processes["node1"], "yielded to node3's claim") == yieldsBefore, "node1 yielded to the forged claim")
        check(!names.contains { Self.count(lab.processes[$0], " is dead ") > 0 }, "a probe verdict after the spoofed datagrams")

        // SIGKILL of vip0's owner: a survivor gives the refusal verdict, then the next owner answers.
        let victim = owner(vips[0], among: names)
        let survivors = names.filter { $0 != victim }
        let next = owner(vips[0], among: survivors)
        let killedAt = Date()
        lab.processes[victim]?.signal(SIGKILL)
        check(await poll(timeout: 60, interval: 0.2) { answers(vips[0]) == [macs[next]!] }, "after SIGKILL of \(victim): \(answers(vips[0])), expected \(next)")
        let verdict = survivors.compactMap { Self.logTime(lab.processes[$0], "speaker on \(victim) is dead (its kernel refused", after: killedAt) }.min()
        check(verdict != nil, "no refusal verdict against \(victim)")

        // Started again: the current owner yields to its claim before it answers again.
        _ = await lab.processes[victim]?.exited(timeout: 30)
        let restartedAt = Date()
        try lab.startSpeaker(victim, address: Self.probeNodeAddresses[victim]!, arguments: Self.fastTimings)
        check(await poll(timeout: 60, interval: 0.2) { answers(vips[0]) == [macs[victim]!] }, "\(victim) did not take \(vips[0]) back: \(answers(vips[0]))")
        let yielded = Self.logTime(lab.processes[next], "yielded to \(victim)'s claim", after: restartedAt)
        let answeringAgain = Self.logTime(lab.processes[victim], "this node may answer", after: restartedAt)
        check(yielded != nil && answeringAgain != nil && yielded! <= answeringAgain!, "\(next) yielded \(String(describing: yielded)), \(victim) answering \(String(describing: answeringAgain))")

        // SIGSTOP of vip1's owner: a timeout verdict, the next owner answers; after SIGCONT the frozen
        // speaker notices the stall and stops before it answers again.
        let frozen = owner(vips[1], among: names)
        let others = names.filter { $0 != frozen }
        let heir = owner(vips[1], among: others)
        let frozenAt = Date()
        lab.processes[frozen]?.signal(SIGSTOP)
        check(await poll(timeout: 60, interval: 0.2) { answers(vips[1]) == [macs[heir]!] }, "after SIGSTOP of \(frozen): \(answers(vips[1])), expected \(heir)")
        check(others.contains { Self.logTime(lab.processes[$0], "speaker on \(frozen) is dead (no answer", after: frozenAt) != nil }, "no timeout verdict against \(frozen)")
        let thawedAt = Date()
        lab.processes[frozen]?.signal(SIGCONT)
        check(await poll(timeout: 60, interval: 0.2) { answers(vips[1]) == [macs[frozen]!] }, "\(frozen) did not take \(vips[1]) back: \(answers(vips[1]))")
        let stall = Self.logTime(lab.processes[frozen], "did not run for", after: thawedAt.addingTimeInterval(-1))
        let resumed = Self.logTime(lab.processes[frozen], "this node may answer", after: thawedAt.addingTimeInterval(-1))
        check(stall != nil && resumed != nil && stall! <= resumed!, "\(frozen): stall \(String(describing: stall)), answering \(String(describing: resumed))")

        // The API cut from vip2's owner (a blackhole route to the API server), its LAN up: it stops
        // answering (the fence) before the next owner answers, and nobody gives a probe verdict.
        let cut = owner(vips[2], among: names)
        let rest = names.filter { $0 != cut }
        let successor = owner(vips[2], among: rest)
        let cutAt = Date()
        try lab.nodes[cut]!.check(["ip", "route", "add", "blackhole", "192.0.2.100/32"])
        var both = false
        check(await poll(timeout: 90, interval: 0.3) {
            let now = answers(vips[2])
            if now.count > 1 { both = true }
            return now == [macs[successor]!]
        }, "after the API cut of \(cut): \(answers(vips[2])), expected \(successor)")
        let movedAt = Date()
        check(!both, "two nodes answered \(vips[2]) during the API cut")
        let fenced = Self.logTime(lab.processes[cut], "this node stops answering", after: cutAt)
        check(fenced != nil && fenced! <= movedAt, "\(cut) fenced at \(String(describing: fenced)), the VIP moved by \(movedAt)")
        check(!rest.contains { Self.logTime(lab.processes[$0], "speaker on \(cut) is dead", after: cutAt) != nil }, "a probe verdict against \(cut), which still answers probes")
        _ = try? lab.nodes[cut]!.check(["ip", "route", "del", "blackhole", "192.0.2.100/32"])
    }
}
