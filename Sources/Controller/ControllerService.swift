import LBCore
import Logging
import NetPrimitives
import Prometheus
import ServiceLifecycle
import Synchronization
import ControllerCore
import Announcements

/// `ironlb controller`: informer changes in, allocations out, while this replica leads.
public final class ControllerService: Service, Sendable {
    private let api: any ControllerAPI
    private let leadership: any LeadershipSource
    private let state: ControllerState

    public init(
        api: any ControllerAPI, leadership: any LeadershipSource = AlwaysLeader(),
        settings: ControllerCore.Settings = .init(), registry: PrometheusCollectorRegistry, logger: Logger,
        retryDelay: @escaping @Sendable (Int) -> Duration
    ) {
        self.api = api
        self.leadership = leadership
        let writer = StatusWriter<AllocationWish>(retryDelay: retryDelay) { service, wish in
            await api.writeStatus(service, ips: wish.ips, pool: wish.pool)
        }
        let annotations = StatusWriter<String?>(retryDelay: retryDelay) { service, value in
            await api.writeAnnouncedBy(service, value)
        }
        let metrics = ControllerMetrics(registry: registry)
        state = ControllerState(writer: writer, annotations: annotations, events: EventSink(api: api, dropped: metrics.eventsDropped),
                                settings: settings, metrics: metrics, logger: logger)
    }

    /// Why the controller is not ready (caches not synced, no configuration), or nil.
    public func notReadyReason() -> String? { state.readiness.withLock { $0 } }

    public func run() async throws {
        let api = self.api
        let leadership = self.leadership
        let state = self.state
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await state.writer.run() }
            group.addTask { await state.annotations.run() }
            group.addTask { await state.events.run() }
            group.addTask {
                for await leading in leadership.leadership() { await state.setLeader(leading) }
            }
            group.addTask {
                // Stop at shutdown even with a backlog: AsyncStream still hands out buffered
                // elements after cancellation, and the next leader decides anew anyway.
                for await input in api.changes() {
                    if Task.isCancelled { break }
                    await state.apply(input)
                }
            }
            group.addTask {
                try? await gracefulShutdown()
            }
            // Shutdown (or any part ending) stops everything.
            await group.next()
            group.cancelAll()
        }
        await state.setLeader(false)
        state.events.finish()
    }
}

