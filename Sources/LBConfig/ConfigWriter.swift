import KubeModel
import NetPrimitives
import Yams

/// `ironlb config convert`: writes a `Configuration` as a ConfigMap or as MetalLB's custom
/// resources (what MetalLB's `configmaptocrs` does), naming what the target cannot express.
public enum ConfigWriter {
    public struct Output: Equatable, Sendable {
        /// YAML: one ConfigMap, or the objects as documents.
        public var text: String
        /// What the target form cannot say; empty when the conversion is exact.
        public var notExpressible: [String]
    }

    // MARK: ConfigMap

    /// The ConfigMap `namespace/name` whose `data.config` holds `configuration`.
    public static func configMap(_ configuration: Configuration, namespace: String = ConfigParser.defaultNamespace, name: String = ConfigParser.defaultName) -> Output {
        var lost: [String] = []
        var top: [(String, Node)] = []
        if !configuration.peers.isEmpty {
            top.append(("peers", .sequence(.init(configuration.peers.map(peerValue)))))
        }
        if !configuration.bfdProfiles.isEmpty {
            top.append(("bfd-profiles", .sequence(.init(configuration.bfdProfiles.map { bfdValue($0, camelCase: false, named: true) }))))
        }
        if !configuration.communityAliases.isEmpty {
            top.append(("bgp-communities", map(configuration.communityAliases.sorted { $0.key < $1.key }.map { ($0.key, string($0.value.description)) })))
        }
        var pools: [Node] = []
        for pool in configuration.pools {
            guard pool.protocol != .unannounced else {
                lost.append("IPAddressPool/\(pool.name) has no L2Advertisement or BGPAdvertisement: a ConfigMap pool is announced by layer2 or bgp; it is left out")
                continue
            }
            var fields: [(String, Node)] = [
                ("name", string(pool.name)), ("protocol", string(pool.protocol.rawValue)),
                ("addresses", .sequence(.init(pool.addresses.map { string($0.description) }))),
            ]
            if !pool.autoAssign { fields.append(("auto-assign", bool(false))) }
            if pool.avoidBuggyIPs { fields.append(("avoid-buggy-ips", bool(true))) }
            if pool.protocol == .bgp && pool.bgpAdvertisements != [BGPAdvertisement()] {
                fields.append(("bgp-advertisements", .sequence(.init(pool.bgpAdvertisements.map { advertisementValue($0, camelCase: false) }))))
            }
            if !pool.interfaces.isEmpty { fields.append(("interfaces", strings(pool.interfaces))) }
            if !pool.nodeSelectors.isEmpty { fields.append(("node-selectors", selectors(pool.nodeSelectors, camelCase: false))) }
            if let allocation = pool.serviceAllocation { fields.append(("service-allocation", allocationValue(allocation, camelCase: false))) }
            pools.append(map(fields))
        }
        if !pools.isEmpty { top.append(("address-pools", .sequence(.init(pools)))) }
        let config = top.isEmpty ? "" : serialize(map(top))
        var value = Node.Scalar(config)
        value.style = .literal
        let manifest = map([
            ("apiVersion", string("v1")), ("kind", string("ConfigMap")),
            ("metadata", map([("namespace", string(namespace)), ("name", string(name))])),
            ("data", map([(ConfigParser.dataKey, .scalar(value))])),
        ])
        return Output(text: serialize(manifest), notExpressible: lost)
    }

    // MARK: Custom resources

