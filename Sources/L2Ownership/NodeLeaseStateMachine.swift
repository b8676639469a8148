/// This speaker's own Lease (`ironlb-speaker-<node>`), and whether the node may answer.
///
/// The node answers only while both hold (docs/design/layer2-leases.md):
/// - it holds its Lease and `handoffDelay` has passed since it sent the acquiring write
///   (a newcomer waits, so that the nodes it takes VIPs from have seen it and stopped);
/// - it has seen one of its own successful writes, sent less than `renewDeadline` ago, come
///   back on its watch. That is the fence: it stops before any other speaker may break the
///   Lease (which takes `leaseDuration` of silence), and it stops when its own view of the
///   other Leases may be stale (the watch is ordered: everything committed before that
///   write is in its view), so it cannot miss a newcomer for longer than that.
///
/// Writes carry the Lease's resourceVersion (compare-and-swap); the owner of this machine
/// performs them and reports the outcome with the `sentAt` the action carried.
public struct NodeLeaseStateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public enum Request: Hashable, Sendable {
        /// Create the Lease, or set holder = this node on the existing one (whatever its
        /// holder: only this node's speaker writes a holder into this Lease).
        case acquire
        case renew(resourceVersion: String)
        /// Renew this node's heartbeat Lease instead (while `renewsHeartbeat`): no version, only
        /// this node writes it.
        case heartbeat
        /// Clear the holder (planned shutdown).
        case release(resourceVersion: String)
        /// Read the Lease after a conflict, report with `leaseRead`.
        case read
    }

    public enum Action: Hashable, Sendable {
        case send(Request, sentAt: Instant)
        case scheduleTimer(Instant)
        case startAnswering
        case stopAnswering
        /// Shutdown finished: the process may exit.
        case exit
    }

    private struct Holding: Sendable {
        /// The speaker Lease's version from this node's last write of it (renewals and release
        /// compare-and-swap on it; heartbeat renewals leave it).
        var resourceVersion: String
        /// Sent-at of the write that acquired the Lease (start of the hold-off).
        var acquiredSentAt: Instant
        /// The version that write produced (what a claim names).
        var acquiredResourceVersion: String
        /// Sent-at of the newest own write ever seen back in this hold (a stall does not reset it).
        var newestSeenSentAt: Instant?
        /// Some own version was seen on the watch in this hold (a stall does not reset it): an
        /// unheld version seen afterwards is newer than the hold.
        var observedAny = false
        /// Sent-at of the last write known to have succeeded.
        var lastSuccessSentAt: Instant
        /// resourceVersion that write produced, until it is seen on the watch.
        var lastSuccessResourceVersion: String
        /// Sent-at of the last acknowledged own write seen on the watch (the fence counts from it).
        var freshSentAt: Instant?
        /// The last own resourceVersion seen on the watch.
        var lastObservedResourceVersion: String?
        /// Sent-at of the write (renew or read) in flight, if any.
        var inFlight: Instant?
        var inFlightIsRead: Bool
        var inFlightIsHeartbeat = false
        /// When the next renew is due.
        var nextRenewAt: Instant
        /// Every live peer yielded to this node's claim: no hand-off wait.
        var handoffWaived = false
    }

    private enum State: Sendable {
        case idle
        case acquiring(sentAt: Instant)
        case waitingToAcquire(retryAt: Instant)
        case holding(Holding)
        case releasing(sentAt: Instant)
        case finished
    }

    public let timings: LeaseTimings
    private var state: State = .idle
    /// The last own version the watch showed, in any state (the watch may show the acquiring
    /// write before its answer arrives).
    private var lastSeenOwnVersion: String?
    /// The watch showed this node's Lease cleared after `lastSeenOwnVersion` (so the clearing
    /// is newer than that version): a hold acquired at that version is already broken.
    private var clearedSinceLastSeen = false
    /// The last version of the speaker Lease itself the watch showed held (not a heartbeat's).
    private var lastSeenHeldVersion: String?
    private var answering = false
    /// Renewals go to the heartbeat Lease (`Request.heartbeat`) instead of the speaker Lease.
    public private(set) var renewsHeartbeat = false

    public init(timings: LeaseTimings) {
        self.timings = timings
    }

    /// Where renewals go from now on (docs/design/layer2-leases.md, "Upgrades"). Back to the
    /// speaker Lease: renew it at once (a speaker that breaks Leases on expiry has just appeared).
    public mutating func setRenewsHeartbeat(_ heartbeat: Bool, now: Instant) -> [Action] {
        guard heartbeat != renewsHeartbeat else { return [] }
        renewsHeartbeat = heartbeat
        guard !heartbeat, case .holding(var h) = state else { return [] }
        if h.inFlight == nil || h.inFlightIsHeartbeat { h.nextRenewAt = now }
        state = .holding(h)
        return reconcile(now: now)
    }

    /// The state, for logs and test failures.
    public var stateDescription: String {
        switch state {
        case .idle: return "idle"
        case .acquiring(let sentAt): return "acquiring(sent \(sentAt))"
        case .waitingToAcquire(let retryAt): return "waitingToAcquire(retry \(retryAt))"
        case .holding(let h):
            return "holding(rv \(h.resourceVersion), acquired \(h.acquiredSentAt), fresh \(h.freshSentAt.map { "\($0)" } ?? "never"), "
                + "last ok \(h.lastSuccessSentAt) rv \(h.lastSuccessResourceVersion), seen rv \(h.lastObservedResourceVersion ?? "-"), "
                + "in flight \(h.inFlight.map { "\($0)" } ?? "-")\(h.inFlightIsRead ? " read" : ""), next renew \(h.nextRenewAt), answering \(answering))"
        case .releasing(let sentAt): return "releasing(sent \(sentAt))"
        case .finished: return "finished"
        }
    }

    /// Nothing more to do: released after shutdown, or never started.
    public var isDone: Bool {
        switch state {
        case .idle, .finished: return true
        case .acquiring, .waitingToAcquire, .holding, .releasing: return false
        }
    }

    /// Whether the node answers now (as last reported by `startAnswering`/`stopAnswering`).
    public var isAnswering: Bool { answering }

    /// Holding, an own write seen back (the view is current), still in the hand-off wait:
    /// the moment to claim (ask the live peers to yield).
    public var awaitsHandoff: Bool {
        guard case .holding(let h) = state else { return false }
        return h.freshSentAt != nil && !h.handoffWaived && !answering
    }

    /// The version the write that acquired the Lease this node holds produced, if it holds it
    /// (a claim names it: peers know the claim is newer than everything their watch shows before it).
    public var acquiredVersion: String? {
        guard case .holding(let h) = state else { return nil }
        return h.acquiredResourceVersion
    }

    /// Holding, not answering, and no own write sent in the last `renewDeadline` came back (the
    /// fence closed: no API, or a watch that does not move). Peers told so (probes) break the
    /// Lease: the node answers nothing, and its VIPs move on instead of waiting for its API.
    public func isFenced(now: Instant) -> Bool {
        guard case .holding(let h) = state, !answering else { return false }
        return now >= (h.newestSeenSentAt ?? h.acquiredSentAt).advanced(by: timings.renewDeadline)
    }

    /// Every live peer in this node's view yielded to its claim: answer without waiting out
    /// the hand-off delay (the fence still applies).
    public mutating func waiveHandoff(now: Instant) -> [Action] {
        guard case .holding(var h) = state else { return [] }
        h.handoffWaived = true
        state = .holding(h)
        return reconcile(now: now)
    }

    /// The process did not run for a while (frozen, SIGSTOP, a starved machine): until one of
    /// its own writes, sent now, comes back, its view may be stale. Stop answering and renew.
    public mutating func stalled(now: Instant) -> [Action] {
        guard case .holding(var h) = state else { return [] }
        h.freshSentAt = nil
        h.lastObservedResourceVersion = nil
        if h.inFlight == nil { h.nextRenewAt = now }
        state = .holding(h)
        return reconcile(now: now)
    }

    public mutating func start(now: Instant) -> [Action] {
        guard case .idle = state else { return [] }
        state = .acquiring(sentAt: now)
        return [.send(.acquire, sentAt: now)]
    }

    public mutating func writeSucceeded(sentAt: Instant, resourceVersion: String, now: Instant) -> [Action] {
        switch state {
        case .acquiring(let sent) where sent == sentAt:
            let seen = lastSeenOwnVersion == resourceVersion
            if lastSeenHeldVersion == resourceVersion && clearedSinceLastSeen {
                // The answer came after the watch showed the acquired version and then a break
                // of it (the answer was late: a SIGSTOP, a slow API): the hold is already lost,
                // and with heartbeat Leases no renewal would conflict to say so. Acquire again.
                state = .acquiring(sentAt: now)
                return [.send(.acquire, sentAt: now)]
            }
            state = .holding(Holding(
                resourceVersion: resourceVersion, acquiredSentAt: sentAt, acquiredResourceVersion: resourceVersion, newestSeenSentAt: seen ? sentAt : nil, observedAny: seen, lastSuccessSentAt: sentAt,
                lastSuccessResourceVersion: resourceVersion, freshSentAt: seen ? sentAt : nil, lastObservedResourceVersion: seen ? resourceVersion : nil,
                inFlight: nil, inFlightIsRead: false, nextRenewAt: sentAt.advanced(by: timings.renewInterval)
            ))
        case .holding(var h) where h.inFlight == sentAt && !h.inFlightIsRead:
            h.inFlight = nil
            if !h.inFlightIsHeartbeat { h.resourceVersion = resourceVersion }
            h.inFlightIsHeartbeat = false
            h.lastSuccessSentAt = sentAt
            h.lastSuccessResourceVersion = resourceVersion
            if h.lastObservedResourceVersion == resourceVersion {
                h.freshSentAt = sentAt
                h.newestSeenSentAt = sentAt
            }
            state = .holding(h)
        case .releasing(let sent) where sent == sentAt:
            state = .finished
            return [.exit]
        case .idle, .acquiring, .waitingToAcquire, .holding, .releasing, .finished:
            return []  // a stale or unexpected answer
        }
        return reconcile(now: now)
    }

    /// A request failed (timeout, lost answer, server error; a failed `read` too).
    /// `conflict`: the server refused the resourceVersion (someone wrote the Lease since).
    public mutating func writeFailed(sentAt: Instant, conflict: Bool, now: Instant) -> [Action] {
        switch state {
        case .acquiring(let sent) where sent == sentAt:
            let retryAt = now.advanced(by: timings.renewInterval)
            state = .waitingToAcquire(retryAt: retryAt)
            return [.scheduleTimer(retryAt)]
        case .holding(var h) where h.inFlight == sentAt:
            h.inFlight = nil
            let wasHeartbeat = h.inFlightIsHeartbeat
            h.inFlightIsHeartbeat = false
            if conflict && !h.inFlightIsRead && !wasHeartbeat {
                // Broken by another speaker, or our own earlier write committed without an
                // answer. Read to tell which; until then nothing counts as renewed.
                h.inFlight = now
                h.inFlightIsRead = true
                state = .holding(h)
                return [.send(.read, sentAt: now)] + reconcile(now: now)
            }
            h.inFlightIsRead = false
            state = .holding(h)
        case .releasing(let sent) where sent == sentAt:
            // Others will break the Lease after leaseDuration; we already stopped answering.
            state = .finished
            return [.exit]
        case .idle, .acquiring, .waitingToAcquire, .holding, .releasing, .finished:
            return []
        }
        return reconcile(now: now)
    }

    /// The Lease as read after a conflict: held by this node (our own unanswered write
    /// committed) or not (another speaker broke it: acquire again, a new hold-off).
    public mutating func leaseRead(sentAt: Instant, heldBySelf: Bool, resourceVersion: String, now: Instant) -> [Action] {
        guard case .holding(var h) = state, h.inFlight == sentAt, h.inFlightIsRead else { return [] }
        h.inFlight = nil
        h.inFlightIsRead = false
        if heldBySelf {
            // Adopt the version, but do not count the unanswered write as a success; renew
            // at once so that the fence does not close for want of a counted write.
            h.resourceVersion = resourceVersion
            h.nextRenewAt = now
            state = .holding(h)
            return reconcile(now: now)
        }
        state = .acquiring(sentAt: now)
        return stopIfAnswering() + [.send(.acquire, sentAt: now)]
    }

    /// The watch showed this node's own Lease at `resourceVersion` (`heartbeat`: its heartbeat
    /// Lease, renewed instead of the speaker Lease with probes).
    public mutating func observedOwnLease(resourceVersion: String, heartbeat: Bool = false, now: Instant) -> [Action] {
        lastSeenOwnVersion = resourceVersion
        if !heartbeat {
            lastSeenHeldVersion = resourceVersion
            clearedSinceLastSeen = false
        }
        guard case .holding(var h) = state else { return [] }
        h.lastObservedResourceVersion = resourceVersion
        h.observedAny = true
        if resourceVersion == h.lastSuccessResourceVersion {
            h.freshSentAt = h.lastSuccessSentAt
            h.newestSeenSentAt = h.lastSuccessSentAt
        }
        state = .holding(h)
        return reconcile(now: now)
    }

    /// The watch showed this node's own Lease without a holder while it holds it: another
    /// speaker broke it (a probe verdict, or expiry). Stop answering at once and acquire again.
    /// Only after an own version was seen: the watch is ordered, so this event is newer than
    /// our hold (an older, unheld version may still arrive before our acquisition shows).
    public mutating func observedOwnLeaseCleared(resourceVersion: String, now: Instant) -> [Action] {
        if lastSeenHeldVersion != nil { clearedSinceLastSeen = true }
        // Not `lastObservedResourceVersion`, which a stall forgets: a speaker that thaws to find
        // its Lease broken must stop even when its renewals do not conflict (with heartbeats,
        // renewals go to another Lease; this event is then what fences it).
        guard case .holding(let h) = state, h.observedAny, h.lastObservedResourceVersion != resourceVersion else { return [] }
        if h.inFlight == now {
            // A request sent at this very instant is still out (a renewal sent by the tick that
            // ran just before, e.g. on waking from SIGSTOP): answers are told apart by sent-at
            // only, so its answer would pass for the acquire's (with heartbeat Leases it even
            // succeeds, naming a heartbeat version). Acquire on the next timer instead.
            let retryAt = now.advanced(by: .milliseconds(1))
            state = .waitingToAcquire(retryAt: retryAt)
            return stopIfAnswering() + [.scheduleTimer(retryAt)]
        }
        state = .acquiring(sentAt: now)
        return stopIfAnswering() + [.send(.acquire, sentAt: now)]
    }

    public mutating func timerFired(now: Instant) -> [Action] {
        switch state {
        case .waitingToAcquire(let retryAt) where now >= retryAt:
            state = .acquiring(sentAt: now)
            return [.send(.acquire, sentAt: now)]
        case .waitingToAcquire(let retryAt):
            return [.scheduleTimer(retryAt)]
        case .holding:
            return reconcile(now: now)
        case .idle, .acquiring, .releasing, .finished:
            return []
        }
    }

    /// SIGTERM: stop answering first, then release the Lease so that the next owner takes
    /// over on one watch event.
    public mutating func shutdown(now: Instant) -> [Action] {
        switch state {
        case .holding(let h):
            state = .releasing(sentAt: now)
            return stopIfAnswering() + [.send(.release(resourceVersion: h.resourceVersion), sentAt: now)]
        case .idle, .acquiring, .waitingToAcquire:
            state = .finished
            return stopIfAnswering() + [.exit]
        case .releasing, .finished:
            return []
        }
    }

    private mutating func stopIfAnswering() -> [Action] {
        guard answering else { return [] }
        answering = false
        return [.stopAnswering]
    }

    /// Renews when due, starts or stops answering, and asks for a timer at the next instant
    /// anything changes.
    private mutating func reconcile(now: Instant) -> [Action] {
        guard case .holding(var h) = state else { return [] }
        var actions: [Action] = []
        if h.inFlight == nil && now >= h.nextRenewAt {
            h.inFlight = now
            h.inFlightIsRead = false
            h.inFlightIsHeartbeat = renewsHeartbeat
            h.nextRenewAt = now.advanced(by: timings.renewInterval)
            actions.append(.send(renewsHeartbeat ? .heartbeat : .renew(resourceVersion: h.resourceVersion), sentAt: now))
        }
        state = .holding(h)

        let answerFrom = h.handoffWaived ? h.acquiredSentAt : h.acquiredSentAt.advanced(by: timings.handoffDelay)
        let fenceAt = h.freshSentAt.map { $0.advanced(by: timings.renewDeadline) }
        let may = now >= answerFrom && fenceAt.map { now < $0 } == true
        if may != answering {
            answering = may
            actions.append(may ? .startAnswering : .stopAnswering)
        }
        // While a request is in flight the renewal waits for its outcome (which reconciles
        // again), not for a timer: a past `nextRenewAt` (the request outlived the interval, e.g.
        // across a SIGSTOP) would otherwise ask for a timer that is already due, over and over.
        var next: Instant? = h.inFlight == nil || now < h.nextRenewAt ? h.nextRenewAt : nil
        if now < answerFrom { next = min(next ?? answerFrom, answerFrom) }
        if let fenceAt, now < fenceAt { next = min(next ?? fenceAt, fenceAt) }
        if let next { actions.append(.scheduleTimer(next)) }
        return actions
    }
}
