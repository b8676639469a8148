import KubeModel
/// The Lease record as leader election sees it (client-go `LeaderElectionRecord`).
public struct LeaseRecord: Sendable, Hashable {
    public var holderIdentity: String
    public var leaseDurationSeconds: Int32
    public var acquireTime: MicroTime?
    public var renewTime: MicroTime?
    public var leaseTransitions: Int32

    public init(holderIdentity: String, leaseDurationSeconds: Int32, acquireTime: MicroTime?, renewTime: MicroTime?, leaseTransitions: Int32) {
        self.holderIdentity = holderIdentity
        self.leaseDurationSeconds = leaseDurationSeconds
        self.acquireTime = acquireTime
        self.renewTime = renewTime
        self.leaseTransitions = leaseTransitions
    }

    public init(spec: LeaseSpec?) {
        self.init(holderIdentity: spec?.holderIdentity ?? "", leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
                  acquireTime: spec?.acquireTime, renewTime: spec?.renewTime, leaseTransitions: spec?.leaseTransitions ?? 0)
    }

    /// Writes the record into a Lease spec, keeping fields the record does not own.
    public func apply(to spec: LeaseSpec?) -> LeaseSpec {
        var leaseSpec = spec ?? LeaseSpec()
        leaseSpec.holderIdentity = holderIdentity
        leaseSpec.leaseDurationSeconds = leaseDurationSeconds
        leaseSpec.acquireTime = acquireTime
        leaseSpec.renewTime = renewTime
        leaseSpec.leaseTransitions = leaseTransitions
        return leaseSpec
    }
}

public struct LeaderElectionConfig: Sendable, Hashable {
    public var identity: String
    public var leaseDuration: Duration
    public var renewDeadline: Duration
    public var retryPeriod: Duration
    /// client-go's JitterFactor for the acquire loop.
    public var jitterFactor: Double = 1.2

    public struct Invalid: Error, Hashable, Sendable { public var message: String }

    /// client-go core-component defaults: 15 s / 10 s / 2 s.
    public init(identity: String, leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2)) {
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
        self.retryPeriod = retryPeriod
    }

    /// LeaseDuration > RenewDeadline > 1.2 × RetryPeriod, non-empty identity (client-go `NewLeaderElector`).
    public func validate() throws(Invalid) {
        guard leaseDuration > renewDeadline else { throw Invalid(message: "leaseDuration must be greater than renewDeadline") }
        guard renewDeadline > retryPeriod * jitterFactor else { throw Invalid(message: "renewDeadline must be greater than retryPeriod*JitterFactor") }
        guard leaseDuration > .zero, renewDeadline > .zero, retryPeriod > .zero else { throw Invalid(message: "durations must be positive") }
        guard !identity.isEmpty else { throw Invalid(message: "Lock identity is empty") }
    }

    var leaseDurationSeconds: Int32 { Int32(leaseDuration.components.seconds) }
}

/// client-go's Lease leader election (`tryAcquireOrRenew`, acquire and renew loops, release on
/// cancel) as a state machine. The owner performs the API calls and sleeps the action asks for,
/// then reports results. `now` is a monotonic instant (time since an arbitrary origin) used
/// only for observedTime arithmetic; `wallNow` is written into the record and never compared.
public struct LeaderElectionStateMachine: Sendable {
    public enum Action: Sendable, Hashable {
        /// GET the Lease; report with `getSucceeded`/`getNotFound`/`getFailed`.
        case get
        /// POST a new Lease with this record; report with `writeSucceeded`/`writeFailed`.
        case create(LeaseRecord)
        /// PUT the Lease with this record, carrying `resourceVersion`; report the same way.
        case update(LeaseRecord, resourceVersion: String)
        /// Sleep, then call `timerFired`.
        case sleep(Duration)
        /// Cancelled and released (or nothing to release): stop.
        case finished
    }

