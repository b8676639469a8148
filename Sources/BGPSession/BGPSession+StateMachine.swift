import BGPWire
import NIOCore
import NetPrimitives

/// The session states of RFC 4271 §8.2.2 as reported to the owner. IronLB only connects
/// out, so "Active" is the wait before the next connection attempt.
public enum BGPSessionState: String, Hashable, Sendable {
    case idle, connect, active, openSent, openConfirm, established
}

/// How a session ends on `stop`.
public enum BGPShutdownMode: Hashable, Sendable {
    /// Withdraw every route, then Cease.
    case withdraw
    /// Keep the routes at the peer through a restart (RFC 4724), when negotiated.
    case gracefulRestart
}

/// Timers the owner runs for the state machine.
public enum BGPSessionTimer: Hashable, Sendable {
    /// The next connection attempt, or the end of the current one.
    case connectRetry
    case hold
    case keepalive
    /// The end of the route refresh interval, when refreshes requested during it are served.
    case routeRefresh
}

/// What the owner does for the state machine, in order.
public enum BGPSessionAction<Instant: InstantProtocol>: Sendable where Instant: Sendable {
    /// Open a TCP connection to the peer.
    case connect
    case send(BGPMessage)
    /// Decode and encode with these options from now on (after the OPEN exchange).
    case setCodecOptions(BGPCodecOptions)
    case scheduleTimer(BGPSessionTimer, deadline: Instant)
    case cancelTimer(BGPSessionTimer)
    /// Close the TCP connection (after writing what was sent before).
    case closeConnection
    case stateChanged(BGPSessionState)
    /// The peer sent a NOTIFICATION (reported for logs and metrics).
    case peerNotification(BGPNotification)
}

