import BGPWire
import KubeModel
import NetPrimitives
import Yams

/// Where a configuration was read from.
public enum ConfigSource: Equatable, Sendable {
    /// A whole ConfigMap manifest; the configuration is its `data.config`.
    case configMap(namespace: String?, name: String?)
    /// Just the `config` value.
    case configValue
    /// MetalLB's custom resources (metallb.io), with or without a ConfigMap beside them.
    case resources(objects: [ResourceName], withConfigMap: Bool)
}

public struct ParsedConfiguration: Equatable, Sendable {
    public var configuration: Configuration
    public var source: ConfigSource
    /// Not errors, but worth saying (a ConfigMap in MetalLB's namespace, ignored data keys).
    public var warnings: [String]
}

/// Translates configuration text into a validated `Configuration`, reporting every error.
public enum ConfigParser {
    public static let defaultNamespace = "ironlb-system"
    public static let defaultName = "config"
    public static let dataKey = "config"
    /// Why a peer may not name a BFD profile (ConfigMap and CRDs alike).

    /// Parses either a ConfigMap manifest (one or more YAML documents, one of them a
    /// ConfigMap) or the bare `config` value.
    public static func parse(_ text: String) -> Result<ParsedConfiguration, ConfigErrors> {
        if let error = YAMLNestingBound.check(text) { return .failure(ConfigErrors([error])) }
        var documents: [Node] = []
        do {
            // compose_all stops at the first bad document and keeps the error aside.
            var sequence = try Yams.compose_all(yaml: text)
            while let document = sequence.next() { documents.append(document) }
            if let error = sequence.error { throw error }
        } catch {
            return .failure(ConfigErrors([yamlSyntaxError(error)]))
        }
        let manifests = documents.filter(looksLikeManifest)
        if manifests.contains(where: ResourceConfigParser.isResource) { return ConfigSources.parse(manifests) }
        if manifests.isEmpty {
            guard documents.count <= 1 else {
                return .failure(ConfigErrors([ConfigError(path: "", message: "expected one YAML document, found \(documents.count)")]))
            }
            return parseValue(documents.first, text: text).map {
                ParsedConfiguration(configuration: $0, source: .configValue, warnings: [])
            }
        }
        let configMaps = manifests.filter { $0["kind"]?.string == "ConfigMap" }
        guard configMaps.count == 1, let manifest = configMaps.first else {
            let message = configMaps.isEmpty ? "no ConfigMap (kind: ConfigMap with data.config) and no metallb.io object found" : "\(configMaps.count) ConfigMaps found; give one"
            return .failure(ConfigErrors([ConfigError(path: "", message: message)]))
        }
        return parseManifest(manifest)
    }

