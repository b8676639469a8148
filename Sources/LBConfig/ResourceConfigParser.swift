// MetalLB's custom resources (metallb.io, v0.13 and later) as a configuration source.
//
// `ResourceConfigParser` reads IPAddressPool, L2Advertisement, BGPAdvertisement, Community,
// BFDProfile (metallb.io/v1beta1) and BGPPeer (v1beta2 and v1beta1) objects, with MetalLB's field
// names and meaning, into the same `Configuration` the ConfigMap parser builds. Every field is
// either honoured or refused with an error naming it and why. Errors are path-qualified with the
// object: `IPAddressPool/public spec.addresses[0]: ...`. See docs/design/crd-config.md.
import enum KubeModel.Base64
import BGPWire
import KubeModel
import NetPrimitives
import Yams

/// One object of a configuration: `IPAddressPool/public`.
public struct ResourceName: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var kind: String
    public var name: String

    public init(kind: String, name: String) {
        self.kind = kind
        self.name = name
    }

    public var description: String { "\(kind)/\(name)" }

    public static func < (lhs: ResourceName, rhs: ResourceName) -> Bool { (lhs.kind, lhs.name) < (rhs.kind, rhs.name) }

    /// The object an error's path starts with (`IPAddressPool/public spec...`), if any.
    public init?(errorPath path: String) {
        let head = path.split(separator: " ", maxSplits: 1).first.map(String.init) ?? path
        let parts = head.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, ResourceConfigParser.kinds.contains(String(parts[0])) else { return nil }
        self.init(kind: String(parts[0]), name: String(parts[1]))
    }
}

/// A `kubernetes.io/basic-auth` Secret as BGPPeer `passwordSecret` refers to it.
public struct PasswordSecret: Equatable, Sendable {
    public var name: String
    public var type: String
    public var password: String?

    public init(name: String, type: String, password: String?) {
        self.name = name
        self.type = type
        self.password = password
    }

    public static let basicAuth = "kubernetes.io/basic-auth"
}

public struct ParsedResources: Equatable, Sendable {
    public var configuration: Configuration
    /// The metallb.io objects read, in the order given.
    public var objects: [ResourceName]
    public var warnings: [String]
}

public enum ResourceConfigParser {
    public static let group = "metallb.io"
    public static let kinds: Set<String> = ["IPAddressPool", "L2Advertisement", "BGPAdvertisement", "Community", "BFDProfile", "BGPPeer"]

    /// The `spec` fields read, by kind (and `BGPPeer/version`): MetalLB's, every one of them,
    /// each honoured or refused. manifests/crds.yaml declares exactly these.
    public static let specFields: [String: [String]] = {
        let peerV1beta1 = [
            "myASN", "peerASN", "peerAddress", "sourceAddress", "peerPort", "holdTime", "keepaliveTime", "routerID",
            "nodeSelectors", "password", "bfdProfile", "ebgpMultiHop",
        ]
        return [
            "IPAddressPool": ["addresses", "autoAssign", "avoidBuggyIPs", "serviceAllocation"],
            "L2Advertisement": ["ipAddressPools", "ipAddressPoolSelectors", "nodeSelectors", "interfaces", "serviceSelectors", "preferredNodeSelectors"],
            "BGPAdvertisement": [
                "aggregationLength", "aggregationLengthV6", "localPref", "communities", "ipAddressPools", "ipAddressPoolSelectors",
                "nodeSelectors", "peers", "serviceSelectors",
            ],
            "Community": ["communities"],
            "BFDProfile": ["receiveInterval", "transmitInterval", "detectMultiplier", "echoInterval", "echoMode", "passiveMode", "minimumTtl"],
            "BGPPeer/v1beta1": peerV1beta1,
            "BGPPeer/v1beta2": peerV1beta1 + [
                "localASN", "dynamicASN", "interface", "connectTime", "passwordSecret", "enableGracefulRestart", "vrf",
                "disableMP", "dualStackAddressFamily",
            ],
        ]
    }()

    /// Whether a composed document is a metallb.io object (or a List holding one).
    static func isResource(_ node: Node) -> Bool {
        if node["kind"]?.string == "List", case .sequence(let items)? = node["items"] { return items.contains(where: isResource) }
        return node["apiVersion"]?.string?.hasPrefix(group + "/") ?? false
    }