    /// MetalLB's objects for `configuration`, in `namespace`: per pool an IPAddressPool and its
    /// advertisements (named after the pool), one BGPPeer per peer, a Community for the aliases.
    public static func resources(_ configuration: Configuration, namespace: String = ConfigParser.defaultNamespace) -> Output {
        var lost: [String] = []
        var documents: [Node] = []
        func object(_ apiVersion: String, _ kind: String, _ name: String, _ spec: [(String, Node)]) -> Node {
            map([
                ("apiVersion", string(apiVersion)), ("kind", string(kind)),
                ("metadata", map([("name", string(name)), ("namespace", string(namespace))])),
                ("spec", map(spec)),
            ])
        }
        let v1beta1 = "metallb.io/v1beta1"
        for profile in configuration.bfdProfiles {
            documents.append(object(v1beta1, "BFDProfile", profile.name, fields(of: bfdValue(profile, camelCase: true, named: false))))
        }
        if !configuration.communityAliases.isEmpty {
            let aliases = configuration.communityAliases.sorted { $0.key < $1.key }.map { map([("name", string($0.key)), ("value", string($0.value.description))]) }
            documents.append(object(v1beta1, "Community", "communities", [("communities", .sequence(.init(aliases)))]))
        }
        for (index, peer) in configuration.peers.enumerated() {
            var spec: [(String, Node)] = [
                ("myASN", int(Int(peer.myASN))), ("peerASN", int(Int(peer.peerASN))), ("peerAddress", string(peer.address.description)),
            ]
            if let source = peer.sourceAddress { spec.append(("sourceAddress", string(source.description))) }
            if peer.port != 179 { spec.append(("peerPort", int(Int(peer.port)))) }
            spec.append(("holdTime", string("\(peer.holdTime)s")))
            spec.append(("keepaliveTime", string("\(peer.keepaliveTime)s")))
            if let routerID = peer.routerID { spec.append(("routerID", string(routerID.description))) }
            if peer.ebgpMultihop { spec.append(("ebgpMultiHop", bool(true))) }
            if let password = peer.password { spec.append(("password", string(password))) }
            if !peer.nodeSelectors.isEmpty { spec.append(("nodeSelectors", selectors(peer.nodeSelectors, camelCase: true))) }
            if let profile = peer.bfdProfile { spec.append(("bfdProfile", string(profile))) }
            documents.append(object("metallb.io/v1beta2", "BGPPeer", "peer-\(index + 1)", spec))
        }
        for pool in configuration.pools {
            if let problem = ResourceBuilder.nameProblem(pool.name) {
                lost.append("address-pools \(pool.name): \(problem); rename the pool (and the Services' address-pool annotations)")
            }
            var spec: [(String, Node)] = [("addresses", .sequence(.init(pool.addresses.map { string($0.description) })))]
            if !pool.autoAssign { spec.append(("autoAssign", bool(false))) }
            if pool.avoidBuggyIPs { spec.append(("avoidBuggyIPs", bool(true))) }
            if let allocation = pool.serviceAllocation {
                if allocation.priority == 0 {
                    lost.append("address-pools \(pool.name): service-allocation.priority 0 means \"no priority\" in an IPAddressPool (MetalLB's reading); write 1 or more to keep it first")
                }
                spec.append(("serviceAllocation", allocationValue(allocation, camelCase: true)))
            }
            documents.append(object(v1beta1, "IPAddressPool", pool.name, spec))
            let selection: [(String, Node)] = [("ipAddressPools", strings([pool.name]))]
            let nodes: [(String, Node)] = pool.nodeSelectors.isEmpty ? [] : [("nodeSelectors", selectors(pool.nodeSelectors, camelCase: true))]
            switch pool.protocol {
            case .layer2:
                let interfaces: [(String, Node)] = pool.interfaces.isEmpty ? [] : [("interfaces", strings(pool.interfaces))]
                documents.append(object(v1beta1, "L2Advertisement", pool.name, selection + nodes + interfaces))
            case .bgp:
                for (index, advertisement) in pool.bgpAdvertisements.enumerated() {
                    if advertisement.localPref == 0 {
                        lost.append("address-pools \(pool.name): localpref 0 means \"no LOCAL_PREF\" in a BGPAdvertisement (MetalLB's reading)")
                    }
                    let name = pool.bgpAdvertisements.count == 1 ? pool.name : "\(pool.name)-\(index + 1)"
                    documents.append(object(v1beta1, "BGPAdvertisement", name, fields(of: advertisementValue(advertisement, camelCase: true)) + selection + nodes))
                }
            case .unannounced:
                break
            }
        }
        return Output(text: documents.map(serialize).joined(separator: "---\n"), notExpressible: lost)
    }

    // MARK: Parts

    private static func peerValue(_ peer: Peer) -> Node {
        var fields: [(String, Node)] = [
            ("peer-address", string(peer.address.description)), ("peer-asn", int(Int(peer.peerASN))), ("my-asn", int(Int(peer.myASN))),
        ]
        if peer.port != 179 { fields.append(("peer-port", int(Int(peer.port)))) }
        if let source = peer.sourceAddress { fields.append(("source-address", string(source.description))) }
        if let routerID = peer.routerID { fields.append(("router-id", string(routerID.description))) }
        fields.append(("hold-time", string("\(peer.holdTime)s")))
        fields.append(("keepalive-time", string("\(peer.keepaliveTime)s")))
        if let password = peer.password { fields.append(("password", string(password))) }
        if peer.ebgpMultihop { fields.append(("ebgp-multihop", bool(true))) }
        if !peer.nodeSelectors.isEmpty { fields.append(("node-selectors", selectors(peer.nodeSelectors, camelCase: false))) }
        if let profile = peer.bfdProfile { fields.append(("bfd-profile", string(profile))) }
        return map(fields)
    }