    /// Parses the `config` value of the ConfigMap (what the controller reads from the API).
    public static func parseConfigValue(_ text: String) -> Result<Configuration, ConfigErrors> {
        if let error = YAMLNestingBound.check(text) { return .failure(ConfigErrors([error])) }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            return .failure(ConfigErrors([yamlSyntaxError(error)]))
        }
        return parseValue(root, text: text)
    }

    private static func looksLikeManifest(_ node: Node) -> Bool {
        guard case .mapping = node else { return false }
        return node["kind"] != nil || node["apiVersion"] != nil
    }

    static func parseManifest(_ manifest: Node) -> Result<ParsedConfiguration, ConfigErrors> {
        var warnings: [String] = []
        let namespace = manifest["metadata"]?["namespace"]?.string
        let name = manifest["metadata"]?["name"]?.string
        if let namespace, namespace != defaultNamespace {
            warnings.append("metadata.namespace is \"\(namespace)\"; IronLB reads \(defaultNamespace)/\(defaultName) by default")
        }
        if let name, name != defaultName {
            warnings.append("metadata.name is \"\(name)\"; IronLB reads \(defaultNamespace)/\(defaultName) by default")
        }
        guard let data = manifest["data"], case .mapping(let dataMapping) = data else {
            return .failure(ConfigErrors([ConfigError(path: "data.config", message: "is required", line: manifest.mark?.line, column: manifest.mark?.column)]))
        }
        for key in dataMapping.keys.compactMap(\.string) where key != dataKey {
            warnings.append("data.\(key) is ignored; only data.\(dataKey) is read")
        }
        guard let value = data[dataKey] else {
            return .failure(ConfigErrors([ConfigError(path: "data.config", message: "is required", line: data.mark?.line, column: data.mark?.column)]))
        }
        guard case .scalar(let scalar) = value, YAMLReader.tagName(value) == .str else {
            return .failure(ConfigErrors([ConfigError(path: "data.config", message: "must be a string holding the YAML configuration (use `config: |`)", line: value.mark?.line, column: value.mark?.column)]))
        }
        // Errors inside the value carry lines relative to the value; shift them to the file.
        let lineOffset = scalar.style == .literal || scalar.style == .folded ? (value.mark?.line ?? 0) : 0
        return parseConfigValue(scalar.string)
            .mapError { errors in
                ConfigErrors(errors.errors.map { error in
                    ConfigError(path: error.path, message: error.message, line: error.line.map { $0 + lineOffset }, column: error.column)
                })
            }
            .map { ParsedConfiguration(configuration: $0, source: .configMap(namespace: namespace, name: name), warnings: warnings) }
    }

    /// The parser's message, shortened: its description quotes the offending line, which a
    /// hostile text makes as long as it likes.
    private static func yamlSyntaxError(_ error: Error) -> ConfigError {
        if let yamlError = error as? YamlError {
            switch yamlError {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
                return ConfigError(path: "", message: YAMLReader.shortened("invalid YAML: \(problem)"), line: mark.line, column: mark.column)
            default:
                return ConfigError(path: "", message: YAMLReader.shortened("invalid YAML: \(yamlError)"))
            }
        }
        return ConfigError(path: "", message: YAMLReader.shortened("invalid YAML: \(error)"))
    }

    private static func parseValue(_ root: Node?, text: String) -> Result<Configuration, ConfigErrors> {
        guard let root, !YAMLReader.isNull(root) else { return .success(.empty) }
        if let error = YAMLAliasBudget.check(root) { return .failure(ConfigErrors([error])) }
        var builder = ConfigBuilder()
        let configuration = builder.build(root)
        let errors = builder.reader.errors
        if errors.isEmpty, let configuration { return .success(configuration) }
        return .failure(ConfigErrors(errors.isEmpty ? [ConfigError(path: "", message: "invalid configuration")] : errors))
    }
}

/// The schema walk: structural checks while reading, then the cross-field checks.
struct ConfigBuilder {
    var reader = YAMLReader()
    /// MetalLB's CRDs spell the shared keys in camelCase (`matchLabels`), the ConfigMap in kebab-case.
    var camelCase = false

    func key(_ kebab: String) -> String { camelCase ? Self.camel(kebab) : kebab }

    /// `match-labels` → `matchLabels`.
    static func camel(_ kebab: String) -> String {
        let words = kebab.split(separator: "-")
        return words.enumerated().map { $0.offset == 0 ? String($0.element) : $0.element.prefix(1).uppercased() + $0.element.dropFirst() }.joined()
    }

    private static let topKeys = ["peers", "address-pools", "bgp-communities", "bfd-profiles"]
    private static let peerKeys = [
        "peer-address", "peer-asn", "my-asn", "peer-port", "source-address", "router-id", "hold-time",
        "keepalive-time", "password", "ebgp-multihop", "node-selectors", "bfd-profile",
    ]
    private static let poolKeys = [
        "name", "protocol", "addresses", "auto-assign", "avoid-buggy-ips", "bgp-advertisements",
        "interfaces", "node-selectors", "service-allocation",
    ]
    private static let advertisementKeys = ["aggregation-length", "aggregation-length-v6", "localpref", "communities"]
    private static let bfdKeys = [
        "name", "receive-interval", "transmit-interval", "detect-multiplier", "echo-interval", "echo-mode",
        "passive-mode", "minimum-ttl",
    ]
    private static let selectorKeys = ["match-labels", "match-expressions"]
    private static let requirementKeys = ["key", "operator", "values"]
    private static let allocationKeys = ["priority", "namespaces", "namespace-selectors", "service-selectors"]

    /// Community text as written, resolved after aliases are known.
    private struct PendingAdvertisement {
        var advertisement: BGPAdvertisement
        var communities: [(text: String, path: String, node: Node)]
        var path: String
        var aggregationNode: Node? = nil
        var aggregationV6Node: Node? = nil
    }

