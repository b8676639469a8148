import Testing
import BGPWire
import LBConfig
import NetPrimitives
@testable import LBCore
@testable import SpeakerCore

/// A configuration the test knows to be valid.
private func config(_ yaml: String) -> Configuration { try! ConfigParser.parseConfigValue(yaml).get() }

@Suite struct BGPAdvertisementPlanTests {
    let configuration = config("""
        peers:
        - {peer-address: 192.0.2.1, peer-asn: 64501, my-asn: 64500}
        - peer-address: 192.0.2.2
          peer-asn: 64500
          my-asn: 64500
          node-selectors: [{match-labels: {rack: a}}]
        bgp-communities:
          no-export: 65535:65281
        address-pools:
        - name: public
          protocol: bgp
          addresses: [203.0.113.0/24, "2001:db8::/64"]
          bgp-advertisements:
          - {communities: [no-export], localpref: 100}
          - {aggregation-length: 24, aggregation-length-v6: 64, communities: ["large:64500:1:2"]}
        - name: rack-b-only
          protocol: bgp
          addresses: [198.51.100.0/28]
          node-selectors: [{match-labels: {rack: b}}]
        - {name: l2, protocol: layer2, addresses: [192.0.2.128/28]}
        """)

    func key(_ name: String) -> ServiceKey { ServiceKey(namespace: "default", name: name) }

    func describe(_ plan: [Peer: [IPPrefix: RouteAttributes]]) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for (peer, routes) in plan {
            out[peer.address.description] = routes.sorted { $0.key < $1.key }.map { prefix, attrs in
                "\(prefix) \(attrs.communities.map(\.description).joined(separator: ",")) lp=\(attrs.localPref.map(String.init) ?? "-")"
            }
        }
        return out
    }

    @Test func peersFollowNodeSelectors() {
        #expect(BGPAdvertisementPlan.peers(for: NodeState(name: "n1", labels: ["rack": "a"]), in: configuration).map(\.address.description) == ["192.0.2.1", "192.0.2.2"])
        #expect(BGPAdvertisementPlan.peers(for: NodeState(name: "n2", labels: ["rack": "b"]), in: configuration).map(\.address.description) == ["192.0.2.1"])
    }

    @Test func prefixesAggregatesAndAttributes() {
        let services = [
            SpeakerService(key: key("web"), ips: [ip("203.0.113.7"), ip("2001:db8::7")]),
            SpeakerService(key: key("api"), ips: [ip("203.0.113.9")]),
            SpeakerService(key: key("l2"), ips: [ip("192.0.2.130")]),          // layer2 pool: not via BGP
            SpeakerService(key: key("b"), ips: [ip("198.51.100.3")]),          // pool for rack b only
        ]
        let plan = BGPAdvertisementPlan.routes(for: NodeState(name: "n1", labels: ["rack": "a"]), configuration: configuration, services: services)
        let expected = [
            "203.0.113.0/24 large:64500:1:2 lp=-",
            "203.0.113.7/32 65535:65281 lp=100",
            "203.0.113.9/32 65535:65281 lp=100",
            "2001:db8::/64 large:64500:1:2 lp=-",
            "2001:db8::7/128 65535:65281 lp=100",
        ]
        #expect(describe(plan) == ["192.0.2.1": expected, "192.0.2.2": expected])
        let rackB = BGPAdvertisementPlan.routes(for: NodeState(name: "n2", labels: ["rack": "b"]), configuration: configuration, services: services)
        #expect(describe(rackB)["192.0.2.1"]?.contains("198.51.100.3/32  lp=-") == true)
    }

    @Test(arguments: [
        NodeState(name: "n1", labels: [NodeState.excludeLabel: ""]),
        NodeState(name: "n1", networkUnavailable: true),
    ])
    func excludedNodesKeepSessionsButAnnounceNothing(node: NodeState) {
        let plan = BGPAdvertisementPlan.routes(for: node, configuration: configuration, services: [SpeakerService(key: key("web"), ips: [ip("203.0.113.7")])])
        #expect(describe(plan) == ["192.0.2.1": []])
    }

    @Test func aggregatesOfSeveralAdvertisementsMerge() {
        let merged = RouteAttributes(communities: [.standard(BGPCommunity(rawValue: 1))], localPref: 100).merged(with: RouteAttributes(communities: [.standard(BGPCommunity(rawValue: 2)), .standard(BGPCommunity(rawValue: 1))], localPref: 200))
        #expect(merged == RouteAttributes(communities: [.standard(BGPCommunity(rawValue: 1)), .standard(BGPCommunity(rawValue: 2))], localPref: 200))
        #expect(RouteAttributes(localPref: nil).merged(with: RouteAttributes(localPref: 5)).localPref == 5)
    }
}

/// The next hop for the family a session does not run over comes from the Node's InternalIPs.
@Suite struct CrossFamilyNextHopTests {
    static let node = NodeState(name: "n", addresses: [IPAddress("fe80::1")!, IPAddress("192.0.2.11")!, IPAddress("2001:db8::11")!, IPAddress("192.0.2.99")!])

    @Test func overIPv4TheIPv6NextHopIsTheFirstGlobalAddress() {
        let hops = Self.node.crossFamilyNextHops(toward: IPAddress("192.0.2.1")!)
        #expect(hops.ipv4 == nil)
        #expect(hops.ipv6 == IPv6Address("2001:db8::11"))
    }

    @Test func overIPv6TheIPv4NextHopIsTheFirstIPv4Address() {
        let hops = Self.node.crossFamilyNextHops(toward: IPAddress("2001:db8::1")!)
        #expect(hops.ipv4 == IPv4Address("192.0.2.11"))
        #expect(hops.ipv6 == nil)
    }

    @Test func withoutAnAddressOfTheOtherFamilyThereIsNone() {
        let v4only = NodeState(name: "n", addresses: [IPAddress("192.0.2.11")!, IPAddress("fe80::1")!])
        #expect(v4only.crossFamilyNextHops(toward: IPAddress("192.0.2.1")!).ipv6 == nil)
        #expect(NodeState(name: "n").crossFamilyNextHops(toward: IPAddress("2001:db8::1")!).ipv4 == nil)
    }
}
