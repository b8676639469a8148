import Testing
@testable import NetPrimitives

@Suite struct MACAddressTests {
    @Test(arguments: [
        ("00:00:5e:00:53:01", "00:00:5e:00:53:01"),
        ("00-00-5E-00-53-01", "00:00:5e:00:53:01"),
        ("ff:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff"),
    ])
    func parses(text: String, canonical: String) throws {
        let mac = try MACAddress(parsing: text[...])
        #expect(mac.description == canonical)
        #expect(MACAddress(bytes: mac.bytes) == mac)
    }

    @Test(arguments: ["", "00:00:5e:00:53", "00:00:5e:00:53:01:02", "0:0:5e:0:53:1", "00:00:5e:00:53:0g", "00:00-5e:00:53:01"])
    func rejects(text: String) {
        #expect(throws: AddressParseError.invalidMAC) { try MACAddress(parsing: text[...]) }
    }

    @Test func flags() {
        #expect(MACAddress.broadcast.isBroadcast)
        #expect(MACAddress("33:33:00:00:00:01")!.isMulticast)
        #expect(!MACAddress("02:00:5e:00:53:01")!.isMulticast)
    }
}
