import Foundation
import L2Ownership
import LBCore
import Logging
import NIOPosix
import NetPrimitives
import Prometheus
import ServiceLifecycle
import Speaker
import SpeakerCore
import Synchronization
import TestSupport
import Testing
import Announcements

/// The speaker daemon's layer 2 edge with a scripted API and a recording data plane: what it
/// hands the data plane, in what order. Real time, short Lease timings, bounded waits.
struct SpeakerDaemonLayer2Tests {
    /// Acknowledges every Lease write and echoes it on the watch, like a quiet API server;
    /// or, with `releaseHangs`, never answers the release (an API server gone at shutdown).
    final class EchoingAPI: SpeakerAPI {
        let inputs: AsyncStream<SpeakerInput>
        let sink: AsyncStream<SpeakerInput>.Continuation
        let releaseHangs: Bool
        private let version = Mutex(0)

        init(releaseHangs: Bool = false) {
            (inputs, sink) = AsyncStream.makeStream(of: SpeakerInput.self)
            self.releaseHangs = releaseHangs
        }

        func changes() -> AsyncStream<SpeakerInput> { inputs }

        func leaseRequest(_ request: NodeLeaseStateMachine<ContinuousClock.Instant>.Request, node: String) async -> LeaseWriteOutcome {
            let next = version.withLock { $0 += 1; return "\($0)" }
            switch request {
            case .acquire, .renew:
                sink.yield(.lease(node: node, held: true, resourceVersion: next, marker: .probes))
                return .succeeded(resourceVersion: next)
            case .heartbeat:
                sink.yield(.heartbeat(node: node, resourceVersion: next))
                return .succeeded(resourceVersion: next)
            case .release:
                if releaseHangs {
                    try? await Task.sleep(for: .seconds(3600))  // until cancelled
                    return .failed
                }
                sink.yield(.lease(node: node, held: false, resourceVersion: next, marker: .probes))
                return .succeeded(resourceVersion: next)
            case .read:
                return .read(heldBySelf: true, resourceVersion: next)
            }
        }

        func breakLease(node: String, resourceVersion: String) async -> Bool { false }
        /// The Events the daemon asked to record, in order.
        let events = Mutex<[RecordedEvent]>([])
        func record(_ event: RecordedEvent) async { events.withLock { $0.append(event) } }
        func publishReport(_ report: [ServiceKey: String], node: String) async -> Bool { true }
    }

    /// Records what is answered and every announcement, noting those for VIPs not answered at
    /// that moment (the data plane has no socket for them: the frames go nowhere).
    final class RecordingDataPlane: Layer2DataPlane {
        struct Log { var answered: Set<IPAddress> = []; var announced: [IPAddress] = []; var unanswered: [IPAddress] = [] }
        let log = Mutex(Log())

        func answer(_ duties: [IPAddress: [String]]) { log.withLock { $0.answered = Set(duties.keys) } }

        func announce(_ vips: [IPAddress]) {
            log.withLock { log in
                log.announced += vips
                log.unanswered += vips.filter { !log.answered.contains($0) }
            }
        }
    }

    static let vip = IPAddress("192.0.2.200")!

    /// A daemon for node1 owning one layer 2 VIP, run in a ServiceGroup; `finished` turns true
    /// when the group returns.
    final class Running: Sendable {
        let group: ServiceGroup
        let finished = Mutex(false)
        let eventLoops: MultiThreadedEventLoopGroup

        init(group: ServiceGroup, eventLoops: MultiThreadedEventLoopGroup) {
            self.group = group
            self.eventLoops = eventLoops
        }
    }

    static func start(api: EchoingAPI, dataPlane: RecordingDataPlane) -> Running {
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // Deadlines wide enough that a loaded machine (tests in parallel on two cores) does not
        // close the fence: only the order of what reaches the data plane is checked.
        let timings = LeaseTimings(
            renewInterval: .milliseconds(500), renewDeadline: .seconds(5), leaseDuration: .seconds(8),
            handoffDelay: .seconds(6), breakStagger: .zero
        )
        let logger = Logger(label: "test")
        let daemon = SpeakerDaemon(
            nodeName: "node1", api: api, dataPlane: dataPlane, eventLoops: eventLoops, routerID: IPv4Address("192.0.2.11")!,
            timings: timings, registry: PrometheusCollectorRegistry(), logger: logger
        )
        api.sink.yield(.config("address-pools:\n- {name: lan, protocol: layer2, addresses: [192.0.2.200-192.0.2.210]}"))
        api.sink.yield(.nodeUpserted(NodeState(name: "node1")))
        api.sink.yield(.serviceUpserted(SpeakerService(key: ServiceKey(namespace: "default", name: "web"), ips: [vip])))
        api.sink.yield(.endpoints(ServiceKey(namespace: "default", name: "web"), ServiceEndpoints(nodes: ["node1"])))
        api.sink.yield(.synced)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: daemon)], gracefulShutdownSignals: [], logger: logger))
        let running = Running(group: group, eventLoops: eventLoops)
        // Not awaited by the tests: a daemon that never stops must not hang the test run.
        Task {
            try? await group.run()
            running.finished.withLock { $0 = true }
        }
        return running
    }

    @Test func aTakeoversFirstAnnouncementGoesOutThroughTheNewAnswers() async throws {
        let api = EchoingAPI()
        let dataPlane = RecordingDataPlane()
        let running = Self.start(api: api, dataPlane: dataPlane)

        // Once the hand-off delay is over the node owns the VIP: answers, then the burst.
        let announced = await poll(timeout: 90, interval: 0.05) { () async in dataPlane.log.withLock { $0.announced.count >= 2 } }
        await running.group.triggerGracefulShutdown()
        let stopped = await poll(timeout: 60, interval: 0.05) { () async in running.finished.withLock { $0 } }
        let log = dataPlane.log.withLock { $0 }
        #expect(announced, "no takeover burst: \(log)")
        #expect(log.announced.allSatisfy { $0 == Self.vip })
        #expect(log.unanswered.isEmpty, "announced before the data plane answered for it: \(log.unanswered)")
        #expect(stopped)
        #expect(log.answered.isEmpty, "still answering after the stop: \(log.answered)")
        if stopped { try await running.eventLoops.shutdownGracefully() }
    }

    /// SIGTERM with the API server gone: the Lease release never gets an answer. The speaker
    /// stops answering at once and exits after its bounded wait, instead of hanging until the
    /// kubelet kills it.
    @Test func aPlannedStopEndsWhenTheLeaseReleaseGetsNoAnswer() async throws {
        let api = EchoingAPI(releaseHangs: true)
        let dataPlane = RecordingDataPlane()
        let running = Self.start(api: api, dataPlane: dataPlane)
        let answering = await poll(timeout: 90, interval: 0.05) { () async in dataPlane.log.withLock { $0.answered == [Self.vip] } }
        #expect(answering)
        await running.group.triggerGracefulShutdown()
        let silent = await poll(timeout: 30, interval: 0.02) { () async in dataPlane.log.withLock { $0.answered.isEmpty } }
        #expect(silent, "still answering after the stop began")
        let stopped = await poll(timeout: 60, interval: 0.1) { () async in running.finished.withLock { $0 } }
        #expect(stopped, "the speaker did not finish its shutdown without the release's answer")
        if stopped { try await running.eventLoops.shutdownGracefully() }
    }
}
