import NIOCore
import NetPrimitives
import Testing
import BGPWire

/// What the capture script configured (scripts/capture/bgp-fixtures.sh), checked against
/// what the routers actually sent.
@Suite struct FixtureContentTests {
    func message(_ name: String) throws -> BGPMessage {
        var buffer = try Fixtures.buffer(name)
        return try #require(try buffer.readBGPMessage(options: Fixtures.options(name)))
    }

    func open(_ name: String) throws -> BGPOpen {
        guard case .open(let open) = try message(name) else { throw FixtureMismatch(name: name) }
        return open
    }

    func update(_ name: String) throws -> BGPUpdate {
        guard case .update(let update) = try message(name) else { throw FixtureMismatch(name: name) }
        return update
    }

    func notification(_ name: String) throws -> BGPNotification {
        guard case .notification(let notification) = try message(name) else { throw FixtureMismatch(name: name) }
        return notification
    }

    struct FixtureMismatch: Error { let name: String }

    static let frrID = IPv4Address(192, 0, 2, 1)
    static let birdID = IPv4Address(192, 0, 2, 2)
    static let gobgpID = IPv4Address(192, 0, 2, 3)

    // MARK: OPEN

    @Test func frrOpenUsesASTransAndAdvertisesItsFourOctetASN() throws {
        let open = try open("frr-open-to-bird")
        #expect(open.version == 4)
        #expect(open.myAS == BGPLimits.asTrans)
        #expect(open.asn == 4_200_000_001)
        #expect(open.holdTime == 180)
        #expect(open.bgpIdentifier == Self.frrID)
        #expect(open.multiprotocolFamilies == [.ipv4Unicast])
        #expect(open.supportsFourOctetASN && open.supportsExtendedMessages && open.supportsRouteRefresh)
        #expect(open.capabilities.contains(.enhancedRouteRefresh))
        #expect(open.gracefulRestart?.restartTime == 120)
        // FRR puts each capability in its own optional parameter.
        #expect(open.parameters.count == open.capabilities.count)
    }

    @Test func frrOpenToGoBGPOffersBothFamiliesAndTheConfiguredHoldTime() throws {
        let open = try open("frr-open-to-gobgp")
        #expect(open.holdTime == 3)
        #expect(open.multiprotocolFamilies == [.ipv4Unicast, .ipv6Unicast])
        #expect(open.gracefulRestart?.families.map(\.family) == [.ipv4Unicast, .ipv6Unicast])
    }

    @Test func goBGPOpenPacksCapabilitiesInOneParameter() throws {
        let open = try open("gobgp-open-to-frr")
        #expect(open.myAS == 65002 && open.asn == 65002)
        #expect(open.holdTime == 3)
        #expect(open.bgpIdentifier == Self.gobgpID)
        #expect(open.parameters.count == 1)
        #expect(open.multiprotocolFamilies == [.ipv4Unicast, .ipv6Unicast])
        #expect(!open.supportsExtendedMessages)
    }

    @Test func birdOpenWithoutFourOctetASSupport() throws {
        let open = try open("bird-open-to-gobgp")
        #expect(!open.supportsFourOctetASN)
        #expect(open.asn == 65002)
        #expect(open.holdTime == 240)
        #expect(open.bgpIdentifier == Self.birdID)
        let frr = try self.open("bird-open-to-frr")
        #expect(frr.supportsFourOctetASN && frr.supportsExtendedMessages)
        #expect(try self.open("bird-open-to-frr-v6").multiprotocolFamilies == [.ipv6Unicast])
    }

    // MARK: UPDATE

    @Test func frrHostRouteCarriesRouteMapAttributes() throws {
        let update = try update("frr-update-ipv4-to-bird-2")
        #expect(update.nlri == [IPPrefix("198.51.100.1/32")!])
        #expect(update.origin == .igp)
        #expect(update.asPath == .sequence([4_200_000_001]))
        #expect(update.nextHop == Self.frrID)
        #expect(update.multiExitDisc == 50)
        #expect(update.localPref == nil)
        #expect(update.communities == [BGPCommunity(asn: 64512, value: 100), BGPCommunity(asn: 64512, value: 200)])
        #expect(update.largeCommunities == [BGPLargeCommunity(4_200_000_001, 1, 2), BGPLargeCommunity(4_200_000_001, 3, 4)])
    }

    @Test func frrIPv6HostRouteUsesMPReachWithGlobalAndLinkLocalNextHops() throws {
        let update = try update("frr-update-ipv6-to-bird-v6-2")
        #expect(update.nlri.isEmpty)
        let reach = try #require(update.mpReach)
        #expect(reach.family == .ipv6Unicast)
        #expect(reach.nlri == .prefixes([IPPrefix("2001:db8:1::1/128")!]))
        guard case .ipv6(let global, let linkLocal) = reach.nextHop else {
            Issue.record("next hop \(reach.nextHop)")
            return
        }
        #expect(global == IPv6Address("2001:db8::1"))
        #expect(linkLocal?.isLinkLocal == true)
        #expect(update.communities.count == 2)
        #expect(update.largeCommunities.count == 2)
        // FRR sets Extended Length on short AS_PATH and MP_REACH_NLRI attributes.
        #expect(update.attributes.first?.flags == [.optional, .extendedLength])
    }

    @Test func ibgpUpdateCarriesLocalPrefAndAnEmptyASPath() throws {
        let update = try update("bird-update-ipv4-to-gobgp")
        #expect(update.asPath == BGPASPath())
        #expect(update.localPref == 200)
        #expect(update.communities == [BGPCommunity(asn: 65002, value: 8)])
        #expect(Set(update.nlri) == [IPPrefix("203.0.113.2/32")!, IPPrefix("198.51.100.128/25")!])
        let gobgp = try self.update("gobgp-update-ipv4-to-bird")
        #expect(gobgp.localPref == 150 && gobgp.multiExitDisc == 10 && gobgp.origin == .incomplete)
        #expect(gobgp.largeCommunities == [BGPLargeCommunity(65002, 3, 4)])
    }

