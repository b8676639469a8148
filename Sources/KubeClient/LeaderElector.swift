#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeModel
import NIOConcurrencyHelpers
import LeaderElection

/// Leader election on a Lease (client-go semantics): drives `LeaderElectionStateMachine` with
/// GET/POST/PUT on `leases.coordination.k8s.io`, publishes leadership changes on `leadership`,
/// and releases the Lease when the running task is cancelled (ReleaseOnCancel).
public final class LeaderElector: Sendable {
    public let client: KubeClient
    public let namespace: String
    public let name: String
    public let config: LeaderElectionConfig
    /// true when this candidate becomes leader, false when it stops leading.
    public let leadership: AsyncStream<Bool>
    private let continuation: AsyncStream<Bool>.Continuation
    private let box = NIOLockedValueBox<(leader: Bool, validUntil: ContinuousClock.Instant?)>((false, nil))
    private let wallNow: @Sendable () -> KubeTime
    private let origin = ContinuousClock.now
    /// Release the Lease when cancelled (client-go ReleaseOnCancel). false simulates a crash.
    public let releaseOnCancel: Bool

    public init(client: KubeClient, namespace: String, name: String, config: LeaderElectionConfig, releaseOnCancel: Bool = true,
                wallNow: @escaping @Sendable () -> KubeTime = { KubeTime(epochNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9)) }) throws {
        try config.validate()
        self.client = client
        self.namespace = namespace
        self.name = name
        self.config = config
        self.wallNow = wallNow
        self.releaseOnCancel = releaseOnCancel
        (leadership, continuation) = AsyncStream.makeStream(of: Bool.self, bufferingPolicy: .unbounded)
    }

    /// Whether this candidate may act as leader right now: it holds the Lease and its last
    /// successful renewal is less than RenewDeadline ago (fencing on the monotonic clock).
    public var isLeader: Bool {
        box.withLockedValue { s in
            guard s.leader, let until = s.validUntil else { return false }
            return ContinuousClock.now < until
        }
    }

    private var now: Duration { ContinuousClock.now - origin }

    /// Runs the election until the task is cancelled, then releases the Lease if held.
    public func run() async {
        var sm = LeaderElectionStateMachine(config: config)
        var lease: V1Lease?
        var action = sm.start(now: now)
        var cancelled = false
        defer { continuation.finish() }
        while true {
            publish(sm)
            switch action {
            case .finished:
                publish(sm)
                return
            case .sleep(let d):
                if cancelled || Task.isCancelled {
                    if !releaseOnCancel { box.withLockedValue { $0 = (false, nil) }; return }
                    cancelled = true
                    action = sm.cancel(now: now, wallNow: wallNow())
                    continue
                }
                do {
                    try await Task.sleep(for: sm.jittered(d, random: client.random()))
                } catch {
                    if !releaseOnCancel { box.withLockedValue { $0 = (false, nil) }; return }
                    cancelled = true
                    action = sm.cancel(now: now, wallNow: wallNow())
                    continue
                }
                action = sm.timerFired(now: now, wallNow: wallNow())
            case .get:
                let result = await shielded(cancelled) { () async throws -> V1Lease in
                    try await self.client.get(V1Lease.self, namespace: self.namespace, name: self.name)
                }
                switch result {
                case .success(let l):
                    lease = l
                    action = sm.getSucceeded(LeaseRecord(spec: l.spec), resourceVersion: l.metadata.resourceVersion ?? "", now: now, wallNow: wallNow())
                case .failure(let e as KubeAPIError) where e.isNotFound:
                    action = sm.getNotFound(now: now, wallNow: wallNow())
                case .failure:
                    action = sm.getFailed(now: now)
                }
            case .create(let rec):
                let obj = V1Lease(metadata: ObjectMeta(name: name, namespace: namespace), spec: rec.apply(to: nil))
                let result = await shielded(cancelled) { try await self.client.create(obj) }
                action = written(&sm, &lease, result)
            case .update(let rec, let rv):
                var obj = lease ?? V1Lease(metadata: ObjectMeta(name: name, namespace: namespace))
                obj.spec = rec.apply(to: obj.spec)
                obj.metadata.resourceVersion = rv
                let toSend = obj
                let result = await shielded(cancelled) { try await self.client.update(toSend) }
                action = written(&sm, &lease, result)
            }
            if Task.isCancelled && !cancelled {
                // Let the in-flight attempt finish its bookkeeping, then release at the next sleep.
            }
        }
    }

    private func written(_ sm: inout LeaderElectionStateMachine, _ lease: inout V1Lease?, _ result: Result<V1Lease, any Error>) -> LeaderElectionStateMachine.Action {
        switch result {
        case .success(let l):
            lease = l
            return sm.writeSucceeded(resourceVersion: l.metadata.resourceVersion ?? "", now: now)
        case .failure(let e as KubeAPIError):
            return sm.writeFailed(conflict: e.code == 409, now: now)
        case .failure:
            return sm.writeFailed(conflict: false, now: now)
        }
    }

    /// Runs an API call; after cancellation it runs in a fresh task so the release still goes out.
    private func shielded<R: Sendable>(_ cancelled: Bool, _ body: @escaping @Sendable () async throws -> R) async -> Result<R, any Error> {
        if cancelled || Task.isCancelled {
            return await Task { () async -> Result<R, any Error> in
                do { return .success(try await body()) } catch { return .failure(error) }
            }.value
        }
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    private func publish(_ sm: LeaderElectionStateMachine) {
        let leader = sm.isLeader
        let until = sm.leadershipValidUntil.map { origin + $0 }
        let changed = box.withLockedValue { s -> Bool in
            let c = s.leader != leader
            s = (leader, until)
            return c
        }
        if changed { continuation.yield(leader) }
    }
}
