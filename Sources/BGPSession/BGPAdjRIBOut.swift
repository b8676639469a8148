import BGPWire
import NIOCore
import NetPrimitives

/// The attributes IronLB chooses per route; AS_PATH and NEXT_HOP come from the session.
public struct BGPRouteAttributes: Hashable, Sendable {
    public var origin: BGPOrigin
    public var communities: [BGPCommunity]
    public var largeCommunities: [BGPLargeCommunity]
    /// Sent to iBGP peers only (RFC 4271 §5.1.5); 100 when nil.
    public var localPref: UInt32?
    public var multiExitDisc: UInt32?

    public init(origin: BGPOrigin = .igp, communities: [BGPCommunity] = [], largeCommunities: [BGPLargeCommunity] = [],
                localPref: UInt32? = nil, multiExitDisc: UInt32? = nil) {
        self.origin = origin
        self.communities = communities
        self.largeCommunities = largeCommunities
        self.localPref = localPref
        self.multiExitDisc = multiExitDisc
    }
}

/// The session's own addresses, used as NEXT_HOP (RFC 4271 §5.1.3, RFC 2545 §3).
public struct BGPNextHops: Hashable, Sendable {
    public var ipv4: IPv4Address?
    public var ipv6: IPv6Address?
    /// Sent with the global address when the peer is on-link.
    public var ipv6LinkLocal: IPv6Address?

    public init(ipv4: IPv4Address? = nil, ipv6: IPv6Address? = nil, ipv6LinkLocal: IPv6Address? = nil) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.ipv6LinkLocal = ipv6LinkLocal
    }
}

/// How UPDATEs for one established session are built.
public struct BGPUpdateContext: Hashable, Sendable {
    public var localASN: UInt32
    public var isInternal: Bool
    public var nextHops: BGPNextHops
    public var codec: BGPCodecOptions
    public var families: [BGPAddressFamily]

    public init(localASN: UInt32, isInternal: Bool, nextHops: BGPNextHops, codec: BGPCodecOptions, families: [BGPAddressFamily]) {
        self.localASN = localASN
        self.isInternal = isInternal
        self.nextHops = nextHops
        self.codec = codec
        self.families = families
    }

    func family(of prefix: IPPrefix) -> BGPAddressFamily {
        prefix.family == .ipv4 ? .ipv4Unicast : .ipv6Unicast
    }

    /// Whether routes of this prefix's family can be sent on this session.
    func canSend(_ prefix: IPPrefix) -> Bool {
        guard families.contains(family(of: prefix)) else { return false }
        return prefix.family == .ipv4 ? nextHops.ipv4 != nil : nextHops.ipv6 != nil
    }
}

/// The routes advertised to one peer, and the UPDATEs that move it to a new desired set.
///
/// Announcements with the same attributes share UPDATEs, as many prefixes per message as
/// fit the negotiated size; withdrawals are batched the same way. IPv4 uses the classic
/// NLRI and Withdrawn Routes fields, IPv6 MP_REACH_NLRI/MP_UNREACH_NLRI (RFC 4760).
///
/// What the peer holds is not kept as a second table: after `updates` it is the desired
/// routes that session can carry (its families and next hops) and that fit an UPDATE, so only
/// the routes changed since (what the peer held of them) and the session's context are kept.
/// A table of every route per peer was a megabyte per peer at 10,000 Services
/// (docs/design/scale.md, "Seventh pass").
public struct BGPAdjRIBOut: Sendable {
    /// What the owner wants advertised.
    public private(set) var desired: [IPPrefix: BGPRouteAttributes] = [:]
    /// The context of the last `updates` on the current session (nil: nothing sent).
    private var sentWith: BGPUpdateContext?
    /// The prefixes whose desired route changed since the last `updates`, with what the peer
    /// holds of each (nil: nothing).
    private var sentBefore: [IPPrefix: BGPRouteAttributes?] = [:]
    /// What the peer held when the whole desired set was replaced since the last `updates`
    /// (nil: it was not); the next `updates` compares everything with it.
    private var replacedFrom: [IPPrefix: BGPRouteAttributes]?
    /// Desired routes not sent because one of them with its attributes would not fit one
    /// UPDATE of the negotiated size (configuration validation refuses such communities; this
    /// is the packer's own guard: it never emits an over-size message).
    public private(set) var oversized: Set<IPPrefix> = []

