// LBConfig: IronLB's configuration language.
//
// Operators write the YAML that MetalLB v0.12 reads from its `config` ConfigMap (`peers`,
// `address-pools`, `bgp-communities`, `bfd-profiles`), plus the extensions MetalLB later moved
// into CRDs (per-pool `interfaces`, `node-selectors`, `service-allocation`, large communities).
// `ConfigParser` translates that text, once and purely, into the typed `Configuration` below;
// every error names its path (`address-pools[1].addresses[0]`) and all are reported at once.
import BGPWire
import KubeModel
import NetPrimitives

/// A validated configuration: what the controller allocates from and the speakers announce.
public struct Configuration: Equatable, Sendable {
    public var peers: [Peer]
    public var pools: [AddressPool]
    /// `bgp-communities`: alias name → community.
    public var communityAliases: [String: BGPCommunityValue]
    public var bfdProfiles: [BFDProfile]

    public init(peers: [Peer] = [], pools: [AddressPool] = [], communityAliases: [String: BGPCommunityValue] = [:], bfdProfiles: [BFDProfile] = []) {
        self.peers = peers
        self.pools = pools
        self.communityAliases = communityAliases
        self.bfdProfiles = bfdProfiles
    }

    /// The empty configuration: no pools, so Services wait for an address.
    public static let empty = Configuration()

    public func pool(named name: String) -> AddressPool? { pools.first { $0.name == name } }

    /// The pool whose addresses hold `ip` (the first, in the configuration's order).
    public func pool(containing ip: IPAddress) -> AddressPool? { pools.first { $0.contains(ip) } }
}

/// How a pool's addresses reach the network.
public enum PoolProtocol: String, Equatable, Hashable, Sendable, CaseIterable {
    case layer2
    case bgp
    /// A MetalLB IPAddressPool that no L2Advertisement or BGPAdvertisement selects: its
    /// addresses are allocated but not announced. Not a ConfigMap `protocol` value.
    case unannounced
}

/// One entry of a pool's `addresses`: a CIDR or an `a-b` range, with the text it came from.
public struct AddressBlock: Equatable, Hashable, Sendable, CustomStringConvertible {
    public let range: IPRange
    /// Set when the block was written as a CIDR.
    public let prefix: IPPrefix?

    public init(prefix: IPPrefix) {
        self.range = prefix.range
        self.prefix = prefix
    }

    public init(range: IPRange) {
        self.range = range
        self.prefix = nil
    }

    public var family: IPFamily { range.family }
    public var description: String { prefix?.description ?? range.description }

    /// Parses a CIDR (`192.0.2.0/24`) or a range (`192.0.2.10-192.0.2.20`).
    public init(parsing text: String) throws(AddressParseError) {
        if text.contains("/") {
            self.init(prefix: try IPPrefix(parsing: text[...]))
        } else if text.contains("-") {
            self.init(range: try IPRange(parsing: text[...]))
        } else {
            // A bare address is a one-address pool, as MetalLB reads it (a /32 or /128).
            let address = try IPAddress(parsing: text[...])
            self.init(prefix: IPPrefix(host: address))
        }
    }
}

extension AddressBlock {
    /// Addresses no pool may hold: a Service's IP there is never reachable from the network
    /// (docs/configuration.md, "Addresses a pool may not hold").
    public static let specialRanges: [(prefix: IPPrefix, name: String, range: IPRange)] = [
        ("0.0.0.0/8", "unspecified, \"this network\""), ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/4", "multicast"), ("255.255.255.255/32", "limited broadcast"),
        ("::/128", "unspecified"), ("::1/128", "loopback"), ("fe80::/10", "link-local"), ("ff00::/8", "multicast"),
    ].map { text, name in
        let prefix = IPPrefix(text)!
        return (prefix, name, prefix.range)
    }
}

public struct AddressPool: Equatable, Sendable {
    public var name: String
    public var `protocol`: PoolProtocol
    public var addresses: [AddressBlock]
    /// False: only Services that ask for this pool or for one of its IPs get its addresses.
    public var autoAssign: Bool
    /// Skip addresses ending in .0 or .255 (IPv4), which some old clients mishandle.
    public var avoidBuggyIPs: Bool
    /// For bgp pools; a bgp pool without any gets one advertisement with the defaults.
    public var bgpAdvertisements: [BGPAdvertisement]
    /// Layer2 only: the interfaces that answer ARP/NDP for this pool. Empty: the default choice.
    public var interfaces: [String]
    /// Nodes allowed to announce this pool's addresses. Empty: every node.
    public var nodeSelectors: [LabelSelector]
    /// Restricts the pool to some Services and orders pools. Nil: any Service, lowest priority.
    public var serviceAllocation: ServiceAllocation?

    public init(
        name: String, protocol: PoolProtocol, addresses: [AddressBlock], autoAssign: Bool = true,
        avoidBuggyIPs: Bool = false, bgpAdvertisements: [BGPAdvertisement] = [], interfaces: [String] = [],
        nodeSelectors: [LabelSelector] = [], serviceAllocation: ServiceAllocation? = nil
    ) {
        self.name = name
        self.protocol = `protocol`
        self.addresses = addresses
        self.autoAssign = autoAssign
        self.avoidBuggyIPs = avoidBuggyIPs
        self.bgpAdvertisements = bgpAdvertisements
        self.interfaces = interfaces
        self.nodeSelectors = nodeSelectors
        self.serviceAllocation = serviceAllocation
    }

    /// Total number of addresses (before `avoid-buggy-ips`), saturating.
    public var addressCount: UInt128 {
        addresses.reduce(UInt128(0)) { total, block in
            let (sum, overflow) = total.addingReportingOverflow(block.range.count)
            return overflow ? .max : sum
        }
    }

