import Testing
@testable import NetPrimitives

@Suite struct IPRangeTests {
    @Test(arguments: [
        ("192.0.2.10-192.0.2.20", "192.0.2.10-192.0.2.20", UInt128(11)),
        ("192.0.2.10 - 192.0.2.20", "192.0.2.10-192.0.2.20", 11),
        ("192.0.2.10-192.0.2.10", "192.0.2.10-192.0.2.10", 1),
        ("0.0.0.0-255.255.255.255", "0.0.0.0-255.255.255.255", UInt128(1) << 32),
        ("2001:db8::1-2001:db8::ff", "2001:db8::1-2001:db8::ff", 255),
        ("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", UInt128.max),
    ])
    func parses(text: String, canonical: String, count: UInt128) throws {
        let range = try IPRange(parsing: text[...])
        #expect(range.description == canonical)
        #expect(range.count == count)
    }

    @Test(arguments: [
        ("192.0.2.20-192.0.2.10", AddressParseError.rangeStartAfterEnd),
        ("192.0.2.1-2001:db8::1", .mixedFamilies),
        ("192.0.2.1", .invalidRange(reason: "expected start-end")),
        ("192.0.2.1-", .invalidRange(reason: "missing start or end")),
        ("-192.0.2.1", .invalidRange(reason: "missing start or end")),
        ("192.0.2.1-192.0.2.300", .invalidIPv4(reason: "octet greater than 255")),
        ("192.0.2.1-192.0.2.2-192.0.2.3", .invalidIPv4(reason: "unexpected character")),
    ])
    func rejects(text: String, error: AddressParseError) {
        #expect(throws: error) { try IPRange(parsing: text[...]) }
    }

    /// Ranges split into the minimal CIDR cover, checked against a brute-force reference.
    @Test(arguments: [
        ("192.0.2.0-192.0.2.255", ["192.0.2.0/24"]),
        ("192.0.2.1-192.0.2.254", ["192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/30", "192.0.2.8/29", "192.0.2.16/28",
                                    "192.0.2.32/27", "192.0.2.64/26", "192.0.2.128/26", "192.0.2.192/27", "192.0.2.224/28",
                                    "192.0.2.240/29", "192.0.2.248/30", "192.0.2.252/31", "192.0.2.254/32"]),
        ("192.0.2.10-192.0.2.20", ["192.0.2.10/31", "192.0.2.12/30", "192.0.2.16/30", "192.0.2.20/32"]),
        ("0.0.0.0-255.255.255.255", ["0.0.0.0/0"]),
        ("255.255.255.255-255.255.255.255", ["255.255.255.255/32"]),
        ("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ["::/0"]),
        ("2001:db8::-2001:db8::2", ["2001:db8::/127", "2001:db8::2/128"]),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"]),
    ])
    func minimalPrefixes(text: String, expected: [String]) throws {
        let range = try IPRange(parsing: text[...])
        #expect(range.prefixes.map(\.description) == expected)
    }

    @Test func prefixCoverIsExactForManySmallRanges() throws {
        // Every sub-range of 192.0.2.0/27: the cover is exact, disjoint and sorted.
        for start in 0..<32 {
            for end in start..<32 {
                let range = try IPRange(first: IPAddress("192.0.2.\(start)")!, last: IPAddress("192.0.2.\(end)")!)
                let covered = range.prefixes.flatMap { Array($0.range) }
                #expect(covered == Array(range))
                // Minimality: no two adjacent prefixes of equal length merge into an aligned block.
                for pair in zip(range.prefixes, range.prefixes.dropFirst()) where pair.0.length == pair.1.length {
                    let merged = IPPrefix(containing: pair.0.network, length: pair.0.length - 1)
                    #expect(!(merged.first == pair.0.first && merged.last == pair.1.last))
                }
            }
        }
    }

    @Test func iterationAndOffsets() throws {
        let range = try IPRange(parsing: "255.255.255.253-255.255.255.255")
        #expect(Array(range).map(\.description) == ["255.255.255.253", "255.255.255.254", "255.255.255.255"])
        #expect(range.address(at: 2)?.description == "255.255.255.255")
        #expect(range.address(at: 3) == nil)
        #expect(range.offset(of: IPAddress("255.255.255.254")!) == 1)
        #expect(range.offset(of: IPAddress("255.255.255.252")!) == nil)
        let top = try IPRange(parsing: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
        #expect(Array(top).count == 1)
    }

    @Test func overlapAndContainment() throws {
        let a = try IPRange(parsing: "192.0.2.10-192.0.2.20")
        #expect(a.overlaps(try IPRange(parsing: "192.0.2.20-192.0.2.30")))
        #expect(!a.overlaps(try IPRange(parsing: "192.0.2.21-192.0.2.30")))
        #expect(a.contains(try IPRange(parsing: "192.0.2.11-192.0.2.19")))
        #expect(!a.contains(try IPRange(parsing: "192.0.2.9-192.0.2.19")))
        #expect(!a.overlaps(try IPRange(parsing: "::-::ffff")))
        #expect(try IPPrefix(parsing: "192.0.2.0/28").range.overlaps(a))
    }

    @Test func successorAndPredecessorStopAtTheEdges() {
        #expect(IPAddress("255.255.255.255")!.successor == nil)
        #expect(IPAddress("0.0.0.0")!.predecessor == nil)
        #expect(IPAddress("::")!.predecessor == nil)
        #expect(IPAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")!.successor == nil)
        #expect(IPAddress("192.0.2.255")!.successor?.description == "192.0.3.0")
        #expect(IPAddress("2001:db8::ffff")!.successor?.description == "2001:db8::1:0")
        #expect(IPAddress("192.0.2.1")! < IPAddress("::")!)
    }
}