    /// Reads metallb.io objects, and the Secrets they name, from composed documents.
    ///
    /// - Parameter secrets: the Secrets of the controller's namespace by name, when read from a
    ///   cluster; a `passwordSecret` naming a missing one is then an error. Nil (files): Secrets
    ///   come from the documents, and a missing one is a warning.
    public static func parse(documents: [Node], secrets: [String: PasswordSecret]? = nil) -> Result<ParsedResources, ConfigErrors> {
        var builder = ResourceBuilder(secrets: secrets ?? [:], secretsAreComplete: secrets != nil)
        for document in documents { builder.collect(document) }
        let configuration = builder.build()
        let errors = builder.base.reader.errors
        guard errors.isEmpty, let configuration else {
            return .failure(ConfigErrors(errors.isEmpty ? [ConfigError(path: "", message: "invalid configuration")] : errors))
        }
        return .success(ParsedResources(configuration: configuration, objects: builder.objects.map(\.name), warnings: builder.warnings))
    }

    /// Reads objects given as JSON texts (from the API server), in the order given.
    public static func parse(objects: [String], secrets: [String: PasswordSecret]) -> Result<ParsedResources, ConfigErrors> {
        var documents: [Node] = []
        for (index, text) in objects.enumerated() {
            do {
                if let node = try Yams.compose(yaml: text) { documents.append(node) }
            } catch {
                return .failure(ConfigErrors([ConfigError(path: "", message: "object \(index) is not JSON: \(error)")]))
            }
        }
        return parse(documents: documents, secrets: secrets)
    }
}

/// Why a field IronLB does not implement is refused (each names the field in its path).
enum Unsupported {
    static let serviceSelectors = "IronLB announces every Service of a pool; selecting Services per advertisement is not implemented"
    static let preferredNodeSelectors = "IronLB elects the announcing node by Leases and rendezvous hashing; node preferences are not implemented"
    static let advertisementPeers = "IronLB announces a pool to every BGP peer of a node; limiting an advertisement to some peers is not implemented"
    static let dynamicASN = "IronLB needs the peer's AS number (peerASN); dynamic ASN detection is not implemented"
    static let localASN = "IronLB does not implement the local-as override; use myASN"
    static let interface = "BGP unnumbered (peering over an interface) is not implemented; give peerAddress"
    static let connectTime = "IronLB's connection retry interval is not configurable yet"
    static let gracefulRestart = "BGP graceful restart is not implemented"
    static let vrf = "IronLB peers from the default VRF only"
    static let disableMP = "IronLB always negotiates both address families on one session (multiprotocol BGP)"
    static let dualStack = "IronLB announces each family only on sessions of that family"
}

/// The walk over the objects: collect by kind, then resolve references across them.
struct ResourceBuilder {
    struct Object {
        var name: ResourceName
        var node: Node
        var spec: Node?
        var labels: [String: String]
        var path: String { "\(name) spec" }
    }

    struct PendingL2 {
        var object: Object
        var selection: PoolSelection
        var interfaces: [String]
        var nodeSelectors: [LabelSelector]
    }

    struct PendingBGP {
        var object: Object
        var selection: PoolSelection
        var advertisement: BGPAdvertisement
        var communities: [(text: String, path: String, node: Node)]
        var nodeSelectors: [LabelSelector]
        var aggregationNode: Node?
        var aggregationV6Node: Node?
    }

    /// `ipAddressPools` and `ipAddressPoolSelectors`: both empty selects every pool.
    struct PoolSelection {
        var names: [String]
        var selectors: [LabelSelector]

        func selects(_ pool: Object) -> Bool {
            if names.isEmpty && selectors.isEmpty { return true }
            return names.contains(pool.name.name) || selectors.contains { $0.matches(pool.labels) }
        }
    }

    var base = ConfigBuilder(camelCase: true)
    var secrets: [String: PasswordSecret]
    var secretsAreComplete: Bool
    var objects: [Object] = []
    var warnings: [String] = []

    init(secrets: [String: PasswordSecret], secretsAreComplete: Bool) {
        self.secrets = secrets
        self.secretsAreComplete = secretsAreComplete
    }

