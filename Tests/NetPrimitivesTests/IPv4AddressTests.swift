import Testing
@testable import NetPrimitives

@Suite struct IPv4AddressTests {
    @Test(arguments: [
        ("0.0.0.0", UInt32(0)),
        ("255.255.255.255", UInt32.max),
        ("192.0.2.1", 0xC000_0201),
        ("10.0.0.0", 0x0A00_0000),
        ("1.2.3.4", 0x0102_0304),
    ])
    func parsesAndFormats(text: String, raw: UInt32) throws {
        let address = try IPv4Address(parsing: text[...])
        #expect(address.rawValue == raw)
        #expect(address.description == text)
        #expect(IPv4Address(bytes: address.bytes) == address)
    }

    @Test(arguments: [
        ("", AddressParseError.empty),
        ("1.2.3", .invalidIPv4(reason: "fewer than four octets")),
        ("1.2.3.4.5", .invalidIPv4(reason: "more than four octets")),
        ("1.2.3.256", .invalidIPv4(reason: "octet greater than 255")),
        ("1.2.3.1000", .invalidIPv4(reason: "octet greater than 255")),
        ("01.2.3.4", .invalidIPv4(reason: "leading zero in octet")),
        ("1.2.3.04", .invalidIPv4(reason: "leading zero in octet")),
        ("1.2.3.00", .invalidIPv4(reason: "leading zero in octet")),
        ("1..3.4", .invalidIPv4(reason: "empty octet")),
        ("1.2.3.", .invalidIPv4(reason: "empty octet")),
        (".1.2.3", .invalidIPv4(reason: "empty octet")),
        (" 1.2.3.4", .whitespace),
        ("1.2.3.4 ", .whitespace),
        ("1.2.3.4%eth0", .scopedAddress),
        ("1.2.3.x", .invalidIPv4(reason: "unexpected character")),
        ("0x1.2.3.4", .invalidIPv4(reason: "unexpected character")),
        ("-1.2.3.4", .invalidIPv4(reason: "unexpected character")),
    ])
    func rejects(text: String, error: AddressParseError) {
        #expect(throws: error) { try IPv4Address(parsing: text[...]) }
    }

    @Test func zeroOctetIsNotALeadingZero() throws {
        #expect(try IPv4Address(parsing: "10.0.0.0").rawValue == 0x0A00_0000)
        #expect(try IPv4Address(parsing: "100.200.0.10").description == "100.200.0.10")
    }

    @Test func orderingFollowsNumericValue() {
        let a = IPv4Address("9.255.255.255")!, b = IPv4Address("10.0.0.0")!
        #expect(a < b)
        #expect(!(b < a))
    }
}