    public init() {}

    /// What the peer has been sent on the current session. Built on each call.
    public var advertised: [IPPrefix: BGPRouteAttributes] {
        if let replacedFrom { return replacedFrom }
        guard let context = sentWith else { return [:] }
        var result: [IPPrefix: BGPRouteAttributes] = [:]
        for (prefix, attributes) in desired where sentBefore.index(forKey: prefix) == nil && Self.wasSent(prefix, context, oversized) {
            result[prefix] = attributes
        }
        for case (let prefix, let attributes?) in sentBefore { result[prefix] = attributes }
        return result
    }

    /// Whether the last `updates` sent the desired route of `prefix`, when it has not changed since.
    private static func wasSent(_ prefix: IPPrefix, _ context: BGPUpdateContext, _ oversized: Set<IPPrefix>) -> Bool {
        context.canSend(prefix) && !oversized.contains(prefix)
    }

    /// What the peer holds of `prefix`, while the desired set was not replaced.
    private func sent(_ prefix: IPPrefix) -> BGPRouteAttributes? {
        if let index = sentBefore.index(forKey: prefix) { return sentBefore[index].value }
        guard let context = sentWith, Self.wasSent(prefix, context, oversized) else { return nil }
        return desired[prefix]
    }

    public mutating func setDesired(_ routes: [IPPrefix: BGPRouteAttributes]) {
        if replacedFrom == nil && sentWith != nil { replacedFrom = advertised }
        desired = routes
        sentBefore = [:]
    }

    /// Changes part of the desired set (nil: withdraw); the next `updates` looks at these
    /// prefixes only, so a change costs O(its size) however large the table.
    public mutating func updateDesired(_ changes: [IPPrefix: BGPRouteAttributes?]) {
        for (prefix, attributes) in changes {
            if replacedFrom == nil && sentWith != nil && sentBefore.index(forKey: prefix) == nil {
                sentBefore[prefix] = .some(sent(prefix))
            }
            desired[prefix] = attributes
        }
    }

    /// The session went down: the peer forgot everything.
    public mutating func sessionDown() {
        sentWith = nil
        sentBefore = [:]
        replacedFrom = nil
    }

    /// UPDATEs that bring the peer from `advertised` to `desired`, then record it as sent.
    public mutating func updates(context: BGPUpdateContext) -> [BGPUpdate] {
        var withdrawn: [IPPrefix] = []
        var changed: [IPPrefix: BGPRouteAttributes] = [:]
        var fitting: [GroupKey: Bool] = [:]
        func sendable(_ prefix: IPPrefix, _ attributes: BGPRouteAttributes) -> Bool {
            guard context.canSend(prefix) else { return false }
            let key = GroupKey(family: prefix.family, attributes: attributes)
            if let known = fitting[key] { return known }
            let fits = Self.fits(attributes, family: prefix.family, context: context)
            fitting[key] = fits
            return fits
        }
        // Everything is compared when the peer holds nothing yet, when the whole set was
        // replaced, or when the session's context changed (what it holds then follows the old one).
        let previous: [IPPrefix: BGPRouteAttributes]? =
            replacedFrom ?? (sentWith == nil ? [:] : (sentWith != context ? advertised : nil))
        if let previous {
            let target = desired.filter { sendable($0.key, $0.value) }
            oversized = Set(desired.keys.filter { target[$0] == nil && context.canSend($0) })
            for prefix in previous.keys where target[prefix] == nil {
                withdrawn.append(prefix)
            }
            for (prefix, attributes) in target where previous[prefix] != attributes {
                changed[prefix] = attributes
            }
        } else {
            for (prefix, before) in sentBefore {
                var target = context.canSend(prefix) ? desired[prefix] : nil
                if let attributes = target, !sendable(prefix, attributes) {
                    oversized.insert(prefix)
                    target = nil
                } else {
                    oversized.remove(prefix)
                }
                guard before != target else { continue }
                if let target { changed[prefix] = target } else { withdrawn.append(prefix) }
            }
        }
        // The peer now holds the desired routes this context carries (`wasSent`).
        sentWith = context
        sentBefore = [:]
        replacedFrom = nil
        return Self.withdrawals(withdrawn, context: context) + Self.announcements(changed, context: context)
    }