    private static let versions: [String: Set<String>] = [
        "metallb.io/v1beta1": ["IPAddressPool", "L2Advertisement", "BGPAdvertisement", "Community", "BFDProfile", "BGPPeer"],
        "metallb.io/v1beta2": ["BGPPeer"],
    ]

    mutating func collect(_ document: Node) {
        let kind = document["kind"]?.string ?? ""
        let apiVersion = document["apiVersion"]?.string ?? ""
        if kind == "List", case .sequence(let items)? = document["items"] {
            for item in items { collect(item) }
            return
        }
        if apiVersion == "v1", kind == "Secret" {
            collectSecret(document)
            return
        }
        if apiVersion == ConfigSources.secretsCompleteMarker.apiVersion, kind == ConfigSources.secretsCompleteMarker.kind {
            secretsAreComplete = true
            return
        }
        guard apiVersion.hasPrefix(ResourceConfigParser.group + "/") else {
            if kind != "ConfigMap", kind != "Namespace" { warnings.append("\(kind.isEmpty ? "a document without kind" : "\(apiVersion) \(kind)") is ignored") }
            return
        }
        guard let served = Self.versions[apiVersion], served.contains(kind) else {
            let known = Self.versions.filter { $0.value.contains(kind) }.keys.sorted()
            let hint = known.isEmpty
                ? (kind == "AddressPool" ? "; MetalLB removed AddressPool in 0.14: write an IPAddressPool and an advertisement" : "; IronLB reads \(ResourceConfigParser.kinds.sorted().joined(separator: ", "))")
                : "; use apiVersion \(known.joined(separator: " or "))"
            base.reader.fail(kind.isEmpty ? apiVersion : kind, "\(apiVersion) \(kind) is not read\(hint)", at: document["kind"] ?? document)
            return
        }
        guard let name = document["metadata"]?["name"]?.string, !name.isEmpty else {
            base.reader.fail(kind, "metadata.name is required", at: document)
            return
        }
        let objectName = ResourceName(kind: kind, name: name)
        if let problem = Self.nameProblem(name) {
            base.reader.fail("\(objectName) metadata.name", problem, at: document["metadata"]?["name"])
            return
        }
        if objects.contains(where: { $0.name == objectName }) {
            base.reader.fail("\(objectName)", "is given twice", at: document)
            return
        }
        var labels: [String: String] = [:]
        if case .mapping(let mapping)? = document["metadata"]?["labels"] {
            for (key, value) in mapping { if let key = key.string, let value = value.string { labels[key] = value } }
        }
        let spec = document["spec"].flatMap { YAMLReader.isNull($0) ? nil : $0 }
        objects.append(Object(name: objectName, node: document, spec: spec, labels: labels))
    }

    /// A DNS subdomain (RFC 1123), as Kubernetes requires of these objects' names.
    static func nameProblem(_ name: String) -> String? {
        let valid = name.utf8.count <= 253 && name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { LabelSelector.isDNSLabel($0) }
        return valid ? nil : "\"\(name)\" is not a valid object name (lower-case letters, digits, '-' and '.', at most 253 characters)"
    }

    private mutating func collectSecret(_ document: Node) {
        guard let name = document["metadata"]?["name"]?.string else { return }
        let type = document["type"]?.string ?? "Opaque"
        var password: String?
        if let text = document["stringData"]?["password"]?.string {
            password = text
        } else if let encoded = document["data"]?["password"]?.string {
            password = Base64.decode(encoded).flatMap { String(validating: $0, as: UTF8.self) }
            if password == nil { base.reader.fail("Secret/\(name) data.password", "is not base64-encoded UTF-8", at: document["data"]?["password"]) }
        }
        secrets[name] = PasswordSecret(name: name, type: type, password: password)
    }

    private func objects(_ kind: String) -> [Object] { objects.filter { $0.name.kind == kind } }

    /// The spec's fields, refusing unknown keys; an object without a spec has none.
    private mutating func fields(_ object: Object, known: [String], required: [String] = []) -> [String: Node]? {
        guard let spec = object.spec else {
            for key in required { base.reader.fail("\(object.path).\(key)", "is required", at: object.node) }
            return required.isEmpty ? [:] : nil
        }
        return base.reader.fields(spec, object.path, known: known, required: required)
    }

