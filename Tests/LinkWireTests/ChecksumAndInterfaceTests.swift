import Foundation
import LinkWire
import NIOCore
import NetPrimitives
import Testing
import TestSupport

struct InternetChecksumTests {
    /// RFC 1071 §3 worked example: the sum of 0001 f203 f4f5 f6f7 is ddf2, checksum 220d.
    @Test func rfc1071Example() {
        var checksum = InternetChecksum()
        checksum.add(bytes: [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])
        #expect(checksum.value == 0x220d)
    }

    @Test func oddLengthPadsWithZero() {
        var odd = InternetChecksum()
        odd.add(bytes: [0x12, 0x34, 0x56])
        var even = InternetChecksum()
        even.add(bytes: [0x12, 0x34, 0x56, 0x00])
        #expect(odd.value == even.value)
        #expect(odd.value == ~UInt16(0x1234 + 0x5600))
    }

    @Test func splitAddsEqualOneAdd() {
        var whole = InternetChecksum()
        whole.add(bytes: [0xde, 0xad, 0xbe, 0xef, 0x01])
        var split = InternetChecksum()
        split.add(bytes: [0xde])
        split.add(bytes: [0xad, 0xbe])
        split.add(bytes: [0xef, 0x01])
        #expect(whole.value == split.value)
    }

    @Test func carriesFold() {
        var checksum = InternetChecksum()
        checksum.add(bytes: [UInt8](repeating: 0xff, count: 4000))
        #expect(checksum.value == 0)
    }
}

struct AnnounceInterfacesTests {
    static let mac = MACAddress("02:00:00:00:00:01")!
    static let interfaces = [
        InterfaceInfo(name: "lo", mac: .zero, addresses: [IPPrefix("127.0.0.0/8")!, IPPrefix("::1/128")!], isLoopback: true, isBroadcastCapable: false),
        InterfaceInfo(name: "eth0", mac: mac, addresses: [IPPrefix("192.0.2.0/25")!, IPPrefix("2001:db8::/64")!]),
        InterfaceInfo(name: "eth1", mac: mac, addresses: [IPPrefix("192.0.2.128/25")!, IPPrefix("192.0.2.1/32")!]),
        InterfaceInfo(name: "eth2", mac: mac, addresses: [IPPrefix("192.0.2.128/25")!], isUp: false),
        InterfaceInfo(name: "bond0", mac: mac),
        InterfaceInfo(name: "veth1234", mac: mac),
        InterfaceInfo(name: "cali0abc", mac: mac),
        InterfaceInfo(name: "kube-ipvs0", mac: mac, addresses: [IPPrefix("203.0.113.7/32")!]),
        InterfaceInfo(name: "docker0", mac: mac, addresses: [IPPrefix("198.51.100.0/24")!]),
        InterfaceInfo(name: "wg0", mac: .zero, isBroadcastCapable: false),
    ]

    struct Case: Sendable, CustomTestStringConvertible {
        var vip: String
        var configured: [String] = []
        var expected: Set<String>
        /// No subnet holds the VIP: the speaker warns (issue 15 item 6).
        var withoutSubnet = false
        var testDescription: String { "\(vip) \(configured)" }
    }

    @Test(arguments: [
        Case(vip: "192.0.2.20", expected: ["eth0"]),
        Case(vip: "192.0.2.200", expected: ["eth1"]),
        Case(vip: "2001:db8::20", expected: ["eth0"]),
        // On no candidate's subnet: every up, broadcast-capable, non-loopback, non-excluded one.
        Case(vip: "198.51.100.200", expected: ["eth0", "eth1", "bond0"], withoutSubnet: true),
        Case(vip: "203.0.113.9", expected: ["eth0", "eth1", "bond0"], withoutSubnet: true),
        // kube-proxy (IPVS) holds the VIP as a /32 on kube-ipvs0: neither a subnet nor a candidate.
        Case(vip: "203.0.113.7", expected: ["eth0", "eth1", "bond0"], withoutSubnet: true),
        Case(vip: "192.0.2.1", expected: ["eth0"]),
        Case(vip: "203.0.113.7", configured: ["eth1", "eth2", "nosuch"], expected: ["eth1"]),
    ])
    func selection(_ c: Case) {
        #expect(AnnounceInterfaces.select(for: IPAddress(c.vip)!, among: Self.interfaces, configured: c.configured) == c.expected)
        let choice = AnnounceInterfaces.choose(for: IPAddress(c.vip)!, among: Self.interfaces, configured: c.configured)
        #expect(choice.names == c.expected && choice.withoutSubnet == c.withoutSubnet)
    }

