import TestSupport
import BGPSession
import BGPWire
import NIOCore
import NetPrimitives
import Testing

@Suite struct AdjRIBOutTests {
    static let ebgp = BGPUpdateContext(localASN: 64512, isInternal: false, nextHops: Peer.nextHops,
                                       codec: BGPCodecOptions(), families: [.ipv4Unicast, .ipv6Unicast])
    static let ibgp = BGPUpdateContext(localASN: 64512, isInternal: true, nextHops: Peer.nextHops,
                                       codec: BGPCodecOptions(), families: [.ipv4Unicast, .ipv6Unicast])

    static func hosts(_ count: Int, base: UInt32 = 0xC633_6400) -> [IPPrefix] {
        (0..<count).map { IPPrefix(host: .v4(IPv4Address(rawValue: base &+ UInt32($0)))) }
    }

    static func hosts6(_ count: Int) -> [IPPrefix] {
        (0..<count).map { IPPrefix(host: .v6(IPv6Address(high: 0x2001_0db8_0001_0000, low: UInt64($0) + 1))) }
    }

    /// Encodes, checks the size limit, decodes back: what the peer reads.
    func wire(_ updates: [BGPUpdate], _ context: BGPUpdateContext) throws -> [BGPUpdate] {
        var decoded: [BGPUpdate] = []
        for update in updates {
            var buffer = ByteBuffer()
            let length = buffer.writeBGPMessage(.update(update), options: context.codec)
            #expect(length <= context.codec.maximumMessageLength)
            guard case .update(let back) = try #require(try buffer.readBGPMessage(options: context.codec)) else {
                throw Failure("not an update")
            }
            #expect(back.errors.isEmpty, "\(back.errors)")
            decoded.append(back)
        }
        return decoded
    }

    func announced(_ updates: [BGPUpdate]) -> [IPPrefix] {
        updates.flatMap { $0.nlri + ($0.mpReach?.nlri.prefixes ?? []) }
    }

    func withdrawn(_ updates: [BGPUpdate]) -> [IPPrefix] {
        updates.flatMap { $0.withdrawnRoutes + ($0.mpUnreach?.withdrawn.prefixes ?? []) }
    }

    @Test func ebgpAttributes() throws {
        var rib = BGPAdjRIBOut()
        let attributes = BGPRouteAttributes(communities: [BGPCommunity(asn: 64512, value: 100)],
                                            largeCommunities: [BGPLargeCommunity(64512, 1, 2)], localPref: 300)
        rib.setDesired([IPPrefix("203.0.113.5/32")!: attributes, IPPrefix("2001:db8:1::5/128")!: attributes])
        let updates = try wire(rib.updates(context: Self.ebgp), Self.ebgp)
        #expect(updates.count == 2)
        let v4 = updates[0]
        #expect(v4.nlri == [IPPrefix("203.0.113.5/32")!])
        #expect(v4.origin == .igp && v4.asPath == .sequence([64512]) && v4.nextHop == Peer.nextHops.ipv4)
        // LOCAL_PREF never goes to an external peer.
        #expect(v4.localPref == nil)
        #expect(v4.communities == [BGPCommunity(asn: 64512, value: 100)] && v4.largeCommunities == [BGPLargeCommunity(64512, 1, 2)])
        let v6 = updates[1]
        #expect(v6.nextHop == nil && v6.nlri.isEmpty)
        #expect(v6.mpReach == BGPMPReach(family: .ipv6Unicast, nextHop: .ipv6(global: Peer.nextHops.ipv6!, linkLocal: Peer.nextHops.ipv6LinkLocal),
                                         nlri: .prefixes([IPPrefix("2001:db8:1::5/128")!])))
        #expect(v6.asPath == .sequence([64512]) && v6.communities.count == 1)
    }

    @Test func ibgpAttributes() throws {
        var rib = BGPAdjRIBOut()
        rib.setDesired([IPPrefix("203.0.113.5/32")!: BGPRouteAttributes(localPref: 300),
                        IPPrefix("203.0.113.6/32")!: BGPRouteAttributes()])
        let updates = try wire(rib.updates(context: Self.ibgp), Self.ibgp)
        #expect(updates.allSatisfy { $0.asPath == BGPASPath() })
        #expect(Set(updates.compactMap(\.localPref)) == [300, 100])
    }

    @Test func fourOctetASNToATwoOctetPeerUsesASTransAndAS4Path() throws {
        var context = Self.ebgp
        context.localASN = 4_200_000_001
        context.codec = BGPCodecOptions(fourOctetASN: false)
        var rib = BGPAdjRIBOut()
        rib.setDesired([IPPrefix("203.0.113.5/32")!: BGPRouteAttributes()])
        let update = try #require(try wire(rib.updates(context: context), context).first)
        #expect(update.asPath == .sequence([UInt32(BGPLimits.asTrans)]))
        #expect(update.as4Path == .sequence([4_200_000_001]))
        #expect(BGPASPath.merging(asPath: update.asPath!, as4Path: update.as4Path) == .sequence([4_200_000_001]))
    }

    @Test(arguments: [false, true])
    func packsTenThousandHostRoutesIntoFewUpdates(extended: Bool) throws {
        var context = Self.ebgp
        context.codec.extendedMessages = extended
        var rib = BGPAdjRIBOut()
        let prefixes = Self.hosts(10_000)
        let attributes = BGPRouteAttributes(communities: [BGPCommunity(asn: 64512, value: 1)])
        rib.setDesired(Dictionary(uniqueKeysWithValues: prefixes.map { ($0, attributes) }))
        let updates = try wire(rib.updates(context: context), context)
        #expect(announced(updates).sorted() == prefixes.sorted())
        // 5 bytes per /32; the fixed part of each UPDATE is 23 + attributes.
        var scratch = ByteBuffer()
        scratch.writeBGPMessage(.update(BGPUpdate(attributes: updates[0].attributes)))
        let perUpdate = (context.codec.maximumMessageLength - scratch.readableBytes) / 5
        #expect(updates.count == (10_000 + perUpdate - 1) / perUpdate)
        #expect(updates.count == (extended ? 1 : 13))
    }

    @Test func packsIPv6IntoMPReachUpToTheLimit() throws {
        var rib = BGPAdjRIBOut()
        let prefixes = Self.hosts6(1000)
        rib.setDesired(Dictionary(uniqueKeysWithValues: prefixes.map { ($0, BGPRouteAttributes()) }))
        let updates = try wire(rib.updates(context: Self.ebgp), Self.ebgp)
        #expect(announced(updates).sorted() == prefixes.sorted())
        // 17 bytes per /128: 1000 of them need 5 UPDATEs of 4096 bytes.
        #expect(updates.count == 5)
    }

    @Test func groupsByAttributes() throws {
        var rib = BGPAdjRIBOut()
        var desired: [IPPrefix: BGPRouteAttributes] = [:]
        for (index, prefix) in Self.hosts(30).enumerated() {
            desired[prefix] = BGPRouteAttributes(communities: [BGPCommunity(asn: 64512, value: UInt16(index % 3))])
        }
        rib.setDesired(desired)
        let updates = try wire(rib.updates(context: Self.ebgp), Self.ebgp)
        #expect(updates.count == 3)
        #expect(updates.allSatisfy { $0.nlri.count == 10 })
    }

    @Test func changesAreIncremental() throws {
        var rib = BGPAdjRIBOut()
        let a = IPPrefix("203.0.113.1/32")!, b = IPPrefix("203.0.113.2/32")!, c = IPPrefix("2001:db8:1::1/128")!
        rib.setDesired([a: BGPRouteAttributes(), b: BGPRouteAttributes(), c: BGPRouteAttributes()])
        #expect(rib.updates(context: Self.ebgp).count == 2)
        // Nothing changed: nothing sent.
        #expect(rib.updates(context: Self.ebgp).isEmpty)

        // One route's attributes change: only it is re-announced (an implicit withdraw).
        let tagged = BGPRouteAttributes(communities: [BGPCommunity(asn: 64512, value: 7)])
        rib.setDesired([a: BGPRouteAttributes(), b: tagged, c: BGPRouteAttributes()])
        let changed = try wire(rib.updates(context: Self.ebgp), Self.ebgp)
        #expect(changed.count == 1 && changed[0].nlri == [b] && changed[0].communities.count == 1)

        // Removals are batched withdrawals, per family.
        rib.setDesired([:])
        let removed = try wire(rib.updates(context: Self.ebgp), Self.ebgp)
        #expect(removed.count == 2)
        #expect(removed[0].withdrawnRoutes == [a, b] && removed[0].attributes.isEmpty)
        #expect(removed[1].mpUnreach?.withdrawn == .prefixes([c]))
        #expect(rib.advertised.isEmpty)
    }

    @Test func tenThousandWithdrawalsAreBatched() throws {
        var rib = BGPAdjRIBOut()
        let prefixes = Self.hosts(10_000)
        rib.setDesired(Dictionary(uniqueKeysWithValues: prefixes.map { ($0, BGPRouteAttributes()) }))
        _ = rib.updates(context: Self.ebgp)
        rib.setDesired([:])
        let updates = try wire(rib.updates(context: Self.ebgp), Self.ebgp)
        #expect(withdrawn(updates).sorted() == prefixes.sorted())
        #expect(updates.count == (10_000 * 5 + 4072) / 4073)
    }

    @Test func familiesWithoutANextHopOrNotNegotiatedAreHeldBack() throws {
        var context = Self.ebgp
        context.nextHops.ipv6 = nil
        var rib = BGPAdjRIBOut()
        rib.setDesired([IPPrefix("203.0.113.1/32")!: BGPRouteAttributes(), IPPrefix("2001:db8:1::1/128")!: BGPRouteAttributes()])
        #expect(announced(rib.updates(context: context)) == [IPPrefix("203.0.113.1/32")!])
        context.families = [.ipv6Unicast]
        context.nextHops = Peer.nextHops
        var other = BGPAdjRIBOut()
        other.setDesired(rib.desired)
        #expect(announced(other.updates(context: context)) == [IPPrefix("2001:db8:1::1/128")!])
    }

    // MARK: Through the state machine

    @Test func initialTableThenEndOfRIB() throws {
        var m = Machine(configuration: Peer.configuration(), random: SeededRandom(seed: 3))
        let routes = Dictionary(uniqueKeysWithValues: (Self.hosts(2000) + Self.hosts6(10)).map { ($0, BGPRouteAttributes()) })
        #expect(m.setDesiredRoutes(routes).isEmpty)   // not established yet: nothing sent
        let actions = establish(&m)
        let updates = actions.updates
        #expect(updates.suffix(2) == [.endOfRIB(.ipv4Unicast), .endOfRIB(.ipv6Unicast)])
        #expect(announced(Array(updates.dropLast(2))).count == 2010)
        // Every message fits the negotiated size and decodes cleanly on the peer's side.
        let negotiated = try #require(m.negotiated)
        let decoded = try onTheWire(actions.sent, options: negotiated.codec)
        #expect(decoded == actions.sent)
    }

    @Test func desiredChangesWhileEstablishedNeverResetTheSession() {
        var m = Machine(configuration: Peer.configuration(), random: SeededRandom(seed: 3))
        _ = establish(&m)
        let first = m.setDesiredRoutes([IPPrefix("203.0.113.1/32")!: BGPRouteAttributes()])
        #expect(first.updates.map(\.nlri) == [[IPPrefix("203.0.113.1/32")!]])
        let second = m.setDesiredRoutes([IPPrefix("203.0.113.2/32")!: BGPRouteAttributes()])
        #expect(second.updates.count == 2)
        #expect(second.updates[0].withdrawnRoutes == [IPPrefix("203.0.113.1/32")!])
        #expect(second.updates[1].nlri == [IPPrefix("203.0.113.2/32")!])
        #expect(!second.closes && !first.closes && m.sessionState == .established)
    }

    @Test func routeRefreshResendsTheFamily() {
        var m = Machine(configuration: Peer.configuration(), random: SeededRandom(seed: 3))
        _ = establish(&m)
        _ = m.setDesiredRoutes([IPPrefix("203.0.113.1/32")!: BGPRouteAttributes(), IPPrefix("2001:db8:1::1/128")!: BGPRouteAttributes()])
        let v6 = m.messageReceived(.routeRefresh(BGPRouteRefresh(family: .ipv6Unicast)), now: .zero)
        #expect(announced(v6.updates) == [IPPrefix("2001:db8:1::1/128")!])
        // One refresh interval later (requests within it are coalesced, see below).
        let v4 = m.messageReceived(.routeRefresh(BGPRouteRefresh(family: .ipv4Unicast)), now: .zero + .seconds(1))
        #expect(announced(v4.updates) == [IPPrefix("203.0.113.1/32")!])
        // A family that was not negotiated, or a BoRR/EoRR marker, asks for nothing.
        #expect(m.messageReceived(.routeRefresh(BGPRouteRefresh(family: BGPAddressFamily(afi: .ipv4, safi: .multicast))), now: .zero).isEmpty)
        #expect(m.messageReceived(.routeRefresh(BGPRouteRefresh(family: .ipv4Unicast, subtype: 1)), now: .zero).isEmpty)
    }

    /// Issue 15: each ROUTE-REFRESH was a full resend, so a peer sending them without pause
    /// kept the speaker busy and its buffers growing. Within the interval they are coalesced.
    @Test func aFloodOfRefreshesIsServedOncePerIntervalPerFamily() {
        var m = Machine(configuration: Peer.configuration(), random: SeededRandom(seed: 3))
        _ = establish(&m)
        _ = m.setDesiredRoutes([IPPrefix("203.0.113.1/32")!: BGPRouteAttributes(), IPPrefix("2001:db8:1::1/128")!: BGPRouteAttributes()])
        let first = m.messageReceived(.routeRefresh(BGPRouteRefresh(family: .ipv4Unicast)), now: .zero)
        #expect(announced(first.updates) == [IPPrefix("203.0.113.1/32")!])
        var flood: [Action] = []
        for index in 1...1000 {
            let family: BGPAddressFamily = index.isMultiple(of: 2) ? .ipv4Unicast : .ipv6Unicast
            flood += m.messageReceived(.routeRefresh(BGPRouteRefresh(family: family)), now: .zero + .microseconds(index * 900))
        }
        #expect(flood.updates.isEmpty)
        #expect(flood.compactMap { $0.scheduled(.routeRefresh) } == [.zero + .seconds(1)])
        // An early timer re-arms; at the end of the interval each family is resent once.
        #expect(m.timerFired(.routeRefresh, now: .zero + .milliseconds(999)).compactMap { $0.scheduled(.routeRefresh) } == [.zero + .seconds(1)])
        let served = m.timerFired(.routeRefresh, now: .zero + .seconds(1))
        #expect(served.updates.count == 2)
        #expect(Set(announced(served.updates)) == [IPPrefix("203.0.113.1/32")!, IPPrefix("2001:db8:1::1/128")!])
        #expect(m.timerFired(.routeRefresh, now: .zero + .seconds(5)).isEmpty)
        #expect(m.sessionState == .established)
    }

    @Test func reconnectResendsEverything() {
        var m = Machine(configuration: Peer.configuration(), random: SeededRandom(seed: 3))
        _ = establish(&m)
        _ = m.setDesiredRoutes([IPPrefix("203.0.113.1/32")!: BGPRouteAttributes()])
        _ = m.connectionClosed(now: .zero)
        #expect(m.ribOut.advertised.isEmpty)
        let again = establish(&m, at: .zero + .seconds(5))
        #expect(announced(again.updates) == [IPPrefix("203.0.113.1/32")!])
    }
}