    /// A field IronLB refuses when it is set to anything but its default (empty, false, 0).
    private mutating func refuse(_ fields: [String: Node], _ key: String, in object: Object, _ why: String) {
        guard let node = fields[key], !Self.isDefault(node) else { return }
        base.reader.fail("\(object.path).\(key)", "is not supported: \(why)", at: node)
    }

    private static func isDefault(_ node: Node) -> Bool {
        switch node {
        case .scalar(let scalar):
            return YAMLReader.isNull(node) || scalar.string.isEmpty || node.bool == false || (YAMLReader.tagName(node) == .int && node.int == 0)
        case .sequence(let items): return items.isEmpty
        case .mapping(let mapping): return mapping.allSatisfy { isDefault($0.value) }
        }
    }

    // MARK: Build

    mutating func build() -> Configuration? {
        let aliases = communities()
        let profiles = bfdProfiles()
        // Every BFDProfile object counts as known, refused or not: its own error says what is wrong.
        let peers = self.peers(profiles: Set(objects("BFDProfile").map(\.name.name)))
        let pools = self.pools(aliases: aliases)
        guard base.reader.errors.isEmpty else { return nil }
        return Configuration(peers: peers, pools: pools, communityAliases: aliases, bfdProfiles: profiles)
    }

    private mutating func communities() -> [String: BGPCommunityValue] {
        var aliases: [String: BGPCommunityValue] = [:]
        var origins: [String: String] = [:]
        for object in objects("Community") {
            guard let fields = fields(object, known: ResourceConfigParser.specFields["Community"] ?? []), let list = fields["communities"],
                  let items = base.reader.sequence(list, "\(object.path).communities") else { continue }
            for (index, item) in items.enumerated() {
                let path = "\(object.path).communities[\(index)]"
                guard let entry = base.reader.fields(item, path, known: ["name", "value"], required: ["name", "value"]),
                      let name = entry["name"].flatMap({ base.reader.nonEmptyString($0, "\(path).name") }),
                      let text = entry["value"].flatMap({ base.reader.nonEmptyString($0, "\(path).value") }) else { continue }
                if (try? BGPCommunityValue(parsing: name)) != nil {
                    base.reader.fail("\(path).name", "an alias must not itself look like a community", at: entry["name"])
                    continue
                }
                if let first = origins[name] {
                    base.reader.fail("\(path).name", "duplicate community alias \"\(name)\" (also \(first))", at: entry["name"])
                    continue
                }
                do {
                    aliases[name] = try BGPCommunityValue(parsing: text)
                    origins[name] = path
                } catch {
                    base.reader.fail("\(path).value", "\"\(text)\" \(error)", at: entry["value"])
                }
            }
        }
        return aliases
    }

    private mutating func bfdProfiles() -> [BFDProfile] {
        var profiles: [BFDProfile] = []
        let intervals = 10...60000
        for object in objects("BFDProfile") {
            guard let fields = fields(object, known: ResourceConfigParser.specFields["BFDProfile"] ?? []) else { continue }
            var profile = BFDProfile(name: object.name.name)
            let path = object.path
            if let value = fields["receiveInterval"].flatMap({ base.reader.int($0, "\(path).receiveInterval", range: intervals) }) { profile.receiveInterval = value }
            if let value = fields["transmitInterval"].flatMap({ base.reader.int($0, "\(path).transmitInterval", range: intervals) }) { profile.transmitInterval = value }
            if let value = fields["detectMultiplier"].flatMap({ base.reader.int($0, "\(path).detectMultiplier", range: 2...255) }) { profile.detectMultiplier = value }
            if let value = fields["echoInterval"].flatMap({ base.reader.int($0, "\(path).echoInterval", range: intervals) }) { profile.echoInterval = value }
            if let value = fields["echoMode"].flatMap({ base.reader.bool($0, "\(path).echoMode") }) { profile.echoMode = value }
            if profile.echoMode { base.reader.fail("\(path).echoMode", BFDProfile.echoModeRefusal, at: fields["echoMode"]) }
            if let value = fields["passiveMode"].flatMap({ base.reader.bool($0, "\(path).passiveMode") }) { profile.passiveMode = value }
            if let value = fields["minimumTtl"].flatMap({ base.reader.int($0, "\(path).minimumTtl", range: 1...254) }) { profile.minimumTTL = value }
            // Kept even when refused, so that a peer naming it is not also "unknown".
            profiles.append(profile)
        }
        return profiles
    }

