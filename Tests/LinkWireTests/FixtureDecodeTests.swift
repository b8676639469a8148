import LinkWire
import NIOCore
import NetPrimitives
import Testing

/// Every captured frame decodes to the fields it was captured with and re-encodes to the
/// same bytes.
struct FixtureDecodeTests {
    struct Expectation: CustomTestStringConvertible, Sendable {
        var file: String
        var frame: LinkFrame
        /// Fields that change from capture to capture (ndisc6's flow label, the DAD nonce):
        /// taken from the decoded frame, after checking their shape.
        var volatileFlowLabel = false
        var volatileNonce = false
        var testDescription: String { file }
    }

    typealias F = Fixture
    static let padding = [UInt8](repeating: 0, count: 16)
    static let allNodes = IPv6Address("ff02::1")!

    static func arp(_ op: ARPOperation, sha: MACAddress, spa: IPv4Address, tha: MACAddress, tpa: IPv4Address) -> LinkPacket {
        .arp(ARPPacket(operation: op, senderHardwareAddress: sha, senderProtocolAddress: spa, targetHardwareAddress: tha, targetProtocolAddress: tpa))
    }

    static func eth(_ dst: MACAddress, _ src: MACAddress, _ type: EtherType, vlan: VLANTag? = nil) -> EthernetHeader {
        EthernetHeader(destination: dst, source: src, vlan: vlan, etherType: type)
    }

    static func ns(src: IPv6Address, dst: IPv6Address, target: IPv6Address, options: [NDOption]) -> LinkPacket {
        .ndp(NDPPacket(ipv6: IPv6Header(source: src, destination: dst), message: .solicitation(NeighborSolicitation(target: target, options: options))))
    }

    static func na(src: IPv6Address, dst: IPv6Address, flags: NeighborAdvertisement.Flags, target: IPv6Address, mac: MACAddress) -> LinkPacket {
        .ndp(NDPPacket(
            ipv6: IPv6Header(source: src, destination: dst),
            message: .advertisement(NeighborAdvertisement(flags: flags, target: target, options: [.targetLinkLayerAddress(mac)]))
        ))
    }

    static let expectations: [Expectation] = [
        Expectation(file: "arp-request-arping", frame: LinkFrame(
            ethernet: eth(.broadcast, F.clientMAC, .arp),
            packet: arp(.request, sha: F.clientMAC, spa: F.clientV4, tha: .zero, tpa: F.nodeV4), trailer: padding)),
        Expectation(file: "arp-reply-kernel-to-arping", frame: LinkFrame(
            ethernet: eth(F.clientMAC, F.nodeMAC, .arp),
            packet: arp(.reply, sha: F.nodeMAC, spa: F.nodeV4, tha: F.clientMAC, tpa: F.clientV4))),
        Expectation(file: "arp-request-kernel", frame: LinkFrame(
            ethernet: eth(.broadcast, F.clientMAC, .arp),
            packet: arp(.request, sha: F.clientMAC, spa: F.clientV4, tha: .zero, tpa: F.nodeV4))),
        Expectation(file: "arp-reply-kernel", frame: LinkFrame(
            ethernet: eth(F.clientMAC, F.nodeMAC, .arp),
            packet: arp(.reply, sha: F.nodeMAC, spa: F.nodeV4, tha: F.clientMAC, tpa: F.clientV4))),
        Expectation(file: "garp-request-arping", frame: LinkFrame(
            ethernet: eth(.broadcast, F.nodeMAC, .arp),
            packet: arp(.request, sha: F.nodeMAC, spa: F.nodeV4, tha: .broadcast, tpa: F.nodeV4), trailer: padding)),
        Expectation(file: "garp-reply-arping", frame: LinkFrame(
            ethernet: eth(.broadcast, F.nodeMAC, .arp),
            packet: arp(.reply, sha: F.nodeMAC, spa: F.nodeV4, tha: .broadcast, tpa: F.nodeV4), trailer: padding)),
        Expectation(file: "garp-request-kernel", frame: LinkFrame(
            ethernet: eth(.broadcast, F.nodeMAC, .arp),
            packet: arp(.request, sha: F.nodeMAC, spa: F.nodeV4, tha: .zero, tpa: F.nodeV4))),
        Expectation(file: "vlan-arp-request-arping", frame: LinkFrame(
            ethernet: eth(.broadcast, F.clientMAC, .arp, vlan: VLANTag(id: 100)),
            packet: arp(.request, sha: F.clientMAC, spa: F.clientV4, tha: .zero, tpa: F.nodeV4), trailer: padding)),
        Expectation(file: "vlan-garp-reply-arping", frame: LinkFrame(
            ethernet: eth(.broadcast, F.nodeMAC, .arp, vlan: VLANTag(id: 100)),
            packet: arp(.reply, sha: F.nodeMAC, spa: F.nodeV4, tha: .broadcast, tpa: F.nodeV4), trailer: padding)),
        Expectation(file: "ns-ndisc6", frame: LinkFrame(
            ethernet: eth(MACAddress("33:33:ff:00:00:20")!, F.clientMAC, .ipv6),
            packet: ns(src: F.clientLinkLocal, dst: IPv6Address("ff02::1:ff00:20")!, target: F.nodeV6, options: [.sourceLinkLayerAddress(F.clientMAC)])),
            volatileFlowLabel: true),
        Expectation(file: "na-solicited-kernel-to-ndisc6", frame: LinkFrame(
            ethernet: eth(F.clientMAC, F.nodeMAC, .ipv6),
            packet: na(src: F.nodeV6, dst: F.clientLinkLocal, flags: [.solicited, .override], target: F.nodeV6, mac: F.nodeMAC))),
        Expectation(file: "ns-kernel", frame: LinkFrame(
            ethernet: eth(MACAddress("33:33:ff:00:00:20")!, F.clientMAC, .ipv6),
            packet: ns(src: F.clientV6, dst: IPv6Address("ff02::1:ff00:20")!, target: F.nodeV6, options: [.sourceLinkLayerAddress(F.clientMAC)]))),
        Expectation(file: "na-solicited-kernel", frame: LinkFrame(
            ethernet: eth(F.clientMAC, F.nodeMAC, .ipv6),
            packet: na(src: F.nodeV6, dst: F.clientV6, flags: [.solicited, .override], target: F.nodeV6, mac: F.nodeMAC))),
        Expectation(file: "ns-dad-kernel", frame: LinkFrame(
            ethernet: eth(MACAddress("33:33:ff:00:00:21")!, F.nodeMAC, .ipv6),
            packet: ns(src: .unspecified, dst: IPv6Address("ff02::1:ff00:21")!, target: F.nodeV6New, options: [.other(type: 14, data: [0, 0, 0, 0, 0, 0])])),
            volatileNonce: true),
        Expectation(file: "na-unsolicited-kernel", frame: LinkFrame(
            ethernet: eth(MACAddress("33:33:00:00:00:01")!, F.nodeMAC, .ipv6),
            packet: na(src: F.nodeV6New, dst: allNodes, flags: [.override], target: F.nodeV6New, mac: F.nodeMAC))),
    ]

