import BFD
import BFDTransport
import BGPSession
import BGPTransport
import BGPWire
import LBConfig
import LBCore
import Logging
import NIOCore
import NetPrimitives
import Synchronization
import SpeakerCore

/// The node's BGP sessions: one `BGPPeer` per configured peer that selects the node. A plan
/// change sends only the difference on the sessions it touches; a peer whose configuration
/// changed is the only session restarted.
final class BGPSessions: Sendable {
    private struct State {
        var peers: [Peer: BGPPeer] = [:]
        /// The `bfd-profiles` in force, by name.
        var bfdProfiles: [String: BFDProfile] = [:]
        /// Started with the first peer that names a BFD profile (a thread of its own).
        var bfd: BFDEndpoint?
    }

    /// Each session takes the next loop: a peer that keeps one loop busy does not delay the
    /// keepalives of sessions on the others.
    private let eventLoops: any EventLoopGroup
    private let routerID: IPv4Address
    private let logger: Logger
    private let metrics: SpeakerMetrics
    private let state = Mutex(State())

    init(eventLoops: any EventLoopGroup, routerID: IPv4Address, logger: Logger, metrics: SpeakerMetrics) {
        self.eventLoops = eventLoops
        self.routerID = routerID
        self.logger = logger
        self.metrics = metrics
    }

