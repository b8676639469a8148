// BGPSession: one BGP peering as pure state machines.
//
// `BGPSessionStateMachine` is the RFC 4271 §8 finite state machine for a speaker that
// connects out to its peer: each event (a timer, a message, the TCP connection coming up
// or going away, a change of the routes to advertise) returns the actions its owner must
// carry out: connect, send, schedule or cancel timers, close, report. It owns the peer's
// Adj-RIB-Out (`BGPAdjRIBOut`), which turns changes of the desired routes into packed,
// incremental UPDATEs. Routes received from the peer are never stored.
//
// Nothing here reads a clock, sleeps or draws random numbers: the current instant comes
// with every event and the backoff jitter from an injected generator.
import BGPWire
import NetPrimitives

/// What one peering is configured with.
public struct BGPSessionConfiguration: Hashable, Sendable {
    public var localASN: UInt32
    public var peerASN: UInt32
    public var routerID: IPv4Address
    /// Proposed hold time in seconds: 0 (no keepalives) or at least 3 (RFC 4271 §4.2).
    public var holdTime: UInt16
    /// Address families to negotiate (RFC 4760). A peer that offers none of them is refused
    /// with Unsupported Capability.
    public var families: [BGPAddressFamily]
    /// How long a TCP connection attempt may take before it is abandoned.
    public var connectTimeout: Duration
    public var backoff: BGPBackoff
    /// Advertise graceful restart (RFC 4724) with this restart time in seconds.
    public var gracefulRestartTime: UInt16?
    /// RFC 8654: offer messages up to 65535 bytes.
    public var extendedMessages: Bool
    /// Set the Restart State bit in the graceful restart capability (RFC 4724 §3): this
    /// speaker restarted and its peers hold its routes as stale.
    public var restarting: Bool
    /// The shortest time between two resends of the Adj-RIB-Out for ROUTE-REFRESH requests.
    public var routeRefreshInterval: Duration

    public init(localASN: UInt32, peerASN: UInt32, routerID: IPv4Address, holdTime: UInt16 = 90,
                families: [BGPAddressFamily] = [.ipv4Unicast, .ipv6Unicast], connectTimeout: Duration = .seconds(30),
                backoff: BGPBackoff = BGPBackoff(), gracefulRestartTime: UInt16? = nil, extendedMessages: Bool = true,
                restarting: Bool = false, routeRefreshInterval: Duration = .seconds(1)) {
        self.localASN = localASN
        self.peerASN = peerASN
        self.routerID = routerID
        self.holdTime = holdTime
        self.families = families
        self.connectTimeout = connectTimeout
        self.backoff = backoff
        self.gracefulRestartTime = gracefulRestartTime
        self.extendedMessages = extendedMessages
        self.restarting = restarting
        self.routeRefreshInterval = routeRefreshInterval
    }

    /// iBGP when both ends are in the same AS.
    public var isInternal: Bool { localASN == peerASN }

    /// The OPEN this speaker sends.
    public var open: BGPOpen {
        var capabilities: [BGPCapability] = families.map { .multiprotocol($0) }
        capabilities.append(.routeRefresh)
        if extendedMessages { capabilities.append(.extendedMessage) }
        if let gracefulRestartTime {
            capabilities.append(.gracefulRestart(BGPGracefulRestart(flags: restarting ? 0x8 : 0, restartTime: gracefulRestartTime,
                                                                    families: families.map { .init(family: $0) })))
        }
        capabilities.append(.fourOctetASN(localASN))
        return BGPOpen(asn: localASN, holdTime: holdTime, bgpIdentifier: routerID, capabilities: capabilities)
    }
}

/// What the OPEN exchange settled (RFC 4271 §4.2, RFC 5492).
public struct BGPNegotiated: Hashable, Sendable {
    /// Seconds; 0 means neither keepalives nor a hold timer.
    public var holdTime: UInt16
    public var keepaliveInterval: Duration {
        holdTime == 0 ? .zero : .milliseconds(Int64(holdTime) * 1000 / 3)
    }
    public var codec: BGPCodecOptions
    public var families: [BGPAddressFamily]
    public var peerSupportsRouteRefresh: Bool
    public var peerGracefulRestart: BGPGracefulRestart?
    public var peerRouterID: IPv4Address
}

/// Exponential backoff with jitter for reconnecting (RFC 4271 §8.1.1
/// DampPeerOscillations): the n-th consecutive failure waits a random time between half
/// and all of `min(initial * 2^n, maximum)`.
public struct BGPBackoff: Hashable, Sendable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(120)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The ceiling for the given number of consecutive failures (0 for the first).
    public func ceiling(failures: Int) -> Duration {
        var value = initial
        for _ in 0..<min(failures, 62) {
            value = value * 2
            if value >= maximum { return maximum }
        }
        return min(value, maximum)
    }

    public func delay<R: RandomNumberGenerator>(failures: Int, using random: inout R) -> Duration {
        let ceiling = ceiling(failures: failures)
        let fraction = Double.random(in: 0.5...1.0, using: &random)
        return ceiling * fraction
    }
}
