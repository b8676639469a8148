import Foundation
import LinkWire
import NIOCore
import NetPrimitives

/// The frames under Tests/Fixtures/l2 (see its README) and the addresses they were captured with.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/l2")

    static let clientMAC = MACAddress("02:00:00:00:01:01")!
    static let nodeMAC = MACAddress("02:00:00:00:02:02")!
    static let clientV4 = IPv4Address("192.0.2.10")!
    static let nodeV4 = IPv4Address("192.0.2.20")!
    static let clientV6 = IPv6Address("2001:db8::10")!
    static let clientLinkLocal = IPv6Address("fe80::ff:fe00:101")!
    static let nodeV6 = IPv6Address("2001:db8::20")!
    static let nodeV6New = IPv6Address("2001:db8::21")!

    /// The node's interface as the responder sees it, owning the node's addresses.
    static let node = ResponderInterface(
        name: "n0", mac: nodeMAC, addresses: [IPPrefix("192.0.2.0/25")!, IPPrefix("2001:db8::/64")!]
    )
    static let owned: [IPAddress: Set<String>] = [.v4(nodeV4): ["n0"], .v6(nodeV6): ["n0"], .v6(nodeV6New): ["n0"]]

    static let all = [
        "arp-request-arping", "arp-reply-kernel-to-arping", "arp-request-kernel", "arp-reply-kernel",
        "garp-request-arping", "garp-reply-arping", "garp-request-kernel",
        "vlan-arp-request-arping", "vlan-garp-reply-arping",
        "ns-ndisc6", "na-solicited-kernel-to-ndisc6", "ns-kernel", "na-solicited-kernel",
        "ns-dad-kernel", "na-unsolicited-kernel",
    ]

    /// The bytes of a fixture: every non-comment line, hex pairs separated by spaces.
    static func bytes(_ name: String) throws -> [UInt8] {
        let text = try String(contentsOf: directory.appendingPathComponent(name + ".hex"), encoding: .utf8)
        let hex = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: " ")
        return try Hex.decode(hex)
    }

    static func buffer(_ name: String) throws -> ByteBuffer {
        ByteBuffer(bytes: try bytes(name))
    }
}

enum Hex {
    struct BadHex: Error {}

    static func decode(_ text: some StringProtocol) throws -> [UInt8] {
        let digits = text.unicodeScalars.filter { !$0.properties.isWhitespace }
        guard digits.count % 2 == 0 else { throw BadHex() }
        var bytes: [UInt8] = []
        var iterator = digits.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let byte = UInt8(String(high) + String(low), radix: 16) else { throw BadHex() }
            bytes.append(byte)
        }
        return bytes
    }

    static func encode(_ bytes: [UInt8]) -> String {
        bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
    }
}

extension Array where Element == UInt8 {
    /// A copy with `values` written from `offset`.
    func patched(at offset: Int, _ values: UInt8...) -> [UInt8] {
        var copy = self
        for (index, value) in values.enumerated() { copy[offset + index] = value }
        return copy
    }

    /// Recomputes the ICMPv6 checksum of an untagged IPv6 frame after a test changed it.
    func withICMPv6ChecksumFixed() -> [UInt8] {
        var copy = self
        let payloadLength = Int(copy[18]) << 8 | Int(copy[19])
        copy[56] = 0
        copy[57] = 0
        let source = IPv6Address(bytes: copy[22..<38])!
        let destination = IPv6Address(bytes: copy[38..<54])!
        let end = Swift.min(54 + payloadLength, copy.count)
        let message = ByteBuffer(bytes: copy[54..<end])
        let checksum = InternetChecksum.icmpv6(source: source, destination: destination, message: message.readableBytesView)
        copy[56] = UInt8(checksum >> 8)
        copy[57] = UInt8(checksum & 0xff)
        return copy
    }
}

enum LinkWireFuzzCheck {
    /// Whether `encoded` (a decoded frame re-encoded) spells the same frame as `input`: the
    /// same bytes, except that an ICMPv6 checksum of 0xffff may come back as 0x0000 (both are
    /// one's complement zero and both verify; the encoder writes the RFC 1071 form).
    static func sameFrame(_ encoded: [UInt8], _ input: [UInt8]) -> Bool {
        guard encoded.count == input.count else { return false }
        let differing = encoded.indices.filter { encoded[$0] != input[$0] }
        if differing.isEmpty { return true }
        guard differing.count == 2, differing[1] == differing[0] + 1 else { return false }
        let offset = differing[0]
        return encoded[offset] == 0 && encoded[offset + 1] == 0 && input[offset] == 0xff && input[offset + 1] == 0xff
    }
}