/// Property: whatever sequence of desired sets, a peer that applies the UPDATEs it is sent
/// ends up holding exactly the desired routes with their attributes.
@Suite struct AdjRIBOutPropertyTests {
    /// The routes a BGP peer holds after applying UPDATEs (implicit withdraw on re-announce).
    struct PeerRIB {
        var routes: [IPPrefix: BGPUpdate] = [:]
        mutating func apply(_ update: BGPUpdate) {
            for prefix in update.withdrawnRoutes + (update.mpUnreach?.withdrawn.prefixes ?? []) { routes[prefix] = nil }
            var attributesOnly = update
            attributesOnly.nlri = []
            attributesOnly.attributes = update.attributes.filter { $0.typeCode != BGPPathAttribute.TypeCode.mpReachNLRI }
            for prefix in update.nlri + (update.mpReach?.nlri.prefixes ?? []) { routes[prefix] = attributesOnly }
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func peerConvergesToTheDesiredSet(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let universe = AdjRIBOutTests.hosts(300) + AdjRIBOutTests.hosts6(100) + [IPPrefix("203.0.113.0/24")!, IPPrefix("2001:db8:2::/48")!]
        let palette = (0..<4).map { BGPRouteAttributes(communities: [BGPCommunity(asn: 64512, value: UInt16($0))]) }
        var rib = BGPAdjRIBOut()
        var peer = PeerRIB()
        let context = AdjRIBOutTests.ebgp
        for _ in 0..<30 {
            var desired: [IPPrefix: BGPRouteAttributes] = [:]
            for prefix in universe where Int.random(in: 0..<3, using: &random) > 0 {
                desired[prefix] = palette.randomElement(using: &random)
            }
            rib.setDesired(desired)
            for message in try onTheWire(rib.updates(context: context).map { .update($0) }, options: context.codec) {
                guard case .update(let update) = message else { throw Failure("not an update") }
                peer.apply(update)
            }
            #expect(Set(peer.routes.keys) == Set(desired.keys))
            for (prefix, attributes) in desired {
                #expect(peer.routes[prefix]?.communities == attributes.communities)
            }
            #expect(rib.advertised == desired)
        }
    }

    /// Partial changes (`updateDesired`) send exactly what a whole new desired set would: the
    /// peer's view, rebuilt from the UPDATEs alone, follows the desired set step by step, and
    /// a change touching k prefixes announces or withdraws only those.
    @Test(arguments: 1...4 as ClosedRange<UInt64>)
    func partialChangesMatchWholeSets(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let pool = AdjRIBOutTests.hosts(200) + AdjRIBOutTests.hosts6(50)
        let helper = AdjRIBOutTests()
        let attributes = [BGPRouteAttributes(), BGPRouteAttributes(communities: [BGPCommunity(asn: 64512, value: 1)]), BGPRouteAttributes(localPref: 200)]
        var rib = BGPAdjRIBOut()
        var peerView: [IPPrefix: Bool] = [:]
        var desired: [IPPrefix: BGPRouteAttributes] = [:]
        for step in 0..<60 {
            var changes: [IPPrefix: BGPRouteAttributes?] = [:]
            for _ in 0..<Int.random(in: 1...30, using: &rng) {
                let prefix = pool.randomElement(using: &rng)!
                changes[prefix] = rng.chance(0.3) ? nil : attributes.randomElement(using: &rng)!
            }
            for (prefix, value) in changes { desired[prefix] = value }
            if step % 20 == 10 {
                // A reconnect: the peer forgets everything and gets the whole table.
                rib.sessionDown()
                peerView = [:]
            }
            rib.updateDesired(changes)
            let updates = try helper.wire(rib.updates(context: AdjRIBOutTests.ibgp), AdjRIBOutTests.ibgp)
            for prefix in helper.withdrawn(updates) { peerView[prefix] = nil }
            for prefix in helper.announced(updates) { peerView[prefix] = true }
            #expect(Set(peerView.keys) == Set(desired.keys), "step \(step)")
            #expect(rib.advertised == desired)
            if step % 20 != 10 {
                // Only changed prefixes appear on the wire.
                #expect(Set(helper.announced(updates) + helper.withdrawn(updates)).isSubset(of: Set(changes.keys)))
            }
        }
    }

    /// Issue 18: what the peer holds is derived (the desired routes the last context carried and
    /// that fit, plus what it held of the routes changed since), not kept as a second table.
    /// Any mix of whole sets, partial changes (several before one `updates`), reconnects,
    /// context changes (families, next hops) and routes too large to send gives the peer,
    /// rebuilt from the UPDATEs alone, exactly what it can carry of the desired set.
    @Test(arguments: 1...6 as ClosedRange<UInt64>)
    func thePeersViewFollowsEveryMixOfChanges(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let pool = AdjRIBOutTests.hosts(120) + AdjRIBOutTests.hosts6(40)
        let helper = AdjRIBOutTests()
        // 1,100 communities do not fit a 4,096-byte UPDATE.
        let huge = BGPRouteAttributes(communities: (0..<1_100).map { BGPCommunity(asn: 64512, value: UInt16($0)) })
        let attributes = [BGPRouteAttributes(), BGPRouteAttributes(communities: [BGPCommunity(asn: 64512, value: 1)]), BGPRouteAttributes(localPref: 200), huge]
        var v4Only = AdjRIBOutTests.ibgp
        v4Only.families = [.ipv4Unicast]
        var noV6NextHop = AdjRIBOutTests.ibgp
        noV6NextHop.nextHops.ipv6 = nil
        let contexts = [AdjRIBOutTests.ibgp, v4Only, noV6NextHop]
        func carries(_ context: BGPUpdateContext, _ prefix: IPPrefix) -> Bool {
            prefix.family == .ipv4 ? context.families.contains(.ipv4Unicast) && context.nextHops.ipv4 != nil
                : context.families.contains(.ipv6Unicast) && context.nextHops.ipv6 != nil
        }
        var rib = BGPAdjRIBOut()
        var peerView: [IPPrefix: BGPRouteAttributes] = [:]
        var desired: [IPPrefix: BGPRouteAttributes] = [:]
        var context = contexts[0]
        for step in 0..<80 {
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                if rng.chance(0.15) {
                    var whole: [IPPrefix: BGPRouteAttributes] = [:]
                    for _ in 0..<Int.random(in: 0...60, using: &rng) { whole[pool.randomElement(using: &rng)!] = attributes.randomElement(using: &rng)! }
                    desired = whole
                    rib.setDesired(whole)
                } else {
                    var changes: [IPPrefix: BGPRouteAttributes?] = [:]
                    for _ in 0..<Int.random(in: 1...20, using: &rng) {
                        changes[pool.randomElement(using: &rng)!] = rng.chance(0.3) ? nil : attributes.randomElement(using: &rng)!
                    }
                    for (prefix, value) in changes { desired[prefix] = value }
                    rib.updateDesired(changes)
                }
            }
            if rng.chance(0.1) {
                rib.sessionDown()
                peerView = [:]
            }
            if rng.chance(0.15) { context = contexts.randomElement(using: &rng)! }
            let updates = try helper.wire(rib.updates(context: context), context)
            for update in updates {
                for prefix in helper.withdrawn([update]) { peerView[prefix] = nil }
                // The attributes as the peer reads them (LOCAL_PREF 100 is the default, nil).
                var read = BGPRouteAttributes()
                for attribute in update.attributes {
                    if case .communities(let communities) = attribute.value { read.communities = communities }
                    if case .localPref(let preference) = attribute.value, preference != 100 { read.localPref = preference }
                }
                for prefix in helper.announced([update]) { peerView[prefix] = read }
            }
            let expected = desired.filter { carries(context, $0.key) && $0.value != huge }
            #expect(peerView == expected, "step \(step)")
            #expect(rib.advertised == expected, "step \(step)")
            #expect(rib.oversized == Set(desired.filter { carries(context, $0.key) && $0.value == huge }.keys), "step \(step)")
        }
    }
}

