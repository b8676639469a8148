import Foundation
import L2Ownership
import NetPrimitives
import Testing
import TestSupport

/// Layer 2 failover end to end (issues 6 and 7), in one lab with three node namespaces, a client
/// and speakers on the "fast" Lease profile (renew 2 s, deadline 5 s, lease 8 s, hand-off 6 s).
/// The owners are predicted with the same rendezvous hash the speakers use, so every check names
/// the one node that must answer, and the Service IPs are chosen (annotation) so that each check
/// has teeth: node3 would win the first VIP if it were not excluded, and the Local Service's
/// endpoint starts on the node that would lose its VIP under Cluster policy.
///
/// In order: an excluded node never answers (tcpdump in the client sees nothing from it for the
/// VIPs), `externalTrafficPolicy: Local` answers only from the node with a ready endpoint and
/// follows the endpoint, `ndisc6` gets exactly one answer for an IPv6 VIP; the label removed, node3
/// takes the first VIP; the client's `ip neigh` entry, with no traffic from the client, moves to
/// the next owner after SIGTERM and after SIGKILL, each time on a takeover burst that tcpdump sees
/// in full; a deleted Service's VIP goes unanswered.
extension SpeakerLayer2InteropTests {
    static let failoverConfig = """
    address-pools:
    - {name: lan, protocol: layer2, addresses: [192.0.2.200-192.0.2.239]}
    - {name: lan6, protocol: layer2, addresses: ["2001:db8::200/124"]}
    """
    static let fastTimings = ["--retry-period", "2s", "--renew-deadline", "5s", "--lease-duration", "8s"]
    static let excludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers"
    static let nodeAddresses = ["node1": "192.0.2.11", "node2": "192.0.2.12", "node3": "192.0.2.13"]

    /// The rendezvous winner among `nodes` for `ip`, as `OwnerElection.owner` picks it.
    static func owner(_ ip: String, among nodes: [String]) -> String {
        let address = IPAddress(ip)!
        return nodes.max { (OwnerElection.weight(node: $0, address: address), $0) < (OwnerElection.weight(node: $1, address: address), $1) }!
    }