    // MARK: Peers

    private mutating func peers(profiles: Set<String>) -> [Peer] {
        var peers: [Peer] = []
        var keys: [String: String] = [:]
        for object in objects("BGPPeer") {
            let version = object.node["apiVersion"]?.string ?? ""
            let known = ResourceConfigParser.specFields[version.hasSuffix("v1beta2") ? "BGPPeer/v1beta2" : "BGPPeer/v1beta1"] ?? []
            guard let peer = peer(object, known: known, profiles: profiles) else { continue }
            let key = "\(peer.address)|\(peer.port)|\(peer.sourceAddress?.description ?? "")|\(peer.nodeSelectors.hashValue)"
            if let first = keys[key] {
                base.reader.fail("\(object.name)", "duplicate peer \(peer.address) port \(peer.port) (same as \(first))", at: object.node)
                continue
            }
            keys[key] = object.name.description
            peers.append(peer)
        }
        return peers
    }

    private mutating func peer(_ object: Object, known: [String], profiles: Set<String>) -> Peer? {
        let path = object.path
        let before = base.reader.errors.count
        guard let fields = fields(object, known: known, required: ["myASN"]) else { return nil }
        for (key, why) in [
            ("dynamicASN", Unsupported.dynamicASN), ("localASN", Unsupported.localASN), ("interface", Unsupported.interface),
            ("connectTime", Unsupported.connectTime), ("enableGracefulRestart", Unsupported.gracefulRestart), ("vrf", Unsupported.vrf),
            ("disableMP", Unsupported.disableMP), ("dualStackAddressFamily", Unsupported.dualStack),
        ] {
            refuse(fields, key, in: object, why)
        }
        var bfdProfile: String?
        if let node = fields["bfdProfile"], let name = base.reader.string(node, "\(path).bfdProfile"), !name.isEmpty {
            if profiles.contains(name) {
                bfdProfile = name
            } else {
                base.reader.fail("\(path).bfdProfile", "unknown BFD profile \"\(name)\" (no BFDProfile of that name)", at: node)
            }
        }
        let myASN = fields["myASN"].flatMap { base.asn($0, "\(path).myASN") }
        var peerASN: UInt32?
        if let node = fields["peerASN"] {
            peerASN = base.asn(node, "\(path).peerASN")
        } else if fields["dynamicASN"] == nil {
            base.reader.fail("\(path).peerASN", "is required", at: object.spec)
        }
        var address: IPAddress?
        if let node = fields["peerAddress"] {
            address = base.ipAddress(node, "\(path).peerAddress")
        } else if fields["interface"] == nil {
            base.reader.fail("\(path).peerAddress", "is required", at: object.spec)
        }
        let port = fields["peerPort"].flatMap { base.reader.int($0, "\(path).peerPort", range: 1...65535) } ?? 179
        let source = fields["sourceAddress"].flatMap { base.ipAddress($0, "\(path).sourceAddress") }
        var routerID: IPv4Address?
        if let node = fields["routerID"], let text = base.reader.nonEmptyString(node, "\(path).routerID") {
            routerID = IPv4Address(text)
            if routerID == nil { base.reader.fail("\(path).routerID", "\"\(text)\" is not an IPv4 address (a BGP identifier is 32 bits, written as one)", at: node) }
        }
        // MetalLB's parseTimers: either timer alone sets the other (hold = 3 × keepalive).
        let hold = fields["holdTime"].flatMap { base.seconds($0, "\(path).holdTime") }
        let keepalive = fields["keepaliveTime"].flatMap { base.seconds($0, "\(path).keepaliveTime") }
        let holdTime = hold ?? keepalive.map { $0 * 3 } ?? 90
        let keepaliveTime = keepalive ?? holdTime / 3
        if holdTime != 0 && holdTime < 3 {
            base.reader.fail("\(path).holdTime", "must be 0 or at least 3s (RFC 4271 §4.2), got \(holdTime)s", at: fields["holdTime"] ?? fields["keepaliveTime"])
        } else if holdTime > 65535 {
            base.reader.fail("\(path).keepaliveTime", "3 × \(keepaliveTime)s is longer than the longest hold time, 65535s", at: fields["keepaliveTime"])
        }
        if keepaliveTime > holdTime {
            base.reader.fail("\(path).keepaliveTime", "\(keepaliveTime)s is longer than holdTime \(holdTime)s", at: fields["keepaliveTime"])
        }
        let multihop = fields["ebgpMultiHop"].flatMap { base.reader.bool($0, "\(path).ebgpMultiHop") } ?? false
        if multihop, let myASN, let peerASN, myASN == peerASN {
            base.reader.fail("\(path).ebgpMultiHop", "is only for eBGP; myASN and peerASN are both \(myASN)", at: fields["ebgpMultiHop"])
        }
        if let address, let source, address.family != source.family {
            base.reader.fail("\(path).sourceAddress", "\(source) is \(source.family) but peerAddress \(address) is \(address.family)", at: fields["sourceAddress"])
        }
        let selectors = fields["nodeSelectors"].map { base.selectorList($0, "\(path).nodeSelectors") } ?? []
        let password = self.password(fields, object)
        guard base.reader.errors.count == before, let myASN, let peerASN, let address else { return nil }
        return Peer(
            myASN: myASN, peerASN: peerASN, address: address, port: UInt16(port), sourceAddress: source, routerID: routerID,
            holdTime: holdTime, keepaliveTime: keepaliveTime, password: password, ebgpMultihop: multihop, nodeSelectors: selectors,
            bfdProfile: bfdProfile
        )
    }

