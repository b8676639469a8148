import Foundation
import Testing
import TestSupport

/// The failure detector end to end, the cases `probesFailoverHandBackFencesAndSpoofing` leaves
/// out (issue 12). Order of events only (logs, who answers), never how long they took:
/// - the owner's link cut (its veth down, so neither its peers nor the API reach it): a survivor
///   gives the timeout verdict and the owner's Lease is broken before the next owner starts
///   announcing; with the link back the cut node stops before it answers again, after the
///   current owner yielded to its claim;
/// - a fresh start with the Services already allocated, then all speakers restarted, then one
///   speaker alone: every VIP is answered without waiting out the hand-off delay, which the
///   speakers are given far longer than the test waits (so only the claims can explain an answer),
///   and each speaker answers only after its claim was granted.
extension SpeakerLayer2InteropTests {
    /// A probe lab: nodes on the bridge with a client, the control plane (which creates the probe
    /// key Secret), the speakers' key from it, `services` with an endpoint each and their VIPs.
    static func probeLab(_ ironlb: String, nodes names: [String], services: Int) async throws -> (InteropLab, [String]) {
        let lab = try InteropLab(ironlb: ironlb)
        do {
            for name in names { try lab.addNode(name, address: probeNodeAddresses[name]!) }
            try lab.addNode("client", address: "192.0.2.50")
            try await lab.startControlPlane(config: config, nodes: names)
            try await lab.enableProbes(nodeAddresses: probeNodeAddresses.filter { names.contains($0.key) })
            for index in 0..<services {
                _ = try lab.api("POST", "/api/v1/namespaces/default/services",
                                InteropLab.json(["metadata": ["name": "svc\(index)"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]]))
                _ = try lab.addEndpoints("svc\(index)", nodes: [names[0]])
            }
            guard await poll(timeout: 60, { (0..<services).allSatisfy { lab.ingressIP("svc\($0)") != nil } }) else { throw LabError.notStarted("IPs for the Services") }
            return (lab, (0..<services).compactMap { lab.ingressIP("svc\($0)") })
        } catch {
            lab.dumpLogs()
            lab.tearDown()
            throw error
        }
    }

    /// The holder of `node`'s speaker Lease, "" when cleared, nil when unreadable.
    static func leaseHolder(_ lab: InteropLab, _ node: String) -> String? {
        guard let lease = (try? lab.api("GET", "/apis/coordination.k8s.io/v1/namespaces/ironlb-system/leases/ironlb-speaker-\(node)"))?.json as? [String: Any],
              let spec = lease["spec"] as? [String: Any] else { return nil }
        return spec["holderIdentity"] as? String ?? ""
    }

    @Test func probesOwnerLinkCutTakenOverOnlyAfterEvidence() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("arping"), .command("curl"), .command("bash")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let names = Self.probeNodes
        let (lab, vips) = try await Self.probeLab(ironlb, nodes: names, services: 1)
        defer { lab.tearDown() }
        let failures = Failures()
        defer { if failures.count > 0 { lab.dumpLogs() } }
        let client = try #require(lab.nodes["client"])
        let macs = Dictionary(uniqueKeysWithValues: names.map { ($0, Self.mac(lab.nodes[$0]!)) })
        let vip = try #require(vips.first)
        func answers() -> Set<String> { Set(Self.arping(client, vip)) }

        // Default Lease timings: the Lease alone would take about 15 s, the verdict about 2.
        for name in names { try lab.startSpeaker(name, address: Self.probeNodeAddresses[name]!) }
        let cut = Self.owner(vip, among: names)
        let survivors = names.filter { $0 != cut }
        let heir = Self.owner(vip, among: survivors)
        failures.check(await poll(timeout: 90, interval: 0.5) { answers() == [macs[cut]!] }, "\(vip): \(answers()), expected \(cut)")

