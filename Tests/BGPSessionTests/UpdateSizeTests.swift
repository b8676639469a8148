import TestSupport
import BGPSession
import BGPWire
import NIOCore
import NetPrimitives
import Testing

/// Issue 15 item 5: the packer never emits an UPDATE longer than the negotiated maximum and
/// never traps, whatever the number of communities.
@Suite struct UpdateSizeTests {
    static func context(extended: Bool) -> BGPUpdateContext {
        BGPUpdateContext(localASN: 64512, isInternal: false, nextHops: Peer.nextHops,
                         codec: BGPCodecOptions(extendedMessages: extended), families: [.ipv4Unicast, .ipv6Unicast])
    }

    static func communities(_ count: Int) -> [BGPCommunity] {
        (0..<count).map { BGPCommunity(asn: 64512, value: UInt16(truncatingIfNeeded: $0)) }
    }

    /// The bytes each UPDATE puts on the wire, and what the peer decodes from them.
    func encoded(_ updates: [BGPUpdate], _ context: BGPUpdateContext) throws -> [(length: Int, update: BGPUpdate)] {
        try updates.map { update in
            var buffer = ByteBuffer()
            let length = buffer.writeBGPMessage(.update(update), options: context.codec)
            #expect(length == buffer.readableBytes)
            guard case .update(let back) = try #require(try buffer.readBGPMessage(options: context.codec)) else {
                throw Failure("not an update")
            }
            return (length, back)
        }
    }

    @Test(arguments: [1_100, 16_384, 20_000])
    func tooManyCommunitiesForAClassicPeerAreNotSent(_ count: Int) throws {
        let context = Self.context(extended: false)
        let big = BGPRouteAttributes(communities: Self.communities(count))
        let small = BGPRouteAttributes(communities: Self.communities(3))
        var rib = BGPAdjRIBOut()
        let v4 = IPPrefix("203.0.113.5/32")!, v6 = IPPrefix("2001:db8:1::5/128")!, other = IPPrefix("203.0.113.6/32")!
        rib.setDesired([v4: big, v6: big, other: small])
        let sent = try encoded(rib.updates(context: context), context)
        #expect(sent.allSatisfy { $0.length <= BGPLimits.maximumMessageLength })
        #expect(sent.flatMap { $0.update.nlri } == [other])
        #expect(rib.oversized == [v4, v6])
        #expect(rib.advertised.keys.sorted() == [other])
        // An incremental change is held to the same limit, and a fitting one goes out.
        rib.updateDesired([other: big, v4: small])
        let next = try encoded(rib.updates(context: context), context)
        #expect(next.allSatisfy { $0.length <= BGPLimits.maximumMessageLength })
        #expect(next.flatMap { $0.update.nlri } == [v4])
        #expect(next.flatMap { $0.update.withdrawnRoutes } == [other])
        #expect(rib.oversized == [v6, other])
    }

    @Test func extendedMessagesCarryWhatFitsAndStopAtTheAttributeLimit() throws {
        let context = Self.context(extended: true)
        var rib = BGPAdjRIBOut()
        let v4 = IPPrefix("203.0.113.5/32")!, v6 = IPPrefix("2001:db8:1::5/128")!, huge = IPPrefix("203.0.113.9/32")!
        // 1,100 communities fit a 65,535-byte message; 16,384 (65,536 bytes) fit no attribute.
        rib.setDesired([v4: BGPRouteAttributes(communities: Self.communities(1_100)),
                        v6: BGPRouteAttributes(communities: Self.communities(1_100)),
                        huge: BGPRouteAttributes(communities: Self.communities(16_384))])
        let sent = try encoded(rib.updates(context: context), context)
        #expect(sent.count == 2)
        #expect(sent.allSatisfy { $0.length > BGPLimits.maximumMessageLength && $0.length <= BGPLimits.maximumExtendedMessageLength })
        #expect(sent.allSatisfy { $0.update.communities.count == 1_100 })
        #expect(rib.oversized == [huge])
    }

    @Test func theLargestRouteThatFitsFillsTheMessageExactly() throws {
        // A /32 with n communities to an eBGP peer: 19 + 4 + ORIGIN 4 + AS_PATH 9 + NEXT_HOP 7
        // + COMMUNITIES (4 + 4n) + NLRI 5 = 52 + 4n bytes; n = 1011 makes 4096.
        let context = Self.context(extended: false)
        for (count, fits) in [(1_011, true), (1_012, false)] {
            var rib = BGPAdjRIBOut()
            rib.setDesired([IPPrefix("203.0.113.5/32")!: BGPRouteAttributes(communities: Self.communities(count))])
            let sent = try encoded(rib.updates(context: context), context)
            #expect(sent.map(\.length) == (fits ? [4096] : []))
        }
    }
}