    /// Applies a plan change: route changes go to every session as changes (UPDATEs for those
    /// prefixes only); new peers start with every route; vanished ones withdraw and close.
    /// `node` gives new sessions their next hop for the other address family. `allRoutes`: the
    /// routes every session should carry, these changes included (the plan's: asked only when a
    /// session starts, not kept here a second time), and `routeCount` how many they are.
    func apply(
        peers: Set<Peer>?, routes changes: [IPPrefix: RouteAttributes?], allRoutes: () -> [IPPrefix: RouteAttributes], routeCount: Int, node: NodeState?,
        bfdProfiles: [BFDProfile] = []
    ) {
        var stopping: [(Peer, BGPPeer)] = []
        var started: [(Peer, BGPPeer)] = []
        var bfdChanges: [(Peer, BFDProfile)] = []
        let existing = state.withLock { state -> [(Peer, BGPPeer)] in
            let profiles = Dictionary(bfdProfiles.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            for peer in state.peers.keys {
                if let name = peer.bfdProfile, let profile = profiles[name], state.bfdProfiles[name] != profile { bfdChanges.append((peer, profile)) }
            }
            state.bfdProfiles = profiles
            if state.bfd == nil, peers?.contains(where: { $0.bfdProfile != nil }) == true {
                let metrics = BFDMetrics(registry: self.metrics.registry)
                state.bfd = BFDEndpoint(logger: logger) { metrics.dropped($0) }
            }
            let existing = state.peers.map { ($0.key, $0.value) }
            if let peers {
                for (peer, session) in state.peers where !peers.contains(peer) {
                    stopping.append((peer, session))
                    state.peers[peer] = nil
                }
                for peer in peers where state.peers[peer] == nil {
                    let created = makePeer(peer, node: node)
                    state.peers[peer] = created
                    started.append((peer, created))
                }
            }
            return existing.filter { peers?.contains($0.0) ?? true }
        }
        let bfd = state.withLock { $0.bfd }
        for (peer, profile) in bfdChanges {
            bfd?.updateSession(Self.bfdConfiguration(peer, profile: profile))
        }
        for (peer, session) in stopping {
            if peer.bfdProfile != nil, let bfd {
                _ = bfd.removeSession(peer: peer.address, multihop: peer.ebgpMultihop)
                BFDMetrics(registry: metrics.registry).sessionRemoved(peer)
            }
            logger.info("closing BGP session: peer no longer configured for this node", metadata: ["lb.peer": "\(peer.address)"])
            _ = session.stop(communication: "IronLB: peer removed from configuration")
            metrics.sessionRemoved(peer)
        }
        let routes = started.isEmpty ? [:] : allRoutes()
        for (peer, session) in started {
            session.setDesiredRoutes(Self.attributes(routes, for: peer))
            session.start()
            if let name = peer.bfdProfile, let bfd, let profile = state.withLock({ $0.bfdProfiles[name] }) {
                startBFD(peer, profile: profile, session: session, endpoint: bfd)
            }
            metrics.announcedPrefixes(peer, count: routeCount)
        }
        guard !changes.isEmpty else { return }
        for (peer, session) in existing {
            session.updateDesiredRoutes(changes.mapValues { $0.map { Self.attributes($0, for: peer) } })
            metrics.announcedPrefixes(peer, count: routeCount)
        }
    }

    private func makePeer(_ peer: Peer, node: NodeState?) -> BGPPeer {
        let session = BGPSessionConfiguration(
            localASN: peer.myASN, peerASN: peer.peerASN, routerID: peer.routerID ?? routerID,
            holdTime: UInt16(clamping: peer.holdTime)
        )
        let configuration = BGPPeerConfiguration(
            session: session, peerAddress: peer.address, peerPort: Int(peer.port), sourceAddress: peer.sourceAddress,
            password: peer.password, ebgpMultihop: peer.ebgpMultihop ? 255 : nil,
            nextHopIPv4: node?.crossFamilyNextHops(toward: peer.address).ipv4,
            nextHopIPv6: node?.crossFamilyNextHops(toward: peer.address).ipv6
        )
        let logger = self.logger
        let metrics = self.metrics
        let created = BGPPeer(configuration: configuration, eventLoop: eventLoops.next()) { event in
            switch event {
            case .stateChanged(let sessionState):
                let up = sessionState == .established
                metrics.sessionState(peer, up: up)
                logger.info("BGP session \(sessionState.rawValue)", metadata: ["lb.peer": "\(peer.address)", "lb.asn": "\(peer.peerASN)"])
            case .peerNotification(let notification):
                logger.warning("BGP peer sent a NOTIFICATION", metadata: ["lb.peer": "\(peer.address)", "lb.notification": "\(notification)"])
            case .notificationSent:
                break  // BGPPeer logs it.
            case .updatesSent(let count):
                metrics.updatesSent(peer, count: count)
            case .outboundBufferExceeded(let bytes):
                metrics.sessionReset(peer, reason: "outboundBufferFull")
                logger.warning("BGP session reset: the peer does not read what it is sent",
                               metadata: ["lb.peer": "\(peer.address)", "lb.bgp.unwritten_bytes": "\(bytes)"])
            }
        }
        logger.info("opening BGP session", metadata: ["lb.peer": "\(peer.address)", "lb.asn": "\(peer.peerASN)"])
        return created
    }

    /// Withdraws everything and sends Cease on every session, then BFD AdminDown.
    func shutdown() async {
        let (sessions, bfd) = state.withLock { state -> ([BGPPeer], BFDEndpoint?) in
            let all = Array(state.peers.values)
            state.peers = [:]
            defer { state.bfd = nil }
            return (all, state.bfd)
        }
        for session in sessions {
            try? await session.stop(communication: "IronLB speaker shutting down").get()
        }
        await bfd?.shutdown()
    }

    /// The BFD session of a BGP peer: its Down (after Up) ends the BGP session at once with
    /// Cease/BFD Down (RFC 9384); BGP then reconnects through its normal FSM. BGP does not wait
    /// for BFD (docs/design/bfd.md).
    private func startBFD(_ peer: Peer, profile: BFDProfile, session: BGPPeer, endpoint: BFDEndpoint) {
        let logger = self.logger
        let metrics = BFDMetrics(registry: self.metrics.registry)
        metrics.sessionAdded(peer)
        endpoint.addSession(Self.bfdConfiguration(peer, profile: profile)) { change in
            metrics.stateChanged(peer, to: change.to)
            let metadata: Logger.Metadata = [
                "lb.peer": "\(peer.address)", "lb.bfd.profile": "\(profile.name)", "lb.bfd.from": "\(change.from)",
                "lb.bfd.diagnostic": "\(change.diagnostic)",
            ]
            switch change.clientAction {
            case .tearDown:
                logger.warning("BFD session Down: closing the BGP session (Cease, BFD Down) until BFD is Up again", metadata: metadata)
                session.bfdDown(holding: true)
            case .resume:
                logger.info("BFD session Up: starting the BGP session again", metadata: metadata)
                session.start()
            case nil:
                logger.info("BFD session \(change.to)", metadata: metadata)
            }
        }.whenFailure { error in
            logger.error("cannot start BFD session", metadata: ["lb.peer": "\(peer.address)", "lb.bfd.error": "\(error)"])
        }
    }

    static func bfdConfiguration(_ peer: Peer, profile: BFDProfile) -> BFDPeerConfiguration {
        BFDPeerConfiguration(
            peerAddress: peer.address, localAddress: peer.sourceAddress, multihop: peer.ebgpMultihop,
            minimumTTL: UInt8(clamping: profile.minimumTTL), desiredMinTxInterval: profile.desiredMinTxMicroseconds,
            requiredMinRxInterval: profile.requiredMinRxMicroseconds, detectMultiplier: UInt8(clamping: profile.detectMultiplier),
            passive: profile.passiveMode
        )
    }

    static func attributes(_ routes: [IPPrefix: RouteAttributes], for peer: Peer) -> [IPPrefix: BGPRouteAttributes] {
        routes.mapValues { attributes($0, for: peer) }
    }

    static func attributes(_ attributes: RouteAttributes, for peer: Peer) -> BGPRouteAttributes {
        var standard: [BGPCommunity] = []
        var large: [BGPLargeCommunity] = []
        for community in attributes.communities {
            switch community {
            case .standard(let community): standard.append(community)
            case .large(let community): large.append(community)
            }
        }
        return BGPRouteAttributes(communities: standard, largeCommunities: large, localPref: peer.isIBGP ? attributes.localPref : nil)
    }
}
