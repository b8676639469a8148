// One BFD session in asynchronous mode (RFC 5880 §6.2, §6.8) as a state machine: each event
// (start, a received packet, a timer, a parameter change, administrative down) returns the
// actions its owner carries out: send a packet, arm or cancel a timer, report a state change
// or a dropped packet. The owner passes the current instant with every event; jitter comes
// from the injected generator.
//
// Timers and intervals (RFC 5880):
// - While the session is not Up, Desired Min TX Interval is at least one second (§6.8.3).
// - The transmit interval is max(local Desired Min TX, remote Required Min RX), each
//   transmission jittered to 75-100 % of it (75-90 % with a detect multiplier of 1) (§6.8.7).
// - The detection time is the remote Detect Mult × max(local Required Min RX, remote Desired
//   Min TX) (§6.8.4).
// - A change of the advertised intervals while Up runs a Poll Sequence (§6.5, §6.8.3): packets
//   carry P until one with F comes back; a slower transmit rate and a faster expected receive
//   rate apply only after it.
// - A Poll is answered at once with a packet carrying F (§6.8.7).

/// Local parameters of a session. Intervals in microseconds, as on the wire.
public struct BFDSessionConfiguration: Sendable, Hashable {
    public var localDiscriminator: UInt32
    public var desiredMinTxInterval: UInt32
    public var requiredMinRxInterval: UInt32
    public var detectMultiplier: UInt8
    /// Passive role (§6.1): send nothing until the peer has been heard.
    public var passive: Bool

    public init(localDiscriminator: UInt32, desiredMinTxInterval: UInt32 = 300_000, requiredMinRxInterval: UInt32 = 300_000,
                detectMultiplier: UInt8 = 3, passive: Bool = false) {
        precondition(localDiscriminator != 0, "a BFD discriminator is nonzero (RFC 5880 §6.8.1)")
        precondition(detectMultiplier != 0, "a BFD detect multiplier is nonzero (RFC 5880 §4.1)")
        self.localDiscriminator = localDiscriminator
        self.desiredMinTxInterval = desiredMinTxInterval
        self.requiredMinRxInterval = requiredMinRxInterval
        self.detectMultiplier = detectMultiplier
        self.passive = passive
    }
}

public enum BFDTimer: Sendable, Hashable {
    /// The next periodic transmission.
    case transmit
    /// The detection time since the last valid packet.
    case detection
}

public enum BFDSessionAction<Instant: InstantProtocol>: Sendable, Equatable where Instant: Sendable {
    case send(BFDControlPacket)
    case scheduleTimer(BFDTimer, deadline: Instant)
    case cancelTimer(BFDTimer)
    case stateChanged(from: BFDState, to: BFDState, diagnostic: BFDDiagnostic)
    /// The received packet was discarded.
    case dropped(BFDDropReason)
}

/// What the remote system last told us (RFC 5880 §6.8.1 bfd.Remote*).
public struct BFDRemote: Sendable, Hashable {
    public var discriminator: UInt32 = 0
    public var state: BFDState = .down
    public var desiredMinTxInterval: UInt32 = 0
    /// Initialised to 1 µs (§6.8.1) so that the first packets are not held back.
    public var requiredMinRxInterval: UInt32 = 1
    public var detectMultiplier: UInt8 = 0
    public var diagnostic: BFDDiagnostic = .none
}

