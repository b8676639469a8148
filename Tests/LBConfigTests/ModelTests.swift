import BGPWire
import KubeModel
import Testing
import NetPrimitives
@testable import LBConfig

@Suite struct ModelTests {
    func parse(_ text: String) throws -> Configuration {
        try ConfigParser.parse(text).get().configuration
    }

    @Test func defaultsMatchMetalLB() throws {
        let config = try parse("""
            peers:
            - peer-address: 192.0.2.1
              peer-asn: 64501
              my-asn: 64500
            address-pools:
            - name: p
              protocol: bgp
              addresses: [198.51.100.0/24]
            """)
        let peer = try #require(config.peers.first)
        #expect(peer.port == 179)
        #expect(peer.holdTime == 90)
        #expect(peer.keepaliveTime == 30)
        #expect(peer.ebgpMultihop == false)
        #expect(peer.password == nil)
        #expect(!peer.isIBGP)
        let pool = try #require(config.pools.first)
        #expect(pool.autoAssign)
        #expect(!pool.avoidBuggyIPs)
        #expect(pool.bgpAdvertisements == [BGPAdvertisement(aggregationLength: 32, aggregationLengthV6: 128, localPref: nil, communities: [])])
    }

    @Test func keepaliveDefaultsToAThirdOfHoldTime() throws {
        let config = try parse("""
            peers:
            - {peer-address: 192.0.2.1, peer-asn: 64501, my-asn: 64500, hold-time: 1m30s}
            - {peer-address: 192.0.2.2, peer-asn: 64501, my-asn: 64500, hold-time: 10s}
            """)
        #expect(config.peers.map(\.holdTime) == [90, 10])
        #expect(config.peers.map(\.keepaliveTime) == [30, 3])
    }

