// NodeSpeaker: one node's speaker as a pure state machine. It puts together the cluster view
// and plan (SpeakerCore), this node's Lease (NodeLeaseStateMachine), the other speakers' Leases
// (PeerLeaseTable) and the takeover announcements (AnnouncementScheduler): informer changes,
// Lease write outcomes and timer ticks in; Lease requests, plans to apply and announcements out.
// The speaker process performs the actions; the ownership simulation drives the same struct.
import L2Ownership
import LBCore
import NetPrimitives

/// A change seen by the speaker's informers.
public enum SpeakerInput: Hashable, Sendable {
    case serviceUpserted(SpeakerService)
    case serviceDeleted(ServiceKey)
    /// Where the Service's usable endpoints are (ready, or serving while terminating).
    case endpoints(ServiceKey, ServiceEndpoints)
    case nodeUpserted(NodeState)
    case nodeDeleted(String)
    case config(String?)
    /// A speaker Lease (`ironlb-speaker-<node>`): whether it names a holder.
    case lease(node: String, held: Bool, resourceVersion: String)
    case leaseDeleted(node: String)
    case synced
}

/// How a write to this node's Lease ended.
public enum LeaseWriteOutcome: Hashable, Sendable {
    case succeeded(resourceVersion: String)
    case conflict
    case failed
    /// For a read: whether this node holds it, and its version.
    case read(heldBySelf: Bool, resourceVersion: String)
}