    /// The whole table again, for `family` only (a route refresh, RFC 2918 §4).
    public func resend(family: BGPAddressFamily, context: BGPUpdateContext) -> [BGPUpdate] {
        Self.announcements(advertised.filter { context.family(of: $0.key) == family }, context: context)
    }

    /// Withdrawals of everything advertised (before a graceful shutdown).
    public mutating func withdrawAll(context: BGPUpdateContext) -> [BGPUpdate] {
        let all = Array(advertised.keys)
        sessionDown()
        return Self.withdrawals(all, context: context)
    }

    // MARK: - Packing

    static let updateOverhead = BGPLimits.headerLength + 4

    /// Whether one route of `family` with these attributes fits one UPDATE on this session
    /// (the longest prefix of the family, and for IPv6 MP_REACH_NLRI with its next hops).
    /// Counts are checked before encoding: a path attribute holds at most 65,535 bytes.
    static func fits(_ attributes: BGPRouteAttributes, family: IPFamily, context: BGPUpdateContext) -> Bool {
        let limit = context.codec.maximumMessageLength
        guard attributes.communities.count * 4 <= limit, attributes.largeCommunities.count * 12 <= limit else { return false }
        var scratch = ByteBuffer()
        for attribute in pathAttributes(attributes, family: family, context: context) {
            scratch.writeBGPPathAttribute(attribute, options: context.codec)
        }
        let nlri = family == .ipv4 ? 5 : reachOverhead(context) + 17
        return updateOverhead + scratch.readableBytes + nlri <= limit
    }

    /// MP_REACH_NLRI without its prefixes: 4-byte header, AFI, SAFI, next hop length, next
    /// hop, reserved.
    static func reachOverhead(_ context: BGPUpdateContext) -> Int {
        4 + 3 + 1 + (context.nextHops.ipv6LinkLocal == nil ? 16 : 32) + 1
    }

    static func withdrawals(_ prefixes: [IPPrefix], context: BGPUpdateContext) -> [BGPUpdate] {
        let limit = context.codec.maximumMessageLength - updateOverhead
        var updates: [BGPUpdate] = []
        let v4 = prefixes.filter { $0.family == .ipv4 }.sorted()
        for chunk in chunks(v4, budget: limit) {
            updates.append(BGPUpdate(withdrawnRoutes: chunk))
        }
        // MP_UNREACH_NLRI: 4-byte attribute header, AFI and SAFI.
        let v6 = prefixes.filter { $0.family == .ipv6 }.sorted()
        for chunk in chunks(v6, budget: limit - 4 - 3) {
            let unreach = BGPMPUnreach(family: .ipv6Unicast, withdrawn: .prefixes(chunk))
            updates.append(BGPUpdate(attributes: [BGPPathAttribute(flags: [.optional, .extendedLength], value: .mpUnreach(unreach))]))
        }
        return updates
    }