    /// `password`, or the `password` key of the `kubernetes.io/basic-auth` Secret `passwordSecret` names.
    private mutating func password(_ fields: [String: Node], _ object: Object) -> String? {
        let path = object.path
        var password = fields["password"].flatMap { base.reader.string($0, "\(path).password") }
        if let node = fields["passwordSecret"], !Self.isDefault(node),
           let reference = base.reader.fields(node, "\(path).passwordSecret", known: ["name", "namespace"], required: ["name"]),
           let name = reference["name"].flatMap({ base.reader.nonEmptyString($0, "\(path).passwordSecret.name") }) {
            if let password, !password.isEmpty {
                base.reader.fail("\(path).passwordSecret", "and password are both set; give one", at: node)
                return nil
            }
            guard let secret = secrets[name] else {
                if secretsAreComplete {
                    base.reader.fail("\(path).passwordSecret.name", "Secret \"\(name)\" not found in IronLB's namespace", at: reference["name"])
                } else {
                    warnings.append("\(object.name): passwordSecret \"\(name)\" is not among the files; the controller reads it from its namespace")
                }
                return nil
            }
            guard secret.type == PasswordSecret.basicAuth else {
                base.reader.fail("\(path).passwordSecret.name", "Secret \"\(name)\" has type \(secret.type); it must be \(PasswordSecret.basicAuth)", at: reference["name"])
                return nil
            }
            guard let secretPassword = secret.password else {
                base.reader.fail("\(path).passwordSecret.name", "Secret \"\(name)\" has no key \"password\"", at: reference["name"])
                return nil
            }
            password = secretPassword
        }
        if let password, password.utf8.count > 80 {
            base.reader.fail("\(path).password", "is longer than 80 bytes, the TCP MD5 key limit (TCP_MD5SIG_MAXKEYLEN)", at: fields["password"] ?? fields["passwordSecret"])
        }
        return password.flatMap { $0.isEmpty ? nil : $0 }
    }

    // MARK: Pools and advertisements

