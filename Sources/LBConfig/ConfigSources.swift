import NetPrimitives
import YAML

/// The two configuration sources together: the ConfigMap and MetalLB's custom resources make one
/// configuration, with pool and BFD profile names unique across both, no address in two pools
/// and no peer twice (docs/design/crd-config.md).
public enum ConfigSources {
    /// The document saying the Secrets given are all there are (see `sourceText`).
    static let secretsCompleteMarker = (apiVersion: "ironlb.io/v1", kind: "SecretsComplete")

    /// Documents holding metallb.io objects, Secrets, and at most one ConfigMap.
    static func parse(_ manifests: [Node]) -> Result<ParsedConfiguration, ConfigErrors> {
        let configMaps = manifests.filter { $0["kind"]?.string == "ConfigMap" }
        guard configMaps.count <= 1 else {
            return .failure(ConfigErrors([ConfigError(path: "", message: "\(configMaps.count) ConfigMaps found; give at most one beside the metallb.io objects")]))
        }
        let resources: ParsedResources
        switch ResourceConfigParser.parse(documents: manifests) {
        case .success(let parsed): resources = parsed
        case .failure(let errors): return .failure(errors)
        }
        let source = ConfigSource.resources(objects: resources.objects, withConfigMap: !configMaps.isEmpty)
        guard let configMap = configMaps.first else {
            return .success(ParsedConfiguration(configuration: resources.configuration, source: source, warnings: resources.warnings))
        }
        return ConfigParser.parseManifest(configMap).flatMap { parsed in
            combine(configMap: parsed.configuration, resources: resources.configuration).map {
                ParsedConfiguration(configuration: $0, source: source, warnings: parsed.warnings + resources.warnings)
            }
        }
    }

    /// One configuration from both sources: the ConfigMap's pools and peers first, then the
    /// objects'. Fails, naming both places, on a pool or BFD profile name given twice, an
    /// address in two pools, the same peer twice, or a community alias with two values.
    public static func combine(configMap: Configuration, resources: Configuration) -> Result<Configuration, ConfigErrors> {
        if configMap == .empty { return .success(resources) }
        if resources == .empty { return .success(configMap) }
        var builder = ConfigBuilder()
        var blocks: [(block: AddressBlock, path: String)] = []
        for (index, pool) in configMap.pools.enumerated() {
            for (blockIndex, block) in pool.addresses.enumerated() { blocks.append((block, "address-pools[\(index)].addresses[\(blockIndex)]")) }
        }
        for pool in resources.pools {
            let object = ResourceName(kind: "IPAddressPool", name: pool.name)
            if let index = configMap.pools.firstIndex(where: { $0.name == pool.name }) {
                builder.reader.fail("\(object)", "pool name \"\(pool.name)\" is also the ConfigMap's address-pools[\(index)]; a name may be used once across the ConfigMap and the objects")
            }
            for (blockIndex, block) in pool.addresses.enumerated() { blocks.append((block, "\(object) spec.addresses[\(blockIndex)]")) }
        }
        builder.checkOverlaps(blocks)
        for profile in resources.bfdProfiles where configMap.bfdProfiles.contains(where: { $0.name == profile.name }) {
            builder.reader.fail("BFDProfile/\(profile.name)", "is also in the ConfigMap's bfd-profiles; a name may be used once")
        }
        for (name, community) in resources.communityAliases.sorted(by: { $0.key < $1.key }) {
            if let other = configMap.communityAliases[name], other != community {
                builder.reader.fail("bgp-communities.\(name)", "is \(other) in the ConfigMap but \(community) in a Community object")
            }
        }
        for peer in resources.peers {
            if let index = configMap.peers.firstIndex(where: { Self.sameSession($0, peer) }) {
                builder.reader.fail("peers[\(index)]", "duplicate peer \(peer.address) port \(peer.port): a BGPPeer gives the same session")
            }
        }
        guard builder.reader.errors.isEmpty else { return .failure(ConfigErrors(builder.reader.errors)) }
        return .success(Configuration(
            peers: configMap.peers + resources.peers, pools: configMap.pools + resources.pools,
            communityAliases: configMap.communityAliases.merging(resources.communityAliases) { first, _ in first },
            bfdProfiles: configMap.bfdProfiles + resources.bfdProfiles
        ))
    }

    /// Two peers that would open the same session from one node.
    static func sameSession(_ a: Peer, _ b: Peer) -> Bool {
        a.address == b.address && a.port == b.port && a.sourceAddress == b.sourceAddress && a.nodeSelectors == b.nodeSelectors
    }
}

extension ConfigSources {
    /// The text the controller and speakers hand to `parseSource`: the ConfigMap's `config`
    /// value alone when there are no objects (as before), or one multi-document YAML holding the
    /// ConfigMap (when present), then the objects (JSON, in the order given), then Secrets.
    /// Nil when there is neither a ConfigMap value nor an object.
    ///
    /// `secrets`: the Secrets the BGPPeers' `passwordSecret`s name, as read from the cluster; when
    /// given (even empty), the set counts as complete and a Secret missing from it is an error
    /// (a document `{apiVersion: ironlb.io/v1, kind: SecretsComplete}` says so to the parser).
    public static func sourceText(configValue: String?, namespace: String, name: String, objects: [String], secrets: [String]? = nil) -> String? {
        if objects.isEmpty { return configValue }
        var documents: [String] = []
        if let configValue {
            var value = Node.Scalar(configValue)
            value.style = .doubleQuoted
            let manifest = Node.mapping(.init([
                (Node("apiVersion"), Node("v1")), (Node("kind"), Node("ConfigMap")),
                (Node("metadata"), Node.mapping(.init([(Node("namespace"), Node(namespace)), (Node("name"), Node(name))]))),
                (Node("data"), Node.mapping(.init([(Node(ConfigParser.dataKey), .scalar(value))]))),
            ]))
            documents.append((try? YAML.serialize(node: manifest)) ?? "")
        }
        documents += objects.map { $0 + "\n" }
        if let secrets {
            documents += secrets.map { $0 + "\n" }
            documents.append("{\"apiVersion\": \"\(secretsCompleteMarker.apiVersion)\", \"kind\": \"\(secretsCompleteMarker.kind)\"}\n")
        }
        return documents.joined(separator: "---\n")
    }
}

extension ConfigParser {
    /// What the controller and speakers parse: a `config` value, or `ConfigSources.sourceText`'s
    /// documents (the ConfigMap and MetalLB's objects together).
    public static func parseSource(_ text: String) -> Result<Configuration, ConfigErrors> {
        parse(text).map(\.configuration)
    }
}