    static func announcements(_ routes: [IPPrefix: BGPRouteAttributes], context: BGPUpdateContext) -> [BGPUpdate] {
        // Group by (family, attributes); order groups and prefixes for stable output.
        var groups: [GroupKey: [IPPrefix]] = [:]
        for (prefix, attributes) in routes {
            groups[GroupKey(family: prefix.family, attributes: attributes), default: []].append(prefix)
        }
        let keys = groups.keys.sorted { ($0.family, $0.order) < ($1.family, $1.order) }
        var updates: [BGPUpdate] = []
        for key in keys where fits(key.attributes, family: key.family, context: context) {
            let prefixes = groups[key]!.sorted()
            let base = pathAttributes(key.attributes, family: key.family, context: context)
            var scratch = ByteBuffer()
            for attribute in base { scratch.writeBGPPathAttribute(attribute, options: context.codec) }
            let budget = context.codec.maximumMessageLength - updateOverhead - scratch.readableBytes
            switch key.family {
            case .ipv4:
                for chunk in chunks(prefixes, budget: budget) {
                    updates.append(BGPUpdate(attributes: base, nlri: chunk))
                }
            case .ipv6:
                guard let global = context.nextHops.ipv6 else { continue }
                let nextHop = BGPMPReach.NextHop.ipv6(global: global, linkLocal: context.nextHops.ipv6LinkLocal)
                for chunk in chunks(prefixes, budget: budget - reachOverhead(context)) {
                    let reach = BGPMPReach(family: .ipv6Unicast, nextHop: nextHop, nlri: .prefixes(chunk))
                    // MP_REACH_NLRI first, as FRR and BIRD send it.
                    let attribute = BGPPathAttribute(flags: [.optional, .extendedLength], value: .mpReach(reach))
                    updates.append(BGPUpdate(attributes: [attribute] + base))
                }
            }
        }
        return updates
    }

    /// Splits prefixes into runs whose encoded size fits `budget` bytes (callers make sure
    /// the longest prefix fits it).
    static func chunks(_ prefixes: [IPPrefix], budget: Int) -> [[IPPrefix]] {
        var result: [[IPPrefix]] = []
        var current: [IPPrefix] = []
        var used = 0
        for prefix in prefixes {
            let size = prefix.bgpEncodedLength
            if used + size > budget, !current.isEmpty {
                result.append(current)
                current = []
                used = 0
            }
            current.append(prefix)
            used += size
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// ORIGIN, AS_PATH, NEXT_HOP (IPv4), MED, LOCAL_PREF (iBGP), COMMUNITIES, LARGE_COMMUNITY.
    static func pathAttributes(_ route: BGPRouteAttributes, family: IPFamily, context: BGPUpdateContext) -> [BGPPathAttribute] {
        var attributes: [BGPPathAttribute] = [BGPPathAttribute(.origin(route.origin))]
        // RFC 4271 §5.1.2: empty to internal peers, our AS prepended to external ones.
        let path: BGPASPath = context.isInternal ? BGPASPath() : .sequence([context.localASN])
        attributes.append(BGPPathAttribute(.asPath(path)))
        if family == .ipv4, let nextHop = context.nextHops.ipv4 {
            attributes.append(BGPPathAttribute(.nextHop(nextHop)))
        }
        if let med = route.multiExitDisc {
            attributes.append(BGPPathAttribute(.multiExitDisc(med)))
        }
        if context.isInternal {
            attributes.append(BGPPathAttribute(.localPref(route.localPref ?? 100)))
        }
        if !route.communities.isEmpty {
            attributes.append(BGPPathAttribute(.communities(route.communities)))
        }
        // RFC 6793 §4.2.2: a 2-octet peer sees AS_TRANS, and the real path in AS4_PATH.
        if !context.codec.fourOctetASN, !context.isInternal, context.localASN > UInt32(UInt16.max) {
            attributes.append(BGPPathAttribute(.as4Path(path)))
        }
        if !route.largeCommunities.isEmpty {
            attributes.append(BGPPathAttribute(.largeCommunities(route.largeCommunities)))
        }
        return attributes
    }

    struct GroupKey: Hashable {
        var family: IPFamily
        var attributes: BGPRouteAttributes
        /// A stable order for groups: the attributes' text form.
        var order: String { "\(attributes)" }
    }
}
