import Foundation
import Testing
@testable import LBConfig

/// Issue 15 items 3, 5 and 6: hostile or mistaken configurations are refused with a short,
/// bounded report.
@Suite struct HostileInputTests {
    /// One list of 1,250 addresses aliased into 1,000 pools: 70 KB of text, 1.25 million
    /// addresses once expanded (the review's 65 KB ConfigMap).
    static let aliasBomb: String = {
        let addresses = (0..<1250).map { "10.\($0 / 250).\($0 % 250).1/32" }.joined(separator: ", ")
        var lines = ["x-list: &a [\(addresses)]", "address-pools:"]
        for index in 0..<1000 { lines.append("- {name: p\(index), protocol: layer2, addresses: *a}") }
        return lines.joined(separator: "\n")
    }()

    @Test func aliasesThatExpandBeyondTheBudgetAreRefusedWithOneError() {
        guard case .failure(let errors) = ConfigParser.parseConfigValue(Self.aliasBomb) else {
            Issue.record("the alias bomb parsed")
            return
        }
        #expect(errors.errors.map(\.description) == [
            "YAML aliases expand the configuration by more than 10000 nodes or 256 KiB of text; write the repeated parts out, or share less",
        ])
        // Nested aliases (each level doubling the last) are caught the same way.
        var nested = ["a0: &a0 [192.0.2.1/32, 192.0.2.2/32]"]
        for level in 1...40 { nested.append("a\(level): &a\(level) [*a\(level - 1), *a\(level - 1)]") }
        guard case .failure(let laughs) = ConfigParser.parseConfigValue(nested.joined(separator: "\n")) else {
            Issue.record("the nested aliases parsed")
            return
        }
        #expect(laughs.errors.count == 1 && laughs.errors[0].message.hasPrefix("YAML aliases expand"))
    }

    @Test func modestAliasesStillWork() throws {
        let text = """
            address-pools:
            - name: a
              protocol: bgp
              addresses: [198.51.100.0/28]
              bgp-advertisements: &ads
              - communities: [64512:1, 64512:2]
                localpref: 200
            - {name: b, protocol: bgp, addresses: [203.0.113.0/28], bgp-advertisements: *ads}
            """
        let configuration = try ConfigParser.parseConfigValue(text).get()
        #expect(configuration.pools.map(\.bgpAdvertisements) == [configuration.pools[0].bgpAdvertisements, configuration.pools[0].bgpAdvertisements])
        #expect(configuration.pools[1].bgpAdvertisements.first?.localPref == 200)
    }

    @Test func theErrorReportIsCappedInNumberAndLength() {
        let pools = (0..<200).map { "- {name: p\($0), protocol: nope, addresses: [192.0.2.\($0)/32]}" }
        guard case .failure(let errors) = ConfigParser.parseConfigValue("address-pools:\n" + pools.joined(separator: "\n")) else {
            Issue.record("parsed")
            return
        }
        #expect(errors.errors.count == 51)
        #expect(errors.errors.last?.description == "... and 150 more errors")
        let long = String(repeating: "x", count: 100_000)
        guard case .failure(let one) = ConfigParser.parseConfigValue("address-pools: [{name: a, protocol: layer2, addresses: [\(long)]}]") else {
            Issue.record("parsed")
            return
        }
        #expect(one.errors.count == 1)
        #expect(one.errors[0].message.count <= YAMLReader.maximumMessageLength)
        #expect(one.errors[0].message.hasPrefix("\"xxx") && one.errors[0].message.hasSuffix(" bytes)"))
    }

    @Test(arguments: [
        ("0.0.0.0/0", "0.0.0.0/8 (unspecified, \"this network\"), 127.0.0.0/8 (loopback), 169.254.0.0/16 (link-local), 224.0.0.0/4 (multicast), 255.255.255.255/32 (limited broadcast)"),
        ("::/0", "::/128 (unspecified), ::1/128 (loopback), fe80::/10 (link-local), ff00::/8 (multicast)"),
        ("127.0.0.1", "127.0.0.0/8 (loopback)"),
        ("169.254.10.0/24", "169.254.0.0/16 (link-local)"),
        ("239.1.1.1-239.1.1.9", "224.0.0.0/4 (multicast)"),
        ("255.255.255.255", "255.255.255.255/32 (limited broadcast)"),
        ("fe80::/64", "fe80::/10 (link-local)"),
        ("ff02::1", "ff00::/8 (multicast)"),
        ("::1", "::1/128 (loopback)"),
        ("0.0.0.0", "0.0.0.0/8 (unspecified, \"this network\")"),
    ])
    func poolsRefuseSpecialAddresses(_ block: String, _ named: String) {
        let result = ConfigParser.parseConfigValue("address-pools: [{name: a, protocol: layer2, addresses: [\"\(block)\"]}]")
        guard case .failure(let errors) = result else {
            Issue.record("\(block) was accepted")
            return
        }
        #expect(errors.errors.map(\.description) == ["address-pools[0].addresses[0]: \"\(block)\" includes \(named); these addresses cannot serve a Service"])
    }

    @Test(arguments: ["1.0.0.0/8", "223.255.255.0/24", "240.0.0.0/5", "2001:db8::/32", "fec0::/10", "fe00::/9", "169.253.0.0/16"])
    func ordinaryAddressesNextToSpecialOnesAreAccepted(_ block: String) throws {
        _ = try ConfigParser.parseConfigValue("address-pools: [{name: a, protocol: bgp, addresses: [\"\(block)\"]}]").get()
    }

    /// 4 bytes per community, 12 per large one, at most 3,840 bytes per pool (its
    /// advertisements merged): 960 communities, 320 large ones.
    @Test(arguments: [(960, 0, true), (961, 0, false), (1_100, 0, false), (16_384, 0, false), (0, 320, true), (0, 321, false), (900, 20, true), (900, 21, false)])
    func communitiesMustFitOneUpdate(_ standard: Int, _ large: Int, _ accepted: Bool) {
        let communities = (0..<standard).map { "\($0 / 65536 + 1):\($0 % 65536)" } + (0..<large).map { "large:64512:1:\($0)" }
        // Split over two advertisements: the limit is on what a route can carry once merged.
        let half = communities.count / 2
        let text = """
            address-pools:
            - name: a
              protocol: bgp
              addresses: [198.51.100.0/28]
              bgp-advertisements:
              - communities: [\(communities[..<half].joined(separator: ", "))]
              - communities: [\(communities[half...].joined(separator: ", "))]
            """
        switch ConfigParser.parseConfigValue(text) {
        case .success: #expect(accepted)
        case .failure(let errors):
            #expect(!accepted, "\(errors)")
            #expect(errors.errors.map(\.description) == ["address-pools[0].bgp-advertisements: \(standard) communities and \(large) large communities take \(4 * standard + 12 * large) bytes; one BGP UPDATE to a peer without extended messages (4096 bytes) holds at most 3840 bytes of them (4 per community, 12 per large community)"])
        }
    }
}

/// The configuration fuzzer's kept corpus (docs/fuzzing.md), replayed through its checks.
@Suite struct ConfigFuzzCorpusTests {
    static let directory = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz/corpus/config")

    @Test func corpusReplaysCleanly() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).sorted()
        #expect(files.count >= 10)
        for file in files {
            let text = String(decoding: try Data(contentsOf: Self.directory.appendingPathComponent(file)), as: UTF8.self)
            #expect(ConfigFuzzCheck.violation(text) == nil, "\(file)")
        }
    }

    @Test func fixturesPassTheFuzzChecks() throws {
        for kind in ["valid", "invalid"] {
            for name in Fixtures.names(kind) {
                #expect(ConfigFuzzCheck.violation(try Fixtures.read(kind, name, "yaml")) == nil, "\(kind)/\(name)")
            }
        }
        #expect(ConfigFuzzCheck.violation(HostileInputTests.aliasBomb) == nil)
    }
}
