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
    /// A speaker Lease (`ironlb-speaker-<node>`): whether it names a holder, and the holder's
    /// marker (nil: none, or stale: a speaker without probes, e.g. 0.1.0).
    case lease(node: String, held: Bool, resourceVersion: String, marker: LeaseProtocol?)
    /// A speaker's heartbeat Lease (`ironlb-heartbeat-<node>`, with probes): renewed instead of
    /// the speaker Lease, watched by its own speaker only (its fence); others' are ignored.
    case heartbeat(node: String, resourceVersion: String)
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
        /// Send a probe datagram to `node`'s probe port (report a refusal with `probeRefused`).
        case sendProbe([UInt8], to: ProbeEndpoint, node: String)
        /// Answer a probe datagram from the probe port.
        case replyProbe([UInt8], to: ProbeEndpoint)
        /// The failure detector declared a peer dead and breaks its Lease (for logs).
        case peerDead(String, refused: Bool)
        /// A peer said its fence is closed (it answers nothing); its Lease is broken (for logs).
        case peerFenced(String)
        /// A probe datagram was refused: bad tag, replayed, misdirected (for metrics).
        case probeRejected(String)
        /// This node yielded to a peer's claim (stopped what the peer outranks it for; for logs).
        case yielded(to: String)
        /// Every live peer yielded to this node's claim: no hand-off wait (for logs).
        case claimGranted
    }

    /// The failure detector's parameters: the cluster key, this process's incarnation (start
    /// time in wall-clock ms), a random seed, the probe port every speaker listens on.
    public struct Probing: Sendable {
        public var key: ProbeKey
        public var incarnation: UInt64
        public var seed: UInt64
        public var port: UInt16
        public var timings: ProbeTimings
        /// Renew a heartbeat Lease only this speaker watches (watch fan-out, see the design
        /// note) while every held Lease in view is marked `heartbeats`; liveness then comes from
        /// probes, not Lease expiry. The speaker's default (`ironlb speaker --no-heartbeat-leases`: off).
        public var heartbeats: Bool

        /// The marker the speaker's Lease carries (docs/design/layer2-leases.md, "Upgrades").
        public var leaseProtocol: LeaseProtocol { heartbeats ? .heartbeats : .probes }

        public init(key: ProbeKey, incarnation: UInt64, seed: UInt64, port: UInt16, timings: ProbeTimings = .default, heartbeats: Bool = true) {
            self.heartbeats = heartbeats
            self.key = key
            self.incarnation = incarnation
            self.seed = seed
            self.port = port
            self.timings = timings
        }
    }

    public private(set) var core: SpeakerCore
    private var lease: NodeLeaseStateMachine<Instant>
    private var peers: PeerLeaseTable<Instant>
    private var announcements: AnnouncementScheduler<Instant>
    private var synced = false
    private var shuttingDown = false
    private var prober: PeerProber<Instant>?
    private let probePort: UInt16
    /// After this node's own Lease was broken, timeout verdicts wait until then.
    private var quietVerdictsUntil: Instant?
    /// Each node's probe address (its first InternalIP, IPv4 preferred).
    private var probeAddresses: [String: IPAddress] = [:]

    public init(nodeName: String, timings: LeaseTimings, probing: Probing? = nil, announceInterval: Duration = .seconds(1), announceRepeats: Int = 5) {
        core = SpeakerCore(nodeName: nodeName)
        lease = NodeLeaseStateMachine(timings: timings)
        peers = PeerLeaseTable(selfName: nodeName, timings: timings)
        mayRenewHeartbeat = probing?.heartbeats == true
        leaseProtocol = probing?.leaseProtocol
        announcements = AnnouncementScheduler(interval: announceInterval, repeats: announceRepeats)
        prober = probing.map { PeerProber(selfName: nodeName, key: $0.key, incarnation: $0.incarnation, seed: $0.seed, timings: $0.timings) }
        probePort = probing?.port ?? 0
    }

    /// Heartbeats are allowed (`Probing.heartbeats`): the node marks its Lease `heartbeats`.
    private let mayRenewHeartbeat: Bool

    /// The marker this node's speaker Lease carries (nil without probes).
    public let leaseProtocol: LeaseProtocol?

    /// Renewals go to the heartbeat Lease (`SpeakerInput.heartbeat`), not the speaker Lease:
    /// allowed, the informers synced, and every held Lease in view marked `heartbeats`
    /// (docs/design/layer2-leases.md, "Upgrades").
    public var renewsHeartbeat: Bool { lease.renewsHeartbeat }

    /// Probe datagrams and bytes this node sent (the simulation's traffic figures).
    public var probeTraffic: (datagrams: Int, bytes: Int) { (prober?.sentCount ?? 0, prober?.sentBytes ?? 0) }

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
        case .nodeUpserted(let node):
            core.nodeChanged(node)
            probeAddresses[node.name] = node.addresses.first { $0.family == .ipv4 } ?? node.addresses.first
        case .nodeDeleted(let name):
            core.nodeDeleted(name)
            probeAddresses[name] = nil
        case .config(let text): configOutcome = core.configChanged(text)
        case .lease(let node, let held, let resourceVersion, let marker):
            if node == nodeName {
                // Our own holding seen back renews the fence; a cleared Lease was broken by a
                // peer: stop at once, acquire again, and for a while give no timeout verdicts
                // (this node may be the one cut off: two nodes that cannot reach each other
                // would otherwise break each other's Lease over and over).
                if held {
                    actions += leaseActions(lease.observedOwnLease(resourceVersion: resourceVersion, now: now))
                } else {
                    let cleared = leaseActions(lease.observedOwnLeaseCleared(resourceVersion: resourceVersion, now: now))
                    if !cleared.isEmpty { quietVerdictsUntil = now.advanced(by: lease.timings.leaseDuration * 2) }
                    actions += cleared
                }
            } else {
                peers.observe(node: node, held: held, resourceVersion: resourceVersion, marker: marker, now: now)
            }
        case .heartbeat(let node, let resourceVersion):
            // Own writes seen back renew the fence, as with the speaker Lease.
            if node == nodeName, mayRenewHeartbeat { actions += leaseActions(lease.observedOwnLease(resourceVersion: resourceVersion, heartbeat: true, now: now)) }
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
        if let ticked = prober?.tick(now: now) { actions += probeActions(ticked, now: now) }
        actions += reconcile(now: now)
        actions += scheduled(announcements.timerFired(now: now))
        return actions
    }

    /// The process did not run for a while (its timers fired late: frozen by SIGSTOP, starved):
    /// stop answering until an own write sent now comes back on the watch.
    public mutating func stalled(now: Instant) -> [Action] {
        leaseActions(lease.stalled(now: now)) + reconcile(now: now)
    }

    /// A datagram on the probe port (or on a socket a probe was sent from).
    public mutating func probeReceived(_ bytes: [UInt8], from endpoint: ProbeEndpoint, now: Instant) -> [Action] {
        guard let received = prober?.receive(bytes, from: endpoint, now: now) else { return [] }
        var actions: [Action] = []
        var claims: [(String, UInt64, ProbeEndpoint)] = []
        for action in received {
            if case .claimReceived(let node, let nonce, let version, let from) = action {
                peers.claimed(node: node, version: version, now: now)
                claims.append((node, nonce, from))
            } else {
                actions += probeActions([action], now: now)
            }
        }
        // Stop answering what the claimants outrank this node for, then yield to them.
        actions += reconcile(now: now)
        for (node, nonce, from) in claims {
            actions.append(.yielded(to: node))
            actions += probeActions(prober?.yieldMessage(to: node, nonce: nonce, endpoint: from) ?? [], now: now)
        }
        return actions
    }

    /// A probe sent to `node` was refused by its kernel (no process on the probe port).
    public mutating func probeRefused(node: String, now: Instant) -> [Action] {
        guard let refused = prober?.refused(node: node, now: now) else { return [] }
        return probeActions(refused, now: now) + reconcile(now: now)
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

    private mutating func probeActions(_ actions: [PeerProber<Instant>.Action], now: Instant) -> [Action] {
        var out: [Action] = []
        for action in actions {
            switch action {
            case .send(let bytes, let endpoint, let node): out.append(.sendProbe(bytes, to: endpoint, node: node))
            case .reply(let bytes, let endpoint): out.append(.replyProbe(bytes, to: endpoint))
            case .dead(let node, let refused):
                // Evidence of death: break the Lease now instead of after leaseDuration. The
                // Lease stays the fence: see the design note for what a wrong verdict costs.
                if !refused, let quiet = quietVerdictsUntil, now < quiet { continue }
                if let lease = peers.evidence(node: node) {
                    out += [.peerDead(node, refused: refused), .breakLease(node: lease.node, resourceVersion: lease.resourceVersion)]
                }
            case .fenced(let node):
                // The node itself says it answers nothing: break at once (no quiet period).
                if let lease = peers.evidence(node: node) {
                    out += [.peerFenced(node), .breakLease(node: lease.node, resourceVersion: lease.resourceVersion)]
                }
            case .claimReceived: break  // handled by `probeReceived`
            case .claimGranted: out += [.claimGranted] + leaseActions(lease.waiveHandoff(now: now))
            case .rejected(let reason): out.append(.probeRejected(reason))
            case .scheduleTimer(let at): out.append(.scheduleTimer(at))
            }
        }
        return out
    }

    /// Keeps the prober's members (live peers with an address) and this node's claim in step
    /// with the Leases: claim while in the hand-off wait, if every live peer can be asked.
    private mutating func updateProbing(now: Instant) -> [Action] {
        guard prober != nil else { return [] }
        prober!.fenced = renewsHeartbeat && lease.isFenced(now: now) && !shuttingDown
        var endpoints: [String: ProbeEndpoint] = [:]
        // A peer without probes (0.1.0) is not probed (no port: its refusal proves nothing) and
        // never yields: no claim while one is live, the hand-off delay applies.
        let unmarked = Set(peers.unmarkedLiveNodes)
        var unreachable = !unmarked.isEmpty
        for name in peers.liveNodes where !unmarked.contains(name) {
            if let address = probeAddresses[name] {
                endpoints[name] = ProbeEndpoint(address: address, port: probePort)
            } else {
                unreachable = true
            }
        }
        var actions = probeActions(prober!.setMembers(endpoints, now: now), now: now)
        // Only once every informer listed: before that the view may lack peers whose Leases the
        // list has not delivered yet (the own acquire can overtake them), and a claim granted by
        // the peers seen so far would leave an unseen current owner answering beside this node.
        if lease.awaitsHandoff && !shuttingDown && synced {
            if !prober!.isClaiming && !unreachable, let version = lease.acquiredVersion {
                actions += probeActions(prober!.startClaim(version: version, now: now), now: now)
            }
        } else if prober!.isClaiming {
            prober!.cancelClaim()
        }
        return actions
    }

    /// Breaks expired peer Leases, recomputes the plan and hands out what changed.
    private mutating func reconcile(now: Instant) -> [Action] {
        var actions: [Action] = []
        // The upgrade rule: heartbeats only while no speaker in view would break an unrenewed Lease.
        actions += leaseActions(lease.setRenewsHeartbeat(mayRenewHeartbeat && synced && !shuttingDown && peers.everyHolderAllowsHeartbeats, now: now))
        let due = peers.due(now: now)
        actions += due.breaks.map { .breakLease(node: $0.node, resourceVersion: $0.resourceVersion) }
        if let next = due.next { actions.append(.scheduleTimer(next)) }
        actions += updateProbing(now: now)

        guard !shuttingDown else { return actions }
        var eligible = Set(peers.liveNodes)
        if mayAnswer { eligible.insert(nodeName) }
        core.eligibilityChanged(eligible, pending: peers.pendingNodes(now: now))
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