    private static func bfdValue(_ profile: BFDProfile, camelCase: Bool, named: Bool) -> Node {
        let key = { (kebab: String) in camelCase ? ConfigBuilder.camel(kebab) : kebab }
        var fields: [(String, Node)] = named ? [("name", string(profile.name))] : []
        fields += [
            (key("receive-interval"), int(profile.receiveInterval)), (key("transmit-interval"), int(profile.transmitInterval)),
            (key("detect-multiplier"), int(profile.detectMultiplier)), (key("echo-interval"), int(profile.echoInterval)),
            (key("echo-mode"), bool(profile.echoMode)), (key("passive-mode"), bool(profile.passiveMode)),
            (key("minimum-ttl"), int(profile.minimumTTL)),
        ]
        return map(fields)
    }

    private static func advertisementValue(_ advertisement: BGPAdvertisement, camelCase: Bool) -> Node {
        var fields: [(String, Node)] = []
        if advertisement.aggregationLength != 32 { fields.append((camelCase ? "aggregationLength" : "aggregation-length", int(advertisement.aggregationLength))) }
        if advertisement.aggregationLengthV6 != 128 { fields.append((camelCase ? "aggregationLengthV6" : "aggregation-length-v6", int(advertisement.aggregationLengthV6))) }
        if let localPref = advertisement.localPref { fields.append((camelCase ? "localPref" : "localpref", int(Int(localPref)))) }
        if !advertisement.communities.isEmpty { fields.append(("communities", strings(advertisement.communities.map(\.description)))) }
        return map(fields)
    }

    private static func allocationValue(_ allocation: ServiceAllocation, camelCase: Bool) -> Node {
        let key = { (kebab: String) in camelCase ? ConfigBuilder.camel(kebab) : kebab }
        var fields: [(String, Node)] = []
        if let priority = allocation.priority { fields.append(("priority", int(priority))) }
        if !allocation.namespaces.isEmpty { fields.append(("namespaces", strings(allocation.namespaces))) }
        if !allocation.namespaceSelectors.isEmpty { fields.append((key("namespace-selectors"), selectors(allocation.namespaceSelectors, camelCase: camelCase))) }
        if !allocation.serviceSelectors.isEmpty { fields.append((key("service-selectors"), selectors(allocation.serviceSelectors, camelCase: camelCase))) }
        return map(fields)
    }

    private static func selectors(_ selectors: [LabelSelector], camelCase: Bool) -> Node {
        .sequence(.init(selectors.map { selector in
            var fields: [(String, Node)] = []
            if !selector.matchLabels.isEmpty {
                fields.append((camelCase ? "matchLabels" : "match-labels", map(selector.matchLabels.sorted { $0.key < $1.key }.map { ($0.key, string($0.value)) })))
            }
            if !selector.matchExpressions.isEmpty {
                fields.append((camelCase ? "matchExpressions" : "match-expressions", .sequence(.init(selector.matchExpressions.map { requirement in
                    var parts: [(String, Node)] = [("key", string(requirement.key)), ("operator", string(requirement.operator.rawValue))]
                    if !requirement.values.isEmpty { parts.append(("values", strings(requirement.values))) }
                    return map(parts)
                }))))
            }
            return map(fields)
        }))
    }

    // MARK: YAML

    private static func fields(of node: Node) -> [(String, Node)] {
        guard case .mapping(let mapping) = node else { return [] }
        return mapping.map { ($0.key.string ?? "", $0.value) }
    }

    private static func map(_ fields: [(String, Node)]) -> Node {
        .mapping(.init(fields.map { (string($0.0), $0.1) }))
    }

    /// A string scalar, quoted when plain YAML would read it as something else (`64500:100`).
    private static func string(_ text: String) -> Node {
        var scalar = Node.Scalar(text, Tag(.str))
        let plain = try? Yams.compose(yaml: text)
        if text.isEmpty || plain.map({ YAMLReader.tagName($0) != .str || $0.string != text }) ?? true {
            scalar.style = .doubleQuoted
        }
        return .scalar(scalar)
    }

    private static func strings(_ texts: [String]) -> Node { .sequence(.init(texts.map(string))) }
    private static func int(_ value: Int) -> Node { .scalar(.init(String(value), Tag(.int))) }
    private static func bool(_ value: Bool) -> Node { .scalar(.init(value ? "true" : "false", Tag(.bool))) }

    private static func serialize(_ node: Node) -> String {
        (try? Yams.serialize(node: node, indent: 2, width: -1, sortKeys: false)) ?? ""
    }
}
