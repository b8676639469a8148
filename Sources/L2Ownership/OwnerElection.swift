import NetPrimitives

/// What the speaker knows about one node, for candidacy.
public struct NodeCandidacy: Hashable, Sendable {
    public var name: String
    /// The node's Lease is held and (for other nodes) past the handoff delay; for this node,
    /// its own Lease state allows answering. See `PeerLeaseTable.isEligible`.
    public var leaseEligible: Bool
    /// The node carries `node.kubernetes.io/exclude-from-external-load-balancers`.
    public var excludedByLabel: Bool
    /// The node's NetworkUnavailable condition is True.
    public var networkUnavailable: Bool

    public init(name: String, leaseEligible: Bool, excludedByLabel: Bool = false, networkUnavailable: Bool = false) {
        self.name = name
        self.leaseEligible = leaseEligible
        self.excludedByLabel = excludedByLabel
        self.networkUnavailable = networkUnavailable
    }
}

/// What one Service sharing a VIP requires of the announcing node.
public struct ServiceRequirement: Hashable, Sendable {
    /// `namespace/name`, for messages.
    public var service: String
    /// The nodes matching the pool's node selectors (the selector match is computed by the caller).
    public var selectedNodes: Set<String>
    /// For `externalTrafficPolicy: Local`, the nodes with a ready endpoint; nil for Cluster.
    public var readyEndpointNodes: Set<String>?

    public init(service: String, selectedNodes: Set<String>, readyEndpointNodes: Set<String>? = nil) {
        self.service = service
        self.selectedNodes = selectedNodes
        self.readyEndpointNodes = readyEndpointNodes
    }
}

/// Why a node is not a candidate for a VIP. Raw values are metric/event labels.
public enum CandidacyRejection: String, Hashable, Sendable, CaseIterable {
    case leaseNotLive
    case excludedByLabel
    case networkUnavailable
    case notSelected
    case noReadyEndpoint
}

public enum OwnerElection {
    /// The rendezvous weight of `node` for `address`: FNV-1a 64 over the node name's UTF-8,
    /// a 0xff separator (never in UTF-8), the family octet (4 or 6) and the address's
    /// network-order bytes, then MurmurHash3's 64-bit finalizer to spread FNV's weak high
    /// bits. Deterministic across processes, machines and Swift versions (unlike `Hasher`,
    /// which is seeded per process).
    public static func weight(node: String, address: IPAddress) -> UInt64 {
        var hash = StableHash()
        hash.add(node.utf8)
        hash.add(0xff)
        hash.add(address.family == .ipv4 ? 4 : 6)
        hash.add(address.bytes)
        return hash.finalized
    }

    /// Why `node` cannot announce an address shared by `services`, or nil if it can. Every
    /// Service sharing the address must accept the node: shared IPs land on one node.
    public static func rejection(of node: NodeCandidacy, for services: [ServiceRequirement]) -> CandidacyRejection? {
        if !node.leaseEligible { return .leaseNotLive }
        if node.excludedByLabel { return .excludedByLabel }
        if node.networkUnavailable { return .networkUnavailable }
        for service in services where !service.selectedNodes.contains(node.name) { return .notSelected }
        for service in services {
            if let ready = service.readyEndpointNodes, !ready.contains(node.name) { return .noReadyEndpoint }
        }
        return nil
    }

    /// The owner of `address`: the candidate with the highest weight (ties, which need a
    /// 64-bit collision, go to the greater name). Nil when no node qualifies or no Service
    /// uses the address.
    public static func owner(of address: IPAddress, services: [ServiceRequirement], nodes: [NodeCandidacy]) -> String? {
        guard !services.isEmpty else { return nil }
        var best: (weight: UInt64, name: String)?
        for node in nodes where rejection(of: node, for: services) == nil {
            let candidate = (weight(node: node.name, address: address), node.name)
            if let current = best, current > candidate { continue }
            best = candidate
        }
        return best?.name
    }

    /// All node names ordered by descending weight for `key` (used to stagger Lease breakers).
    public static func ranking(of names: some Sequence<String>, forKey key: String) -> [String] {
        names.map { name -> (UInt64, String) in
            var hash = StableHash()
            hash.add(name.utf8)
            hash.add(0xff)
            hash.add(key.utf8)
            return (hash.finalized, name)
        }.sorted { $0 > $1 }.map(\.1)
    }
}

/// FNV-1a, 64-bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3), with the
/// MurmurHash3 fmix64 finalizer applied by `finalized`.
public struct StableHash: Sendable {
    public private(set) var fnv: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add(_ byte: UInt8) {
        fnv = (fnv ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
    }

    public mutating func add(_ bytes: some Sequence<UInt8>) {
        for byte in bytes { add(byte) }
    }

    public var finalized: UInt64 {
        var k = fnv
        k ^= k >> 33
        k &*= 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k &*= 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }
}