    @Test func twoOctetSessionCarriesASTransAndAS4Path() throws {
        let update = try update("bird-update-ipv4-to-gobgp-2")
        #expect(update.asPath == .sequence([UInt32(BGPLimits.asTrans)]))
        #expect(update.as4Path == .sequence([4_200_000_001]))
        #expect(BGPASPath.merging(asPath: update.asPath!, as4Path: update.as4Path) == .sequence([4_200_000_001]))
        #expect(update.nlri == [IPPrefix("198.51.100.0/24")!])
    }

    @Test func goBGPSendsAnIPv4MappedNextHopForIPv6OverAnIPv4Session() throws {
        let reach = try #require(try update("gobgp-update-ipv6-to-frr-2").mpReach)
        #expect(reach.nextHop == .ipv6(global: IPv6Address("::ffff:192.0.2.3")!, linkLocal: nil))
        #expect(reach.nlri == .prefixes([IPPrefix("2001:db8:3::/48")!]))
    }

    @Test func withdrawals() throws {
        #expect(try update("frr-withdraw-ipv4-to-bird").withdrawnRoutes.contains(IPPrefix("198.51.100.1/32")!))
        let unreach = try #require(try update("frr-withdraw-ipv6-to-bird-v6").mpUnreach)
        #expect(unreach.withdrawn.prefixes.contains(IPPrefix("2001:db8:1::1/128")!))
        #expect(try update("gobgp-withdraw-ipv6-to-frr").mpUnreach?.withdrawn == .prefixes([IPPrefix("2001:db8:3::3/128")!]))
        #expect(try update("frr-withdraw-ipv4-to-bird").endOfRIB == nil)
    }

    @Test(arguments: [
        ("frr-eor-ipv4-to-bird", BGPAddressFamily.ipv4Unicast),
        ("frr-eor-ipv6-to-bird-v6", .ipv6Unicast),
        ("bird-eor-ipv4-to-frr", .ipv4Unicast),
        ("bird-eor-ipv6-to-frr-v6", .ipv6Unicast),
        ("gobgp-eor-ipv4-to-frr", .ipv4Unicast),
        ("gobgp-eor-ipv6-to-frr", .ipv6Unicast),
    ])
    func endOfRIB(name: String, family: BGPAddressFamily) throws {
        let update = try update(name)
        #expect(update.endOfRIB == family)
        var ours = ByteBuffer()
        ours.writeBGPMessage(.update(.endOfRIB(family)))
        #expect(Array(ours.readableBytesView) == (try Fixtures.bytes(name)))
    }

    // MARK: NOTIFICATION, KEEPALIVE, ROUTE-REFRESH

    @Test(arguments: [
        // FRR keeps the quotes of `shutdown message "..."` in the communication.
        ("frr-notification-6-2-to-bird", "\"IronLB fixture: FRR maintenance\""),
        ("bird-notification-6-2-to-frr-v6", "IronLB fixture: BIRD maintenance"),
        ("gobgp-notification-6-2-to-bird", "IronLB fixture: GoBGP maintenance"),
    ])
    func shutdownCommunication(name: String, text: String) throws {
        let notification = try notification(name)
        #expect(notification.code == 6 && notification.subcode == 2)
        #expect(notification.shutdownCommunication == text)
        var ours = ByteBuffer()
        ours.writeBGPMessage(.notification(.cease(.administrativeShutdown, communication: text)))
        #expect(Array(ours.readableBytesView) == (try Fixtures.bytes(name)))
    }

    @Test func badPeerASCarriesTheASNReceived() throws {
        let notification = try notification("frr-notification-2-2-to-bird-v6")
        #expect(notification == BGPNotification(code: .openMessage, subcode: 2, data: [0xFD, 0xEA]))
        #expect(try self.notification("frr-notification-4-0-to-gobgp") == .holdTimerExpired)
    }

    @Test func keepalivesAndRouteRefresh() throws {
        for name in Fixtures.names where name.contains("-keepalive-") {
            #expect(try message(name) == .keepalive)
        }
        #expect(try message("frr-route-refresh-ipv6-to-bird-v6") == .routeRefresh(BGPRouteRefresh(family: .ipv6Unicast)))
        #expect(try message("bird-route-refresh-borr-ipv4-to-frr") == .routeRefresh(BGPRouteRefresh(family: .ipv4Unicast, subtype: 1)))
        #expect(try message("bird-route-refresh-eorr-ipv6-to-frr-v6") == .routeRefresh(BGPRouteRefresh(family: .ipv6Unicast, subtype: 2)))
    }

    @Test func ourOpenMatchesTheLayoutOfARealOne() throws {
        // Rebuild GoBGP's OPEN to BIRD from typed values: same bytes.
        let open = BGPOpen(myAS: 65002, holdTime: 90, bgpIdentifier: Self.gobgpID, parameters: [.capabilities([
            .routeRefresh, .unknown(code: 73, value: [2, 118, 109, 0]), .multiprotocol(.ipv4Unicast),
            .fourOctetASN(65002), .unknown(code: 5, value: [0, 1, 0, 1, 0, 2]),
        ])])
        var ours = ByteBuffer()
        ours.writeBGPMessage(.open(open))
        #expect(Array(ours.readableBytesView) == (try Fixtures.bytes("gobgp-open-to-bird")))
    }
}
