import BGPSession
import BGPTransport
import BGPWire
import LBConfig
import LBCore
import Logging
import NIOCore
import NetPrimitives
import Synchronization

/// The node's BGP sessions: one `BGPPeer` per configured peer that selects the node. A plan
/// change sends only the difference on the sessions it touches; a peer whose configuration
/// changed is the only session restarted.
final class BGPSessions: Sendable {
    private struct State {
        var peers: [Peer: BGPPeer] = [:]
    }

    private let eventLoop: any EventLoop
    private let routerID: IPv4Address
    private let logger: Logger
    private let metrics: SpeakerMetrics
    private let state = Mutex(State())

    init(eventLoop: any EventLoop, routerID: IPv4Address, logger: Logger, metrics: SpeakerMetrics) {
        self.eventLoop = eventLoop
        self.routerID = routerID
        self.logger = logger
        self.metrics = metrics
    }

    /// Brings the sessions to `plan`: new peers start, vanished ones withdraw and close.
    func apply(_ plan: [Peer: [IPPrefix: RouteAttributes]]) {
        var stopping: [(Peer, BGPPeer)] = []
        state.withLock { state in
            for (peer, session) in state.peers where plan[peer] == nil {
                stopping.append((peer, session))
                state.peers[peer] = nil
            }
        }
        for (peer, session) in stopping {
            logger.info("closing BGP session: peer no longer configured for this node", metadata: ["lb.peer": "\(peer.address)"])
            _ = session.stop(communication: "IronLB: peer removed from configuration")
            metrics.sessionRemoved(peer)
        }
        for (peer, routes) in plan {
            let session: BGPPeer = state.withLock { state in
                if let existing = state.peers[peer] { return existing }
                let created = makePeer(peer)
                state.peers[peer] = created
                return created
            }
            session.setDesiredRoutes(Self.attributes(routes, for: peer))
            metrics.announcedPrefixes(peer, count: routes.count)
        }
    }

    private func makePeer(_ peer: Peer) -> BGPPeer {
        let session = BGPSessionConfiguration(
            localASN: peer.myASN, peerASN: peer.peerASN, routerID: peer.routerID ?? routerID,
            holdTime: UInt16(clamping: peer.holdTime)
        )
        let configuration = BGPPeerConfiguration(
            session: session, peerAddress: peer.address, peerPort: Int(peer.port), sourceAddress: peer.sourceAddress,
            password: peer.password, ebgpMultihop: peer.ebgpMultihop ? 255 : nil
        )
        let logger = self.logger
        let metrics = self.metrics
        let created = BGPPeer(configuration: configuration, eventLoop: eventLoop) { event in
            switch event {
            case .stateChanged(let sessionState):
                let up = sessionState == .established
                metrics.sessionState(peer, up: up)
                logger.info("BGP session \(sessionState.rawValue)", metadata: ["lb.peer": "\(peer.address)", "lb.asn": "\(peer.peerASN)"])
            case .peerNotification(let notification):
                logger.warning("BGP peer sent a NOTIFICATION", metadata: ["lb.peer": "\(peer.address)", "lb.notification": "\(notification)"])
            case .updatesSent(let count):
                metrics.updatesSent(peer, count: count)
            }
        }
        logger.info("opening BGP session", metadata: ["lb.peer": "\(peer.address)", "lb.asn": "\(peer.peerASN)"])
        created.start()
        return created
    }

    /// Withdraws everything and sends Cease on every session.
    func shutdown() async {
        let sessions = state.withLock { state -> [BGPPeer] in
            let all = Array(state.peers.values)
            state.peers = [:]
            return all
        }
        for session in sessions {
            try? await session.stop(communication: "IronLB speaker shutting down").get()
        }
    }

    static func attributes(_ routes: [IPPrefix: RouteAttributes], for peer: Peer) -> [IPPrefix: BGPRouteAttributes] {
        routes.mapValues { attributes in
            var standard: [BGPWire.BGPCommunity] = []
            var large: [BGPLargeCommunity] = []
            for community in attributes.communities {
                switch community {
                case .standard(let value): standard.append(BGPWire.BGPCommunity(rawValue: value))
                case .large(let a, let b, let c): large.append(BGPLargeCommunity(a, b, c))
                }
            }
            return BGPRouteAttributes(communities: standard, largeCommunities: large, localPref: peer.isIBGP ? attributes.localPref : nil)
        }
    }
}