    public func addressCount(family: IPFamily) -> UInt128 {
        addresses.filter { $0.family == family }.reduce(UInt128(0)) { total, block in
            let (sum, overflow) = total.addingReportingOverflow(block.range.count)
            return overflow ? .max : sum
        }
    }

    public func contains(_ address: IPAddress) -> Bool {
        addresses.contains { $0.range.contains(address) }
    }

    public var families: Set<IPFamily> { Set(addresses.map(\.family)) }
}

public struct BGPAdvertisement: Equatable, Hashable, Sendable {
    /// The community bytes (4 per community, 12 per large one) a pool's advertisements may
    /// carry: what is left of a 4,096-byte UPDATE after the other attributes of the largest
    /// route (IPv6 with a link-local next hop, AS4_PATH, MED, LOCAL_PREF: 132 bytes), rounded down.
    public static let maximumCommunityBytes = 3_840

    public var aggregationLength: Int
    public var aggregationLengthV6: Int
    public var localPref: UInt32?
    /// Aliases already resolved.
    public var communities: [BGPCommunityValue]

    public init(aggregationLength: Int = 32, aggregationLengthV6: Int = 128, localPref: UInt32? = nil, communities: [BGPCommunityValue] = []) {
        self.aggregationLength = aggregationLength
        self.aggregationLengthV6 = aggregationLengthV6
        self.localPref = localPref
        self.communities = communities
    }
}

public struct ServiceAllocation: Equatable, Sendable {
    /// Lower is preferred, as in MetalLB. Nil sorts after every number.
    public var priority: Int?
    /// The Service's namespace must be one of these (when non-empty)...
    public var namespaces: [String]
    /// ...or have labels matched by one of these (when non-empty).
    public var namespaceSelectors: [LabelSelector]
    /// The Service's own labels must match one of these (when non-empty).
    public var serviceSelectors: [LabelSelector]

    public init(priority: Int? = nil, namespaces: [String] = [], namespaceSelectors: [LabelSelector] = [], serviceSelectors: [LabelSelector] = []) {
        self.priority = priority
        self.namespaces = namespaces
        self.namespaceSelectors = namespaceSelectors
        self.serviceSelectors = serviceSelectors
    }

    /// Whether a Service in `namespace` (with `namespaceLabels`) carrying `serviceLabels` may use the pool.
    public func admits(namespace: String, namespaceLabels: [String: String], serviceLabels: [String: String]) -> Bool {
        let namespaceRestricted = !namespaces.isEmpty || !namespaceSelectors.isEmpty
        if namespaceRestricted {
            let byName = namespaces.contains(namespace)
            let byLabels = namespaceSelectors.contains { $0.matches(namespaceLabels) }
            if !byName && !byLabels { return false }
        }
        if !serviceSelectors.isEmpty && !serviceSelectors.contains(where: { $0.matches(serviceLabels) }) {
            return false
        }
        return true
    }
}

public struct Peer: Equatable, Hashable, Sendable {
    public var myASN: UInt32
    public var peerASN: UInt32
    public var address: IPAddress
    public var port: UInt16
    public var sourceAddress: IPAddress?
    public var routerID: IPv4Address?
    /// Seconds; 0 disables keepalives and the hold timer (RFC 4271 §4.2).
    public var holdTime: Int
    public var keepaliveTime: Int
    public var password: String?
    public var ebgpMultihop: Bool
    /// Nodes that open this session. Empty: every node.
    public var nodeSelectors: [LabelSelector]
    public var bfdProfile: String?

    public init(
        myASN: UInt32, peerASN: UInt32, address: IPAddress, port: UInt16 = 179, sourceAddress: IPAddress? = nil,
        routerID: IPv4Address? = nil, holdTime: Int = 90, keepaliveTime: Int = 30, password: String? = nil,
        ebgpMultihop: Bool = false, nodeSelectors: [LabelSelector] = [], bfdProfile: String? = nil
    ) {
        self.myASN = myASN
        self.peerASN = peerASN
        self.address = address
        self.port = port
        self.sourceAddress = sourceAddress
        self.routerID = routerID
        self.holdTime = holdTime
        self.keepaliveTime = keepaliveTime
        self.password = password
        self.ebgpMultihop = ebgpMultihop
        self.nodeSelectors = nodeSelectors
        self.bfdProfile = bfdProfile
    }

    public var isIBGP: Bool { myASN == peerASN }
}

/// `bfd-profiles` entry; intervals in milliseconds. Defaults are FRR's and MetalLB's.
public struct BFDProfile: Equatable, Hashable, Sendable {
    public var name: String
    public var receiveInterval: Int = 300
    public var transmitInterval: Int = 300
    public var detectMultiplier: Int = 3
    public var echoInterval: Int = 50
    public var echoMode: Bool = false
    public var passiveMode: Bool = false
    public var minimumTTL: Int = 254

    public init(name: String) { self.name = name }

    /// IronLB's BFD runs no echo function (docs/design/bfd.md): a profile asking for it is
    /// refused with this message rather than accepted and ignored.
    public static let echoModeRefusal = "the BFD echo function is not implemented; remove echo-mode or set it to false"

    /// Microseconds, as BFD carries intervals on the wire (RFC 5880 §4.1).
    public var desiredMinTxMicroseconds: UInt32 { UInt32(clamping: transmitInterval) * 1000 }
    public var requiredMinRxMicroseconds: UInt32 { UInt32(clamping: receiveInterval) * 1000 }
}
