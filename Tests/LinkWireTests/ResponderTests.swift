import LinkWire
import NIOCore
import NetPrimitives
import Testing

/// Frames derived from the captures by a documented change, and what the responder must do
/// with each: the malformed corpus (every decode error), every RFC 4861 §7.1.1 / RFC 826
/// validation rule, addressing, VLANs, ownership and interface checks.
struct ResponderTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var interface: ResponderInterface = Fixture.node
        var decodeError: LinkDecodeError.Code? = nil
        var drop: DropReason
        var build: @Sendable () throws -> [UInt8]
        var testDescription: String { name }
    }

    static func f(_ name: String) throws -> [UInt8] { try Fixture.bytes(name) }
    /// ARP request from the client's kernel for the node's address (42 bytes).
    static func arpRequest() throws -> [UInt8] { try f("arp-request-kernel") }
    /// NS from the client's kernel for 2001:db8::20 (86 bytes; ICMPv6 from offset 54).
    static func ns() throws -> [UInt8] { try f("ns-kernel") }

    static func tagged(_ bytes: [UInt8], tci: UInt16) -> [UInt8] {
        Array(bytes[0..<12]) + [0x81, 0x00, UInt8(tci >> 8), UInt8(tci & 0xff)] + Array(bytes[12...])
    }

    static func setPayloadLength(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        bytes.patched(at: 18, UInt8(length >> 8), UInt8(length & 0xff))
    }

    /// A third host's interface, for frames the node itself sent.
    static let otherHost = ResponderInterface(name: "n0", mac: MACAddress("02:00:00:00:03:03")!)

    static let cases: [Case] = [
        // Decode failures: the malformed corpus.
        Case(name: "empty", decodeError: .truncated, drop: .malformed) { [] },
        Case(name: "13 bytes of Ethernet header", decodeError: .truncated, drop: .malformed) { Array(try arpRequest().prefix(13)) },
        Case(name: "tag cut short", decodeError: .truncated, drop: .malformed) { Array(tagged(try arpRequest(), tci: 100).prefix(16)) },
        Case(name: "ARP cut at 41 bytes", decodeError: .truncated, drop: .malformed) { Array(try arpRequest().prefix(41)) },
        Case(name: "ARP hardware length 8", decodeError: .unsupportedARPFormat, drop: .malformed) { try arpRequest().patched(at: 18, 8) },
        Case(name: "ARP protocol length 16", decodeError: .unsupportedARPFormat, drop: .malformed) { try arpRequest().patched(at: 19, 16) },
        Case(name: "ARP protocol type IPv6", decodeError: .unsupportedARPFormat, drop: .malformed) { try arpRequest().patched(at: 16, 0x86, 0xdd) },
        Case(name: "ARP hardware type 7", decodeError: .unsupportedARPFormat, drop: .malformed) { try arpRequest().patched(at: 14, 0, 7) },
        Case(name: "EtherType IPv4", decodeError: .unsupportedEtherType, drop: .notARPOrNS) { try arpRequest().patched(at: 12, 0x08, 0x00) },
        Case(name: "IEEE 802.3 length field", decodeError: .unsupportedEtherType, drop: .notARPOrNS) { try arpRequest().patched(at: 12, 0x00, 0x1c) },
        Case(name: "QinQ (two tags)", decodeError: .unsupportedEtherType, drop: .notARPOrNS) { tagged(tagged(try arpRequest(), tci: 100), tci: 200) },
        Case(name: "IPv6 EtherType, version 4", decodeError: .notIPv6, drop: .malformed) { try ns().patched(at: 14, 0x40) },
        Case(name: "IPv6 EtherType, version 4, cut short", decodeError: .notIPv6, drop: .malformed) { Array(try ns().patched(at: 14, 0x45).prefix(30)) },
        Case(name: "IPv6 header cut at 50 bytes", decodeError: .truncated, drop: .malformed) { Array(try ns().prefix(50)) },
        Case(name: "next header UDP", decodeError: .unsupportedNextHeader, drop: .notARPOrNS) { try ns().patched(at: 20, 17) },
        Case(name: "next header hop-by-hop options", decodeError: .unsupportedNextHeader, drop: .notARPOrNS) { try ns().patched(at: 20, 0) },
        Case(name: "payload length past the frame", decodeError: .truncated, drop: .malformed) { setPayloadLength(try ns(), 33) },
        Case(name: "payload length 65535", decodeError: .truncated, drop: .malformed) { setPayloadLength(try ns(), 65535) },
        Case(name: "payload length 23 (RFC 4861 §7.1.1 needs 24)", decodeError: .messageTooShort, drop: .malformed) { setPayloadLength(try ns(), 23) },
        Case(name: "payload length 0", decodeError: .messageTooShort, drop: .malformed) { setPayloadLength(try ns(), 0) },
        Case(name: "ICMPv6 echo request", decodeError: .notNeighborDiscovery, drop: .notARPOrNS) { try ns().patched(at: 54, 128).withICMPv6ChecksumFixed() },
        Case(name: "ICMPv6 router solicitation", decodeError: .notNeighborDiscovery, drop: .notARPOrNS) { try ns().patched(at: 54, 133).withICMPv6ChecksumFixed() },
        Case(name: "checksum off by one", decodeError: .badChecksum, drop: .badChecksum) { let b = try ns(); return b.patched(at: 57, b[57] &+ 1) },
        Case(name: "target changed, checksum not", decodeError: .badChecksum, drop: .badChecksum) { try ns().patched(at: 77, 0x21) },
        Case(name: "checksum zero", decodeError: .badChecksum, drop: .badChecksum) { try ns().patched(at: 56, 0, 0) },
        Case(name: "option length 0", decodeError: .badOptionLength, drop: .malformed) { try ns().patched(at: 79, 0).withICMPv6ChecksumFixed() },
        Case(name: "option length past the message", decodeError: .badOptionLength, drop: .malformed) { try ns().patched(at: 79, 2).withICMPv6ChecksumFixed() },
        Case(name: "option length 255", decodeError: .badOptionLength, drop: .malformed) { try ns().patched(at: 79, 255).withICMPv6ChecksumFixed() },
        Case(name: "one stray byte after the options", decodeError: .badOptionLength, drop: .malformed) {
            setPayloadLength(try ns() + [0], 33).withICMPv6ChecksumFixed()
        },
        Case(name: "unknown option of length 0 after the SLLA", decodeError: .badOptionLength, drop: .malformed) {
            setPayloadLength(try ns() + [99, 0, 0, 0, 0, 0, 0, 0], 40).withICMPv6ChecksumFixed()
        },
        Case(name: "source link-layer option two units long", decodeError: .badLinkLayerAddressOption, drop: .malformed) {
            setPayloadLength(try ns().patched(at: 79, 2) + [0, 0, 0, 0, 0, 0, 0, 0], 40).withICMPv6ChecksumFixed()
        },

        // RFC 4861 §7.1.1 validity.
        Case(name: "hop limit 64", drop: .hopLimitNot255) { try ns().patched(at: 21, 64) },
        Case(name: "hop limit 254 (one router away)", drop: .hopLimitNot255) { try ns().patched(at: 21, 254) },
        Case(name: "ICMP code 1", drop: .invalidRequest) { try ns().patched(at: 55, 1).withICMPv6ChecksumFixed() },
        Case(name: "multicast target", drop: .invalidRequest) { try ns().patched(at: 62, 0xff, 0x02).withICMPv6ChecksumFixed() },
        Case(name: "multicast source", drop: .invalidRequest) { try ns().patched(at: 22, 0xff, 0x02).withICMPv6ChecksumFixed() },
        Case(name: "DAD probe with a source link-layer option", drop: .invalidRequest) {
            try ns().patched(at: 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0).withICMPv6ChecksumFixed()
        },
        Case(name: "DAD probe to all-nodes", interface: otherHost, drop: .invalidRequest) {
            try f("ns-dad-kernel").patched(at: 0, 0x33, 0x33, 0, 0, 0, 1).patched(at: 51, 0, 0, 1).withICMPv6ChecksumFixed()
        },
        Case(name: "multicast source link-layer address", drop: .invalidRequest) { try ns().patched(at: 80, 0x03).withICMPv6ChecksumFixed() },

        // Addressing.
        Case(name: "NS to another target's solicited-node group", drop: .notForUs) {
            try ns().patched(at: 5, 0x99).patched(at: 53, 0x99).withICMPv6ChecksumFixed()
        },
        Case(name: "NS whose MAC group does not match its IPv6 group", drop: .notForUs) { try ns().patched(at: 5, 0x99) },
        Case(name: "unicast NS to another MAC", drop: .notForUs) {
            try ns().patched(at: 0, 0x02, 0, 0, 0, 0x09, 0x09).patched(at: 38, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20)
                .withICMPv6ChecksumFixed()
        },
        Case(name: "ARP request unicast to another MAC", drop: .notForUs) { try arpRequest().patched(at: 0, 0x02, 0, 0, 0, 0x09, 0x09) },
        Case(name: "ARP sender hardware address broadcast", drop: .invalidRequest) { try arpRequest().patched(at: 22, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) },
        Case(name: "ARP sender hardware address zero", drop: .invalidRequest) { try arpRequest().patched(at: 22, 0, 0, 0, 0, 0, 0) },
        Case(name: "frame from this interface itself", drop: .ownFrame) { try arpRequest().patched(at: 6, 0x02, 0, 0, 0, 0x02, 0x02) },

        // Not questions.
        Case(name: "ARP reply", interface: otherHost, drop: .notARPOrNS) { try f("arp-reply-kernel") },
        Case(name: "ARP operation 3 (RARP request)", drop: .notARPOrNS) { try arpRequest().patched(at: 21, 3) },
        Case(name: "Neighbor Advertisement", interface: otherHost, drop: .notARPOrNS) { try f("na-solicited-kernel") },
        Case(name: "unsolicited Neighbor Advertisement", interface: otherHost, drop: .notARPOrNS) { try f("na-unsolicited-kernel") },
        Case(name: "gratuitous ARP request (arping)", interface: otherHost, drop: .announcement) {
            try f("garp-request-arping")
        },
        Case(name: "gratuitous ARP request (kernel)", interface: otherHost, drop: .announcement) {
            try f("garp-request-kernel")
        },

        // VLANs.
        Case(name: "tagged frame on an untagged interface", drop: .vlanMismatch) { try f("vlan-arp-request-arping") },
        Case(name: "untagged frame on a VLAN 100 interface", interface: .init(name: "n0", mac: Fixture.nodeMAC, vlanID: 100), drop: .vlanMismatch) {
            try arpRequest()
        },
        Case(name: "VLAN 101 frame on a VLAN 100 interface", interface: .init(name: "n0", mac: Fixture.nodeMAC, vlanID: 100), drop: .vlanMismatch) {
            tagged(try arpRequest(), tci: 101)
        },

        // Ownership.
        Case(name: "ARP for an address not owned", drop: .notOwned) { try arpRequest().patched(at: 41, 0x15) },
        Case(name: "ARP on an interface the VIP is not allowed on", interface: .init(name: "eth1", mac: Fixture.nodeMAC), drop: .wrongInterface) {
            try arpRequest()
        },
        Case(name: "NS for an address not owned", drop: .notOwned) {
            try ns().patched(at: 5, 0x22).patched(at: 53, 0x22).patched(at: 77, 0x22).withICMPv6ChecksumFixed()
        },
        Case(name: "NS on an interface the VIP is not allowed on", interface: .init(name: "eth1", mac: Fixture.nodeMAC), drop: .wrongInterface) {
            try ns()
        },
    ]

    @Test(arguments: cases)
    func dropsWithItsReason(_ c: Case) throws {
        let bytes = try c.build()
        var buffer = ByteBuffer(bytes: bytes)
        do {
            _ = try buffer.readLinkFrame()
            #expect(c.decodeError == nil, "decoded, expected \(String(describing: c.decodeError))")
        } catch {
            #expect(error.code == c.decodeError)
            #expect(buffer.readableBytes == bytes.count, "a failed read moved the reader index")
        }
        #expect(Responder.decide(ByteBuffer(bytes: bytes), arrivedOn: c.interface, owned: Fixture.owned) == .drop(c.drop))
    }

    @Test func theCorpusCoversEveryDecodeErrorAndDropReason() {
        #expect(Set(Self.cases.compactMap(\.decodeError)) == Set(LinkDecodeError.Code.allCases))
        #expect(Set(Self.cases.map(\.drop)) == Set(DropReason.allCases))
    }

    // MARK: Answers beyond the kernel comparisons

    static func reply(_ bytes: [UInt8], on interface: ResponderInterface = Fixture.node) throws -> LinkFrame {
        let decision = Responder.decide(ByteBuffer(bytes: bytes), arrivedOn: interface, owned: Fixture.owned)
        guard case .reply(let frame) = decision else { throw Unanswered(decision: decision) }
        return frame
    }

    struct Unanswered: Error { var decision: ResponderDecision }

    /// RFC 4861 §7.2.4: a DAD probe is answered to all-nodes with Solicited clear.
    @Test func dadProbeIsAnsweredToAllNodes() throws {
        let frame = try Self.reply(try Self.f("ns-dad-kernel"), on: Self.otherHost)
        #expect(frame == LinkAnnouncement.unsolicitedNA(address: Fixture.nodeV6New, mac: MACAddress("02:00:00:00:03:03")!))
    }

    @Test func taggedRequestIsAnsweredWithTheSameTag() throws {
        let frame = try Self.reply(try Self.f("vlan-arp-request-arping"), on: .init(name: "n0", mac: Fixture.nodeMAC, vlanID: 100))
        var expected = try LinkFrame(decoding: Self.f("arp-reply-kernel"))
        expected.ethernet.vlan = VLANTag(id: 100)
        #expect(frame == expected)
    }

    /// VID 0 only carries a priority: answered on an untagged interface, tag kept.
    @Test func priorityTaggedRequestIsAnswered() throws {
        let frame = try Self.reply(Self.tagged(try Self.arpRequest(), tci: 0xa000))
        #expect(frame.ethernet.vlan == VLANTag(id: 0, priority: 5))
    }

    /// RFC 5227 §2.1.1: a probe for the VIP is answered (as Linux does), defending it.
    @Test func arpProbeIsAnswered() throws {
        let frame = try Self.reply(try Self.arpRequest().patched(at: 28, 0, 0, 0, 0))
        guard case .arp(let arp) = frame.packet else { throw Unanswered(decision: .reply(frame)) }
        #expect(arp.targetProtocolAddress == .any)
        #expect(arp.targetHardwareAddress == Fixture.clientMAC)
        #expect(frame.ethernet.destination == Fixture.clientMAC)
    }

    @Test func unicastARPRequestIsAnswered() throws {
        let frame = try Self.reply(try Self.arpRequest().patched(at: 0, 0x02, 0, 0, 0, 0x02, 0x02))
        #expect(frame.bytes == (try Self.f("arp-reply-kernel")))
    }

    @Test func ieee802HardwareTypeIsAnsweredInKind() throws {
        let frame = try Self.reply(try Self.arpRequest().patched(at: 14, 0, 6))
        guard case .arp(let arp) = frame.packet else { throw Unanswered(decision: .reply(frame)) }
        #expect(arp.hardwareType == 6)
    }

    /// A unicast NS (neighbour unreachability detection) without a source link-layer option
    /// is answered to the Ethernet source.
    @Test func unicastNSWithoutSourceLinkLayerOptionIsAnswered() throws {
        var bytes = try Self.ns().patched(at: 0, 0x02, 0, 0, 0, 0x02, 0x02)
        bytes = bytes.patched(at: 38, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20)
        bytes = Self.setPayloadLength(Array(bytes.prefix(78)), 24).withICMPv6ChecksumFixed()
        let frame = try Self.reply(bytes)
        #expect(frame.bytes == (try Self.f("na-solicited-kernel")))
    }

    /// Ethernet padding after an NS (as a NIC adds it) does not matter.
    @Test func paddedNSIsAnswered() throws {
        let frame = try Self.reply(try Self.ns() + [UInt8](repeating: 0xa5, count: 10))
        #expect(frame.bytes == (try Self.f("na-solicited-kernel")))
    }

    @Test(arguments: Fixture.all)
    func everyFixtureGetsADecision(_ file: String) throws {
        let decision = Responder.decide(try Fixture.buffer(file), arrivedOn: Fixture.node, owned: Fixture.owned)
        let expected: [String: ResponderDecision] = [
            "arp-reply-kernel-to-arping": .drop(.ownFrame), "arp-reply-kernel": .drop(.ownFrame),
            "garp-request-arping": .drop(.ownFrame), "garp-reply-arping": .drop(.ownFrame), "garp-request-kernel": .drop(.ownFrame),
            "vlan-arp-request-arping": .drop(.vlanMismatch), "vlan-garp-reply-arping": .drop(.vlanMismatch),
            "na-solicited-kernel-to-ndisc6": .drop(.ownFrame), "na-solicited-kernel": .drop(.ownFrame),
            "ns-dad-kernel": .drop(.ownFrame), "na-unsolicited-kernel": .drop(.ownFrame),
        ]
        if let drop = expected[file] {
            #expect(decision == drop)
        } else {
            guard case .reply = decision else {
                Issue.record("\(file): \(decision)")
                return
            }
        }
    }
}