/// The one owner of the controller's mutable state. Its methods never suspend: each input is
/// decided and its actions queued atomically, in input order.
actor ControllerState {
    let writer: StatusWriter<AllocationWish>
    let annotations: StatusWriter<String?>
    let events: EventSink
    let settings: ControllerCore.Settings
    let metrics: ControllerMetrics
    let logger: Logger
    private var snapshot = ClusterSnapshot()
    private var core: ControllerCore?
    /// Every replica follows the speakers' reports; only the leader writes.
    private var announcedBy = AnnouncedByIndex()
    /// Services whose `NotAnnounced` Event was recorded, with the reason it gave.
    private var withheldNotified: [ServiceKey: String] = [:]
    private var metricPools: Set<[String]> = []
    nonisolated let readiness = Mutex<String?>("caches not synced")

    init(writer: StatusWriter<AllocationWish>, annotations: StatusWriter<String?>, events: EventSink, settings: ControllerCore.Settings,
         metrics: ControllerMetrics, logger: Logger) {
        self.writer = writer
        self.annotations = annotations
        self.events = events
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
    }

    func apply(_ input: ControllerInput) {
        // Mutate the core in place: a copy (`if var current = core`) would share the allocator's
        // storage with `core` and make every mutation copy all of it (O(Services) per input).
        if core != nil {
            // The leader's Services live in the core only: one table of 10,000 `ServiceState`s
            // is 3 MiB, and the snapshot would hold the same values again.
            snapshot.apply(input, services: false)
            let actions = core!.apply(input)
            perform(actions)
        } else {
            snapshot.apply(input)
        }
        switch input {
        case .announcements(let node, let report): reconcileAnnouncedBy(announcedBy.reportChanged(node: node, report))
        case .speakerLease(let node, let held): reconcileAnnouncedBy(announcedBy.livenessChanged(node: node, live: held))
        case .serviceUpserted(let state): reconcileAnnouncedBy([state.key])
        case .synced: reconcileAnnouncedBy(services.keys.sorted())
        case .serviceDeleted(let key): withheldNotified[key] = nil
        case .config, .namespace: break
        }
        refresh()
    }

    /// Queues an annotation patch for each of these Services whose `ironlb.io/announced-by`
    /// differs from what the speakers report (leader only; nothing for Services not ours). Waits
    /// for every informer's first list, so a restart does not clear values it has not read yet.
    private func reconcileAnnouncedBy(_ keys: some Sequence<ServiceKey>) {
        guard core != nil, snapshot.synced else { return }
        for key in keys {
            guard let service = core?.services[key] else { continue }
            let wanted = service.isLoadBalancer && !service.isDeleting ? announcedBy.value(for: key) : nil
            let current = service.annotations[AnnouncedByIndex.annotation]
            // Why a Service with an IP is not announced, where `kubectl describe svc` shows it:
            // once per stretch (not again while the annotation write is under way, nor after a
            // restart that finds the annotation already saying it).
            let reason = wanted.flatMap { AnnouncedByIndex.withheldReason(annotation: $0) }
            if let reason, withheldNotified[key] != reason, current.flatMap({ AnnouncedByIndex.withheldReason(annotation: $0) }) != reason {
                perform([.event(RecordedEvent(.service(key), .normal, "NotAnnounced", "no node announces the Service: \(reason)"))])
            }
            withheldNotified[key] = reason
            if current != wanted { annotations.enqueue(key, wanted) }
        }
    }

    func setLeader(_ leading: Bool) {
        if leading, core == nil {
            logger.info("leading: rebuilding state from the informer caches")
            let (fresh, actions) = snapshot.makeCore(settings: settings)
            core = fresh
            snapshot.services = [:]        // the core holds them now
            perform(actions)
            reconcileAnnouncedBy(services.keys.sorted())
        } else if !leading, let core {
            logger.info("no longer leading: stopping writes")
            snapshot.services = core.services
            self.core = nil
            writer.abandon()
            annotations.abandon()
            withheldNotified = [:]
        }
        refresh()
    }

    /// Every Service known: the core's while leading, else the snapshot's.
    private var services: [ServiceKey: ServiceState] { core?.services ?? snapshot.services }

    private func refresh() {
        metrics.update(core: core, isLeader: core != nil, previousPools: &metricPools)
        let reason: String?
        if !snapshot.synced {
            reason = "caches not synced"
        } else if let core, !core.configLoaded {
            reason = "no valid configuration loaded"
        } else {
            reason = nil
        }
        readiness.withLock { $0 = reason }
    }

    private func perform(_ actions: [ControllerAction]) {
        for action in actions {
            switch action {
            case .setStatus(let service, let ips, let pool):
                writer.enqueue(service, AllocationWish(ips: ips, pool: pool))
            case .clearStatus(let service):
                writer.enqueue(service, AllocationWish(ips: [], pool: nil))
            case .event(let event):
                events.record(event)
                let level: Logger.Level = event.kind == .warning ? .warning : .info
                logger.log(level: level, "\(event.reason): \(event.message)", metadata: Self.metadata(for: event.object))
            case .log(let level, let message):
                switch level {
                case .info: logger.info("\(message)")
                case .warning: logger.warning("\(message)")
                case .error: logger.error("\(message)")
                }
            }
        }
    }

    private static func metadata(for object: RecordedEvent.Object) -> Logger.Metadata {
        switch object {
        case .service(let key): return ["lb.service": "\(key)"]
        case .configMap(let namespace, let name): return ["lb.configmap": "\(namespace)/\(name)"]
        case .resource(let kind, let namespace, let name): return ["lb.object": "\(kind) \(namespace)/\(name)"]
        }
    }
}
