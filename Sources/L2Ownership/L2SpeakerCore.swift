import LinkWire
import NetPrimitives

/// A node's facts that decide candidacy, besides its Lease.
public struct NodeFacts: Hashable, Sendable {
    public var name: String
    public var excludedByLabel: Bool
    public var networkUnavailable: Bool

    public init(name: String, excludedByLabel: Bool = false, networkUnavailable: Bool = false) {
        self.name = name
        self.excludedByLabel = excludedByLabel
        self.networkUnavailable = networkUnavailable
    }
}

/// The layer-2 side of one speaker, pure: its own Lease, the others' Leases, who owns which
/// VIP, on which interfaces it is answered, and the takeover announcements. The owner of
/// this struct performs the actions (API requests, timers, packet sockets) and feeds back
/// events; `answers` is the map to hand `Responder.decide`.
public struct L2SpeakerCore<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public enum Action: Hashable, Sendable {
        /// A request on this node's own Lease; report with `leaseSucceeded`/`leaseFailed`/`leaseRead`.
        case lease(NodeLeaseStateMachine<Instant>.Request, sentAt: Instant)
        /// Clear another speaker's Lease if it is still at `resourceVersion` (compare-and-swap).
        case breakLease(node: String, resourceVersion: String)
        case scheduleTimer(Instant)
        /// The VIPs this node answers and on which interfaces changed: the new map.
        case setAnswers([IPAddress: Set<String>])
        /// Send `frame` out of `interface` (gratuitous ARP or unsolicited NA).
        case send(LinkFrame, interface: String)
        /// Shutdown finished: the process may exit.
        case exit
    }

    public let node: String
    private var lease: NodeLeaseStateMachine<Instant>
    private var peers: PeerLeaseTable<Instant>
    private var announcer: AnnouncementScheduler<Instant>
    private var vips: [LayerTwoVIP] = []
    private var facts: [NodeFacts] = []
    private var interfaces: [InterfaceInfo] = []
    private let excludedPatterns: [String]
    public private(set) var answers: [IPAddress: Set<String>] = [:]

    public init(
        node: String, timings: LeaseTimings,
        announceInterval: Duration = .seconds(1), announceRepeats: Int = 5,
        excludedInterfacePatterns: [String] = AnnounceInterfaces.defaultExcludedPatterns
    ) {
        self.node = node
        lease = NodeLeaseStateMachine(timings: timings)
        peers = PeerLeaseTable(selfName: node, timings: timings)
        announcer = AnnouncementScheduler(interval: announceInterval, repeats: announceRepeats)
        excludedPatterns = excludedInterfacePatterns
    }

    /// Whether this node's Lease lets it answer now (hand-off over, fence open).
    public var mayAnswer: Bool { lease.isAnswering }

    // MARK: Events

    public mutating func start(now: Instant) -> [Action] {
        translate(lease.start(now: now), now: now)
    }

    public mutating func leaseSucceeded(sentAt: Instant, resourceVersion: String, now: Instant) -> [Action] {
        translate(lease.writeSucceeded(sentAt: sentAt, resourceVersion: resourceVersion, now: now), now: now)
    }

    public mutating func leaseFailed(sentAt: Instant, conflict: Bool, now: Instant) -> [Action] {
        translate(lease.writeFailed(sentAt: sentAt, conflict: conflict, now: now), now: now)
    }

    public mutating func leaseRead(sentAt: Instant, heldBySelf: Bool, resourceVersion: String, now: Instant) -> [Action] {
        translate(lease.leaseRead(sentAt: sentAt, heldBySelf: heldBySelf, resourceVersion: resourceVersion, now: now), now: now)
    }

    /// A watch event (or list item) for a speaker Lease; `holder` nil when it has none.
    public mutating func observedLease(node name: String, holder: String?, resourceVersion: String, now: Instant) -> [Action] {
        if name == node {
            guard holder == node else { return reconcile(now: now) }
            return translate(lease.observedOwnLease(resourceVersion: resourceVersion, now: now), now: now)
        }
        peers.observe(node: name, held: holder != nil, resourceVersion: resourceVersion, now: now)
        return reconcile(now: now)
    }

    public mutating func leaseDeleted(node name: String, now: Instant) -> [Action] {
        peers.removed(node: name)
        return reconcile(now: now)
    }

    /// New cluster state: the layer-2 VIPs with their Services, every node's facts.
    public mutating func update(vips: [LayerTwoVIP], nodes: [NodeFacts], now: Instant) -> [Action] {
        self.vips = vips
        facts = nodes
        return reconcile(now: now)
    }

    /// A new interface scan. Interfaces whose MAC changed, that came up or appeared get one
    /// more round of announcements for the VIPs answered on them.
    public mutating func update(interfaces new: [InterfaceInfo], now: Instant) -> [Action] {
        let changes = InterfaceChange.between(interfaces, new)
        interfaces = new
        var actions = reconcile(now: now)
        let names = Set(changes.filter(\.needsAnnouncement).map(\.interfaceName))
        for address in answers.keys.sorted() {
            for (interface, frame) in AnswerPlan.announcements(for: address, plan: answers, interfaces: interfaces) where names.contains(interface) {
                actions.append(.send(frame, interface: interface))
            }
        }
        return actions
    }

    public mutating func timerFired(now: Instant) -> [Action] {
        var actions = translate(lease.timerFired(now: now), now: now)
        actions += announce(announcer.timerFired(now: now))
        return actions
    }

    /// SIGTERM: stop answering everything at once, then release the Lease.
    public mutating func shutdown(now: Instant) -> [Action] {
        let leaseActions = lease.shutdown(now: now)
        var actions: [Action] = []
        if !answers.isEmpty {
            answers = [:]
            actions.append(.setAnswers([:]))
        }
        _ = announcer.update(owned: [], now: now)
        for action in leaseActions {
            switch action {
            case .send(let request, let sentAt): actions.append(.lease(request, sentAt: sentAt))
            case .scheduleTimer(let at): actions.append(.scheduleTimer(at))
            case .exit: actions.append(.exit)
            case .startAnswering, .stopAnswering: break
            }
        }
        return actions
    }

    // MARK: Internals

    private mutating func translate(_ leaseActions: [NodeLeaseStateMachine<Instant>.Action], now: Instant) -> [Action] {
        var actions: [Action] = []
        for action in leaseActions {
            switch action {
            case .send(let request, let sentAt): actions.append(.lease(request, sentAt: sentAt))
            case .scheduleTimer(let at): actions.append(.scheduleTimer(at))
            case .exit: actions.append(.exit)
            case .startAnswering, .stopAnswering: break  // read back through isAnswering below
            }
        }
        return actions + reconcile(now: now)
    }

    /// Breaks due Leases and recomputes what this node answers.
    private mutating func reconcile(now: Instant) -> [Action] {
        var actions: [Action] = []
        let due = peers.due(now: now)
        actions += due.breaks.map { .breakLease(node: $0.node, resourceVersion: $0.resourceVersion) }
        if let next = due.next { actions.append(.scheduleTimer(next)) }

        let known = Dictionary(facts.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var names = Set(facts.map(\.name)).union(peers.liveNodes)
        names.insert(node)
        let candidates = names.sorted().map { name in
            NodeCandidacy(
                name: name,
                leaseEligible: name == node ? lease.isAnswering : peers.isLive(name),
                excludedByLabel: known[name]?.excludedByLabel ?? false,
                networkUnavailable: known[name]?.networkUnavailable ?? false
            )
        }
        let plan = lease.isAnswering ? AnswerPlan.owned(by: node, vips: vips, nodes: candidates, interfaces: interfaces, excluding: excludedPatterns) : [:]
        // Stop answering before anything else goes out; start after the map is in place.
        if plan != answers {
            answers = plan
            actions.append(.setAnswers(plan))
        }
        actions += announce(announcer.update(owned: Set(plan.keys), now: now))
        return actions
    }

    private func announce(_ scheduled: [AnnouncementScheduler<Instant>.Action]) -> [Action] {
        var actions: [Action] = []
        for action in scheduled {
            switch action {
            case .announce(let address):
                actions += AnswerPlan.announcements(for: address, plan: answers, interfaces: interfaces).map { .send($0.frame, interface: $0.interface) }
            case .scheduleTimer(let at):
                actions.append(.scheduleTimer(at))
            case .startAnswering, .stopAnswering:
                break  // carried by setAnswers
            }
        }
        return actions
    }
}