    @Test func communitiesResolveAliasesAndLargeCommunities() throws {
        let config = try parse("""
            bgp-communities:
              no-advertise: 65535:65282
              tenant: large:64500:7:9
            address-pools:
            - name: p
              protocol: bgp
              addresses: [198.51.100.0/24]
              bgp-advertisements:
              - communities: [no-advertise, tenant, "64500:1", "large:1:2:3"]
                localpref: 150
            """)
        let advertisement = try #require(config.pools.first?.bgpAdvertisements.first)
        #expect(advertisement.communities == [
            .standard(BGPCommunity(rawValue: 0xFFFF_FF02)), .large(BGPLargeCommunity(64500, 7, 9)),
            .standard(BGPCommunity(rawValue: 64500 << 16 | 1)), .large(BGPLargeCommunity(1, 2, 3)),
        ])
        #expect(advertisement.communities.map(\.description) == ["65535:65282", "large:64500:7:9", "64500:1", "large:1:2:3"])
        #expect(advertisement.localPref == 150)
    }

    @Test func layer2PoolsCarryNoAdvertisements() throws {
        let config = try parse("""
            address-pools:
            - {name: p, protocol: layer2, addresses: [198.51.100.0/24], interfaces: [eth1]}
            """)
        #expect(config.pools[0].bgpAdvertisements.isEmpty)
        #expect(config.pools[0].interfaces == ["eth1"])
    }

    @Test func bareAddressIsAOneAddressBlock() throws {
        let config = try parse("""
            address-pools:
            - {name: p, protocol: layer2, addresses: [198.51.100.9, "2001:db8::9"]}
            """)
        #expect(config.pools[0].addresses.map(\.description) == ["198.51.100.9/32", "2001:db8::9/128"])
        #expect(config.pools[0].addressCount == 2)
    }

    @Test func manifestErrorsPointAtFileLines() throws {
        let text = """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              namespace: ironlb-system
              name: config
            data:
              config: |
                address-pools:
                - name: p
                  protocol: layer3
                  addresses: [198.51.100.0/24]
            """
        guard case .failure(let errors) = ConfigParser.parse(text) else {
            Issue.record("expected a failure")
            return
        }
        #expect(errors.errors.map(\.description) == ["address-pools[0].protocol: \"layer3\" is not a protocol; use layer2 or bgp"])
        #expect(errors.errors.first?.line == 10)
    }

    @Test func manifestInMetalLBNamespaceWarns() throws {
        let parsed = try ConfigParser.parse("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {namespace: metallb-system, name: config}
            data:
              config: |
                address-pools: []
              other: x
            """).get()
        #expect(parsed.source == .configMap(namespace: "metallb-system", name: "config"))
        #expect(parsed.warnings == [
            "metadata.namespace is \"metallb-system\"; IronLB reads ironlb-system/config by default",
            "data.other is ignored; only data.config is read",
        ])
    }

    @Test func multiDocumentManifestPicksTheConfigMap() throws {
        let parsed = try ConfigParser.parse("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: ironlb-system}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {namespace: ironlb-system, name: config}
            data:
              config: |
                address-pools:
                - {name: p, protocol: layer2, addresses: [198.51.100.0/28]}
            """).get()
        #expect(parsed.configuration.pools.map(\.name) == ["p"])
        #expect(parsed.warnings.isEmpty)
    }

    @Test(arguments: [
        (["rack": "a", "speed": "fast"], true),
        (["rack": "a", "speed": "slow"], false),
        (["rack": "b", "speed": "fast"], false),
        (["rack": "a"], true),
        ([:], false),
    ])
    func selectorSemantics(labels: [String: String], matches: Bool) {
        let selector = LabelSelector(
            matchLabels: ["rack": "a"],
            matchExpressions: [.init(key: "speed", operator: .notIn, values: ["slow"])]
        )
        #expect(selector.matches(labels) == matches)
    }

    @Test func selectorOperators() {
        let labels = ["a": "1"]
        #expect(LabelSelector.Requirement(key: "a", operator: .in, values: ["1", "2"]).matches(labels))
        #expect(!LabelSelector.Requirement(key: "b", operator: .in, values: ["1"]).matches(labels))
        #expect(LabelSelector.Requirement(key: "b", operator: .notIn, values: ["1"]).matches(labels))
        #expect(LabelSelector.Requirement(key: "a", operator: .exists).matches(labels))
        #expect(!LabelSelector.Requirement(key: "a", operator: .doesNotExist).matches(labels))
        #expect(LabelSelector.anyMatches([], labels))
        #expect(LabelSelector().matches([:]))
    }

    @Test func serviceAllocationAdmission() {
        let allocation = ServiceAllocation(
            namespaces: ["web"],
            namespaceSelectors: [LabelSelector(matchLabels: ["team": "shop"])],
            serviceSelectors: [LabelSelector(matchExpressions: [.init(key: "tier", operator: .exists)])]
        )
        #expect(allocation.admits(namespace: "web", namespaceLabels: [:], serviceLabels: ["tier": "x"]))
        #expect(allocation.admits(namespace: "other", namespaceLabels: ["team": "shop"], serviceLabels: ["tier": "x"]))
        #expect(!allocation.admits(namespace: "other", namespaceLabels: [:], serviceLabels: ["tier": "x"]))
        #expect(!allocation.admits(namespace: "web", namespaceLabels: [:], serviceLabels: [:]))
        #expect(ServiceAllocation(priority: 1).admits(namespace: "any", namespaceLabels: [:], serviceLabels: [:]))
    }

    @Test(arguments: [
        ("90s", 90e9), ("1m30s", 90e9), ("1.5h", 5400e9), ("0", 0), ("500ms", 5e8), ("2us", 2000), ("+3s", 3e9),
    ])
    func goDurations(text: String, nanoseconds: Double) throws {
        #expect(try GoDuration.parse(text) == nanoseconds)
    }

    @Test(arguments: [
        ("90", GoDuration.ParseError.missingUnit), ("-1s", .negative), ("s", .syntax), ("1x", .unknownUnit("x")), ("", .syntax), ("1..2s", .syntax),
    ])
    func badGoDurations(text: String, error: GoDuration.ParseError) {
        #expect(throws: error) { try GoDuration.parse(text) }
    }

    @Test(arguments: [
        ("kubernetes.io/hostname", nil),
        ("rack", nil),
        ("a/b/c", "label key \"a/b/c\" has more than one \"/\""),
        ("Bad_Prefix/x", "label key prefix \"Bad_Prefix\" is not a DNS subdomain"),
        (String(repeating: "a", count: 64), "label key \"\(String(repeating: "a", count: 64))\" is not a valid label name (at most 63 characters: letters, digits, '-', '_', '.', alphanumeric at both ends)"),
    ] as [(String, String?)])
    func labelKeys(key: String, problem: String?) {
        #expect(LabelSelector.problem(withKey: key) == problem)
    }
}
