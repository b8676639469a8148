import LinkWire
import NIOCore
import NetPrimitives
import Testing

/// The responder answers the captured requests exactly as the node's Linux kernel answered
/// them, and the announcements match the kernel's own.
struct KernelComparisonTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var request: String
        var kernelReply: String
        var testDescription: String { "\(request) → \(kernelReply)" }
    }

    /// arping pads its request to 58 bytes; the kernel's reply (and ours) is 42, the NIC pads.
    static let cases = [
        Case(request: "arp-request-arping", kernelReply: "arp-reply-kernel-to-arping"),
        Case(request: "arp-request-kernel", kernelReply: "arp-reply-kernel"),
        Case(request: "ns-ndisc6", kernelReply: "na-solicited-kernel-to-ndisc6"),
        Case(request: "ns-kernel", kernelReply: "na-solicited-kernel"),
    ]

    @Test(arguments: cases)
    func replyIsByteIdenticalToTheKernels(_ c: Case) throws {
        let decision = Responder.decide(try Fixture.buffer(c.request), arrivedOn: Fixture.node, owned: Fixture.owned)
        guard case .reply(let reply) = decision else {
            Issue.record("no reply: \(decision)")
            return
        }
        let kernel = try LinkFrame(decoding: Fixture.bytes(c.kernelReply))
        // Field by field first, so that a failure names the field.
        #expect(reply.ethernet == kernel.ethernet)
        switch (reply.packet, kernel.packet) {
        case (.arp(let ours), .arp(let theirs)):
            #expect(ours.operation == theirs.operation)
            #expect(ours.senderHardwareAddress == theirs.senderHardwareAddress)
            #expect(ours.senderProtocolAddress == theirs.senderProtocolAddress)
            #expect(ours.targetHardwareAddress == theirs.targetHardwareAddress)
            #expect(ours.targetProtocolAddress == theirs.targetProtocolAddress)
        case (.ndp(let ours), .ndp(let theirs)):
            #expect(ours.ipv6 == theirs.ipv6)
            #expect(ours.message == theirs.message)
        default:
            Issue.record("reply \(reply.packet) is not of the kernel's kind \(kernel.packet)")
        }
        #expect(reply.bytes == (try Fixture.bytes(c.kernelReply)))
    }

    @Test func unsolicitedNAIsByteIdenticalToTheKernels() throws {
        let frame = LinkAnnouncement.unsolicitedNA(address: Fixture.nodeV6New, mac: Fixture.nodeMAC)
        #expect(frame.bytes == (try Fixture.bytes("na-unsolicited-kernel")))
    }

    @Test func gratuitousARPRequestIsByteIdenticalToTheKernels() throws {
        let frame = LinkAnnouncement.gratuitousARP(.request, address: Fixture.nodeV4, mac: Fixture.nodeMAC)
        #expect(frame.bytes == (try Fixture.bytes("garp-request-kernel")))
    }

    /// arping -U -P fills the target hardware address with the broadcast address; RFC 5944
    /// §4.6 (and IronLB) use the sender's own. Everything else matches.
    @Test(arguments: [(nil, "garp-reply-arping"), (VLANTag(id: 100), "vlan-garp-reply-arping")] as [(VLANTag?, String)])
    func gratuitousARPReplyMatchesArpingsButForTheTargetHardwareAddress(_ vlan: VLANTag?, _ file: String) throws {
        let ours = LinkAnnouncement.gratuitousARP(.reply, address: Fixture.nodeV4, mac: Fixture.nodeMAC, vlan: vlan)
        var theirs = try LinkFrame(decoding: Fixture.bytes(file))
        guard case .arp(var arp) = theirs.packet else {
            Issue.record("not ARP")
            return
        }
        #expect(arp.targetHardwareAddress == .broadcast)
        arp.targetHardwareAddress = Fixture.nodeMAC
        theirs.packet = .arp(arp)
        theirs.trailer = []
        #expect(ours == theirs)
    }

    @Test func announcementFramesPerFamily() {
        let v4 = LinkAnnouncement.frames(for: .v4(Fixture.nodeV4), mac: Fixture.nodeMAC)
        #expect(v4.count == 2)
        #expect(v4.map { frame -> ARPOperation? in
            if case .arp(let arp) = frame.packet { return arp.operation }
            return nil
        } == [.request, .reply])
        #expect(v4.allSatisfy { frame in
            if case .arp(let arp) = frame.packet { return arp.isAnnouncement && frame.ethernet.destination.isBroadcast }
            return false
        })
        let v6 = LinkAnnouncement.frames(for: .v6(Fixture.nodeV6), mac: Fixture.nodeMAC, vlan: VLANTag(id: 7, priority: 5))
        #expect(v6 == [LinkAnnouncement.unsolicitedNA(address: Fixture.nodeV6, mac: Fixture.nodeMAC, vlan: VLANTag(id: 7, priority: 5))])
        #expect(v6.first?.ethernet.vlan?.tci == 0xa007)
    }

    /// Generated frames decode back to themselves (the encoder and decoder agree).
    @Test func generatedFramesRoundTrip() throws {
        var frames = LinkAnnouncement.frames(for: .v4(Fixture.nodeV4), mac: Fixture.nodeMAC, vlan: VLANTag(id: 4095, priority: 7, dropEligible: true))
        frames += LinkAnnouncement.frames(for: .v6(Fixture.nodeV6), mac: Fixture.nodeMAC)
        for file in Fixture.all {
            if case .reply(let reply) = Responder.decide(try Fixture.buffer(file), arrivedOn: Fixture.node, owned: Fixture.owned) {
                frames.append(reply)
            }
        }
        #expect(frames.count > 4)
        for frame in frames {
            #expect(try LinkFrame(decoding: frame.bytes) == frame)
        }
    }
}