    /// `ndisc6` from the client: the distinct link-layer addresses that answered.
    static func ndisc6(_ client: NetworkNamespace, _ ip: String) -> Set<String> {
        guard let output = try? client.run(["ndisc6", "-m", "-n", "-r", "1", "-w", "1000", ip, "eth0"], timeout: 15) else { return [] }
        return Set(output.stdout.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("Target link-layer address: ") else { return nil }
            return line.dropFirst("Target link-layer address: ".count).trimmingCharacters(in: .whitespaces).lowercased()
        })
    }

    /// The MAC the client's kernel holds for `ip` (nil when it has no usable entry).
    static func neighbour(_ client: NetworkNamespace, _ ip: String) -> String? {
        guard let line = try? client.check(["ip", "neigh", "show", ip, "dev", "eth0"]) else { return nil }
        let fields = line.split(separator: " ")
        guard let index = fields.firstIndex(of: "lladdr"), index + 1 < fields.count else { return nil }
        return fields[index + 1].lowercased()
    }

    /// tcpdump lines (`-e`) sent from `mac`: the second field is the source address.
    static func frames(_ tcpdump: ManagedProcess, from mac: String, after mark: Int = 0) -> [Substring] {
        tcpdump.stdout.split(separator: "\n").dropFirst(mark).filter { line in
            let fields = line.split(separator: " ", maxSplits: 2)
            return fields.count > 1 && fields[1].lowercased() == mac
        }
    }

    static func lineCount(_ tcpdump: ManagedProcess) -> Int { tcpdump.stdout.split(separator: "\n").count }

    static func service(_ name: String, ip: String, local: Bool = false, ipv6: Bool = false) -> String {
        var spec: [String: Any] = ["type": "LoadBalancer", "ports": [["port": 80]]]
        if local { spec["externalTrafficPolicy"] = "Local" }
        if ipv6 { spec["ipFamilies"] = ["IPv6"]; spec["ipFamilyPolicy"] = "SingleStack" }
        return InteropLab.json(["metadata": ["name": name, "annotations": ["ironlb.io/loadBalancerIPs": ip]], "spec": spec])
    }

    static func endpointSlice(service: String, ready: [String: Bool]) -> String {
        InteropLab.json([
            "metadata": ["name": "\(service)-slice", "labels": ["kubernetes.io/service-name": service]],
            "addressType": "IPv4",
            "endpoints": ready.sorted { $0.key < $1.key }.enumerated().map { index, entry in
                ["addresses": ["10.244.0.\(index + 7)"], "nodeName": entry.key, "conditions": ["ready": entry.value]] as [String: Any]
            },
            "ports": [["port": 8080, "protocol": "TCP"]],
        ])
    }

    @Test func failoverExclusionLocalPolicyIPv6AndDeletion() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("arping"), .command("ndisc6"), .command("tcpdump"), .command("curl")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let names = ["node1", "node2", "node3"]
        // VIPs: node3 wins `excludedVIP` among all three; `localVIP` would go to `high` under Cluster
        // policy, and its endpoint starts on `low`.
        let pool = (200...239).map { "192.0.2.\($0)" }
        let excludedVIP = try #require(pool.first { Self.owner($0, among: names) == "node3" })
        let localVIP = try #require(pool.first { $0 != excludedVIP })
        let high = Self.owner(localVIP, among: ["node1", "node2"]), low = high == "node1" ? "node2" : "node1"
        let vip6 = "2001:db8::203"
        let first = Self.owner(excludedVIP, among: ["node1", "node2"]), second = first == "node1" ? "node2" : "node1"

        let lab = try InteropLab(ironlb: ironlb)
        defer { lab.tearDown() }
        // An MLD-snooping bridge with a querier: an NS reaches a node only if it joined the group.
        try lab.lan.check(["ip", "link", "set", "br0", "type", "bridge", "mcast_snooping", "1", "mcast_querier", "1"])
        for name in names { try lab.addNode(name, address: Self.nodeAddresses[name]!) }
        try lab.addNode("client", address: "192.0.2.50")
        let client = try #require(lab.nodes["client"])
        try client.addAddress("2001:db8::50/64", to: "eth0")
        let macs = Dictionary(uniqueKeysWithValues: names.map { ($0, Self.mac(lab.nodes[$0]!)) })
        let tcpdump = try ManagedProcess(["tcpdump", "-i", "eth0", "-n", "-e", "-l", "--immediate-mode", "arp or icmp6"], namespace: client, logDirectory: lab.directory)
        lab.processes["tcpdump"] = tcpdump
        #expect(await poll(timeout: 10) { tcpdump.stderr.contains("listening on") })

        try await lab.startControlPlane(config: Self.failoverConfig, nodes: names)
        let label = InteropLab.json(["metadata": ["labels": [Self.excludeLabel: ""]]])
        #expect(try lab.api("PATCH", "/api/v1/nodes/node3", label, contentType: "application/merge-patch+json").status == 200)
        for name in names { try lab.startSpeaker(name, address: Self.nodeAddresses[name]!, arguments: Self.fastTimings) }
        let failures = Failures()
        defer { if failures.count > 0 { lab.dumpLogs(); print("--- client tcpdump (tail)\n" + tcpdump.stdout.suffix(6000)) } }
        /// `#expect` that also counts, so that the logs are shown once at the end when anything failed.
        func check(_ condition: Bool, _ comment: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
            guard !condition else { return }
            failures.count += 1
            Issue.record(Comment(rawValue: comment()), sourceLocation: sourceLocation)
        }

        for (name, ip, local, ipv6) in [("web", excludedVIP, false, false), ("local", localVIP, true, false), ("web6", vip6, false, true)] {
            check(try lab.api("POST", "/api/v1/namespaces/default/services", Self.service(name, ip: ip, local: local, ipv6: ipv6)).status == 201, "creating \(name)")
        }
        check(try lab.api("POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
                            Self.endpointSlice(service: "local", ready: [low: true, high: false])).status == 201, "creating the EndpointSlice")
        // The Cluster Services' pods run on node3 (excluded: endpoints anywhere will do for Cluster).
        for name in ["web", "web6"] { check(try lab.addEndpoints(name, nodes: ["node3"]) == 201, "creating \(name)'s EndpointSlice") }
        check(await poll(timeout: 60) { lab.ingressIP("web") == excludedVIP && lab.ingressIP("local") == localVIP && lab.ingressIP("web6") == vip6 },
              "requested IPs not allocated: \([lab.ingressIP("web"), lab.ingressIP("local"), lab.ingressIP("web6")])")

        // The excluded node3 would own `excludedVIP`: the best of the others answers, alone.
        var answers: [String] = []
        check(await poll(timeout: 60, interval: 1) { answers = Self.arping(client, excludedVIP); return !answers.isEmpty }, "nobody answered ARP for \(excludedVIP)")
        check(Set(answers) == [macs[first]!], "\(excludedVIP): \(answers); expected \(first) \(macs[first]!)")
        // Local policy: only `low` has a ready endpoint (`high`'s is not ready).
        check(await poll(timeout: 30, interval: 1) { answers = Self.arping(client, localVIP); return !answers.isEmpty }, "nobody answered ARP for \(localVIP)")
        check(Set(answers) == [macs[low]!], "\(localVIP) (Local, endpoint on \(low)): \(answers)")
        // IPv6 through the snooping bridge: exactly one Neighbor Advertisement source.
        var answers6: Set<String> = []
        check(await poll(timeout: 30, interval: 1) { answers6 = Self.ndisc6(client, vip6); return !answers6.isEmpty }, "nobody answered NDP for \(vip6)")
        let owner6 = Self.owner(vip6, among: ["node1", "node2"])
        check(answers6 == [macs[owner6]!], "\(vip6): \(answers6); expected \(owner6)")
        for _ in 0..<2 {
            check(Set(Self.arping(client, excludedVIP)) == [macs[first]!], "\(excludedVIP) changed owner")
            check(Set(Self.arping(client, localVIP)) == [macs[low]!], "\(localVIP) changed owner")
            check(Self.ndisc6(client, vip6) == [macs[owner6]!], "\(vip6) changed owner")
        }

        // The endpoint moves to `high` (ready), `low`'s goes: the answer follows.
        let moved = try lab.api("PATCH", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/local-slice",
                                Self.endpointSlice(service: "local", ready: [high: true]), contentType: "application/merge-patch+json")
        check(moved.status == 200, "moving the endpoint: \(moved)")
        check(await poll(timeout: 30, interval: 0.5) { answers = Self.arping(client, localVIP); return Set(answers) == [macs[high]!] }, "\(localVIP) after the endpoint moved to \(high): \(answers)")

        // Nothing from node3 about any VIP so far (no reply, no gratuitous ARP, no NA).
        let fromNode3 = Self.frames(tcpdump, from: macs["node3"]!).filter { line in
            [excludedVIP, localVIP, vip6].contains { line.contains(" \($0),") || line.contains(" \($0) ") }
        }
        check(fromNode3.isEmpty, "the excluded node3 sent: \(fromNode3)")

        // The label goes: node3 is a candidate again and takes `excludedVIP`.
        let unlabel = InteropLab.json(["metadata": ["labels": [Self.excludeLabel: NSNull()]]])
        check(try lab.api("PATCH", "/api/v1/nodes/node3", unlabel, contentType: "application/merge-patch+json").status == 200, "removing the label")
        check(await poll(timeout: 30, interval: 0.5) { answers = Self.arping(client, excludedVIP); return Set(answers) == [macs["node3"]!] }, "after the label went: \(answers)")

        // The client's kernel resolves the VIP (a datagram to the discard port): node3's MAC.
        check(await poll(timeout: 10, interval: 0.5) {
            _ = try? client.run(["bash", "-c", "echo probe > /dev/udp/\(excludedVIP)/9"], timeout: 5)
            return Self.neighbour(client, excludedVIP) == macs["node3"]
        }, "neighbour entry: \(Self.neighbour(client, excludedVIP) ?? "none")")

        // One takeover: from the stop (signal) on, with no traffic from the client, the entry moves
        // to `next`'s MAC, and tcpdump sees `next`'s whole burst: six rounds of both gratuitous forms.
        func takeover(stopping node: String, with signal: Int32, next: String) async {
            try? await Task.sleep(for: .seconds(1.5))  // past the entry's ARP locktime (1 s)
            let mark = Self.lineCount(tcpdump)
            lab.processes[node]?.signal(signal)
            let moved = await poll(timeout: 30, interval: 0.2) { Self.neighbour(client, excludedVIP) == macs[next] }
            check(moved, "after \(signal == SIGKILL ? "SIGKILL" : "SIGTERM") of \(node): neighbour \(Self.neighbour(client, excludedVIP) ?? "none"), expected \(next) \(macs[next]!)")
            let burst = await poll(timeout: 10, interval: 0.5) {
                let sent = Self.frames(tcpdump, from: macs[next]!, after: mark)
                return sent.filter { $0.contains("Request who-has \(excludedVIP) tell \(excludedVIP),") }.count >= 6
                    && sent.filter { $0.contains("Reply \(excludedVIP) is-at \(macs[next]!),") }.count >= 6
            }
            check(burst, "\(next)'s takeover burst: \(Self.frames(tcpdump, from: macs[next]!, after: mark))")
            check(Set(Self.arping(client, excludedVIP)) == [macs[next]!], "arping after the takeover by \(next)")
        }

        // SIGTERM: node3 releases its Lease; `first` answers after one watch event.
        await takeover(stopping: "node3", with: SIGTERM, next: first)
        check(await lab.processes["node3"]?.exited(timeout: 30) == 0, "node3 did not exit cleanly on SIGTERM")
        // SIGKILL: `first`'s Lease expires and is broken by `second`, which takes over.
        await takeover(stopping: first, with: SIGKILL, next: second)
        // The IPv6 VIP also ends with the only survivor.
        check(await poll(timeout: 30, interval: 1) { Self.ndisc6(client, vip6) == [macs[second]!] }, "\(vip6) after the kills: \(Self.ndisc6(client, vip6))")

        // The Service goes: its VIP is answered by nobody; the other Service's stays.
        check(try lab.api("DELETE", "/api/v1/namespaces/default/services/web").status == 200, "deleting web")
        check(await poll(timeout: 30, interval: 0.5) { Self.arping(client, excludedVIP).isEmpty }, "\(excludedVIP) still answered after the Service was deleted")
        for _ in 0..<2 { check(Self.arping(client, excludedVIP).isEmpty, "\(excludedVIP) answered after the deletion") }
        check(Self.ndisc6(client, vip6) == [macs[second]!], "\(vip6) went with the other Service")
        check(lab.processes[second]?.isRunning == true, "\(second)'s speaker exited")
    }
}

/// How many checks failed in one test (read once, at its end).
final class Failures: @unchecked Sendable {
    var count = 0

    /// Records an issue (and counts it) when `condition` is false.
    func check(_ condition: Bool, _ comment: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
        guard !condition else { return }
        count += 1
        Issue.record(Comment(rawValue: comment()), sourceLocation: sourceLocation)
    }
}
