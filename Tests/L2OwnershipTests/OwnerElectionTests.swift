import L2Ownership
import NetPrimitives
import Testing

struct OwnerElectionTests {
    /// FNV-1a 64 reference vectors (Fowler/Noll/Vo test suite).
    @Test(arguments: [("", 0xcbf2_9ce4_8422_2325), ("a", 0xaf63_dc4c_8601_ec8c), ("foobar", 0x8594_4171_f739_67e8)] as [(String, UInt64)])
    func fnv1aVectors(_ text: String, _ expected: UInt64) {
        var hash = StableHash()
        hash.add(text.utf8)
        #expect(hash.fnv == expected)
    }

    /// Pinned weights, computed independently (Python) from the documented definition: any
    /// change here moves VIPs between nodes in a mixed-version cluster.
    @Test(arguments: [
        ("node-a", "203.0.113.10", 0x9bb8_aa60_7168_20b2),
        ("node-b", "203.0.113.10", 0x55b9_e262_be57_1f25),
        ("worker-17.example", "2001:db8::1", 0xed91_2200_939b_adfc),
        ("", "198.51.100.1", 0x5fc2_6109_dc0a_3e4c),
    ] as [(String, String, UInt64)])
    func weightsAreStable(_ node: String, _ address: String, _ expected: UInt64) {
        #expect(OwnerElection.weight(node: node, address: IPAddress(address)!) == expected)
    }

    static let names = (0..<10).map { "node-\($0)" }
    static let vips = (0..<1000).map { IPAddress.v4(IPv4Address(rawValue: 0xcb00_7100 + UInt32($0 % 256) + UInt32($0 / 256) << 8)) }
    static func live(_ names: [String]) -> [NodeCandidacy] { names.map { NodeCandidacy(name: $0, leaseEligible: true) } }
    static let cluster = [ServiceRequirement(service: "ns/a", selectedNodes: Set(names))]

    @Test func spreadsVIPsEvenly() {
        var counts: [String: Int] = [:]
        for vip in Self.vips {
            counts[OwnerElection.owner(of: vip, services: Self.cluster, nodes: Self.live(Self.names))!, default: 0] += 1
        }
        #expect(counts.count == 10)
        // 100 expected per node; binomial σ ≈ 9.5.
        #expect(counts.values.allSatisfy { (60...140).contains($0) }, "\(counts)")
    }