        // The owner's veth down: no probe and no API request reach it any more.
        let cutAt = Date()
        try lab.lan.check(["ip", "link", "set", "p-\(cut)", "down"])
        failures.check(await poll(timeout: 90, interval: 0.3) { answers() == [macs[heir]!] }, "after the link cut of \(cut): \(answers()), expected \(heir)")
        failures.check(Self.leaseHolder(lab, cut) == "", "\(cut)'s Lease is not broken: holder \(String(describing: Self.leaseHolder(lab, cut)))")
        let verdict = survivors.compactMap { Self.logTime(lab.processes[$0], "speaker on \(cut) is dead (no answer", after: cutAt) }.min()
        let takeover = Self.logTime(lab.processes[heir], "nodeAssigned", after: cutAt)
        failures.check(verdict != nil, "no timeout verdict against \(cut)")
        failures.check(takeover != nil, "\(heir) did not log that it started announcing")
        if let verdict, let takeover { failures.check(verdict <= takeover, "\(heir) took over at \(takeover), before the verdict at \(verdict)") }
        failures.check(!survivors.contains { Self.logTime(lab.processes[$0], "speaker on \(cut) is dead (its kernel refused", after: cutAt) != nil },
              "a refusal verdict against \(cut), whose speaker still runs")

        // The link back: the cut node finds its Lease broken and stops, claims, the heir yields,
        // then the cut node answers its VIP again.
        let restoredAt = Date()
        try lab.lan.check(["ip", "link", "set", "p-\(cut)", "up"])
        failures.check(await poll(timeout: 90, interval: 0.3) { answers() == [macs[cut]!] }, "\(cut) did not take \(vip) back: \(answers())")
        let stopped = Self.logTime(lab.processes[cut], "this node stops answering", after: cutAt)
        let yielded = Self.logTime(lab.processes[heir], "yielded to \(cut)'s claim", after: restoredAt)
        let answering = Self.logTime(lab.processes[cut], "this node may answer", after: restoredAt)
        failures.check(stopped != nil && answering != nil && stopped! <= answering!, "\(cut): stopped \(String(describing: stopped)), answering again \(String(describing: answering))")
        failures.check(yielded != nil && answering != nil && yielded! <= answering!, "\(heir) yielded \(String(describing: yielded)), \(cut) answering \(String(describing: answering))")
        for _ in 0..<3 { failures.check(answers() == [macs[cut]!], "\(vip) after the hand-back: \(answers())") }
    }

    @Test func probesFreshStartAnswersWithoutTheHandoffWait() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("arping"), .command("curl"), .command("bash")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let names = Self.probeNodes
        let (lab, vips) = try await Self.probeLab(ironlb, nodes: names, services: 3)
        defer { lab.tearDown() }
        let failures = Failures()
        defer { if failures.count > 0 { lab.dumpLogs() } }
        let client = try #require(lab.nodes["client"])
        let macs = Dictionary(uniqueKeysWithValues: names.map { ($0, Self.mac(lab.nodes[$0]!)) })
        // A hand-off delay of 10 minutes (renew deadline + 4 s): far past every wait below, so a
        // speaker that answers did so because its peers yielded (or it had none), not by waiting.
        let slowTimings = ["--retry-period", "5s", "--renew-deadline", "596s", "--lease-duration", "900s"]

        /// Starts `nodes` together; each VIP ends answered by its owner among them, and each
        /// started speaker answers only after its claim was granted.
        func startAndCheck(_ nodes: [String], _ step: String) async {
            let startedAt = Date()
            for name in nodes { try? lab.startSpeaker(name, address: Self.probeNodeAddresses[name]!, arguments: slowTimings) }
            for vip in vips {
                let expected = macs[Self.owner(vip, among: nodes)]!
                failures.check(await poll(timeout: 120, interval: 0.5) { Set(Self.arping(client, vip)) == [expected] }, "\(step): \(vip) answered by \(Self.arping(client, vip)), expected \(expected)")
            }
            for name in nodes {
                let granted = Self.logTime(lab.processes[name], "yielded to this node's claim", after: startedAt)
                let answering = Self.logTime(lab.processes[name], "this node may answer", after: startedAt)
                failures.check(granted != nil && answering != nil && granted! <= answering!,
                      "\(step), \(name): claim granted \(String(describing: granted)), answering \(String(describing: answering))")
            }
        }
        func stopAll() {
            for name in names where lab.processes[name]?.isRunning == true { lab.processes[name]?.stop(signal: SIGTERM, timeout: 30) }
        }

        // A fresh install: no speaker Lease exists yet.
        for name in names { failures.check(Self.leaseHolder(lab, name) == nil, "\(name)'s Lease exists before any speaker started") }
        await startAndCheck(names, "fresh start")
        // Every speaker restarted (a DaemonSet rollout that replaced all pods at once).
        stopAll()
        for name in names { failures.check(Self.leaseHolder(lab, name) == "", "\(name)'s Lease not released by SIGTERM") }
        await startAndCheck(names, "all restarted")
        // One speaker alone: no other node could be answering, it answers every VIP at once.
        stopAll()
        await startAndCheck([names[0]], "alone")
    }

    /// Nodes whose only InternalIP is IPv6 probe each other over IPv6: the restarted owner's
    /// claim reaches its peer and the yield comes back, a SIGKILL gives the refusal verdict (the
    /// peer's kernel answered an IPv6 ping with ICMPv6 port unreachable), and no timeout verdict
    /// ever comes (every ping was acknowledged).
    @Test func probesOverIPv6WhenNodesHaveOnlyIPv6() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("arping"), .command("curl"), .command("bash")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let names = ["node1", "node2"]
        let v6 = ["node1": "2001:db8::11", "node2": "2001:db8::12"]
        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        let failures = Failures()
        defer { if failures.count > 0 { lab.dumpLogs() } }
        for name in names {
            try lab.addNode(name, address: Self.probeNodeAddresses[name]!)
            try lab.nodes[name]!.check(["ip", "-6", "addr", "add", v6[name]! + "/64", "dev", "eth0", "nodad"])
        }
        try lab.addNode("client", address: "192.0.2.50")
        let client = try #require(lab.nodes["client"])
        let macs = Dictionary(uniqueKeysWithValues: names.map { ($0, Self.mac(lab.nodes[$0]!)) })
        try await lab.startControlPlane(config: Self.config, nodes: names)
        try await lab.enableProbes(nodeAddresses: v6)   // each Node's only InternalIP is IPv6
        _ = try lab.api("POST", "/api/v1/namespaces/default/services",
                        InteropLab.json(["metadata": ["name": "svc0"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]]))
        _ = try lab.addEndpoints("svc0", nodes: ["node1"])
        failures.check(await poll(timeout: 60) { lab.ingressIP("svc0") != nil }, "no IP for svc0")
        let vip = try #require(lab.ingressIP("svc0"))
        for name in names { try lab.startSpeaker(name, address: Self.probeNodeAddresses[name]!) }
        let owner = Self.owner(vip, among: names)
        let other = names.first { $0 != owner }!
        failures.check(await poll(timeout: 90, interval: 0.5) { Set(Self.arping(client, vip)) == [macs[owner]!] }, "\(vip): \(Self.arping(client, vip)), expected \(owner)")

        // SIGKILL: the refusal verdict comes from an IPv6 ping.
        let killedAt = Date()
        lab.processes[owner]?.signal(SIGKILL)
        failures.check(await poll(timeout: 60, interval: 0.2) { Set(Self.arping(client, vip)) == [macs[other]!] }, "after SIGKILL of \(owner): \(Self.arping(client, vip))")
        failures.check(Self.logTime(lab.processes[other], "speaker on \(owner) is dead (its kernel refused", after: killedAt) != nil, "no refusal verdict over IPv6")

        // Started again: its claim goes to the peer over IPv6 and the yield comes back.
        _ = await lab.processes[owner]?.exited(timeout: 30)
        let restartedAt = Date()
        try lab.startSpeaker(owner, address: Self.probeNodeAddresses[owner]!)
        failures.check(await poll(timeout: 90, interval: 0.3) { Set(Self.arping(client, vip)) == [macs[owner]!] }, "\(owner) did not take \(vip) back: \(Self.arping(client, vip))")
        let yielded = Self.logTime(lab.processes[other], "yielded to \(owner)'s claim", after: restartedAt)
        let granted = Self.logTime(lab.processes[owner], "every live peer yielded to this node's claim", after: restartedAt)
        let answering = Self.logTime(lab.processes[owner], "this node may answer", after: restartedAt)
        failures.check(yielded != nil && granted != nil && yielded! <= granted!, "\(other) yielded \(String(describing: yielded)), \(owner)'s claim granted \(String(describing: granted))")
        failures.check(granted != nil && answering != nil && granted! <= answering!, "\(owner): claim granted \(String(describing: granted)), answering \(String(describing: answering))")
        failures.check(!names.contains { Self.count(lab.processes[$0], "is dead (no answer") > 0 }, "a timeout verdict: IPv6 pings went unanswered")
    }
}