    private struct PendingPool {
        var pool: AddressPool
        var path: String
        var blockPaths: [String]
        var advertisements: [PendingAdvertisement]
        var advertisementsNode: Node?
        var interfacesNode: Node?
    }

    private struct PendingPeer {
        var peer: Peer
        var path: String
        var bfdNode: Node?
        var multihopNode: Node?
    }

    mutating func build(_ root: Node) -> Configuration? {
        guard let top = reader.fields(root, "", known: Self.topKeys) else { return nil }

        var aliases: [String: BGPCommunityValue] = [:]
        if let node = top["bgp-communities"], let entries = reader.entries(node, "bgp-communities") {
            for entry in entries {
                let path = "bgp-communities.\(entry.key)"
                if (try? BGPCommunityValue(parsing: entry.key)) != nil {
                    reader.fail(path, "an alias must not itself look like a community", at: entry.keyNode)
                    continue
                }
                guard let text = reader.nonEmptyString(entry.value, path) else { continue }
                do {
                    aliases[entry.key] = try BGPCommunityValue(parsing: text)
                } catch {
                    reader.fail(path, "\"\(text)\" \(error)", at: entry.value)
                }
            }
        }

        var profiles: [BFDProfile] = []
        if let node = top["bfd-profiles"], let items = reader.sequence(node, "bfd-profiles") {
            var names: [String: String] = [:]
            for (index, item) in items.enumerated() {
                let path = "bfd-profiles[\(index)]"
                guard let profile = bfdProfile(item, path) else { continue }
                if let first = names[profile.name] {
                    reader.fail("\(path).name", "duplicate BFD profile name \"\(profile.name)\" (also \(first))", at: item["name"])
                    continue
                }
                names[profile.name] = path
                profiles.append(profile)
            }
        }

        var pendingPeers: [PendingPeer] = []
        if let node = top["peers"], let items = reader.sequence(node, "peers") {
            for (index, item) in items.enumerated() {
                if let pending = peer(item, "peers[\(index)]") { pendingPeers.append(pending) }
            }
        }

        var pendingPools: [PendingPool] = []
        if let node = top["address-pools"], let items = reader.sequence(node, "address-pools") {
            for (index, item) in items.enumerated() {
                if let pending = pool(item, "address-pools[\(index)]") { pendingPools.append(pending) }
            }
        }

        // Cross-field checks.
        let profileNames = Set(profiles.map(\.name))
        var peers: [Peer] = []
        var peerKeys: [String: String] = [:]
        for pending in pendingPeers {
            let peer = pending.peer
            if let profile = peer.bfdProfile, !profileNames.contains(profile) {
                reader.fail("\(pending.path).bfd-profile", "unknown BFD profile \"\(profile)\" (not in bfd-profiles)", at: pending.bfdNode)
            }
            if peer.ebgpMultihop && peer.isIBGP {
                reader.fail("\(pending.path).ebgp-multihop", "is only for eBGP; my-asn and peer-asn are both \(peer.myASN)", at: pending.multihopNode)
            }
            let key = "\(peer.address)|\(peer.port)|\(peer.sourceAddress?.description ?? "")|\(peer.nodeSelectors.hashValue)"
            if let first = peerKeys[key] {
                reader.fail(pending.path, "duplicate peer \(peer.address) port \(peer.port) (same as \(first))")
            } else {
                peerKeys[key] = pending.path
            }
            peers.append(peer)
        }

        var pools: [AddressPool] = []
        var poolNames: [String: String] = [:]
        var allBlocks: [(block: AddressBlock, path: String)] = []
        for pending in pendingPools {
            var pool = pending.pool
            if let first = poolNames[pool.name] {
                reader.fail("\(pending.path).name", "duplicate pool name \"\(pool.name)\" (also \(first))")
            } else {
                poolNames[pool.name] = pending.path
            }
            // An empty list is no advertisement at all, as in MetalLB v0.12 (`len(...) > 0`).
            if pool.protocol == .layer2 && !pending.advertisements.isEmpty {
                reader.fail("\(pending.path).bgp-advertisements", "is only for bgp pools; this pool's protocol is layer2", at: pending.advertisementsNode)
            }
            if pool.protocol == .bgp && pending.interfacesNode != nil {
                reader.fail("\(pending.path).interfaces", "is only for layer2 pools; this pool's protocol is bgp", at: pending.interfacesNode)
            }
            var advertisements: [BGPAdvertisement] = []
            for var pendingAdvertisement in pending.advertisements {
                checkAggregation(&pendingAdvertisement, pool: pool)
                var communities: [BGPCommunityValue] = []
                for item in pendingAdvertisement.communities {
                    if let community = try? BGPCommunityValue(parsing: item.text) {
                        communities.append(community)
                    } else if let community = aliases[item.text] {
                        communities.append(community)
                    } else if item.text.hasPrefix("large:") || item.text.contains(":") {
                        do {
                            _ = try BGPCommunityValue(parsing: item.text)
                        } catch {
                            reader.fail(item.path, "\"\(item.text)\" \(error)", at: item.node)
                        }
                    } else {
                        reader.fail(item.path, "\"\(item.text)\" is neither a community (AS:value or large:A:B:C) nor an alias from bgp-communities", at: item.node)
                    }
                }
                pendingAdvertisement.advertisement.communities = communities
                advertisements.append(pendingAdvertisement.advertisement)
            }
            if pool.protocol == .bgp && advertisements.isEmpty { advertisements = [BGPAdvertisement()] }
            checkCommunitySize(advertisements, path: "\(pending.path).bgp-advertisements", node: pending.advertisementsNode)
            pool.bgpAdvertisements = pool.protocol == .bgp ? advertisements : []
            for (block, path) in zip(pool.addresses, pending.blockPaths) { allBlocks.append((block, path)) }
            pools.append(pool)
        }
        checkOverlaps(allBlocks)

        guard reader.errors.isEmpty else { return nil }
        return Configuration(peers: peers, pools: pools, communityAliases: aliases, bfdProfiles: profiles)
    }

