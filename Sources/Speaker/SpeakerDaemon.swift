import L2Ownership
import LBConfig
import LBCore
import Logging
import NIOCore
import NetPrimitives
import Prometheus
import ServiceLifecycle
import SpeakerCore
import Synchronization
import Announcements

/// `ironlb speaker`: keeps, at every moment, exactly the announcements the cluster calls for.
public final class SpeakerDaemon: Service, Sendable {
    private let api: any SpeakerAPI
    private let state: SpeakerState
    private let leaseRequests: AsyncStream<(NodeLeaseStateMachine<ContinuousClock.Instant>.Request, ContinuousClock.Instant)>
    private let breaks: AsyncStream<PeerLeaseTable<ContinuousClock.Instant>.Break>
    private let events: AsyncStream<RecordedEvent>
    /// "The report changed": the writer reads the newest report when it is ready to write.
    private let reports: AsyncStream<Void>
    private let probes: ProbeTransport?
    private let metrics: SpeakerMetrics

    public init(
        nodeName: String, api: any SpeakerAPI, dataPlane: any Layer2DataPlane = NoLayer2DataPlane(),
        eventLoops: any EventLoopGroup, routerID: IPv4Address, timings: LeaseTimings = .default,
        probing: NodeSpeaker<ContinuousClock.Instant>.Probing? = nil,
        configNamespace: String = ConfigParser.defaultNamespace, configName: String = ConfigParser.defaultName,
        registry: PrometheusCollectorRegistry, logger: Logger
    ) {
        self.api = api
        let (requests, requestSink) = AsyncStream.makeStream(of: (NodeLeaseStateMachine<ContinuousClock.Instant>.Request, ContinuousClock.Instant).self)
        let (breaks, breakSink) = AsyncStream.makeStream(of: PeerLeaseTable<ContinuousClock.Instant>.Break.self)
        let (events, eventSink) = AsyncStream.makeStream(of: RecordedEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        // Only the newest report matters: a change signals, the writer reads the report when it
        // writes (handing over the whole report on every change copied it, 10,000 entries, each time).
        let (reports, reportSink) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.reports = reports
        self.leaseRequests = requests
        self.breaks = breaks
        self.events = events
        let metrics = SpeakerMetrics(registry: registry)
        self.metrics = metrics
        probes = probing.map { ProbeTransport(port: $0.port, group: eventLoops.next(), logger: logger) }
        state = SpeakerState(
            nodeName: nodeName, api: api, dataPlane: dataPlane,
            sessions: BGPSessions(eventLoops: eventLoops, routerID: routerID, logger: logger, metrics: metrics),
            timings: timings, probing: probing, probes: probes, metrics: metrics, logger: logger, leaseRequests: requestSink, breaks: breakSink,
            events: eventSink, reports: reportSink, configSource: (configNamespace, configName)
        )
    }

    /// The per-Service metric series, in the exposition format (appended to the registry's).
    public func serviceMetrics() -> String { metrics.serviceSeriesText() }

    /// Why the speaker is not ready (caches not synced, no configuration), or nil.
    public func notReadyReason() -> String? { state.readiness.withLock { $0 } }

    public func run() async throws {
        let api = self.api
        let state = self.state
        let node = state.nodeName
        let requests = leaseRequests
        let breaks = self.breaks
        let events = self.events
        let reports = self.reports
        let probes = self.probes
        // The probe port opens before the Lease is taken: a peer that probes this node once it
        // sees the Lease must not find the port closed (that reads as a dead speaker).
        if let probes { try await probes.bind() }
        await state.start()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await batch in api.changeBatches() { await state.apply(batch) }
            }
            // Lease writes, one at a time, in order; each outcome goes back to the state machine.
            group.addTask {
                for await (request, sentAt) in requests {
                    let outcome = await api.leaseRequest(request, node: node)
                    await state.leaseOutcome(request, sentAt: sentAt, outcome: outcome)
                }
            }
            group.addTask {
                for await event in events { await api.record(event) }
            }
            // The announcement report: written when it changes, at most about 4 times a second;
            // a failed write is retried (a newer report, if any, follows it).
            group.addTask {
                for await _ in reports {
                    let report = await state.currentReport()
                    while !Task.isCancelled, await !api.publishReport(report, node: node) {
                        try? await Task.sleep(for: .seconds(1))
                    }
                    try? await Task.sleep(for: .milliseconds(250))
                }
            }
            group.addTask {
                for await lease in breaks {
                    _ = await api.breakLease(node: lease.node, resourceVersion: lease.resourceVersion)
                }
            }
            if let probes {
                group.addTask {
                    for await event in probes.inbound { await state.probe(event) }
                }
            }
            // Timers: the lease machine, Lease breaking, probes and takeover bursts all ask for
            // instants. A tick far later than asked means the process did not run (SIGSTOP, a
            // starved machine): its view may be stale, it stops answering until it is fresh.
            group.addTask {
                let clock = ContinuousClock()
                var last = clock.now
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    let now = clock.now
                    if last.duration(to: now) > Self.stallLimit { await state.stalled(for: last.duration(to: now)) }
                    last = now
                    await state.tick()
                }
            }
            try? await gracefulShutdown()
            // Planned shutdown: stop answering and release the Lease first, then withdraw and
            // Cease on every BGP session.
            await state.shutdown()
            group.cancelAll()
            probes?.close()
        }
    }

    /// A timer tick this late means the process was not running.
    static let stallLimit: Duration = .seconds(1)
}