    private mutating func pools(aliases: [String: BGPCommunityValue]) -> [AddressPool] {
        var pools: [(object: Object, pool: AddressPool, blockPaths: [String])] = []
        for object in objects("IPAddressPool") {
            let path = object.path
            let before = base.reader.errors.count
            guard let fields = fields(object, known: ResourceConfigParser.specFields["IPAddressPool"] ?? [], required: ["addresses"]) else { continue }
            let (blocks, blockPaths) = fields["addresses"].map { base.addressBlocks($0, "\(path).addresses") } ?? ([], [])
            let autoAssign = fields["autoAssign"].flatMap { base.reader.bool($0, "\(path).autoAssign") } ?? true
            let avoidBuggy = fields["avoidBuggyIPs"].flatMap { base.reader.bool($0, "\(path).avoidBuggyIPs") } ?? false
            var allocation = fields["serviceAllocation"].flatMap { base.serviceAllocation($0, "\(path).serviceAllocation") }
            // MetalLB: priority 0 (the default of an omitted int) means no priority.
            if allocation?.priority == 0 { allocation?.priority = nil }
            guard base.reader.errors.count == before else { continue }
            let pool = AddressPool(name: object.name.name, protocol: .unannounced, addresses: blocks, autoAssign: autoAssign, avoidBuggyIPs: avoidBuggy, serviceAllocation: allocation)
            pools.append((object, pool, blockPaths))
        }
        let layer2 = objects("L2Advertisement").compactMap { l2Advertisement($0) }
        let bgp = objects("BGPAdvertisement").compactMap { bgpAdvertisement($0, aliases: aliases) }
        let poolNames = Set(pools.map(\.object.name.name))
        for (object, names) in layer2.map({ ($0.object, $0.selection.names) }) + bgp.map({ ($0.object, $0.selection.names) }) {
            for name in names where !poolNames.contains(name) {
                warnings.append("\(object.name): spec.ipAddressPools names \"\(name)\", which is not an IPAddressPool here")
            }
        }
        var result: [AddressPool] = []
        var blocks: [(block: AddressBlock, path: String)] = []
        for (object, pool, blockPaths) in pools {
            let l2 = layer2.filter { $0.selection.selects(object) }
            let announcing = bgp.filter { $0.selection.selects(object) }
            var pool = pool
            if !l2.isEmpty && !announcing.isEmpty {
                base.reader.fail(
                    "\(object.name)",
                    "is selected by \(l2[0].object.name) and \(announcing[0].object.name); an IronLB pool is announced by layer 2 or by BGP, not both (give it to one kind of advertisement)",
                    at: object.node
                )
                continue
            }
            if let first = l2.first {
                pool.protocol = .layer2
                for other in l2.dropFirst() where Set(other.interfaces) != Set(first.interfaces) {
                    base.reader.fail(
                        "\(other.object.path).interfaces",
                        "differs from \(first.object.name)'s for IPAddressPool \(object.name.name); IronLB takes one interface list per pool",
                        at: other.object.spec
                    )
                }
                pool.interfaces = first.interfaces
                // Several advertisements: the union of their nodes (an empty list is every node).
                pool.nodeSelectors = l2.contains { $0.nodeSelectors.isEmpty } ? [] : l2.flatMap(\.nodeSelectors)
            } else if let first = announcing.first {
                pool.protocol = .bgp
                for other in announcing.dropFirst() where other.nodeSelectors != first.nodeSelectors {
                    base.reader.fail(
                        "\(other.object.path).nodeSelectors",
                        "differ from \(first.object.name)'s for IPAddressPool \(object.name.name); IronLB takes one node selection per BGP pool",
                        at: other.object.spec
                    )
                }
                pool.nodeSelectors = first.nodeSelectors
                for advertisement in announcing {
                    for (family, length, key, node) in [
                        (IPFamily.ipv4, advertisement.advertisement.aggregationLength, "aggregationLength", advertisement.aggregationNode),
                        (IPFamily.ipv6, advertisement.advertisement.aggregationLengthV6, "aggregationLengthV6", advertisement.aggregationV6Node),
                    ] {
                        if let problem = pool.aggregationProblem(length: length, family: family) {
                            base.reader.fail("\(advertisement.object.path).\(key)", "for IPAddressPool \(object.name.name): \(problem)", at: node)
                        }
                    }
                    if !pool.bgpAdvertisements.contains(advertisement.advertisement) { pool.bgpAdvertisements.append(advertisement.advertisement) }
                }
                base.checkCommunitySize(pool.bgpAdvertisements, path: "\(object.path) (its BGPAdvertisements)", node: object.node)
            }
            for (block, path) in zip(pool.addresses, blockPaths) { blocks.append((block, path)) }
            result.append(pool)
        }
        base.checkOverlaps(blocks)
        return result
    }