    /// Rendezvous hashing moves only the failed node's VIPs, and a new node takes VIPs only
    /// for itself.
    @Test func minimalDisruption() {
        let before = Self.vips.map { OwnerElection.owner(of: $0, services: Self.cluster, nodes: Self.live(Self.names)) }
        let without = Self.vips.map { OwnerElection.owner(of: $0, services: Self.cluster, nodes: Self.live(Self.names.filter { $0 != "node-3" })) }
        for (old, new) in zip(before, without) where old != "node-3" { #expect(old == new) }
        #expect(zip(before, without).contains { $0 == "node-3" && $1 != "node-3" })
        let added = Self.names + ["node-10"]
        let with = Self.vips.map { OwnerElection.owner(of: $0, services: [ServiceRequirement(service: "ns/a", selectedNodes: Set(added))], nodes: Self.live(added)) }
        for (old, new) in zip(before, with) where old != new { #expect(new == "node-10") }
    }

    @Test func independentOfOrder() {
        for vip in Self.vips.prefix(50) {
            let a = OwnerElection.owner(of: vip, services: Self.cluster, nodes: Self.live(Self.names))
            let b = OwnerElection.owner(of: vip, services: Self.cluster, nodes: Self.live(Self.names.reversed()))
            #expect(a == b)
        }
    }

    struct FilterCase: Sendable, CustomTestStringConvertible {
        var name: String
        var node: NodeCandidacy
        var services: [ServiceRequirement]
        var rejection: CandidacyRejection?
        var testDescription: String { name }
    }

    static let all: Set<String> = ["n1", "n2"]

    @Test(arguments: [
        FilterCase(name: "eligible", node: .init(name: "n1", leaseEligible: true), services: [.init(service: "a", selectedNodes: all)], rejection: nil),
        FilterCase(name: "lease not live", node: .init(name: "n1", leaseEligible: false), services: [.init(service: "a", selectedNodes: all)], rejection: .leaseNotLive),
        FilterCase(name: "exclude label", node: .init(name: "n1", leaseEligible: true, excludedByLabel: true), services: [.init(service: "a", selectedNodes: all)], rejection: .excludedByLabel),
        FilterCase(name: "NetworkUnavailable", node: .init(name: "n1", leaseEligible: true, networkUnavailable: true), services: [.init(service: "a", selectedNodes: all)], rejection: .networkUnavailable),
        FilterCase(name: "node selector", node: .init(name: "n1", leaseEligible: true), services: [.init(service: "a", selectedNodes: ["n2"])], rejection: .notSelected),
        FilterCase(name: "Local with endpoint here", node: .init(name: "n1", leaseEligible: true), services: [.init(service: "a", selectedNodes: all, readyEndpointNodes: ["n1"])], rejection: nil),
        FilterCase(name: "Local without endpoint here", node: .init(name: "n1", leaseEligible: true), services: [.init(service: "a", selectedNodes: all, readyEndpointNodes: ["n2"])], rejection: .noReadyEndpoint),
        FilterCase(name: "Local with no endpoints at all", node: .init(name: "n1", leaseEligible: true), services: [.init(service: "a", selectedNodes: all, readyEndpointNodes: [])], rejection: .noReadyEndpoint),
        FilterCase(name: "shared: every Service must accept", node: .init(name: "n1", leaseEligible: true),
                   services: [.init(service: "a", selectedNodes: all), .init(service: "b", selectedNodes: all, readyEndpointNodes: ["n2"])], rejection: .noReadyEndpoint),
        FilterCase(name: "shared: selector of the second", node: .init(name: "n1", leaseEligible: true),
                   services: [.init(service: "a", selectedNodes: all), .init(service: "b", selectedNodes: ["n2"])], rejection: .notSelected),
        FilterCase(name: "first failing check wins", node: .init(name: "n1", leaseEligible: false, excludedByLabel: true, networkUnavailable: true),
                   services: [.init(service: "a", selectedNodes: [])], rejection: .leaseNotLive),
    ])
    func candidateFiltering(_ c: FilterCase) {
        #expect(OwnerElection.rejection(of: c.node, for: c.services) == c.rejection)
    }

    /// Services sharing an IP land on one node: the owner depends on the IP, and only nodes
    /// every sharing Service accepts qualify.
    @Test func sharedIPLandsOnOneNode() {
        let nodes = Self.live(Self.names)
        for vip in Self.vips.prefix(100) {
            let alone = OwnerElection.owner(of: vip, services: [ServiceRequirement(service: "ns/a", selectedNodes: Set(Self.names))], nodes: nodes)
            let shared = OwnerElection.owner(of: vip, services: [
                ServiceRequirement(service: "ns/a", selectedNodes: Set(Self.names)),
                ServiceRequirement(service: "ns/b", selectedNodes: Set(Self.names)),
            ], nodes: nodes)
            #expect(alone == shared)
            let local = OwnerElection.owner(of: vip, services: [
                ServiceRequirement(service: "ns/a", selectedNodes: Set(Self.names), readyEndpointNodes: ["node-1", "node-2"]),
                ServiceRequirement(service: "ns/b", selectedNodes: Set(Self.names), readyEndpointNodes: ["node-2", "node-3"]),
            ], nodes: nodes)
            #expect(local == "node-2")
        }
        #expect(OwnerElection.owner(of: Self.vips[0], services: [], nodes: nodes) == nil)
        #expect(OwnerElection.owner(of: Self.vips[0], services: Self.cluster, nodes: []) == nil)
    }

    @Test func ranking() {
        let ranked = OwnerElection.ranking(of: Self.names, forKey: "node-99")
        #expect(Set(ranked) == Set(Self.names))
        #expect(ranked == OwnerElection.ranking(of: Self.names.reversed(), forKey: "node-99"))
        #expect(ranked != OwnerElection.ranking(of: Self.names, forKey: "node-98"))
    }

    @Test func timingsValidation() {
        #expect(LeaseTimings.default.problem == nil)
        var t = LeaseTimings.default
        t.leaseDuration = t.renewDeadline
        #expect(t.problem != nil)
        t = .default
        t.handoffDelay = t.renewDeadline
        #expect(t.problem != nil)
        t = .default
        t.renewDeadline = t.renewInterval
        #expect(t.problem != nil)
    }
}
