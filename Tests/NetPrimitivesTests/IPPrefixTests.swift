import Testing
@testable import NetPrimitives

@Suite struct IPPrefixTests {
    @Test(arguments: [
        ("0.0.0.0/0", "0.0.0.0", "255.255.255.255"),
        ("192.0.2.0/24", "192.0.2.0", "192.0.2.255"),
        ("192.0.2.7/32", "192.0.2.7", "192.0.2.7"),
        ("198.51.100.128/25", "198.51.100.128", "198.51.100.255"),
        ("::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("2001:db8::1/128", "2001:db8::1", "2001:db8::1"),
        ("2001:db8:0:1::/64", "2001:db8:0:1::", "2001:db8:0:1:ffff:ffff:ffff:ffff"),
    ])
    func bounds(text: String, first: String, last: String) throws {
        let prefix = try IPPrefix(parsing: text[...])
        #expect(prefix.first.description == first)
        #expect(prefix.last.description == last)
        #expect(prefix.description == IPPrefix(containing: prefix.network, length: prefix.length).description)
    }

    @Test(arguments: [
        ("192.0.2.1/24", AddressParseError.hostBitsSet(canonical: "192.0.2.0/24")),
        ("2001:db8::1/64", .hostBitsSet(canonical: "2001:db8::/64")),
        ("192.0.2.0/33", .prefixLengthOutOfRange(length: 33, maximum: 32)),
        ("2001:db8::/129", .prefixLengthOutOfRange(length: 129, maximum: 128)),
        ("192.0.2.0/024", .invalidPrefixLength("024")),
        ("192.0.2.0/", .invalidPrefixLength("")),
        ("192.0.2.0/-1", .invalidPrefixLength("-1")),
        ("192.0.2.0/ 24", .whitespace),
        ("192.0.2.0", .invalidPrefixLength("")),
        ("10.0.0.300/24", .invalidIPv4(reason: "octet greater than 255")),
        ("fe80::%eth0/64", .scopedAddress),
        ("", .empty),
    ])
    func rejects(text: String, error: AddressParseError) {
        #expect(throws: error) { try IPPrefix(parsing: text[...]) }
    }

    @Test func counts() throws {
        #expect(try IPPrefix(parsing: "192.0.2.0/24").count == 256)
        #expect(try IPPrefix(parsing: "0.0.0.0/0").count == 1 << 32)
        #expect(try IPPrefix(parsing: "2001:db8::/64").count == UInt128(1) << 64)
        #expect(try IPPrefix(parsing: "::/0").count == UInt128.max)   // saturates
        #expect(try IPPrefix(parsing: "::/1").count == UInt128(1) << 127)
    }

    @Test func containmentAndOverlap() throws {
        let net = try IPPrefix(parsing: "198.51.100.0/24")
        #expect(net.contains(IPAddress("198.51.100.77")!))
        #expect(!net.contains(IPAddress("198.51.101.0")!))
        #expect(!net.contains(IPAddress("::ffff:198.51.100.77")!))   // the mapped form is IPv6
        #expect(net.contains(try IPPrefix(parsing: "198.51.100.64/26")))
        #expect(!net.contains(try IPPrefix(parsing: "198.51.0.0/16")))
        #expect(net.overlaps(try IPPrefix(parsing: "198.51.0.0/16")))
        #expect(!net.overlaps(try IPPrefix(parsing: "198.51.101.0/24")))
        #expect(!net.overlaps(try IPPrefix(parsing: "2001:db8::/32")))
        let all = try IPPrefix(parsing: "0.0.0.0/0")
        #expect(all.contains(net))
        #expect(try IPPrefix(parsing: "::/0").contains(IPAddress("2001:db8::1")!))
    }

    @Test func containingMasksHostBits() {
        let p = IPPrefix(containing: IPAddress("203.0.113.77")!, length: 26)
        #expect(p.description == "203.0.113.64/26")
        #expect(IPPrefix(host: IPAddress("2001:db8::5")!).description == "2001:db8::5/128")
    }
}

/// Issue 18: addresses and prefixes are keys of the speaker's per-Service hash tables; a
/// `UInt128` field (16-byte alignment) and an `Int` length made each take 32 bytes.
@Suite struct AddressLayoutTests {
    @Test func addressesAndPrefixesTake24Bytes() throws {
        #expect(MemoryLayout<IPAddress>.stride == 24)
        #expect(MemoryLayout<IPPrefix>.stride == 24)
        #expect(MemoryLayout<IPv6Address>.alignment == 8)
    }

    @Test func theHalvesAndTheIntegerAgree() throws {
        var address = IPv6Address(high: 0x2001_0db8_0000_0001, low: 0xffff_0000_0000_0002)
        #expect(address.rawValue == UInt128(0x2001_0db8_0000_0001) << 64 | UInt128(0xffff_0000_0000_0002))
        address.rawValue = 1 << 64
        #expect(address.high == 1 && address.low == 0)
        #expect(IPv6Address(high: 0, low: .max) < IPv6Address(high: 1, low: 0))
        #expect(IPv6Address(high: 1, low: 1) > IPv6Address(high: 1, low: 0))
        let prefix = try #require(IPPrefix("2001:db8::/128"))
        #expect(prefix.length == 128 && prefix.description == "2001:db8::/128")
    }
}