/// The one owner of the speaker's state: feeds NodeSpeaker (pure) and performs its actions.
/// No method suspends mid-decision except `shutdown`.
actor SpeakerState {
    typealias Instant = ContinuousClock.Instant

    let nodeName: String
    private let api: any SpeakerAPI
    private let dataPlane: any Layer2DataPlane
    private let sessions: BGPSessions
    private let metrics: SpeakerMetrics
    private let logger: Logger
    private let leaseRequests: AsyncStream<(NodeLeaseStateMachine<Instant>.Request, Instant)>.Continuation
    private let breaks: AsyncStream<PeerLeaseTable<Instant>.Break>.Continuation
    private let events: AsyncStream<RecordedEvent>.Continuation
    private let reports: AsyncStream<Void>.Continuation
    /// The config ConfigMap's namespace and name: where a refused configuration's Event goes
    /// when no metallb.io object is to blame.
    private let configSource: (namespace: String, name: String)
    private let clock = ContinuousClock()
    private var node: NodeSpeaker<Instant>
    private var shuttingDown = false
    /// Within `apply(_ batch:)`: route changes wait in `pendingRoutes` until its end.
    private var batching = false
    private var pendingRoutes: [IPPrefix: RouteAttributes?] = [:]
    nonisolated let readiness = Mutex<String?>("caches not synced")
    private let probes: ProbeTransport?

    init(
        nodeName: String, api: any SpeakerAPI, dataPlane: any Layer2DataPlane, sessions: BGPSessions, timings: LeaseTimings,
        probing: NodeSpeaker<Instant>.Probing?, probes: ProbeTransport?, metrics: SpeakerMetrics, logger: Logger,
        leaseRequests: AsyncStream<(NodeLeaseStateMachine<Instant>.Request, Instant)>.Continuation,
        breaks: AsyncStream<PeerLeaseTable<Instant>.Break>.Continuation,
        events: AsyncStream<RecordedEvent>.Continuation,
        reports: AsyncStream<Void>.Continuation,
        configSource: (namespace: String, name: String)
    ) {
        self.configSource = configSource
        self.events = events
        self.reports = reports
        self.nodeName = nodeName
        self.api = api
        self.dataPlane = dataPlane
        self.sessions = sessions
        self.metrics = metrics
        self.logger = logger
        self.leaseRequests = leaseRequests
        self.breaks = breaks
        self.probes = probes
        node = NodeSpeaker(nodeName: nodeName, timings: timings, probing: probing)
    }

    func probe(_ event: ProbeTransport.Event) {
        switch event {
        case .datagram(let bytes, let from): perform(node.probeReceived(bytes, from: from, now: clock.now))
        case .refused(let peer): perform(node.probeRefused(node: peer, now: clock.now))
        }
    }

    func stalled(for gap: Duration) {
        logger.warning("layer 2: the speaker did not run for \(gap); stops answering until its Lease is renewed")
        perform(node.stalled(now: clock.now))
    }

    func start() {
        perform(node.start(now: clock.now))
    }

    func apply(_ input: SpeakerInput) {
        perform(node.apply(input, now: clock.now))
        if case .config = input { logConfig(node.configOutcome) }
    }

    /// Decides each input in order; the route changes of the batch go to the BGP sessions once,
    /// at its end (one UPDATE pass per session instead of one per input).
    func apply(_ batch: [SpeakerInput]) {
        batching = true
        for input in batch { apply(input) }
        batching = false
        flushRoutes()
    }

    /// Sends the route changes held during a batch.
    private func flushRoutes() {
        guard !pendingRoutes.isEmpty else { return }
        let routes = pendingRoutes
        pendingRoutes = [:]
        if !shuttingDown {
            sessions.apply(
                peers: nil, routes: routes, allRoutes: { node.core.routes }, routeCount: node.core.routeCount, node: node.core.me,
                bfdProfiles: node.core.config.current?.bfdProfiles ?? []
            )
        }
    }

    func leaseOutcome(_ request: NodeLeaseStateMachine<Instant>.Request, sentAt: Instant, outcome: LeaseWriteOutcome) {
        perform(node.leaseOutcome(sentAt: sentAt, outcome, now: clock.now))
    }

    func tick() {
        perform(node.timerFired(now: clock.now))
    }

    /// Stops answering, releases the Lease (bounded wait), then closes the BGP sessions.
    func shutdown() async {
        shuttingDown = true
        perform(node.shutdown(now: clock.now))
        // The release's outcome arrives through `leaseOutcome` while this waits (the actor is
        // free during the sleeps). Bounded, and over at once when the task is cancelled: a
        // continuation resumed only by that outcome kept a task group (and the process) waiting
        // forever when the write never got an answer, or when cancellation had already ended
        // the loop that performs Lease writes.
        let deadline = clock.now.advanced(by: Self.releaseWait)
        while !node.isDone && clock.now < deadline && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
        }
        await sessions.shutdown()
    }

    /// How long a planned shutdown waits for the Lease release before going on without it.
    static let releaseWait: Duration = .seconds(5)

    private func logConfig(_ outcome: ConfigKeeper.Outcome?) {
        switch outcome {
        case .applied(let configuration):
            logger.info("configuration loaded", metadata: ["lb.pools": "\(configuration.pools.count)", "lb.peers": "\(configuration.peers.count)"])
        case .rejected(let errors):
            let problems = errors.errors.map(\.description)
            logger.error("configuration is invalid; keeping the last good one", metadata: ["lb.errors": .array(problems.map { .string($0) })])
            // The controller's Event, from this node too: each speaker keeps its own last good one.
            let event = RecordedEvent.configurationRefused(
                reason: "InvalidConfig", headline: "configuration is invalid; keeping the last good one", problems: problems, errors: errors,
                configNamespace: configSource.namespace, configName: configSource.name
            )
            if case .dropped = events.yield(event) { metrics.eventDropped() }
        case .missing:
            logger.warning("no configuration ConfigMap; announcing what the last good configuration says, if any")
        case .unchanged, nil:
            break
        }
    }

    private func perform(_ actions: [NodeSpeaker<Instant>.Action]) {
        for action in actions {
            switch action {
            case .lease(let request, let sentAt): leaseRequests.yield((request, sentAt))
            case .breakLease(let node, let version): breaks.yield(PeerLeaseTable<Instant>.Break(node: node, resourceVersion: version))
            case .apply(let change): applyChange(change)
            case .announce(let vip): dataPlane.announce([vip])
            case .answering(true): logger.info("layer 2: this node may answer (its Lease is held and fresh)")
            case .answering(false): logger.warning("layer 2: this node stops answering (Lease released, lost or not fresh)")
            case .scheduleTimer: break          // the tick loop looks every 200 ms
            case .exit:
                break                           // `shutdown` waits for `node.isDone`
            case .sendProbe(let bytes, let to, let peer): probes?.send(bytes, to: to, node: peer)
            case .replyProbe(let bytes, let to): probes?.reply(bytes, to: to)
            case .peerDead(let peer, let refused):
                logger.warning("layer 2: speaker on \(peer) is dead (\(refused ? "its kernel refused the probe port" : "no answer to direct or indirect probes")); breaking its Lease")
                metrics.peerDeclaredDead(refused: refused)
            case .peerFenced(let peer):
                logger.warning("layer 2: speaker on \(peer) says its fence is closed (it answers nothing); breaking its Lease")
                metrics.peerDeclaredDead(refused: false)
            case .probeRejected(let reason): metrics.probeRejected(reason)
            case .yielded(let peer): logger.info("layer 2: yielded to \(peer)'s claim (stopped answering what it outranks this node for)")
            case .claimGranted: logger.info("layer 2: every live peer yielded to this node's claim")
            }
        }
        let core = node.core
        metrics.config(loaded: core.config.current != nil, stale: core.config.stale)
        readiness.withLock { $0 = !node.isSynced ? "caches not synced" : (core.config.current == nil ? "no valid configuration loaded" : nil) }
    }

    /// Applies a plan change: BGP peers and routes (left to `shutdown` on the way out), layer 2
    /// duties, and for each Service whose announcements changed: its Event when this node
    /// starts announcing it, its metrics, its line in the announcement report.
    private func applyChange(_ change: SpeakerPlanChange) {
        if batching && change.peers == nil {
            for (prefix, attributes) in change.routes { pendingRoutes.updateValue(attributes, forKey: prefix) }
        } else {
            // A change of peers goes out at once, after the routes held so far (a new session
            // starts with every route the sessions carry).
            flushRoutes()
            if !shuttingDown {
                sessions.apply(
                    peers: change.peers, routes: change.routes, allRoutes: { node.core.routes }, routeCount: node.core.routeCount, node: node.core.me,
                    bfdProfiles: node.core.config.current?.bfdProfiles ?? []
                )
            }
        }
        if let layer2 = change.layer2 { dataPlane.answer(layer2.mapValues(\.interfaces)) }
        guard !change.announced.isEmpty || !change.withheld.isEmpty else { return }
        // The metric series say which Services this node announced before: a Service it starts
        // announcing gets its Event.
        for (service, ways) in change.announced.sorted(by: { $0.key < $1.key }) {
            let starts = metrics.announced(service, ways ?? [])
            if let ways, starts {
                let event = RecordedEvent(.service(service), .normal, "nodeAssigned", Self.describe(ways, node: nodeName))
                logger.info("\(event.reason): \(event.message)", metadata: ["lb.service": "\(service)"])
                if case .dropped = events.yield(event) { metrics.eventDropped() }
            }
        }
        // Services no node announces (no usable endpoint): the metric names them, and the
        // report says why (`currentReport`).
        for (service, reason) in change.withheld { metrics.withheld(service, reason: reason) }
        // Not on the way out: the released Lease already tells the controller this node is gone.
        if !shuttingDown { reports.yield(()) }
    }

    /// The announcement report now (for its writer), read from the plan when it is written (at
    /// most about 4 times a second) instead of kept beside it: how this node announces each
    /// Service, and for the Services no node announces (no usable endpoint), why, for the
    /// announced-by annotation. What was handed out is what the plan holds: nothing before the
    /// caches synced, and no announcement once the speaker is shutting down.
    func currentReport() -> [ServiceKey: String] {
        var report: [ServiceKey: String] = [:]
        guard node.isSynced else { return report }
        // Nearly every Service is announced one way to the same peers: its text is built once.
        var bgpOnly: [Int: String] = [:]
        node.core.forEachService { service, ways, withheld in
            if let ways, !shuttingDown {
                if ways.count == 1, case .bgp(_, let peers) = ways[0] {
                    let text = bgpOnly[peers] ?? Self.way(ways)
                    bgpOnly[peers] = text
                    report[service] = text
                } else {
                    report[service] = Self.way(ways)
                }
            } else if let withheld {
                report[service] = AnnouncementReport.withheldWay(withheld.rawValue)
            }
        }
        return report
    }

    /// How the node announces a Service, for its report: `layer2`, `layer2 eth1`, `bgp 2 peers`.
    static func way(_ ways: [Announcement]) -> String {
        ways.map { way in
            switch way {
            case .layer2(_, let interfaces): return interfaces.isEmpty ? "layer2" : "layer2 " + interfaces.joined(separator: ",")
            case .bgp(_, let peers): return "bgp \(peers) \(peers == 1 ? "peer" : "peers")"
            }
        }.joined(separator: " + ")
    }

    static func describe(_ ways: [Announcement], node: String) -> String {
        ways.map { way in
            switch way {
            case .layer2(_, let interfaces):
                return "announcing from node \(node) via layer2" + (interfaces.isEmpty ? "" : " on \(interfaces.joined(separator: ", "))")
            case .bgp(_, let peers):
                return "announcing from node \(node) via BGP to \(peers) \(peers == 1 ? "peer" : "peers")"
            }
        }.joined(separator: "; ")
    }
}

