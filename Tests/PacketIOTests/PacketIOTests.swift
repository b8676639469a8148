import Foundation
import LinkWire
import NetPrimitives
import PacketIO
import TestSupport
import Testing

struct MembershipCounterTests {
    @Test func joinsOnFirstAndLeavesOnLast() {
        var counter = MembershipCounter<String>()
        var results: [Bool] = []
        results.append(counter.add("ff02::1:ff00:50"))
        results.append(counter.add("ff02::1:ff00:50"))
        results.append(counter.add("ff02::1:ff00:51"))
        results.append(counter.remove("ff02::1:ff00:50"))
        results.append(counter.remove("ff02::1:ff00:50"))
        results.append(counter.remove("ff02::1:ff00:50"))
        #expect(results == [true, false, true, false, true, false])
        #expect(counter.keys == ["ff02::1:ff00:51"])
    }
}

struct InterfaceDiscoveryTests {
    @Test func findsLoopback() throws {
        let interfaces = try InterfaceDiscovery.scan()
        let lo = try #require(interfaces.first { $0.name == "lo" })
        #expect(lo.isLoopback)
        #expect(!lo.isBroadcastCapable)
        #expect(lo.addresses.contains(IPPrefix("127.0.0.0/8")!))
    }

    @Test func unknownInterfaceIsAnError() {
        #expect(throws: PacketIOError.self) { try PacketSocket(interface: "no-such-if0") }
    }
}

/// Layer 2 interoperability tests (real arping, ndisc6, tcpdump and Linux clients in network
/// namespaces), one at a time: each creates several namespaces and processes, and
/// TestSupport's namespace probe is named per process. scripts/test-all runs suites named
/// "Interop" in their own process.
@Suite(.serialized)
enum L2InteropTests {}

/// The responder on a real wire: a client and a node namespace on a bridge that snoops
/// MLD (so an NS reaches the node only if it joined the solicited-node group), the
/// l2-responder executable in the node, arping and ndisc6 in the client.
extension L2InteropTests {
struct ResponderNetnsTests {
    static let nodeMAC = "02:00:00:00:02:02"

    struct NotBuilt: Error, CustomStringConvertible {
        var description: String { "l2-responder is not built next to the tests; run swift build first" }
    }

    static func responderPath() throws -> String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("l2-responder").path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/debug/l2-responder").path,
        ]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw NotBuilt()
        }
        return path
    }

    @Test func answersOnlyForItsVIPsAndSurvivesMalformedFrames() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("arping"), .command("ndisc6"), .command("ip")) else { return }
        let sw = try NetworkNamespace(prefix: "l2-sw")
        defer { sw.destroy() }
        let client = try NetworkNamespace(prefix: "l2-client")
        defer { client.destroy() }
        let node = try NetworkNamespace(prefix: "l2-node")
        defer { node.destroy() }
        try sw.check(["ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "1", "mcast_querier", "1"])
        try client.link("c0", to: sw, as: "swc")
        try node.link("n0", to: sw, as: "swn")
        for port in ["swc", "swn"] { try sw.check(["ip", "link", "set", port, "master", "br0"]) }
        try sw.check(["ip", "link", "set", "br0", "up"])
        try node.check(["ip", "link", "set", "n0", "address", Self.nodeMAC])
        try client.addAddress("192.0.2.10/24", to: "c0")
        try client.addAddress("2001:db8::10/64", to: "c0")
        try node.addAddress("192.0.2.20/24", to: "n0")
        try node.addAddress("2001:db8::20/64", to: "n0")

        let responder = try ManagedProcess([try Self.responderPath(), "--interface", "n0", "--vip", "192.0.2.50", "--vip", "2001:db8::50"], namespace: node)
        defer { responder.stop() }
        #expect(await poll(timeout: 60) { responder.stdout.contains("ready n0 \(Self.nodeMAC)") }, "\(responder.stderr)")

        // arping: every request answered, by the node's MAC only.
        let arping = try client.run(["arping", "-c", "3", "-w", "5", "-i", "c0", "192.0.2.50"], timeout: 15)
        let replies = arping.stdout.split(separator: "\n").filter { $0.contains("bytes from") }
        #expect(replies.count == 3, "\(arping.stdout)")
        #expect(replies.allSatisfy { $0.contains("\(Self.nodeMAC) (192.0.2.50)") }, "\(arping.stdout)")

        // ndisc6 through the MLD-snooping bridge.
        let ndisc = try client.run(["ndisc6", "-1", "-w", "1000", "2001:db8::50", "c0"], timeout: 15)
        #expect(ndisc.stdout.contains("Target link-layer address: \(Self.nodeMAC.uppercased())") || ndisc.stdout.lowercased().contains(Self.nodeMAC), "\(ndisc.stdout)")

        // An address it does not own: no answer.
        let unowned = try client.run(["arping", "-c", "1", "-w", "2", "-i", "c0", "192.0.2.51"], timeout: 10)
        #expect(unowned.status != 0)
        #expect(!unowned.stdout.contains("bytes from"))

        // Malformed frames on the wire: counted by reason, no crash, still answering.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("l2-inject-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var files: [String] = []
        for (name, bytes) in Self.malformedFrames() {
            let path = directory.appendingPathComponent(name + ".hex").path
            try bytes.map { String(format: "%02x", $0) }.joined(separator: " ").write(toFile: path, atomically: true, encoding: .utf8)
            files.append(path)
        }
        try client.check([try Self.responderPath(), "inject", "c0"] + files)
        #expect(await poll(timeout: 60) {
            let out = responder.stdout
            return out.contains("drop malformed") && out.contains("drop badChecksum") && out.contains("drop hopLimitNot255")
        }, "\(responder.stdout)")
        #expect(responder.isRunning)
        let again = try client.run(["arping", "-c", "1", "-w", "3", "-i", "c0", "192.0.2.50"], timeout: 10)
        #expect(again.stdout.contains("\(Self.nodeMAC) (192.0.2.50)"), "\(again.stdout)")
        // The takeover burst went out: six rounds.
        #expect(await poll(timeout: 60) { responder.stdout.components(separatedBy: "announce ").count - 1 == 6 })
    }

    /// An NS for 2001:db8::50 from the client, broken three ways, and a truncated ARP request.
    static func malformedFrames() -> [(String, [UInt8])] {
        let client = MACAddress("02:00:00:00:01:01")!
        let target = IPv6Address("2001:db8::50")!
        let ns = LinkFrame(
            ethernet: EthernetHeader(destination: MACAddress(ipv6Multicast: target.solicitedNodeMulticast), source: client, etherType: .ipv6),
            packet: .ndp(NDPPacket(
                ipv6: IPv6Header(source: IPv6Address("2001:db8::10")!, destination: target.solicitedNodeMulticast),
                message: .solicitation(NeighborSolicitation(target: target, options: [.sourceLinkLayerAddress(client)]))
            ))
        ).bytes
        var hopLimit = ns
        hopLimit[21] = 64
        var checksum = ns
        checksum[57] ^= 0x55
        let arp = LinkAnnouncement.gratuitousARP(.request, address: IPv4Address("192.0.2.10")!, mac: client).bytes
        return [("ns-hop-limit-64", hopLimit), ("ns-bad-checksum", checksum), ("arp-truncated", Array(arp.prefix(30)))]
    }
}
}