    // MARK: Sections

    private mutating func peer(_ node: Node, _ path: String) -> PendingPeer? {
        guard let fields = reader.fields(node, path, known: Self.peerKeys, required: ["peer-address", "peer-asn", "my-asn"]) else {
            return nil
        }
        let before = reader.errorCount
        let address = fields["peer-address"].flatMap { ipAddress($0, "\(path).peer-address") }
        let peerASN = fields["peer-asn"].flatMap { asn($0, "\(path).peer-asn") }
        let myASN = fields["my-asn"].flatMap { asn($0, "\(path).my-asn") }
        let port = fields["peer-port"].flatMap { reader.int($0, "\(path).peer-port", range: 1...65535) } ?? 179
        let source = fields["source-address"].flatMap { ipAddress($0, "\(path).source-address") }
        var routerID: IPv4Address?
        if let node = fields["router-id"], let text = reader.nonEmptyString(node, "\(path).router-id") {
            routerID = IPv4Address(text)
            if routerID == nil {
                reader.fail("\(path).router-id", "\"\(text)\" is not an IPv4 address (a BGP identifier is 32 bits, written as one)", at: node)
            }
        }
        let holdTime = fields["hold-time"].flatMap { seconds($0, "\(path).hold-time") } ?? 90
        if holdTime != 0 && holdTime < 3 {
            reader.fail("\(path).hold-time", "must be 0 or at least 3s (RFC 4271 §4.2), got \(holdTime)s", at: fields["hold-time"])
        }
        var keepalive = holdTime / 3
        if let node = fields["keepalive-time"], let value = seconds(node, "\(path).keepalive-time") {
            keepalive = value
            if value > holdTime {
                reader.fail("\(path).keepalive-time", "\(value)s is longer than hold-time \(holdTime)s", at: node)
            }
        }
        let password = fields["password"].flatMap { reader.string($0, "\(path).password") }
        if let password, password.utf8.count > 80 {
            reader.fail("\(path).password", "is longer than 80 bytes, the TCP MD5 key limit (TCP_MD5SIG_MAXKEYLEN)", at: fields["password"])
        }
        let multihop = fields["ebgp-multihop"].flatMap { reader.bool($0, "\(path).ebgp-multihop") } ?? false
        let selectors = fields["node-selectors"].map { selectorList($0, "\(path).node-selectors") } ?? []
        let bfd = fields["bfd-profile"].flatMap { reader.nonEmptyString($0, "\(path).bfd-profile") }

        if let address, let source, address.family != source.family {
            reader.fail("\(path).source-address", "\(source) is \(source.family) but peer-address \(address) is \(address.family)", at: fields["source-address"])
        }
        guard reader.errorCount == before, let address, let peerASN, let myASN else { return nil }
        let peer = Peer(
            myASN: myASN, peerASN: peerASN, address: address, port: UInt16(port), sourceAddress: source, routerID: routerID,
            holdTime: holdTime, keepaliveTime: keepalive, password: password.flatMap { $0.isEmpty ? nil : $0 },
            ebgpMultihop: multihop, nodeSelectors: selectors, bfdProfile: bfd
        )
        return PendingPeer(peer: peer, path: path, bfdNode: fields["bfd-profile"], multihopNode: fields["ebgp-multihop"])
    }