/// RFC 4271 §8 for a speaker that connects out, with the peer's Adj-RIB-Out.
///
/// Timers are owned by the caller: on `.scheduleTimer` it arranges for `timerFired` to be
/// called at the deadline (a stale or early call is harmless: the machine checks its own
/// deadlines). The hold timer is not restarted on every message; the machine records when
/// the peer was last heard and re-arms the timer when it fires early.
public struct BGPSessionStateMachine<Instant: InstantProtocol, Random: RandomNumberGenerator>
where Instant.Duration == Duration, Instant: Sendable {
    public typealias Action = BGPSessionAction<Instant>

    private enum State {
        /// Stopped by the owner (or never started): no reconnect.
        case stopped
        /// Waiting until `retryAt` to connect again (RFC "Active" for a connect-only speaker).
        case waiting(retryAt: Instant)
        /// TCP connection attempt in flight.
        case connect
        case openSent(Connection)
        case openConfirm(Connection, BGPNegotiated)
        case established(Connection, BGPNegotiated)
    }

    /// Per-connection bookkeeping.
    private struct Connection {
        var nextHops: BGPNextHops
        var lastReceived: Instant
        /// The hold time in force: 240 s in OpenSent (RFC 4271 §8.2.2), then the negotiated one.
        var holdTime: Duration
        /// When the Adj-RIB-Out was last resent for a ROUTE-REFRESH.
        var lastRefresh: Instant?
        /// Families whose refresh waits for the end of the interval (each once, however often
        /// the peer asked).
        var pendingRefresh: [BGPAddressFamily] = []
    }

    public let configuration: BGPSessionConfiguration
    public private(set) var ribOut = BGPAdjRIBOut()
    /// Consecutive failed attempts since the last Established session, for the backoff.
    public private(set) var failures = 0
    private var state: State = .stopped
    private var random: Random

    /// RFC 4271 §8.2.2: "a large value" for the hold timer in OpenSent; 4 minutes is suggested.
    static var openSentHoldTime: Duration { .seconds(240) }

    public init(configuration: BGPSessionConfiguration, random: Random) {
        self.configuration = configuration
        self.random = random
    }

    public var sessionState: BGPSessionState {
        switch state {
        case .stopped: return .idle
        case .waiting: return .active
        case .connect: return .connect
        case .openSent: return .openSent
        case .openConfirm: return .openConfirm
        case .established: return .established
        }
    }

    /// The negotiated parameters while in OpenConfirm or Established.
    public var negotiated: BGPNegotiated? {
        switch state {
        case .openConfirm(_, let n), .established(_, let n): return n
        case .stopped, .waiting, .connect, .openSent: return nil
        }
    }

    // MARK: - Administrative events

    /// ManualStart: connect now.
    public mutating func start(now: Instant) -> [Action] {
        switch state {
        case .stopped, .waiting:
            return connect(now: now)
        case .connect, .openSent, .openConfirm, .established:
            return []
        }
    }

    /// ManualStop, then down until `start`. `.withdraw`: withdraw what was advertised, send a
    /// Cease (Administrative Shutdown) with the shutdown communication, close.
    /// `.gracefulRestart`: when both sides negotiated graceful restart, close the connection
    /// without a NOTIFICATION so that the peer keeps the routes as stale until this speaker
    /// is back (RFC 4724 §4.2); otherwise as `.withdraw`.
    public mutating func stop(now: Instant, communication: String? = nil, mode: BGPShutdownMode = .withdraw) -> [Action] {
        var actions: [Action] = []
        switch state {
        case .stopped:
            return []
        case .waiting, .connect:
            actions.append(.cancelTimer(.connectRetry))
            if case .connect = state { actions.append(.closeConnection) }
        case .openSent, .openConfirm:
            actions.append(.send(.notification(.cease(.administrativeShutdown, communication: communication))))
            actions += closeActions()
        case .established(let connection, let negotiated):
            let keepRoutes = mode == .gracefulRestart && configuration.gracefulRestartTime != nil && negotiated.peerGracefulRestart != nil
            if !keepRoutes {
                let context = updateContext(connection, negotiated)
                actions += ribOut.withdrawAll(context: context).map { .send(.update($0)) }
                actions.append(.send(.notification(.cease(.administrativeShutdown, communication: communication))))
            }
            actions += closeActions()
        }
        ribOut.sessionDown()
        state = .stopped
        actions.append(.stateChanged(.idle))
        return actions
    }

    /// A new set of routes to advertise; UPDATEs go out at once when Established.
    public mutating func setDesiredRoutes(_ routes: [IPPrefix: BGPRouteAttributes]) -> [Action] {
        ribOut.setDesired(routes)
        guard case .established(let connection, let negotiated) = state else { return [] }
        return ribOut.updates(context: updateContext(connection, negotiated)).map { .send(.update($0)) }
    }

    /// Changes part of the desired routes (nil: withdraw): UPDATEs for those prefixes only.
    public mutating func updateDesiredRoutes(_ changes: [IPPrefix: BGPRouteAttributes?]) -> [Action] {
        ribOut.updateDesired(changes)
        guard case .established(let connection, let negotiated) = state else { return [] }
        return ribOut.updates(context: updateContext(connection, negotiated)).map { .send(.update($0)) }
    }

    /// BFD declared the forwarding path to the peer down (RFC 5882 §4.3): Cease/BFD Down
    /// (RFC 9384), close, and come back through the normal reconnect. A connection attempt
    /// in flight is left to succeed or fail on its own.
    public mutating func bfdDown(now: Instant) -> [Action] {
        switch state {
        case .stopped, .waiting, .connect:
            return []
        case .openSent, .openConfirm, .established:
            return fail(now: now, notification: .cease(.bfdDown))
        }
    }

    // MARK: - Connection events

    /// The TCP connection is up; `nextHops` are its local addresses.
    public mutating func connectionEstablished(now: Instant, nextHops: BGPNextHops) -> [Action] {
        guard case .connect = state else { return [.closeConnection] }
        let connection = Connection(nextHops: nextHops, lastReceived: now, holdTime: Self.openSentHoldTime)
        state = .openSent(connection)
        return [
            .cancelTimer(.connectRetry),
            .setCodecOptions(BGPCodecOptions()),
            .send(.open(configuration.open)),
            .scheduleTimer(.hold, deadline: now.advanced(by: connection.holdTime)),
            .stateChanged(.openSent),
        ]
    }

    /// The connection attempt failed, or the peer closed the connection.
    public mutating func connectionClosed(now: Instant) -> [Action] {
        switch state {
        case .stopped, .waiting:
            return []
        case .connect, .openSent, .openConfirm, .established:
            return fail(now: now, notification: nil)
        }
    }

    /// A decoding error on the connection: the NOTIFICATION it names, then close
    /// (RFC 4271 §6). Errors RFC 7606 lets the session survive never get here.
    public mutating func decodingFailed(_ error: BGPError, now: Instant) -> [Action] {
        switch state {
        case .stopped, .waiting, .connect:
            return []
        case .openSent, .openConfirm, .established:
            return fail(now: now, notification: error.notification)
        }
    }

    public mutating func messageReceived(_ message: BGPMessage, now: Instant) -> [Action] {
        switch state {
        case .stopped, .waiting, .connect:
            return []

        case .openSent(var connection):
            connection.lastReceived = now
            switch message {
            case .open(let open):
                return openReceived(open, connection: connection, now: now)
            case .notification(let notification):
                return [.peerNotification(notification)] + fail(now: now, notification: nil)
            case .keepalive, .update, .routeRefresh:
                return fail(now: now, notification: BGPNotification(code: .finiteStateMachine,
                                                                    subcode: BGPErrorCode.FSMSubcode.unexpectedMessageInOpenSent.rawValue))
            }

        case .openConfirm(var connection, let negotiated):
            connection.lastReceived = now
            switch message {
            case .keepalive:
                return established(connection, negotiated, now: now)
            case .notification(let notification):
                return [.peerNotification(notification)] + fail(now: now, notification: nil)
            case .open, .update, .routeRefresh:
                return fail(now: now, notification: BGPNotification(code: .finiteStateMachine,
                                                                    subcode: BGPErrorCode.FSMSubcode.unexpectedMessageInOpenConfirm.rawValue))
            }

        case .established(var connection, let negotiated):
            connection.lastReceived = now
            state = .established(connection, negotiated)
            switch message {
            case .keepalive, .update:
                // Received routes are not kept: IronLB only advertises.
                return []
            case .routeRefresh(let refresh):
                guard refresh.subtype == BGPRouteRefresh.request, negotiated.families.contains(refresh.family) else { return [] }
                return routeRefreshRequested(refresh.family, connection: connection, negotiated: negotiated, now: now)
            case .notification(let notification):
                return [.peerNotification(notification)] + fail(now: now, notification: nil)
            case .open:
                return fail(now: now, notification: BGPNotification(code: .finiteStateMachine,
                                                                    subcode: BGPErrorCode.FSMSubcode.unexpectedMessageInEstablished.rawValue))
            }
        }
    }

    // MARK: - Timers

    public mutating func timerFired(_ timer: BGPSessionTimer, now: Instant) -> [Action] {
        switch (timer, state) {
        case (.connectRetry, .waiting(let retryAt)):
            guard now >= retryAt else { return [.scheduleTimer(.connectRetry, deadline: retryAt)] }
            return connect(now: now)
        case (.connectRetry, .connect):
            // The attempt took longer than `connectTimeout`.
            return [.closeConnection] + fail(now: now, notification: nil)

        case (.hold, .openSent(let connection)), (.hold, .openConfirm(let connection, _)), (.hold, .established(let connection, _)):
            let deadline = connection.lastReceived.advanced(by: connection.holdTime)
            guard connection.holdTime > .zero else { return [] }
            guard now >= deadline else { return [.scheduleTimer(.hold, deadline: deadline)] }
            // RFC 4271 §6.5.
            return fail(now: now, notification: .holdTimerExpired)

        case (.keepalive, .openConfirm(_, let negotiated)), (.keepalive, .established(_, let negotiated)):
            guard negotiated.holdTime > 0 else { return [] }
            return [.send(.keepalive), .scheduleTimer(.keepalive, deadline: now.advanced(by: negotiated.keepaliveInterval))]

        case (.routeRefresh, .established(var connection, let negotiated)):
            guard let last = connection.lastRefresh, !connection.pendingRefresh.isEmpty else { return [] }
            let due = last.advanced(by: configuration.routeRefreshInterval)
            guard now >= due else { return [.scheduleTimer(.routeRefresh, deadline: due)] }
            let families = connection.pendingRefresh
            connection.pendingRefresh = []
            connection.lastRefresh = now
            state = .established(connection, negotiated)
            let context = updateContext(connection, negotiated)
            return families.flatMap { ribOut.resend(family: $0, context: context).map { .send(.update($0)) } }

        case (.routeRefresh, .stopped), (.routeRefresh, .waiting), (.routeRefresh, .connect), (.routeRefresh, .openSent),
             (.routeRefresh, .openConfirm),
             (.connectRetry, .stopped), (.connectRetry, .openSent), (.connectRetry, .openConfirm), (.connectRetry, .established),
             (.hold, .stopped), (.hold, .waiting), (.hold, .connect),
             (.keepalive, .stopped), (.keepalive, .waiting), (.keepalive, .connect), (.keepalive, .openSent):
            // A timer of a state already left.
            return []
        }
    }

    // MARK: - Transitions

    /// RFC 2918: resend the family's routes. At most one resend per `routeRefreshInterval`;
    /// requests within it are coalesced into one resend per family at its end, so a peer
    /// that floods ROUTE-REFRESH gets a bounded amount of work and traffic.
    private mutating func routeRefreshRequested(_ family: BGPAddressFamily, connection: Connection, negotiated: BGPNegotiated,
                                                now: Instant) -> [Action] {
        var connection = connection
        if let last = connection.lastRefresh, now < last.advanced(by: configuration.routeRefreshInterval) {
            guard !connection.pendingRefresh.contains(family) else { return [] }
            let first = connection.pendingRefresh.isEmpty
            connection.pendingRefresh.append(family)
            state = .established(connection, negotiated)
            return first ? [.scheduleTimer(.routeRefresh, deadline: last.advanced(by: configuration.routeRefreshInterval))] : []
        }
        connection.lastRefresh = now
        state = .established(connection, negotiated)
        return ribOut.resend(family: family, context: updateContext(connection, negotiated)).map { .send(.update($0)) }
    }

    private mutating func connect(now: Instant) -> [Action] {
        state = .connect
        return [.connect, .scheduleTimer(.connectRetry, deadline: now.advanced(by: configuration.connectTimeout)), .stateChanged(.connect)]
    }

    /// Any error: send the NOTIFICATION (if any), close, and wait a backoff before the next attempt.
    private mutating func fail(now: Instant, notification: BGPNotification?) -> [Action] {
        var actions: [Action] = []
        switch state {
        case .stopped, .waiting:
            return []
        case .connect:
            actions.append(.cancelTimer(.connectRetry))
        case .openSent, .openConfirm, .established:
            if let notification { actions.append(.send(.notification(notification))) }
            actions += closeActions()
        }
        ribOut.sessionDown()
        let delay = configuration.backoff.delay(failures: failures, using: &random)
        failures += 1
        let retryAt = now.advanced(by: delay)
        state = .waiting(retryAt: retryAt)
        actions += [.scheduleTimer(.connectRetry, deadline: retryAt), .stateChanged(.active)]
        return actions
    }

    private func closeActions() -> [Action] {
        [.cancelTimer(.hold), .cancelTimer(.keepalive), .closeConnection]
    }

    /// RFC 4271 §6.2 checks that need the configuration, then negotiation.
    private mutating func openReceived(_ open: BGPOpen, connection: Connection, now: Instant) -> [Action] {
        if open.asn != configuration.peerASN {
            // The data is the AS the peer sent, as FRR and BIRD report it.
            let data: [UInt8] = open.supportsFourOctetASN
                ? [UInt8(open.asn >> 24), UInt8(truncatingIfNeeded: open.asn >> 16), UInt8(truncatingIfNeeded: open.asn >> 8), UInt8(truncatingIfNeeded: open.asn)]
                : [UInt8(open.myAS >> 8), UInt8(truncatingIfNeeded: open.myAS)]
            return fail(now: now, notification: BGPNotification(code: .openMessage, subcode: BGPErrorCode.OpenSubcode.badPeerAS.rawValue, data: data))
        }
        // RFC 6286 §2.2: within an AS the identifiers must differ.
        if configuration.isInternal && open.bgpIdentifier == configuration.routerID {
            return fail(now: now, notification: BGPNotification(code: .openMessage, subcode: BGPErrorCode.OpenSubcode.badBGPIdentifier.rawValue,
                                                                data: open.bgpIdentifier.bytes))
        }
        // RFC 4760 §8: without any multiprotocol capability the peer speaks IPv4 unicast only.
        let peerFamilies = open.multiprotocolFamilies.isEmpty ? [BGPAddressFamily.ipv4Unicast] : open.multiprotocolFamilies
        let families = configuration.families.filter { peerFamilies.contains($0) }
        if families.isEmpty {
            // RFC 5492 §5: the data lists the capabilities we needed.
            var data = ByteBuffer()
            for family in configuration.families { data.writeBGPCapability(.multiprotocol(family)) }
            return fail(now: now, notification: BGPNotification(code: .openMessage, subcode: BGPErrorCode.OpenSubcode.unsupportedCapability.rawValue,
                                                                data: Array(data.readableBytesView)))
        }
        let holdTime = min(open.holdTime, configuration.holdTime)
        let local = configuration.open
        let codec = BGPCodecOptions(fourOctetASN: open.supportsFourOctetASN,
                                    extendedMessages: local.supportsExtendedMessages && open.supportsExtendedMessages)
        let negotiated = BGPNegotiated(holdTime: holdTime, codec: codec, families: families,
                                       peerSupportsRouteRefresh: open.supportsRouteRefresh,
                                       peerGracefulRestart: open.gracefulRestart, peerRouterID: open.bgpIdentifier)
        var updated = connection
        updated.holdTime = .seconds(Int64(holdTime))
        state = .openConfirm(updated, negotiated)
        var actions: [Action] = [.setCodecOptions(codec), .send(.keepalive)]
        if holdTime > 0 {
            actions.append(.scheduleTimer(.keepalive, deadline: now.advanced(by: negotiated.keepaliveInterval)))
            actions.append(.scheduleTimer(.hold, deadline: now.advanced(by: updated.holdTime)))
        } else {
            actions.append(.cancelTimer(.hold))
        }
        actions.append(.stateChanged(.openConfirm))
        return actions
    }

    private mutating func established(_ connection: Connection, _ negotiated: BGPNegotiated, now: Instant) -> [Action] {
        state = .established(connection, negotiated)
        failures = 0
        let context = updateContext(connection, negotiated)
        var actions: [Action] = [.stateChanged(.established)]
        actions += ribOut.updates(context: context).map { .send(.update($0)) }
        // RFC 4724 §2: End-of-RIB for each family after the initial table.
        actions += negotiated.families.map { .send(.update(.endOfRIB($0))) }
        return actions
    }

    private func updateContext(_ connection: Connection, _ negotiated: BGPNegotiated) -> BGPUpdateContext {
        BGPUpdateContext(localASN: configuration.localASN, isInternal: configuration.isInternal,
                         nextHops: connection.nextHops, codec: negotiated.codec, families: negotiated.families)
    }
}

/// Connection collision detection (RFC 4271 §6.8): when an OPEN arrives on one connection
/// while another to the same peer is in OpenSent or OpenConfirm, the connection opened by
/// the speaker with the higher BGP Identifier survives. Equal identifiers (possible
/// between ASes, RFC 6286 §2.3) are decided by the higher AS number.
public enum BGPCollision {
    public enum Survivor: Hashable, Sendable {
        case existing
        case new
    }

    /// - Parameters:
    ///   - existingIsEstablished: the older connection is Established (then it always wins).
    ///   - newIsInitiatedByPeer: the connection whose OPEN just arrived was opened by the peer.
    public static func resolve(localID: IPv4Address, localASN: UInt32, remoteID: IPv4Address, remoteASN: UInt32,
                               existingIsEstablished: Bool, newIsInitiatedByPeer: Bool) -> Survivor {
        if existingIsEstablished { return .existing }
        let peerDominant = localID == remoteID ? remoteASN > localASN : remoteID > localID
        // Keep the connection the dominant side opened.
        return peerDominant == newIsInitiatedByPeer ? .new : .existing
    }
}
