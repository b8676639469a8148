import BGPWire
import KubeModel
import Foundation
import enum KubeModel.Base64
import NetPrimitives
import Testing
import Yams
@testable import LBConfig

/// MetalLB's custom resources as a configuration source: field by field, the documentation's
/// examples, the combination with a ConfigMap, and `convert` round trips.
@Suite struct ResourceConfigTests {
    static func parse(_ text: String) -> Result<ParsedConfiguration, ConfigErrors> { ConfigParser.parse(text) }

    static func configuration(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> Configuration? {
        switch parse(text) {
        case .success(let parsed): return parsed.configuration
        case .failure(let errors):
            Issue.record("failed: \(errors)", sourceLocation: sourceLocation)
            return nil
        }
    }

    static func errors(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        switch parse(text) {
        case .success(let parsed):
            Issue.record("parsed, but should fail: \(parsed.configuration.summaryLines)", sourceLocation: sourceLocation)
            return []
        case .failure(let errors): return errors.errors.map(\.description)
        }
    }

    static let pool = """
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata:
          name: public
          namespace: ironlb-system
          labels: {zone: east}
        spec:
          addresses: [198.51.100.0/24, 2001:db8:1::/120]

        """

    // MARK: Pools and advertisements

    @Test func poolWithoutAdvertisementIsAllocatedButNotAnnounced() throws {
        let configuration = try #require(Self.configuration(Self.pool))
        #expect(configuration.pools.map(\.protocol) == [.unannounced])
        #expect(configuration.summaryLines == ["pool public: unannounced, 512 addresses (256 IPv4, 256 IPv6)"])
    }

    @Test func l2AdvertisementGivesInterfacesAndNodes() throws {
        let text = Self.pool + """
            ---
            apiVersion: metallb.io/v1beta1
            kind: L2Advertisement
            metadata: {name: l2}
            spec:
              ipAddressPools: [public]
              interfaces: [eth1]
              nodeSelectors:
              - matchLabels: {rack: a}
            ---
            apiVersion: metallb.io/v1beta1
            kind: L2Advertisement
            metadata: {name: l2-b}
            spec:
              ipAddressPoolSelectors:
              - matchExpressions: [{key: zone, operator: In, values: [east]}]
              interfaces: [eth1]
              nodeSelectors:
              - matchLabels: {rack: b}
            """
        let pool = try #require(Self.configuration(text)?.pools.first)
        #expect(pool.protocol == .layer2)
        #expect(pool.interfaces == ["eth1"])
        #expect(pool.nodeSelectors == [LabelSelector(matchLabels: ["rack": "a"]), LabelSelector(matchLabels: ["rack": "b"])])
    }

    @Test func anAdvertisementWithoutNodeSelectorsTakesEveryNode() throws {
        let text = Self.pool + """
            ---
            {apiVersion: metallb.io/v1beta1, kind: L2Advertisement, metadata: {name: a}, spec: {nodeSelectors: [{matchLabels: {rack: a}}]}}
            ---
            {apiVersion: metallb.io/v1beta1, kind: L2Advertisement, metadata: {name: b}}
            """
        let pool = try #require(Self.configuration(text)?.pools.first)
        #expect(pool.protocol == .layer2)
        #expect(pool.nodeSelectors.isEmpty)
    }

    @Test func bgpAdvertisementResolvesCommunityAliasesAndDefaults() throws {
        let text = Self.pool + """
            ---
            apiVersion: metallb.io/v1beta1
            kind: Community
            metadata: {name: communities}
            spec:
              communities:
              - {name: no-advertise, value: "65535:65282"}
              - {name: tenant, value: "large:64500:1:2"}
            ---
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: {name: aggregate}
            spec:
              ipAddressPools: [public]
              aggregationLength: 24
              aggregationLengthV6: 120
              localPref: 50
              communities: [no-advertise, tenant, "64500:7"]
              nodeSelectors: [{matchLabels: {bgp: "yes"}}]
            ---
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: {name: hosts}
            spec:
              ipAddressPools: [public]
              localPref: 0
              nodeSelectors: [{matchLabels: {bgp: "yes"}}]
            """
        let configuration = try #require(Self.configuration(text))
        let pool = try #require(configuration.pools.first)
        #expect(pool.protocol == .bgp)
        #expect(pool.nodeSelectors == [LabelSelector(matchLabels: ["bgp": "yes"])])
        #expect(pool.bgpAdvertisements == [
            BGPAdvertisement(aggregationLength: 24, aggregationLengthV6: 120, localPref: 50, communities: [
                .standard(BGPCommunity(rawValue: 65535 << 16 | 65282)), .large(BGPLargeCommunity(64500, 1, 2)), .standard(BGPCommunity(rawValue: 64500 << 16 | 7)),
            ]),
            // localPref 0 is MetalLB's "unset".
            BGPAdvertisement(),
        ])
        #expect(configuration.communityAliases.count == 2)
    }

    @Test func serviceAllocationPriorityZeroMeansNone() throws {
        let text = """
            apiVersion: metallb.io/v1beta1
            kind: IPAddressPool
            metadata: {name: tenant-a}
            spec:
              addresses: [198.51.100.0/28]
              autoAssign: false
              avoidBuggyIPs: true
              serviceAllocation:
                priority: 0
                namespaces: [tenant-a]
                namespaceSelectors: [{matchLabels: {team: a}}]
                serviceSelectors: [{matchExpressions: [{key: tier, operator: Exists}]}]
            """
        let pool = try #require(Self.configuration(text)?.pools.first)
        #expect(!pool.autoAssign && pool.avoidBuggyIPs)
        let allocation = try #require(pool.serviceAllocation)
        #expect(allocation.priority == nil)
        #expect(allocation.namespaces == ["tenant-a"])
        #expect(allocation.admits(namespace: "tenant-a", namespaceLabels: [:], serviceLabels: ["tier": "web"]))
        #expect(!allocation.admits(namespace: "tenant-b", namespaceLabels: [:], serviceLabels: ["tier": "web"]))
        #expect(allocation.admits(namespace: "tenant-b", namespaceLabels: ["team": "a"], serviceLabels: ["tier": "web"]))
        #expect(!allocation.admits(namespace: "tenant-a", namespaceLabels: [:], serviceLabels: [:]))
    }

    @Test(arguments: [
        // (spec fragment, expected error)
        ("aggregationLength: 23", "BGPAdvertisement/agg spec.aggregationLength: for IPAddressPool public: 23 is shorter than the pool's prefix 198.51.100.0/24 from 198.51.100.0/24; the aggregate would announce addresses the pool does not hold"),
        ("aggregationLength: 0", "BGPAdvertisement/agg spec.aggregationLength: 0 is out of range 1-32"),
        ("peers: [router]", "BGPAdvertisement/agg spec.peers: is not supported: \(Unsupported.advertisementPeers)"),
        ("serviceSelectors: [{matchLabels: {a: b}}]", "BGPAdvertisement/agg spec.serviceSelectors: is not supported: \(Unsupported.serviceSelectors)"),
        ("communities: [nope]", "BGPAdvertisement/agg spec.communities[0]: \"nope\" is neither a community (AS:value or large:A:B:C) nor an alias from a Community object"),
        ("communities: [\"1:2\", \"1:2\"]", "BGPAdvertisement/agg spec.communities[1]: duplicate community \"1:2\""),
        ("localpref: 5", "BGPAdvertisement/agg spec.localpref: unknown key \"localpref\"; did you mean \"localPref\"?"),
    ])
    func bgpAdvertisementErrors(fragment: String, expected: String) {
        let text = Self.pool.replacingOccurrences(of: ", 2001:db8:1::/120", with: "") + """
            ---
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: {name: agg}
            spec:
              \(fragment)
            """
        #expect(Self.errors(text) == [expected])
    }

    @Test func aPoolAnnouncedByBothProtocolsIsRefused() {
        let text = Self.pool + """
            ---
            {apiVersion: metallb.io/v1beta1, kind: L2Advertisement, metadata: {name: l2}}
            ---
            {apiVersion: metallb.io/v1beta1, kind: BGPAdvertisement, metadata: {name: bgp}}
            """
        #expect(Self.errors(text) == [
            "IPAddressPool/public: is selected by L2Advertisement/l2 and BGPAdvertisement/bgp; an IronLB pool is announced by layer 2 or by BGP, not both (give it to one kind of advertisement)",
        ])
    }

    @Test func l2AdvertisementsWithDifferentInterfacesForOnePoolAreRefused() {
        let text = Self.pool + """
            ---
            {apiVersion: metallb.io/v1beta1, kind: L2Advertisement, metadata: {name: a}, spec: {interfaces: [eth0]}}
            ---
            {apiVersion: metallb.io/v1beta1, kind: L2Advertisement, metadata: {name: b}, spec: {interfaces: [eth1], serviceSelectors: [], preferredNodeSelectors: []}}
            """
        #expect(Self.errors(text) == [
            "L2Advertisement/b spec.interfaces: differs from L2Advertisement/a's for IPAddressPool public; IronLB takes one interface list per pool",
        ])
    }

    @Test func overlappingPoolsAndBadObjectsAreNamed() {
        let text = Self.pool + """
            ---
            {apiVersion: metallb.io/v1beta1, kind: IPAddressPool, metadata: {name: inner}, spec: {addresses: [198.51.100.128/25]}}
            ---
            {apiVersion: metallb.io/v1beta1, kind: IPAddressPool, metadata: {name: Bad_Name}, spec: {addresses: [198.51.100.1]}}
            ---
            {apiVersion: metallb.io/v1alpha1, kind: AddressPool, metadata: {name: old}}
            ---
            {apiVersion: metallb.io/v1beta1, kind: IPAddressPool, metadata: {name: empty}}
            """
        #expect(Self.errors(text) == [
            "IPAddressPool/Bad_Name metadata.name: \"Bad_Name\" is not a valid object name (lower-case letters, digits, '-' and '.', at most 253 characters)",
            "AddressPool: metallb.io/v1alpha1 AddressPool is not read; MetalLB removed AddressPool in 0.14: write an IPAddressPool and an advertisement",
            "IPAddressPool/empty spec.addresses: is required",
            "IPAddressPool/inner spec.addresses[0]: 198.51.100.128/25 overlaps 198.51.100.0/24 at IPAddressPool/public spec.addresses[0]",
        ])
    }

    // MARK: Peers

    static func peer(_ fields: String, version: String = "v1beta2") -> String {
        """
        apiVersion: metallb.io/\(version)
        kind: BGPPeer
        metadata: {name: router, namespace: ironlb-system}
        spec:
          myASN: 64500
          peerASN: 64501
          peerAddress: 192.0.2.1
        \(fields.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))

        """
    }

    @Test func peerFieldsAndTimers() throws {
        let text = Self.peer("""
            sourceAddress: 192.0.2.10
            peerPort: 1179
            keepaliveTime: 10s
            routerID: 192.0.2.10
            ebgpMultiHop: true
            password: s3cret
            nodeSelectors: [{matchLabels: {rack: a}}]
            enableGracefulRestart: false
            vrf: ""
            disableMP: false
            """)
        let peer = try #require(Self.configuration(text)?.peers.first)
        #expect(peer == Peer(
            myASN: 64500, peerASN: 64501, address: IPAddress("192.0.2.1")!, port: 1179, sourceAddress: IPAddress("192.0.2.10"),
            routerID: IPv4Address("192.0.2.10"), holdTime: 30, keepaliveTime: 10, password: "s3cret", ebgpMultihop: true,
            nodeSelectors: [LabelSelector(matchLabels: ["rack": "a"])]
        ))
        let v1beta1 = try #require(Self.configuration(Self.peer("holdTime: 9s", version: "v1beta1"))?.peers.first)
        #expect((v1beta1.holdTime, v1beta1.keepaliveTime) == (9, 3))
        let defaults = try #require(Self.configuration(Self.peer(""))?.peers.first)
        #expect((defaults.holdTime, defaults.keepaliveTime, defaults.port) == (90, 30, 179))
    }

    @Test func passwordSecretIsResolvedFromABasicAuthSecret() throws {
        let secret = """
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: bgp-auth, namespace: ironlb-system}
            type: kubernetes.io/basic-auth
            data:
              password: \(Base64.encode(Array("md5-key".utf8)))
            """
        let text = Self.peer("passwordSecret: {name: bgp-auth, namespace: ironlb-system}") + secret
        #expect(try #require(Self.configuration(text)?.peers.first).password == "md5-key")
        // Missing from the files: a warning (the controller reads it from the cluster).
        switch Self.parse(Self.peer("passwordSecret: {name: bgp-auth}")) {
        case .success(let parsed): #expect(parsed.warnings == ["BGPPeer/router: passwordSecret \"bgp-auth\" is not among the files; the controller reads it from its namespace"])
        case .failure(let errors): Issue.record("\(errors)")
        }
        // Missing from the cluster: an error.
        let documents = try composeDocuments(Self.peer("passwordSecret: {name: bgp-auth}"))
        guard case .failure(let errors) = ResourceConfigParser.parse(documents: documents, secrets: [:]) else {
            Issue.record("a missing Secret must fail when reading from a cluster")
            return
        }
        #expect(errors.errors.map(\.description) == ["BGPPeer/router spec.passwordSecret.name: Secret \"bgp-auth\" not found in IronLB's namespace"])
        #expect(Self.errors(Self.peer("passwordSecret: {name: bgp-auth}") + secret.replacingOccurrences(of: "kubernetes.io/basic-auth", with: "Opaque")) == [
            "BGPPeer/router spec.passwordSecret.name: Secret \"bgp-auth\" has type Opaque; it must be kubernetes.io/basic-auth",
        ])
        #expect(Self.errors(Self.peer("password: x\npasswordSecret: {name: bgp-auth}") + secret) == ["BGPPeer/router spec.passwordSecret: and password are both set; give one"])
    }

    @Test(arguments: [
        ("dynamicASN: external", "dynamicASN", Unsupported.dynamicASN),
        ("localASN: 65000", "localASN", Unsupported.localASN),
        ("interface: eth0", "interface", Unsupported.interface),
        ("connectTime: 5s", "connectTime", Unsupported.connectTime),
        ("enableGracefulRestart: true", "enableGracefulRestart", Unsupported.gracefulRestart),
        ("vrf: red", "vrf", Unsupported.vrf),
        ("disableMP: true", "disableMP", Unsupported.disableMP),
        ("dualStackAddressFamily: true", "dualStackAddressFamily", Unsupported.dualStack),
    ])
    func unsupportedPeerFieldsAreRefusedByName(fragment: String, field: String, why: String) {
        #expect(Self.errors(Self.peer(fragment)).contains("BGPPeer/router spec.\(field): is not supported: \(why)"))
    }

    @Test func peerErrorsArePathQualified() {
        #expect(Self.errors(Self.peer("connectTime: 5s", version: "v1beta1")) == ["BGPPeer/router spec.connectTime: unknown key \"connectTime\""])
        #expect(Self.errors(Self.peer("holdTime: 2s")) == ["BGPPeer/router spec.holdTime: must be 0 or at least 3s (RFC 4271 §4.2), got 2s"])
        #expect(Self.errors(Self.peer("sourceAddress: 2001:db8::1")) == ["BGPPeer/router spec.sourceAddress: 2001:db8::1 is IPv6 but peerAddress 192.0.2.1 is IPv4"])
        let profile = "---\n{apiVersion: metallb.io/v1beta1, kind: BFDProfile, metadata: {name: fast}, spec: {receiveInterval: 50}}\n"
        switch Self.parse(Self.peer("bfdProfile: fast") + profile) {
        case .success(let parsed): #expect(parsed.configuration.peers.first?.bfdProfile == "fast")
        case .failure(let errors): Issue.record("refused: \(errors)")
        }
        let echo = "---\n{apiVersion: metallb.io/v1beta1, kind: BFDProfile, metadata: {name: fast}, spec: {echoMode: true}}\n"
        #expect(Self.errors(Self.peer("bfdProfile: fast") + echo) == ["BFDProfile/fast spec.echoMode: \(BFDProfile.echoModeRefusal)"])
        #expect(Self.errors(Self.peer("bfdProfile: slow") + profile) == ["BGPPeer/router spec.bfdProfile: unknown BFD profile \"slow\" (no BFDProfile of that name)"])
        #expect(Self.errors(Self.peer("myASN: \"64500\"").replacingOccurrences(of: "  myASN: 64500\n", with: "")) == [
            "BGPPeer/router spec.myASN: must be an integer, got a string (\"64500\")",
        ])
        #expect(ResourceName(errorPath: "BGPPeer/router.a spec.holdTime") == ResourceName(kind: "BGPPeer", name: "router.a"))
    }

    /// What the speaker parses: the ConfigMap value and the objects as JSON, and the Secrets it
    /// read by name; the set of Secrets is complete, so a missing one is an error.
    @Test func sourceTextCombinesTheConfigMapObjectsAndSecrets() throws {
        let peer = #"{"apiVersion":"metallb.io/v1beta2","kind":"BGPPeer","metadata":{"name":"router"},"spec":{"myASN":64500,"peerASN":64501,"peerAddress":"192.0.2.1","passwordSecret":{"name":"bgp-auth"}}}"#
        let secret = #"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"bgp-auth"},"type":"kubernetes.io/basic-auth","data":{"password":"\#(Base64.encode(Array("md5-key".utf8)))"}}"#
        let value = "address-pools: [{name: legacy, protocol: layer2, addresses: [\"203.0.113.0/28\"]}]\n"
        #expect(ConfigSources.sourceText(configValue: value, namespace: "ironlb-system", name: "config", objects: []) == value)
        #expect(ConfigSources.sourceText(configValue: nil, namespace: "ironlb-system", name: "config", objects: []) == nil)
        let text = try #require(ConfigSources.sourceText(configValue: value, namespace: "ironlb-system", name: "config", objects: [peer], secrets: [secret]))
        let configuration = try ConfigParser.parseSource(text).get()
        #expect(configuration.pools.map(\.name) == ["legacy"])
        #expect(configuration.peers.first?.password == "md5-key")
        let missing = try #require(ConfigSources.sourceText(configValue: nil, namespace: "ironlb-system", name: "config", objects: [peer], secrets: []))
        guard case .failure(let errors) = ConfigParser.parseSource(missing) else {
            Issue.record("a Secret the cluster does not have must make the configuration invalid")
            return
        }
        #expect(errors.errors.map(\.description) == ["BGPPeer/router spec.passwordSecret.name: Secret \"bgp-auth\" not found in IronLB's namespace"])
    }

    // MARK: Both sources

    @Test func configMapAndObjectsMakeOneConfiguration() throws {
        let configMap = """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: config, namespace: ironlb-system}
            data:
              config: |
                address-pools:
                - name: legacy
                  protocol: layer2
                  addresses: [203.0.113.0/28]
            ---

            """
        let both = try #require(Self.configuration(configMap + Self.pool))
        #expect(both.pools.map(\.name) == ["legacy", "public"])
        let clash = configMap.replacingOccurrences(of: "legacy", with: "public").replacingOccurrences(of: "203.0.113.0/28", with: "198.51.100.0/28")
        #expect(Self.errors(clash + Self.pool) == [
            "IPAddressPool/public: pool name \"public\" is also the ConfigMap's address-pools[0]; a name may be used once across the ConfigMap and the objects",
            "IPAddressPool/public spec.addresses[0]: 198.51.100.0/24 overlaps 198.51.100.0/28 at address-pools[0].addresses[0]",
        ])
    }

    // MARK: convert

    @Test(arguments: Fixtures.names("valid"))
    func configMapToResourcesAndBackGivesTheSameConfiguration(name: String) throws {
        let text = try Fixtures.read("valid", name, "yaml")
        let original = try #require(Self.configuration(text))
        let resources = ConfigWriter.resources(original)
        #expect(resources.notExpressible.isEmpty, "\(name): \(resources.notExpressible)")
        let fromResources = try #require(Self.configuration(resources.text), "\(name):\n\(resources.text)")
        #expect(fromResources == original, "\(name):\n\(resources.text)")
        let configMap = ConfigWriter.configMap(fromResources)
        #expect(configMap.notExpressible.isEmpty)
        let back = try #require(Self.configuration(configMap.text), "\(name):\n\(configMap.text)")
        #expect(back == original, "\(name):\n\(configMap.text)")
    }

    @Test func whatAConfigMapCannotSayIsNamed() {
        let configuration = Self.configuration(Self.pool)!
        let written = ConfigWriter.configMap(configuration)
        #expect(written.notExpressible == [
            "IPAddressPool/public has no L2Advertisement or BGPAdvertisement: a ConfigMap pool is announced by layer2 or bgp; it is left out",
        ])
        #expect(Self.configuration(written.text) == .empty)
    }

    // MARK: MetalLB's documentation

    /// Every metallb.io example on MetalLB's configuration and usage pages, judged as
    /// `NAME.expected` says: `valid` plus the summary, or the errors IronLB gives where it differs
    /// from MetalLB on purpose (docs/migrating-from-metallb.md).
    @Test(arguments: Fixtures.names("metallb-docs"))
    func metallbDocumentationExample(name: String) throws {
        let text = try Fixtures.read("metallb-docs", name, "yaml")
        let expected = try Fixtures.read("metallb-docs", name, "expected").split(separator: "\n").map(String.init)
        let actual: [String]
        switch Self.parse(text) {
        case .success(let parsed): actual = ["valid"] + parsed.configuration.summaryLines
        case .failure(let errors): actual = errors.errors.map(\.description)
        }
        #expect(actual == expected, "\(name)")
    }
}

func composeDocuments(_ text: String) throws -> [Node] {
    var documents: [Node] = []
    var sequence = try Yams.compose_all(yaml: text)
    while let document = sequence.next() { documents.append(document) }
    return documents
}