    private enum Phase: Sendable {
        case idle
        case fastPath       // PUT of the cached record in flight
        case getting        // slow path GET in flight
        case writing        // create/update in flight
        case releasing(retried: Bool)
        case releaseGetting
        case finished
    }

    public let config: LeaderElectionConfig
    private var phase: Phase = .idle
    private var observedRecord: LeaseRecord?
    private var observedRV: String?
    private var observedTime: Duration?
    private var leading = false
    private var renewCycleStart: Duration?
    private var lastRenew: Duration?
    private var pendingRecord: LeaseRecord?

    public init(config: LeaderElectionConfig) { self.config = config }

    /// True while this candidate holds the Lease according to its last observation.
    public var isLeader: Bool { leading && observedRecord?.holderIdentity == config.identity }

    /// Monotonic instant after which a leader must stop acting (fencing): last successful
    /// renewal + RenewDeadline. nil when not leading.
    public var leadershipValidUntil: Duration? {
        guard isLeader, let renewedAt = lastRenew else { return nil }
        return renewedAt + config.renewDeadline
    }

    public var observed: LeaseRecord? { observedRecord }

    /// Begins the first acquire attempt.
    public mutating func start(now: Duration) -> Action {
        phase = .getting
        return .get
    }

    /// A sleep ended: start the next tryAcquireOrRenew.
    public mutating func timerFired(now: Duration, wallNow: KubeTime) -> Action {
        switch phase {
        case .finished, .releasing, .releaseGetting: return .finished
        case .idle, .fastPath, .getting, .writing: break
        }
        if leading && renewCycleStart == nil { renewCycleStart = now }
        // Fast path: leader whose local view of the lease is still valid.
        if isLeader, let resourceVersion = observedRV, let cached = observedRecord, let observedAt = observedTime,
           observedAt + .seconds(Int64(cached.leaseDurationSeconds)) > now {
            var renewal = cached
            renewal.renewTime = MicroTime(wallNow)
            renewal.leaseDurationSeconds = config.leaseDurationSeconds
            pendingRecord = renewal
            phase = .fastPath
            return .update(renewal, resourceVersion: resourceVersion)
        }
        phase = .getting
        return .get
    }

    public mutating func getNotFound(now: Duration, wallNow: KubeTime) -> Action {
        switch phase {
        case .releaseGetting:
            phase = .finished
            return .finished
        case .getting:
            let record = LeaseRecord(holderIdentity: config.identity, leaseDurationSeconds: config.leaseDurationSeconds,
                                     acquireTime: MicroTime(wallNow), renewTime: MicroTime(wallNow), leaseTransitions: 0)
            pendingRecord = record
            phase = .writing
            return .create(record)
        case .idle, .fastPath, .writing, .releasing, .finished:
            return unexpected()
        }
    }

    public mutating func getSucceeded(_ record: LeaseRecord, resourceVersion: String, now: Duration, wallNow: KubeTime) -> Action {
        switch phase {
        case .releaseGetting:
            observe(record, resourceVersion, now)
            guard record.holderIdentity == config.identity else {
                phase = .finished
                leading = false
                return .finished
            }
            return release(wallNow: wallNow, retried: true)
        case .getting:
            break
        case .idle, .fastPath, .writing, .releasing, .finished:
            return unexpected()
        }
        observe(record, resourceVersion, now)
        if leading && record.holderIdentity != config.identity {
            leading = false  // someone else holds it now: stop acting at once
            renewCycleStart = nil
        }
        let held = !record.holderIdentity.isEmpty && record.holderIdentity != config.identity
        if held, let observedAt = observedTime, observedAt + .seconds(Int64(record.leaseDurationSeconds)) > now {
            return attemptFailed(now: now)
        }
        var candidate = LeaseRecord(holderIdentity: config.identity, leaseDurationSeconds: config.leaseDurationSeconds,
                                    acquireTime: MicroTime(wallNow), renewTime: MicroTime(wallNow), leaseTransitions: record.leaseTransitions)
        if record.holderIdentity == config.identity && leading {
            candidate.acquireTime = record.acquireTime
        } else {
            candidate.leaseTransitions = record.leaseTransitions + 1
        }
        pendingRecord = candidate
        phase = .writing
        return .update(candidate, resourceVersion: resourceVersion)
    }

