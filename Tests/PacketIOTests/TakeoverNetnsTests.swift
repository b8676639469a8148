import Foundation
import NetPrimitives
import TestSupport
import Testing

/// The takeover announcement moves a real Linux client: the client's neighbour cache points
/// at node 1's MAC for the VIP; node 1's responder is killed and node 2's starts; the
/// gratuitous ARP / unsolicited NA burst alone (no new request from the client) moves the
/// client's `ip neigh` entry to node 2's MAC, and tcpdump in the client sees the burst.
extension L2InteropTests {
struct TakeoverNetnsTests {
    static let node1MAC = "02:00:00:00:02:01"
    static let node2MAC = "02:00:00:00:02:02"

    @Test(arguments: ["192.0.2.50", "2001:db8::50"])
    func burstMovesTheClientsNeighbourEntry(_ vip: String) async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("tcpdump"), .command("ip")) else { return }
        let sw = try NetworkNamespace(prefix: "l2-sw")
        defer { sw.destroy() }
        let client = try NetworkNamespace(prefix: "l2-client")
        defer { client.destroy() }
        let node1 = try NetworkNamespace(prefix: "l2-node1")
        defer { node1.destroy() }
        let node2 = try NetworkNamespace(prefix: "l2-node2")
        defer { node2.destroy() }
        try sw.check(["ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "1", "mcast_querier", "1"])
        try client.link("c0", to: sw, as: "swc")
        try node1.link("n0", to: sw, as: "swn1")
        try node2.link("n0", to: sw, as: "swn2")
        for port in ["swc", "swn1", "swn2"] { try sw.check(["ip", "link", "set", port, "master", "br0"]) }
        try sw.check(["ip", "link", "set", "br0", "up"])
        try node1.check(["ip", "link", "set", "n0", "address", Self.node1MAC])
        try node2.check(["ip", "link", "set", "n0", "address", Self.node2MAC])
        try client.addAddress("192.0.2.10/24", to: "c0")
        try client.addAddress("2001:db8::10/64", to: "c0")
        try node1.addAddress("192.0.2.21/24", to: "n0")
        try node2.addAddress("192.0.2.22/24", to: "n0")

        let path = try L2InteropTests.ResponderNetnsTests.responderPath()
        let first = try ManagedProcess([path, "--interface", "n0", "--vip", vip], namespace: node1)
        defer { first.stop(signal: SIGKILL) }
        #expect(await poll(timeout: 60) { first.stdout.contains("ready") })

        // The client's kernel resolves the VIP (a datagram to the discard port): node 1 answers.
        func neighbour() throws -> String { try client.check(["ip", "neigh", "show", vip, "dev", "c0"]) }
        let resolved = await poll(timeout: 60) {
            _ = try? client.run(["bash", "-c", "echo probe > /dev/udp/\(vip)/9"], timeout: 5)
            return ((try? neighbour()) ?? "").contains(Self.node1MAC)
        }
        #expect(resolved, "\((try? neighbour()) ?? "")")
        // Wait for node 1's own burst to end, and past the client's ARP locktime (1 s).
        #expect(await poll(timeout: 60) { first.stdout.components(separatedBy: "announce").count - 1 == 6 })
        try await Task.sleep(for: .milliseconds(1_500))

        let tcpdump = try ManagedProcess(["tcpdump", "-i", "c0", "-n", "-e", "-l", "--immediate-mode", "arp or icmp6"], namespace: client)
        defer { tcpdump.stop(signal: SIGINT) }
        #expect(await poll(timeout: 60) { tcpdump.stderr.contains("listening on") })

        first.stop(signal: SIGKILL)
        let second = try ManagedProcess([path, "--interface", "n0", "--vip", vip], namespace: node2)
        defer { second.stop(signal: SIGKILL) }
        #expect(await poll(timeout: 60) { ((try? neighbour()) ?? "").contains(Self.node2MAC) }, "\((try? neighbour()) ?? "")")
        #expect(await poll(timeout: 60) { second.stdout.components(separatedBy: "announce").count - 1 == 6 })
        func seen(_ match: (Substring) -> Bool) -> Int {
            tcpdump.stdout.split(separator: "\n").filter { $0.contains(Self.node2MAC) && match($0) }.count
        }
        if vip.contains(":") {
            // Unsolicited NAs to all-nodes (one per round).
            #expect(await poll(timeout: 60) { seen { $0.contains("> 33:33:00:00:00:01") && $0.contains("neighbor advertisement") } >= 6 }, "\(tcpdump.stdout)")
        } else {
            // Gratuitous ARP in both forms each round.
            #expect(await poll(timeout: 60) { seen { $0.contains("Request who-has \(vip) tell \(vip)") } >= 6 }, "\(tcpdump.stdout)")
            #expect(await poll(timeout: 60) { seen { $0.contains("Reply \(vip) is-at \(Self.node2MAC)") } >= 6 }, "\(tcpdump.stdout)")
        }
    }
}
}