    private mutating func pool(_ node: Node, _ path: String) -> PendingPool? {
        guard let fields = reader.fields(node, path, known: Self.poolKeys, required: ["name", "protocol", "addresses"]) else {
            return nil
        }
        let before = reader.errorCount
        var name: String?
        if let node = fields["name"], let text = reader.nonEmptyString(node, "\(path).name") {
            if text.contains(where: { $0.isWhitespace || $0.isNewline }) {
                reader.fail("\(path).name", "\"\(text)\" must not contain whitespace", at: node)
            } else {
                name = text
            }
        }
        var proto: PoolProtocol?
        if let node = fields["protocol"], let text = reader.string(node, "\(path).protocol") {
            proto = PoolProtocol(rawValue: text)
            if proto == nil || proto == .unannounced {
                proto = nil
                reader.fail("\(path).protocol", "\"\(text)\" is not a protocol; use layer2 or bgp", at: node)
            }
        }
        let (blocks, blockPaths) = fields["addresses"].map { addressBlocks($0, "\(path).addresses") } ?? ([], [])
        let autoAssign = fields["auto-assign"].flatMap { reader.bool($0, "\(path).auto-assign") } ?? true
        let avoidBuggy = fields["avoid-buggy-ips"].flatMap { reader.bool($0, "\(path).avoid-buggy-ips") } ?? false
        var advertisements: [PendingAdvertisement] = []
        if let node = fields["bgp-advertisements"], let items = reader.sequence(node, "\(path).bgp-advertisements") {
            for (index, item) in items.enumerated() {
                if let advertisement = advertisement(item, "\(path).bgp-advertisements[\(index)]") {
                    advertisements.append(advertisement)
                }
            }
        }
        var interfaces: [String] = []
        if let node = fields["interfaces"], let names = reader.stringList(node, "\(path).interfaces") {
            for (index, name) in names.enumerated() {
                if name.utf8.count > 15 || name.contains("/") || name.contains(where: \.isWhitespace) {
                    reader.fail("\(path).interfaces[\(index)]", "\"\(name)\" is not an interface name (at most 15 characters, no '/' or whitespace)", at: node)
                }
            }
            interfaces = names
        }
        let selectors = fields["node-selectors"].map { selectorList($0, "\(path).node-selectors") } ?? []
        let allocation = fields["service-allocation"].flatMap { serviceAllocation($0, "\(path).service-allocation") }

        guard reader.errorCount == before, let name, let proto else { return nil }
        let pool = AddressPool(
            name: name, protocol: proto, addresses: blocks, autoAssign: autoAssign, avoidBuggyIPs: avoidBuggy,
            bgpAdvertisements: [], interfaces: interfaces, nodeSelectors: selectors, serviceAllocation: allocation
        )
        return PendingPool(
            pool: pool, path: path, blockPaths: blockPaths, advertisements: advertisements,
            advertisementsNode: fields["bgp-advertisements"], interfacesNode: fields["interfaces"]
        )
    }

