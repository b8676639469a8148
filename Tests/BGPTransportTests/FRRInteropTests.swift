import BGPSession
import BGPTransport
import BGPWire
import Foundation
import NIOCore
import NIOPosix
import NetPrimitives
import TestSupport
import Testing

/// IronLB's speaker against a real FRR in network namespaces (192.0.2.0/24, 2001:db8::/64).
@Suite(.serialized) struct FRRInteropTests {
    static let routerConfig = """
    frr defaults traditional
    hostname rtr
    !
    router bgp 65001
     bgp router-id 192.0.2.1
     no bgp ebgp-requires-policy
     neighbor 192.0.2.2 remote-as 64512
     neighbor 192.0.2.2 passive
     neighbor 192.0.2.2 timers 3 9
     !
     address-family ipv4 unicast
      neighbor 192.0.2.2 activate
     exit-address-family
     !
     address-family ipv6 unicast
      neighbor 192.0.2.2 activate
     exit-address-family
    !
    """

    @Test func advertisesAndWithdrawsHostRoutes() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("/usr/lib/frr/bgpd"), .command("/usr/bin/vtysh")) else { return }

        let router = try NetworkNamespace(prefix: "bgp")
        let node = try NetworkNamespace(prefix: "bgp")
        defer {
            router.destroy()
            node.destroy()
        }
        try router.link("eth0", to: node, as: "eth0")
        try router.addAddress("192.0.2.1/24", to: "eth0")
        try router.addAddress("2001:db8::1/64", to: "eth0")
        try node.addAddress("192.0.2.2/24", to: "eth0")
        try node.addAddress("2001:db8::2/64", to: "eth0")
        let frr = try FRRRouter(namespace: router, config: Self.routerConfig)
        defer { frr.stop() }

        // The speaker's event loop thread lives in the node's namespace.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        try await loop.submit { try node.enterOnCurrentThread() }.get()

        let session = BGPSessionConfiguration(localASN: 64512, peerASN: 65001, routerID: IPv4Address(192, 0, 2, 2), holdTime: 9)
        let configuration = BGPPeerConfiguration(session: session, peerAddress: IPAddress("192.0.2.1")!,
                                                 sourceAddress: IPAddress("192.0.2.2")!, nextHopIPv6: IPv6Address("2001:db8::2")!)
        let peer = BGPPeer(configuration: configuration, eventLoop: loop)
        let attributes = BGPRouteAttributes(communities: [BGPCommunity(asn: 64512, value: 100)],
                                            largeCommunities: [BGPLargeCommunity(64512, 1, 2)])
        peer.setDesiredRoutes([IPPrefix("198.51.100.10/32")!: attributes, IPPrefix("2001:db8:1::10/128")!: attributes])
        peer.start()

        let up = await poll(timeout: 60, interval: 0.5) { frr.neighborState("192.0.2.2") == "Established" }
        #expect(up, "FRR never saw the session up")
        #expect(try await peer.state().get() == .established)

        let v4Present = await poll(timeout: 30, interval: 0.25) { frr.path("198.51.100.10/32", family: "ipv4") != nil }
        #expect(v4Present)
        let v4 = try #require(frr.path("198.51.100.10/32", family: "ipv4"))
        #expect((v4["aspath"] as? [String: Any])?["string"] as? String == "64512")
        #expect((v4["community"] as? [String: Any])?["string"] as? String == "64512:100")
        #expect((v4["largeCommunity"] as? [String: Any])?["string"] as? String == "64512:1:2")
        #expect(((v4["nexthops"] as? [[String: Any]])?.first?["ip"] as? String) == "192.0.2.2")

        let v6Present = await poll(timeout: 30, interval: 0.25) { frr.path("2001:db8:1::10/128", family: "ipv6") != nil }
        #expect(v6Present)
        let v6 = try #require(frr.path("2001:db8:1::10/128", family: "ipv6"))
        #expect(((v6["nexthops"] as? [[String: Any]])?.first?["ip"] as? String) == "2001:db8::2")

        // A withdrawn prefix disappears; the other stays and the session is not reset.
        peer.setDesiredRoutes([IPPrefix("2001:db8:1::10/128")!: attributes])
        let gone = await poll(timeout: 30, interval: 0.25) { frr.path("198.51.100.10/32", family: "ipv4") == nil }
        #expect(gone)
        #expect(frr.path("2001:db8:1::10/128", family: "ipv6") != nil)
        #expect(frr.neighborState("192.0.2.2") == "Established")

        try await peer.stop(communication: "IronLB test done").get()
        let down = await poll(timeout: 30, interval: 0.25) { frr.neighborState("192.0.2.2") != "Established" }
        #expect(down)
        let neighbor = frr.json("show bgp neighbors 192.0.2.2 json")?["192.0.2.2"] as? [String: Any]
        #expect("\(neighbor ?? [:])".contains("IronLB test done"), "FRR did not record the shutdown communication")
        try await group.shutdownGracefully()
    }
}