    private mutating func poolSelection(_ fields: [String: Node], _ object: Object) -> PoolSelection {
        let names = fields["ipAddressPools"].flatMap { base.reader.stringList($0, "\(object.path).ipAddressPools") } ?? []
        let selectors = fields["ipAddressPoolSelectors"].map { base.selectorList($0, "\(object.path).ipAddressPoolSelectors") } ?? []
        return PoolSelection(names: names, selectors: selectors)
    }

    private mutating func l2Advertisement(_ object: Object) -> PendingL2? {
        let path = object.path
        let before = base.reader.errors.count
        guard let fields = fields(object, known: ResourceConfigParser.specFields["L2Advertisement"] ?? []) else { return nil }
        refuse(fields, "serviceSelectors", in: object, Unsupported.serviceSelectors)
        refuse(fields, "preferredNodeSelectors", in: object, Unsupported.preferredNodeSelectors)
        let selection = poolSelection(fields, object)
        var interfaces: [String] = []
        if let node = fields["interfaces"], let names = base.reader.stringList(node, "\(path).interfaces") {
            for (index, name) in names.enumerated() where name.utf8.count > 15 || name.contains("/") || name.contains(where: \.isWhitespace) {
                base.reader.fail("\(path).interfaces[\(index)]", "\"\(name)\" is not an interface name (at most 15 characters, no '/' or whitespace)", at: node)
            }
            interfaces = names
        }
        let selectors = fields["nodeSelectors"].map { base.selectorList($0, "\(path).nodeSelectors") } ?? []
        guard base.reader.errors.count == before else { return nil }
        return PendingL2(object: object, selection: selection, interfaces: interfaces, nodeSelectors: selectors)
    }

    private mutating func bgpAdvertisement(_ object: Object, aliases: [String: BGPCommunityValue]) -> PendingBGP? {
        let path = object.path
        let before = base.reader.errors.count
        guard let fields = fields(object, known: ResourceConfigParser.specFields["BGPAdvertisement"] ?? []) else { return nil }
        refuse(fields, "peers", in: object, Unsupported.advertisementPeers)
        refuse(fields, "serviceSelectors", in: object, Unsupported.serviceSelectors)
        let selection = poolSelection(fields, object)
        var advertisement = BGPAdvertisement()
        // MetalLB's schema: aggregationLength at least 1; 0 for IPv6 is allowed.
        if let value = fields["aggregationLength"].flatMap({ base.reader.int($0, "\(path).aggregationLength", range: 1...32) }) { advertisement.aggregationLength = value }
        if let value = fields["aggregationLengthV6"].flatMap({ base.reader.int($0, "\(path).aggregationLengthV6", range: 0...128) }) { advertisement.aggregationLengthV6 = value }
        // MetalLB: localPref 0 (an omitted uint32) means no LOCAL_PREF.
        if let value = fields["localPref"].flatMap({ base.reader.int($0, "\(path).localPref", range: 0...Int(UInt32.max)) }), value != 0 {
            advertisement.localPref = UInt32(value)
        }
        if let node = fields["communities"], let items = base.reader.sequence(node, "\(path).communities") {
            var seen: Set<String> = []
            for (index, item) in items.enumerated() {
                let itemPath = "\(path).communities[\(index)]"
                guard let text = base.reader.nonEmptyString(item, itemPath) else { continue }
                if !seen.insert(text).inserted {
                    base.reader.fail(itemPath, "duplicate community \"\(text)\"", at: item)
                } else if let community = aliases[text] ?? (try? BGPCommunityValue(parsing: text)) {
                    advertisement.communities.append(community)
                } else if text.contains(":") {
                    do { _ = try BGPCommunityValue(parsing: text) } catch { base.reader.fail(itemPath, "\"\(text)\" \(error)", at: item) }
                } else {
                    base.reader.fail(itemPath, "\"\(text)\" is neither a community (AS:value or large:A:B:C) nor an alias from a Community object", at: item)
                }
            }
        }
        let selectors = fields["nodeSelectors"].map { base.selectorList($0, "\(path).nodeSelectors") } ?? []
        guard base.reader.errors.count == before else { return nil }
        return PendingBGP(
            object: object, selection: selection, advertisement: advertisement, communities: [], nodeSelectors: selectors,
            aggregationNode: fields["aggregationLength"], aggregationV6Node: fields["aggregationLengthV6"]
        )
    }
}