    /// A pool's `addresses`: the blocks and the path of each.
    mutating func addressBlocks(_ node: Node, _ path: String) -> (blocks: [AddressBlock], paths: [String]) {
        var blocks: [AddressBlock] = []
        var paths: [String] = []
        guard let items = reader.sequence(node, path) else { return ([], []) }
        if items.isEmpty { reader.fail(path, "must list at least one CIDR or range", at: node) }
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard let text = reader.nonEmptyString(item, itemPath) else { continue }
            do {
                let block = try AddressBlock(parsing: text)
                let special = AddressBlock.specialRanges.filter { $0.range.overlaps(block.range) }
                guard special.isEmpty else {
                    let names = special.map { "\($0.prefix) (\($0.name))" }.joined(separator: ", ")
                    reader.fail(itemPath, "\"\(text)\" includes \(names); these addresses cannot serve a Service", at: item)
                    continue
                }
                blocks.append(block)
                paths.append(itemPath)
            } catch {
                reader.fail(itemPath, "\"\(text)\" is not a CIDR or an address range: \(error)", at: item)
            }
        }
        return (blocks, paths)
    }

    private mutating func advertisement(_ node: Node, _ path: String) -> PendingAdvertisement? {
        // A bare `- ` entry is one advertisement with the defaults, as MetalLB v0.12 decodes it.
        if YAMLReader.isNull(node) { return PendingAdvertisement(advertisement: BGPAdvertisement(), communities: [], path: path) }
        guard let fields = reader.fields(node, path, known: Self.advertisementKeys) else { return nil }
        var advertisement = BGPAdvertisement()
        if let node = fields["aggregation-length"], let value = reader.int(node, "\(path).aggregation-length", range: 0...32) {
            advertisement.aggregationLength = value
        }
        if let node = fields["aggregation-length-v6"], let value = reader.int(node, "\(path).aggregation-length-v6", range: 0...128) {
            advertisement.aggregationLengthV6 = value
        }
        if let node = fields["localpref"], let value = reader.int(node, "\(path).localpref", range: 0...Int(UInt32.max)) {
            advertisement.localPref = UInt32(value)
        }
        var communities: [(text: String, path: String, node: Node)] = []
        if let node = fields["communities"], let items = reader.sequence(node, "\(path).communities") {
            for (index, item) in items.enumerated() {
                let itemPath = "\(path).communities[\(index)]"
                if let text = reader.nonEmptyString(item, itemPath) { communities.append((text, itemPath, item)) }
            }
        }
        return PendingAdvertisement(
            advertisement: advertisement, communities: communities, path: path,
            aggregationNode: fields["aggregation-length"], aggregationV6Node: fields["aggregation-length-v6"]
        )
    }

    private mutating func bfdProfile(_ node: Node, _ path: String) -> BFDProfile? {
        guard let fields = reader.fields(node, path, known: Self.bfdKeys, required: ["name"]) else { return nil }
        let before = reader.errorCount
        let name = fields["name"].flatMap { reader.nonEmptyString($0, "\(path).name") }
        var profile = BFDProfile(name: name ?? "")
        let intervals = 10...60000
        if let v = fields["receive-interval"].flatMap({ reader.int($0, "\(path).receive-interval", range: intervals) }) { profile.receiveInterval = v }
        if let v = fields["transmit-interval"].flatMap({ reader.int($0, "\(path).transmit-interval", range: intervals) }) { profile.transmitInterval = v }
        if let v = fields["detect-multiplier"].flatMap({ reader.int($0, "\(path).detect-multiplier", range: 2...255) }) { profile.detectMultiplier = v }
        if let v = fields["echo-interval"].flatMap({ reader.int($0, "\(path).echo-interval", range: intervals) }) { profile.echoInterval = v }
        if let v = fields["echo-mode"].flatMap({ reader.bool($0, "\(path).echo-mode") }) { profile.echoMode = v }
        if profile.echoMode { reader.fail("\(path).echo-mode", BFDProfile.echoModeRefusal, at: fields["echo-mode"]) }
        if let v = fields["passive-mode"].flatMap({ reader.bool($0, "\(path).passive-mode") }) { profile.passiveMode = v }
        if let v = fields["minimum-ttl"].flatMap({ reader.int($0, "\(path).minimum-ttl", range: 1...254) }) { profile.minimumTTL = v }
        guard reader.errorCount == before, name != nil else { return nil }
        return profile
    }

    mutating func serviceAllocation(_ node: Node, _ path: String) -> ServiceAllocation? {
        guard let fields = reader.fields(node, path, known: Self.allocationKeys.map(key)) else { return nil }
        var allocation = ServiceAllocation()
        allocation.priority = fields["priority"].flatMap { reader.int($0, "\(path).priority", range: 0...Int(Int32.max)) }
        if let node = fields["namespaces"], let names = reader.stringList(node, "\(path).namespaces") {
            for (index, name) in names.enumerated() where !LabelSelector.isDNSLabel(name[...]) {
                reader.fail("\(path).namespaces[\(index)]", "\"\(name)\" is not a namespace name (a DNS label)", at: node)
            }
            allocation.namespaces = names
        }
        allocation.namespaceSelectors = fields[key("namespace-selectors")].map { selectorList($0, "\(path).\(key("namespace-selectors"))") } ?? []
        allocation.serviceSelectors = fields[key("service-selectors")].map { selectorList($0, "\(path).\(key("service-selectors"))") } ?? []
        return allocation
    }

    mutating func selectorList(_ node: Node, _ path: String) -> [LabelSelector] {
        guard let items = reader.sequence(node, path) else { return [] }
        return items.enumerated().compactMap { selector($0.element, "\(path)[\($0.offset)]") }
    }

    mutating func selector(_ node: Node, _ path: String) -> LabelSelector? {
        guard let fields = reader.fields(node, path, known: Self.selectorKeys.map(key)) else { return nil }
        var selector = LabelSelector()
        if let node = fields[key("match-labels")], let entries = reader.entries(node, "\(path).\(key("match-labels"))") {
            for entry in entries {
                let entryPath = "\(path).\(key("match-labels"))[\"\(entry.key)\"]"
                if let problem = LabelSelector.problem(withKey: entry.key) {
                    reader.fail(entryPath, problem, at: entry.keyNode)
                    continue
                }
                guard let value = reader.string(entry.value, entryPath) else { continue }
                if let problem = LabelSelector.problem(withValue: value) {
                    reader.fail(entryPath, problem, at: entry.value)
                    continue
                }
                selector.matchLabels[entry.key] = value
            }
        }
        if let node = fields[key("match-expressions")], let items = reader.sequence(node, "\(path).\(key("match-expressions"))") {
            for (index, item) in items.enumerated() {
                let itemPath = "\(path).\(key("match-expressions"))[\(index)]"
                guard let fields = reader.fields(item, itemPath, known: Self.requirementKeys, required: ["key", "operator"]) else { continue }
                let key = fields["key"].flatMap { reader.nonEmptyString($0, "\(itemPath).key") }
                if let key, let problem = LabelSelector.problem(withKey: key) { reader.fail("\(itemPath).key", problem, at: fields["key"]) }
                var op: LabelSelector.Operator?
                if let node = fields["operator"], let text = reader.string(node, "\(itemPath).operator") {
                    op = LabelSelector.Operator(rawValue: text)
                    if op == nil {
                        reader.fail("\(itemPath).operator", "\"\(text)\" is not an operator; use In, NotIn, Exists or DoesNotExist", at: node)
                    }
                }
                let values = fields["values"].flatMap { reader.stringList($0, "\(itemPath).values") } ?? []
                if let op {
                    switch op {
                    case .in, .notIn:
                        if values.isEmpty { reader.fail("\(itemPath).values", "must not be empty for operator \(op.rawValue)", at: item) }
                    case .exists, .doesNotExist:
                        if !values.isEmpty { reader.fail("\(itemPath).values", "must be empty for operator \(op.rawValue)", at: fields["values"]) }
                    }
                }
                if let key, let op { selector.matchExpressions.append(.init(key: key, operator: op, values: values)) }
            }
        }
        return selector
    }

    // MARK: Values

    mutating func ipAddress(_ node: Node, _ path: String) -> IPAddress? {
        guard let text = reader.nonEmptyString(node, path) else { return nil }
        do {
            return try IPAddress(parsing: text[...])
        } catch {
            reader.fail(path, "\"\(text)\" is not an IP address: \(error)", at: node)
            return nil
        }
    }

    mutating func asn(_ node: Node, _ path: String) -> UInt32? {
        guard let value = reader.int(node, path) else { return nil }
        guard (1...Int(UInt32.max)).contains(value) else {
            reader.fail(path, "AS number \(value) is out of range 1-4294967295", at: node)
            return nil
        }
        return UInt32(value)
    }

    /// A Go duration in whole seconds (`90s`, `1m30s`).
    mutating func seconds(_ node: Node, _ path: String) -> Int? {
        if case .scalar(let scalar) = node, YAMLReader.tagName(node) == .int {
            if scalar.string == "0" { return 0 }
            reader.fail(path, "\(scalar.string) has no unit; write \"\(scalar.string)s\"", at: node)
            return nil
        }
        guard let text = reader.nonEmptyString(node, path) else { return nil }
        let nanoseconds: Double
        do {
            nanoseconds = try GoDuration.parse(text)
        } catch {
            switch error {
            case .missingUnit: reader.fail(path, "\"\(text)\" has no unit; write for example \"90s\"", at: node)
            case .unknownUnit(let unit): reader.fail(path, "\"\(text)\" has an unknown unit \"\(unit)\" (use h, m, s, ms)", at: node)
            case .negative: reader.fail(path, "\"\(text)\" is negative", at: node)
            case .syntax: reader.fail(path, "\"\(text)\" is not a duration (for example \"90s\" or \"1m30s\")", at: node)
            }
            return nil
        }
        let seconds = nanoseconds / 1e9
        guard seconds == seconds.rounded(), seconds <= 65535 else {
            reader.fail(path, "\"\(text)\" must be a whole number of seconds up to 65535s", at: node)
            return nil
        }
        return Int(seconds)
    }

    // MARK: Cross-field checks

    private mutating func checkAggregation(_ pending: inout PendingAdvertisement, pool: AddressPool) {
        for (family, length, key, node) in [
            (IPFamily.ipv4, pending.advertisement.aggregationLength, "aggregation-length", pending.aggregationNode),
            (IPFamily.ipv6, pending.advertisement.aggregationLengthV6, "aggregation-length-v6", pending.aggregationV6Node),
        ] {
            if let problem = pool.aggregationProblem(length: length, family: family) {
                reader.fail("\(pending.path).\(key)", problem, at: node)
            }
        }
    }

    /// The communities of a pool's advertisements (merged when two advertise one prefix) must
    /// fit one UPDATE of 4,096 bytes, the size every peer accepts (RFC 4271 §4.1; larger only
    /// with RFC 8654 extended messages); a route that does not fit could never be sent.
    mutating func checkCommunitySize(_ advertisements: [BGPAdvertisement], path: String, node: Node?) {
        let distinct = Set(advertisements.flatMap(\.communities))
        let large = distinct.filter { if case .large = $0 { return true } else { return false } }.count
        let standard = distinct.count - large
        let bytes = 4 * standard + 12 * large
        guard bytes > BGPAdvertisement.maximumCommunityBytes else { return }
        reader.fail(
            path,
            "\(standard) communities and \(large) large communities take \(bytes) bytes; one BGP UPDATE to a peer without extended messages (4096 bytes) holds at most \(BGPAdvertisement.maximumCommunityBytes) bytes of them (4 per community, 12 per large community)",
            at: node
        )
    }

    mutating func checkOverlaps(_ blocks: [(block: AddressBlock, path: String)]) {
        // Sort by start; any overlap shows up against the block reaching furthest so far.
        let ordered = blocks.enumerated().sorted { ($0.element.block.range.first, $0.offset) < ($1.element.block.range.first, $1.offset) }
        var furthest: (index: Int, last: IPAddress, family: IPFamily)?
        var reported: [(Int, Int)] = []
        for (index, entry) in ordered {
            let range = entry.block.range
            if let current = furthest, current.family == range.family, range.first <= current.last {
                let (earlier, later) = current.index < index ? (current.index, index) : (index, current.index)
                reported.append((earlier, later))
            }
            if furthest == nil || furthest!.family != range.family || range.last > furthest!.last {
                furthest = (index, range.last, range.family)
            }
        }
        for (earlier, later) in reported.sorted(by: { $0.1 < $1.1 }) {
            let a = blocks[earlier], b = blocks[later]
            reader.fail(b.path, "\(b.block) overlaps \(a.block) at \(a.path)")
        }
    }
}