public struct NodeSpeaker<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public enum Action: Equatable, Sendable {
        /// A request on this node's own Lease; report with `leaseOutcome`.
        case lease(NodeLeaseStateMachine<Instant>.Request, sentAt: Instant)
        /// Clear another speaker's expired Lease if it is still at `resourceVersion`.
        case breakLease(node: String, resourceVersion: String)
        /// What the node announces changed (BGP peers and routes, layer 2 duties, Services).
        /// Comes before the announcements of newly owned VIPs, so that the data plane knows them.
        case apply(SpeakerPlanChange)
        /// Send gratuitous ARP / unsolicited NA for this VIP now.
        case announce(IPAddress)
        /// Whether the node's Lease lets it answer changed (for logs).
        case answering(Bool)
        /// Call `timerFired` at this instant (or earlier).
        case scheduleTimer(Instant)
        /// Shutdown finished (Lease released or given up): the process may exit.
        case exit
    }

    public private(set) var core: SpeakerCore
    private var lease: NodeLeaseStateMachine<Instant>
    private var peers: PeerLeaseTable<Instant>
    private var announcements: AnnouncementScheduler<Instant>
    private var synced = false
    private var shuttingDown = false

    public init(nodeName: String, timings: LeaseTimings, announceInterval: Duration = .seconds(1), announceRepeats: Int = 5) {
        core = SpeakerCore(nodeName: nodeName)
        lease = NodeLeaseStateMachine(timings: timings)
        peers = PeerLeaseTable(selfName: nodeName, timings: timings)
        announcements = AnnouncementScheduler(interval: announceInterval, repeats: announceRepeats)
    }

    public var nodeName: String { core.nodeName }
    /// What the node announces now (empty once shutting down).
    public var plan: SpeakerPlan { shuttingDown ? SpeakerPlan() : core.plan }
    /// Every informer has listed once.
    public var isSynced: Bool { synced }
    /// The Lease is released (or was never taken) after shutdown.
    public var isDone: Bool { lease.isDone }
    /// The Lease lets this node answer now.
    public var mayAnswer: Bool { lease.isAnswering && !shuttingDown }

    // MARK: Events

    public mutating func start(now: Instant) -> [Action] {
        leaseActions(lease.start(now: now)) + reconcile(now: now)
    }

    /// An informer change. A configuration is offered to the keeper; `configOutcome` tells
    /// what became of the last one.
    public mutating func apply(_ input: SpeakerInput, now: Instant) -> [Action] {
        var actions: [Action] = []
        switch input {
        case .serviceUpserted(let service): core.serviceChanged(service)
        case .serviceDeleted(let key): core.serviceDeleted(key)
        case .endpoints(let key, let endpoints): core.endpointsChanged(key, endpoints)
        case .nodeUpserted(let node): core.nodeChanged(node)
        case .nodeDeleted(let name): core.nodeDeleted(name)
        case .config(let text): configOutcome = core.configChanged(text)
        case .lease(let node, let held, let resourceVersion):
            if node == nodeName {
                // Only our own holding counts as a renewal seen back; a cleared Lease (broken
                // by a peer) is found out by the next renew's conflict.
                if held { actions += leaseActions(lease.observedOwnLease(resourceVersion: resourceVersion, now: now)) }
            } else {
                peers.observe(node: node, held: held, resourceVersion: resourceVersion, now: now)
            }
        case .leaseDeleted(let node):
            if node != nodeName { peers.removed(node: node) }
        case .synced:
            synced = true
        }
        return actions + reconcile(now: now)
    }

    /// What became of the last configuration offered (nil until one is).
    public private(set) var configOutcome: ConfigKeeper.Outcome?

    public mutating func leaseOutcome(sentAt: Instant, _ outcome: LeaseWriteOutcome, now: Instant) -> [Action] {
        let actions: [NodeLeaseStateMachine<Instant>.Action]
        switch outcome {
        case .succeeded(let version): actions = lease.writeSucceeded(sentAt: sentAt, resourceVersion: version, now: now)
        case .conflict: actions = lease.writeFailed(sentAt: sentAt, conflict: true, now: now)
        case .failed: actions = lease.writeFailed(sentAt: sentAt, conflict: false, now: now)
        case .read(let heldBySelf, let version): actions = lease.leaseRead(sentAt: sentAt, heldBySelf: heldBySelf, resourceVersion: version, now: now)
        }
        return leaseActions(actions) + reconcile(now: now)
    }

    public mutating func timerFired(now: Instant) -> [Action] {
        var actions = leaseActions(lease.timerFired(now: now))
        actions += reconcile(now: now)
        actions += scheduled(announcements.timerFired(now: now))
        return actions
    }

    /// SIGTERM: stop announcing everything at once, then release the Lease (planned failover
    /// in one watch event); the caller closes BGP sessions after `.exit`.
    public mutating func shutdown(now: Instant) -> [Action] {
        guard !shuttingDown else { return [] }
        shuttingDown = true
        var actions: [Action] = []
        if synced {
            _ = core.takeChange()
            var stop = SpeakerPlanChange(routes: core.routes.mapValues { _ in nil }, announced: core.announced.mapValues { _ in nil })
            if !core.layer2.isEmpty { stop.layer2 = [:] }
            if !stop.isEmpty { actions.append(.apply(stop)) }
        }
        _ = announcements.update(owned: [], now: now)
        return actions + leaseActions(lease.shutdown(now: now))
    }

    // MARK: Internals

    private mutating func leaseActions(_ actions: [NodeLeaseStateMachine<Instant>.Action]) -> [Action] {
        actions.map { action in
            switch action {
            case .send(let request, let sentAt): return .lease(request, sentAt: sentAt)
            case .scheduleTimer(let at): return .scheduleTimer(at)
            case .startAnswering: return .answering(true)
            case .stopAnswering: return .answering(false)
            case .exit: return .exit
            }
        }
    }

    /// Breaks expired peer Leases, recomputes the plan and hands out what changed.
    private mutating func reconcile(now: Instant) -> [Action] {
        var actions: [Action] = []
        let due = peers.due(now: now)
        actions += due.breaks.map { .breakLease(node: $0.node, resourceVersion: $0.resourceVersion) }
        if let next = due.next { actions.append(.scheduleTimer(next)) }

        guard !shuttingDown else { return actions }
        var eligible = Set(peers.liveNodes)
        if mayAnswer { eligible.insert(nodeName) }
        core.eligibilityChanged(eligible)
        guard synced else { return actions }
        let change = core.takeChange()
        guard !change.isEmpty else { return actions }
        actions.append(.apply(change))
        if let layer2 = change.layer2 { actions += scheduled(announcements.update(owned: Set(layer2.keys), now: now)) }
        return actions
    }

    private func scheduled(_ scheduled: [AnnouncementScheduler<Instant>.Action]) -> [Action] {
        scheduled.compactMap { action in
            switch action {
            case .announce(let address): return .announce(address)
            case .scheduleTimer(let at): return .scheduleTimer(at)
            case .startAnswering, .stopAnswering: return nil  // carried by `.apply`
            }
        }
    }
}