public struct BFDSessionStateMachine<Instant: InstantProtocol, Random: RandomNumberGenerator>: Sendable
where Instant: Sendable, Instant.Duration == Swift.Duration, Random: Sendable {
    public typealias Action = BFDSessionAction<Instant>

    /// One second: the floor of Desired Min TX while the session is not Up (§6.8.3).
    public static var slowTxInterval: UInt32 { 1_000_000 }

    public private(set) var configuration: BFDSessionConfiguration
    public private(set) var state: BFDState = .down
    public private(set) var diagnostic: BFDDiagnostic = .none
    public private(set) var remote = BFDRemote()
    /// A Poll Sequence is running: periodic packets carry P.
    public private(set) var polling = false
    private var random: Random
    private var started = false
    private var transmitDeadline: Instant?
    /// Desired Min TX and Required Min RX as advertised in our packets.
    private var advertisedTx: UInt32
    private var advertisedRx: UInt32
    /// The values in force for our own transmit rate and detection time; they follow the
    /// advertised ones when a Poll Sequence ends (§6.8.3).
    private var effectiveTx: UInt32
    private var effectiveRx: UInt32

    public init(configuration: BFDSessionConfiguration, random: Random) {
        self.configuration = configuration
        self.random = random
        self.advertisedTx = max(configuration.desiredMinTxInterval, Self.slowTxInterval)
        self.advertisedRx = configuration.requiredMinRxInterval
        self.effectiveTx = advertisedTx
        self.effectiveRx = advertisedRx
    }

    /// The interval between our transmissions before jitter (§6.8.7), in microseconds; nil
    /// when the peer asked for no periodic packets (Required Min RX 0).
    public var transmitInterval: UInt32? {
        remote.requiredMinRxInterval == 0 ? nil : max(effectiveTx, remote.requiredMinRxInterval)
    }

    /// How long the peer may stay silent before the session goes Down (§6.8.4), in microseconds.
    public var detectionTime: UInt64 {
        UInt64(remote.detectMultiplier) * UInt64(max(effectiveRx, remote.desiredMinTxInterval))
    }

    /// The Desired Min TX and Required Min RX we advertise now.
    public var advertisedIntervals: (desiredMinTx: UInt32, requiredMinRx: UInt32) { (advertisedTx, advertisedRx) }

    // MARK: - Events

    /// Begins the session: an active system transmits at once, a passive one waits.
    public mutating func start(now: Instant) -> [Action] {
        guard !started else { return [] }
        started = true
        guard mayTransmit else { return [] }
        return transmitNow(now: now)
    }

    /// A packet that passed the codec's checks arrived for this session.
    public mutating func received(_ packet: BFDControlPacket, now: Instant) -> [Action] {
        // §6.8.6, the checks that need the session.
        if packet.authentication != nil { return [.dropped(.authenticationNotSupported)] }
        if packet.yourDiscriminator != 0 && packet.yourDiscriminator != configuration.localDiscriminator {
            return [.dropped(.unknownDiscriminator)]
        }
        if state == .adminDown { return [.dropped(.sessionAdminDown)] }

        var actions: [Action] = []
        let wasTransmitting = mayTransmit && started
        let previousInterval = transmitInterval
        remote.discriminator = packet.myDiscriminator
        remote.state = packet.state
        remote.desiredMinTxInterval = packet.desiredMinTxInterval
        remote.requiredMinRxInterval = packet.requiredMinRxInterval
        remote.detectMultiplier = packet.detectMultiplier
        remote.diagnostic = packet.diagnostic

        if packet.final && polling {
            polling = false
            effectiveTx = advertisedTx
            effectiveRx = advertisedRx
        }

        let previous = state
        switch (state, packet.state) {
        case (.adminDown, _):
            preconditionFailure("AdminDown discards before this point")
        case (.down, .adminDown), (.initializing, .adminDown), (.up, .adminDown), (.up, .down):
            if state != .down { moveTo(.down, diagnostic: .neighborSignaledSessionDown) }
        case (.down, .down):
            moveTo(.initializing, diagnostic: diagnostic)
        case (.down, .initializing), (.initializing, .initializing), (.initializing, .up):
            moveTo(.up, diagnostic: .none)
        case (.down, .up), (.initializing, .down), (.up, .initializing), (.up, .up):
            break
        }
        if state != previous { actions.append(.stateChanged(from: previous, to: state, diagnostic: diagnostic)) }

        // Detection timer: restarted by every valid packet (§6.8.4).
        actions.append(.scheduleTimer(.detection, deadline: now.advanced(by: .microseconds(Int64(clamping: detectionTime)))))

        if packet.poll {
            actions.append(.send(makePacket(final: true)))
        }
        guard started else { return actions }
        if state != previous || (!wasTransmitting && mayTransmit) {
            // A state change goes out at once rather than up to a second later.
            actions += transmitNow(now: now)
        } else if let interval = transmitInterval, let deadline = transmitDeadline,
                  interval != previousInterval, deadline > now.advanced(by: .microseconds(Int64(interval))) {
            // The peer lowered its Required Min RX: do not wait out the old interval.
            actions += scheduleTransmit(now: now)
        } else if transmitInterval == nil, transmitDeadline != nil {
            transmitDeadline = nil
            actions.append(.cancelTimer(.transmit))
        } else if transmitDeadline == nil, mayTransmit, started {
            actions += scheduleTransmit(now: now)
        }
        return actions
    }

    public mutating func timerFired(_ timer: BFDTimer, now: Instant) -> [Action] {
        switch timer {
        case .transmit:
            transmitDeadline = nil
            guard mayTransmit else { return [] }
            return [.send(makePacket(final: false))] + scheduleTransmit(now: now)
        case .detection:
            // §6.8.4 and §6.8.1: the peer is gone; forget its discriminator.
            var actions: [Action] = []
            let previous = state
            remote = BFDRemote()
            if state == .initializing || state == .up {
                moveTo(.down, diagnostic: .controlDetectionTimeExpired)
                actions.append(.stateChanged(from: previous, to: .down, diagnostic: .controlDetectionTimeExpired))
                if mayTransmit { actions += transmitNow(now: now) }
            }
            if !mayTransmit, transmitDeadline != nil {
                transmitDeadline = nil
                actions.append(.cancelTimer(.transmit))
            }
            return actions
        }
    }

    /// New local intervals or multiplier. While Up this runs a Poll Sequence; otherwise the
    /// values apply at once.
    public mutating func reconfigure(_ configuration: BFDSessionConfiguration, now: Instant) -> [Action] {
        var updated = configuration
        updated.localDiscriminator = self.configuration.localDiscriminator
        self.configuration = updated
        return advertise(now: now)
    }

    /// Administratively down (§6.8.16): tells the peer with AdminDown packets, and ignores it.
    public mutating func adminDown(now: Instant) -> [Action] {
        guard state != .adminDown else { return [] }
        let previous = state
        moveTo(.adminDown, diagnostic: .administrativelyDown)
        var actions: [Action] = [.stateChanged(from: previous, to: .adminDown, diagnostic: .administrativelyDown), .cancelTimer(.detection)]
        actions.append(.send(makePacket(final: false)))
        if transmitDeadline == nil, remote.discriminator != 0 || !configuration.passive { actions += scheduleTransmit(now: now) }
        return actions
    }

    /// Leaves AdminDown for Down (§6.8.16).
    public mutating func adminUp(now: Instant) -> [Action] {
        guard state == .adminDown else { return [] }
        moveTo(.down, diagnostic: .administrativelyDown)
        var actions: [Action] = [.stateChanged(from: .adminDown, to: .down, diagnostic: .administrativelyDown)]
        if mayTransmit && started { actions += transmitNow(now: now) }
        return actions
    }

    // MARK: - Internals

    /// §6.8.7: nothing while passive and the peer unknown; AdminDown packets are still sent.
    private var mayTransmit: Bool {
        !(configuration.passive && remote.discriminator == 0)
    }

    private mutating func moveTo(_ next: BFDState, diagnostic: BFDDiagnostic) {
        state = next
        self.diagnostic = diagnostic
        _ = advertise(now: nil)
    }

    /// Recomputes the advertised intervals for the current state; a change while Up starts a
    /// Poll Sequence, otherwise the new values apply at once (§6.8.3).
    private mutating func advertise(now: Instant?) -> [Action] {
        let tx = state == .up ? configuration.desiredMinTxInterval : max(configuration.desiredMinTxInterval, Self.slowTxInterval)
        let rx = configuration.requiredMinRxInterval
        guard tx != advertisedTx || rx != advertisedRx else { return [] }
        let oldTx = advertisedTx
        let oldRx = advertisedRx
        advertisedTx = tx
        advertisedRx = rx
        if state == .up {
            polling = true
            // A faster transmit rate and a slower expected receive rate are safe at once; the
            // others wait for the Final (§6.8.3).
            effectiveTx = min(effectiveTx, min(oldTx, tx))
            effectiveRx = max(effectiveRx, max(oldRx, rx))
        } else {
            polling = false
            effectiveTx = tx
            effectiveRx = rx
        }
        guard let now, started, mayTransmit else { return [] }
        return transmitNow(now: now)
    }

    private mutating func transmitNow(now: Instant) -> [Action] {
        [.send(makePacket(final: false))] + scheduleTransmit(now: now)
    }

    private mutating func scheduleTransmit(now: Instant) -> [Action] {
        guard let interval = transmitInterval else {
            guard transmitDeadline != nil else { return [] }
            transmitDeadline = nil
            return [.cancelTimer(.transmit)]
        }
        // §6.8.7: 75-100 % of the interval, at most 90 % with a detect multiplier of 1.
        let ceiling: UInt64 = configuration.detectMultiplier == 1 ? 9_000 : 10_000
        let basisPoints = UInt64.random(in: 7_500...ceiling, using: &random)
        let scaled = UInt64(interval) * basisPoints / 10_000
        let deadline = now.advanced(by: .microseconds(Int64(scaled)))
        transmitDeadline = deadline
        return [.scheduleTimer(.transmit, deadline: deadline)]
    }

    private func makePacket(final: Bool) -> BFDControlPacket {
        BFDControlPacket(
            diagnostic: diagnostic, state: state, poll: polling && !final, final: final,
            detectMultiplier: configuration.detectMultiplier, myDiscriminator: configuration.localDiscriminator,
            yourDiscriminator: remote.discriminator, desiredMinTxInterval: advertisedTx, requiredMinRxInterval: advertisedRx,
            requiredMinEchoRxInterval: 0
        )
    }
}