    @Test func everyFixtureHasAnExpectation() {
        #expect(Set(Self.expectations.map(\.file)) == Set(Fixture.all))
    }

    @Test(arguments: expectations)
    func decodesToTheCapturedFields(_ expectation: Expectation) throws {
        var buffer = try Fixture.buffer(expectation.file)
        let decoded = try buffer.readLinkFrame()
        #expect(buffer.readableBytes == 0)
        var expected = expectation.frame
        if expectation.volatileFlowLabel, case .ndp(var ndp) = expected.packet, case .ndp(let got) = decoded.packet {
            #expect(got.ipv6.flowLabel <= 0xf_ffff)
            ndp.ipv6.flowLabel = got.ipv6.flowLabel
            expected.packet = .ndp(ndp)
        }
        if expectation.volatileNonce, case .ndp(var ndp) = expected.packet, case .ndp(let got) = decoded.packet,
           case .solicitation(var ns) = ndp.message, case .solicitation(let gotNS) = got.message {
            // RFC 7527 §4.1: type 14, length 1, a 6-octet nonce.
            guard case .other(14, let nonce)? = gotNS.options.first, nonce.count == 6 else {
                Issue.record("DAD probe without a nonce option: \(gotNS.options)")
                return
            }
            ns.options = [.other(type: 14, data: nonce)]
            ndp.message = .solicitation(ns)
            expected.packet = .ndp(ndp)
        }
        #expect(decoded == expected)
    }

    @Test(arguments: Fixture.all)
    func reencodesToTheSameBytes(_ file: String) throws {
        let bytes = try Fixture.bytes(file)
        let frame = try LinkFrame(decoding: bytes)
        #expect(frame.bytes == bytes, "\(Hex.encode(frame.bytes))")
    }

    /// Every prefix of a frame shorter than its packet fails as truncated and leaves the
    /// buffer untouched; longer prefixes (cutting Ethernet padding) still decode.
    @Test(arguments: Fixture.all)
    func everyTruncationIsRejectedWithoutConsumingInput(_ file: String) throws {
        let bytes = try Fixture.bytes(file)
        let full = try LinkFrame(decoding: bytes)
        let packetEnd = bytes.count - full.trailer.count
        for length in 0..<bytes.count {
            var buffer = ByteBuffer(bytes: bytes[0..<length])
            if length < packetEnd {
                #expect(throws: LinkDecodeError(.truncated), "\(file) cut to \(length) bytes") { try buffer.readLinkFrame() }
                #expect(buffer.readableBytes == length)
            } else {
                let frame = try buffer.readLinkFrame()
                #expect(frame.packet == full.packet)
                #expect(frame.trailer == Array(full.trailer.prefix(length - packetEnd)))
            }
        }
    }

    @Test(arguments: Fixture.all.filter { $0.hasPrefix("n") })
    func capturedChecksumsVerify(_ file: String) throws {
        let bytes = try Fixture.bytes(file)
        // The frame's own checksum field, and the one LinkWire computes, agree.
        #expect(bytes.withICMPv6ChecksumFixed() == bytes)
    }
}
