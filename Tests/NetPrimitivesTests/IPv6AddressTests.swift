import Testing
@testable import NetPrimitives

@Suite struct IPv6AddressTests {
    /// (input, canonical RFC 5952 text)
    @Test(arguments: [
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),          // first of two equal runs
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),       // a single zero group is not compressed
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),                 // the longest run wins
        ("fe80::1:2:3:4", "fe80::1:2:3:4"),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("::ffff:0102:0304", "::ffff:1.2.3.4"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ("::192.0.2.33", "::c000:221"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("1:0:0:0:0:0:0:0", "1::"),
    ])
    func canonicalForm(input: String, canonical: String) throws {
        let address = try IPv6Address(parsing: input[...])
        #expect(address.description == canonical)
        #expect(try IPv6Address(parsing: canonical[...]) == address)
        #expect(IPv6Address(bytes: address.bytes) == address)
        #expect(IPv6Address(groups: address.groups) == address)
    }

    @Test(arguments: [
        ("", AddressParseError.empty),
        (":::", .invalidIPv6(reason: "more than one \"::\"")),
        ("1::2::3", .invalidIPv6(reason: "more than one \"::\"")),
        ("1:2:3:4:5:6:7", .invalidIPv6(reason: "too few groups")),
        ("1:2:3:4:5:6:7:8:9", .invalidIPv6(reason: "too many groups")),
        ("1:2:3:4::5:6:7:8", .invalidIPv6(reason: "too many groups")),
        ("12345::", .invalidIPv6(reason: "group longer than four hex digits")),
        ("g::", .invalidIPv6(reason: "group is not hexadecimal")),
        ("+1::", .invalidIPv6(reason: "group is not hexadecimal")),
        (":1:2:3:4:5:6:7", .invalidIPv6(reason: "empty group")),
        ("1:2:3:4:5:6:7:", .invalidIPv6(reason: "empty group")),
        ("fe80::1%eth0", .scopedAddress),
        (" ::1", .whitespace),
        ("::1 ", .whitespace),
        ("1.2.3.4::", .invalidIPv6(reason: "embedded IPv4 address not in the last 32 bits")),
        ("::1.2.3.4:5", .invalidIPv6(reason: "embedded IPv4 address not in the last 32 bits")),
        ("::ffff:1.2.3.256", .invalidIPv6(reason: "bad embedded IPv4 address")),
        ("::ffff:01.2.3.4", .invalidIPv6(reason: "bad embedded IPv4 address")),
        ("1:2:3:4:5:6:7:1.2.3.4", .invalidIPv6(reason: "too many groups")),
    ])
    func rejects(input: String, error: AddressParseError) {
        #expect(throws: error) { try IPv6Address(parsing: input[...]) }
    }

    @Test func sevenGroupsAndEmbeddedIPv4Fill() throws {
        let a = try IPv6Address(parsing: "1:2:3:4:5:6:1.2.3.4")
        #expect(a.groups == [1, 2, 3, 4, 5, 6, 0x0102, 0x0304])
    }

    @Test func classifiers() {
        #expect(IPv6Address("fe80::1")!.isLinkLocal)
        #expect(IPv6Address("febf::1")!.isLinkLocal)
        #expect(!IPv6Address("fec0::1")!.isLinkLocal)
        #expect(IPv6Address("ff02::1")!.isMulticast)
        #expect(!IPv6Address("2001:db8::1")!.isMulticast)
    }

    @Test func solicitedNodeMulticast() {
        // RFC 4291 §2.7.1: ff02:0:0:0:0:1:ffXX:XXXX from the low 24 bits.
        #expect(IPv6Address("2001:db8::1:2345:6789")!.solicitedNodeMulticast.description == "ff02::1:ff45:6789")
        #expect(IPv6Address("::")!.solicitedNodeMulticast.description == "ff02::1:ff00:0")
    }
}
