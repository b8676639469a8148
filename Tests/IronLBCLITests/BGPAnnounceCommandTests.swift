import ArgumentParser
import BGPSession
import BGPWire
import IronLBCLI
import NetPrimitives
import Testing

@Suite struct BGPAnnounceCommandTests {
    @Test func buildsThePeeringFromItsOptions() throws {
        let command = try BGPAnnounceCommand.parse([
            "--peer", "192.0.2.1", "--peer-asn", "65001", "--local-asn", "4200000001", "--source", "192.0.2.2",
            "--prefix", "198.51.100.10/32", "--prefix", "2001:db8:1::10/128", "--community", "64512:100",
            "--large-community", "4200000001:1:2", "--hold-time", "9", "--password", "secret", "--next-hop-ipv6", "2001:db8::2",
        ])
        let (configuration, routes) = try command.peerConfiguration()
        #expect(configuration.peerAddress == IPAddress("192.0.2.1"))
        #expect(configuration.session.localASN == 4_200_000_001 && configuration.session.peerASN == 65001)
        #expect(configuration.session.routerID == IPv4Address(192, 0, 2, 2))
        #expect(configuration.session.families == [.ipv4Unicast, .ipv6Unicast])
        #expect(configuration.session.holdTime == 9)
        #expect(configuration.password == "secret")
        #expect(configuration.ttl == 1)
        #expect(configuration.nextHopIPv6 == IPv6Address("2001:db8::2"))
        #expect(routes.count == 2)
        #expect(routes[IPPrefix("198.51.100.10/32")!]?.communities == [BGPCommunity(asn: 64512, value: 100)])
        #expect(routes[IPPrefix("2001:db8:1::10/128")!]?.largeCommunities == [BGPLargeCommunity(4_200_000_001, 1, 2)])
    }

    @Test(arguments: [
        (["--peer", "not-an-address"], "--peer"),
        (["--prefix", "198.51.100.1/24"], "--prefix"),
        (["--community", "70000:1"], "--community"),
        (["--large-community", "1:2"], "--large-community"),
        (["--hold-time", "2"], "--hold-time"),
        (["--source", "2001:db8::2"], "--router-id"),
    ])
    func rejectsBadOptionsNamingThem(extra: [String], option: String) {
        var arguments = ["--peer", "192.0.2.1", "--peer-asn", "65001", "--local-asn", "64512", "--source", "192.0.2.2"]
        // Later options win for single-valued ones; repeatable ones accumulate.
        arguments += extra
        do {
            _ = try BGPAnnounceCommand.parse(arguments)
            Issue.record("accepted \(extra)")
        } catch {
            #expect(BGPAnnounceCommand.message(for: error).contains(option), "\(BGPAnnounceCommand.message(for: error))")
        }
    }
}