    public mutating func getFailed(now: Duration) -> Action {
        switch phase {
        case .releaseGetting:
            phase = .finished
            return .finished
        case .getting: return attemptFailed(now: now)
        case .idle, .fastPath, .writing, .releasing, .finished: return unexpected()
        }
    }

    /// The create or update succeeded; `resourceVersion` is the new object's.
    public mutating func writeSucceeded(resourceVersion: String, now: Duration) -> Action {
        switch phase {
        case .releasing:
            if var released = pendingRecord { released.holderIdentity = ""; observedRecord = released }
            leading = false
            phase = .finished
            return .finished
        case .fastPath, .writing:
            if let pending = pendingRecord { observedRecord = pending }
            observedRV = resourceVersion
            observedTime = now
            leading = true
            lastRenew = now
            renewCycleStart = nil
            phase = .idle
            return .sleep(config.retryPeriod)
        case .idle, .getting, .releaseGetting, .finished:
            return unexpected()
        }
    }

    /// The create or update failed (`conflict`: 409 / AlreadyExists).
    public mutating func writeFailed(conflict: Bool, now: Duration) -> Action {
        switch phase {
        case .releasing(let retried):
            if conflict && !retried {
                phase = .releaseGetting
                return .get
            }
            leading = false
            phase = .finished
            return .finished
        case .fastPath:
            // Any error on the fast path falls through to the slow path.
            phase = .getting
            return .get
        case .writing:
            return attemptFailed(now: now)
        case .idle, .getting, .releaseGetting, .finished:
            return unexpected()
        }
    }

    /// Context cancelled: release if leading (ReleaseOnCancel), else finish.
    public mutating func cancel(now: Duration, wallNow: KubeTime) -> Action {
        guard isLeader, observedRV != nil else {
            leading = false
            phase = .finished
            return .finished
        }
        return release(wallNow: wallNow, retried: false)
    }

    private mutating func release(wallNow: KubeTime, retried: Bool) -> Action {
        guard let resourceVersion = observedRV, let cached = observedRecord else {
            phase = .finished
            return .finished
        }
        let emptied = LeaseRecord(holderIdentity: "", leaseDurationSeconds: 1, acquireTime: MicroTime(wallNow), renewTime: MicroTime(wallNow),
                                  leaseTransitions: cached.leaseTransitions)
        pendingRecord = emptied
        phase = .releasing(retried: retried)
        return .update(emptied, resourceVersion: resourceVersion)
    }

    private mutating func observe(_ record: LeaseRecord, _ resourceVersion: String, _ now: Duration) {
        if observedRecord != record {
            observedRecord = record
            observedTime = now
        }
        observedRV = resourceVersion
    }

    private mutating func attemptFailed(now: Duration) -> Action {
        phase = .idle
        if leading {
            if let start = renewCycleStart, now >= start + config.renewDeadline {
                leading = false  // failed to renew within RenewDeadline: stop leading
                renewCycleStart = nil
                return .sleep(config.retryPeriod)
            }
            return .sleep(config.retryPeriod)
        }
        return .sleep(config.retryPeriod)
    }

    /// The acquire loop's wait with client-go's jitter (`wait.Jitter(RetryPeriod, 1.2)`):
    /// the owner applies it to `.sleep` when `isLeader` is false. `random` in [0, 1).
    public func jittered(_ delay: Duration, random: Double) -> Duration {
        isLeader ? delay : delay + delay * (config.jitterFactor * max(0, min(random, 1)))
    }

    private func unexpected() -> Action {
        preconditionFailure("leader election: event in wrong phase \(phase)")
    }
}