    @Test(arguments: [
        ("veth*", "veth1234", true), ("veth*", "veth", true), ("veth*", "eth0", false),
        ("*", "", true), ("", "", true), ("", "a", false), ("e?h0", "eth0", true), ("e?h0", "eh0", false),
        ("*ipvs*", "kube-ipvs0", true), ("a*b*c", "aXbYc", true), ("a*b*c", "aXbY", false), ("eth0", "eth0", true),
    ])
    func glob(_ pattern: String, _ name: String, _ matches: Bool) {
        #expect(AnnounceInterfaces.globMatches(pattern, name) == matches)
    }
}

/// Random corruption of every fixture (a seeded generator, so failures reproduce): decoding
/// never traps, a failed decode consumes nothing, and an accepted frame re-encodes to its
/// input (up to the checksum's two spellings of zero).
struct MutationPropertyTests {

    @Test(arguments: Fixture.all)
    func corruptedFramesDecodeFaithfullyOrFail(_ file: String) throws {
        let original = try Fixture.bytes(file)
        var rng = SplitMix64(state: file.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 })
        var accepted = 0
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let index = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[index] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
                case 2: bytes.removeLast(Int.random(in: 0...min(8, bytes.count - index), using: &rng))
                default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: index)
                }
                if bytes.isEmpty { break }
            }
            var buffer = ByteBuffer(bytes: bytes)
            do {
                let frame = try buffer.readLinkFrame()
                accepted += 1
                #expect(LinkWireFuzzCheck.sameFrame(frame.bytes, bytes), "\(file): \(Hex.encode(bytes))")
            } catch {
                #expect(buffer.readableBytes == bytes.count)
            }
            _ = Responder.decide(ByteBuffer(bytes: bytes), arrivedOn: Fixture.node, owned: Fixture.owned)
        }
        // Some corruptions (addresses, padding) leave a valid frame: the property was exercised.
        #expect(accepted > 0)
    }
}

/// The fuzz corpus (captured fixtures plus what libFuzzer kept, docs/fuzzing-l2.md) replayed
/// through the fuzz target's checks on every test run.
struct FuzzCorpusTests {
    static let directory = Fixture.directory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz/corpus/linkwire")

    @Test func corpusReplaysCleanly() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).sorted()
        #expect(files.count >= 15)
        var decoded = 0
        for file in files {
            let bytes = Array(try Data(contentsOf: Self.directory.appendingPathComponent(file)))
            var buffer = ByteBuffer(bytes: bytes)
            do {
                let frame = try buffer.readLinkFrame()
                decoded += 1
                #expect(LinkWireFuzzCheck.sameFrame(frame.bytes, bytes), "\(file)")
                #expect(try LinkFrame(decoding: frame.bytes) == frame, "\(file)")
            } catch {
                #expect(buffer.readableBytes == bytes.count, "\(file)")
            }
            for interface in [Fixture.node, ResponderInterface(name: "n0", mac: Fixture.nodeMAC, vlanID: 100)] {
                if case .reply(let reply) = Responder.decide(ByteBuffer(bytes: bytes), arrivedOn: interface, owned: Fixture.owned) {
                    #expect(try LinkFrame(decoding: reply.bytes) == reply, "\(file)")
                }
            }
        }
        #expect(decoded >= 15)
    }
}

struct InterfaceChangeTests {
    static let a = MACAddress("02:00:00:00:00:0a")!
    static let b = MACAddress("02:00:00:00:00:0b")!

    @Test func reportsEveryKindOfChange() {
        let old = [
            InterfaceInfo(name: "eth0", mac: Self.a, addresses: [IPPrefix("192.0.2.0/25")!]),
            InterfaceInfo(name: "eth1", mac: Self.a, isUp: false),
            InterfaceInfo(name: "gone0", mac: Self.a),
        ]
        let eth9 = InterfaceInfo(name: "eth9", mac: Self.b)
        let new = [
            InterfaceInfo(name: "eth0", mac: Self.b, addresses: [IPPrefix("192.0.2.128/25")!, IPPrefix("2001:db8::/64")!], isUp: false),
            InterfaceInfo(name: "eth1", mac: Self.a, isUp: true),
            eth9,
        ]
        let changes = InterfaceChange.between(old, new)
        #expect(changes == [
            .macChanged(name: "eth0", from: Self.a, to: Self.b),
            .wentDown(name: "eth0"),
            .addressesChanged(name: "eth0", added: [IPPrefix("192.0.2.128/25")!, IPPrefix("2001:db8::/64")!], removed: [IPPrefix("192.0.2.0/25")!]),
            .wentUp(name: "eth1"),
            .added(eth9),
            .removed(name: "gone0"),
        ])
        #expect(changes.filter(\.needsAnnouncement).count == 3)
        #expect(InterfaceChange.between(new, new).isEmpty)
    }
}
