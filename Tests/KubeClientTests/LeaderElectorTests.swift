import Foundation
import KubeModel
import KubeSim
import NIOConcurrencyHelpers
import Testing
@testable import KubeClient
@testable import LeaderElection

@Suite(.serialized) struct LeaderElectorTests {
    static func config(_ id: String, leaseDuration: Duration = .seconds(3), renewDeadline: Duration = .seconds(2)) -> LeaderElectionConfig {
        LeaderElectionConfig(identity: id, leaseDuration: leaseDuration, renewDeadline: renewDeadline, retryPeriod: .milliseconds(400))
    }

    /// Samples `isLeader` of all electors every 10 ms; records the maximum seen at once.
    final class Observer: Sendable {
        let maxAtOnce = NIOLockedValueBox(0)
        let samples = NIOLockedValueBox<[(ContinuousClock.Instant, [Int])]>([])
        func sample(_ electors: [LeaderElector]) {
            let leaders = electors.indices.filter { electors[$0].isLeader }
            maxAtOnce.withLockedValue { $0 = max($0, leaders.count) }
            samples.withLockedValue { $0.append((.now, leaders)) }
        }
        func firstTime(_ pred: ([Int]) -> Bool, after: ContinuousClock.Instant) -> ContinuousClock.Instant? {
            samples.withLockedValue { s in s.first { $0.0 >= after && pred($0.1) }?.0 }
        }
    }

    func runElectors(_ f: SimFixture, count: Int, release: [Bool], leaseDuration: Duration = .seconds(3), renewDeadline: Duration = .seconds(2)) throws -> ([LeaderElector], [Task<Void, Never>]) {
        let electors = try (0..<count).map {
            try LeaderElector(client: f.client, namespace: "kube-system", name: "ironlb-controller",
                              config: Self.config("node-\($0)", leaseDuration: leaseDuration, renewDeadline: renewDeadline), releaseOnCancel: release[$0])
        }
        let tasks = electors.map { e in Task { await e.run() } }
        return (electors, tasks)
    }

    @Test func oneLeaderAndTakeoverAfterLeaderStopsRenewing() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        // Timings long enough that a loaded machine (CI runs suites in parallel) does not miss renewals.
        let (electors, tasks) = try runElectors(f, count: 3, release: [false, false, false], leaseDuration: .seconds(10), renewDeadline: .seconds(8))
        let obs = Observer()
        let sampler = Task { while !Task.isCancelled { obs.sample(electors); try? await Task.sleep(for: .milliseconds(10)) } }
        #expect(await waitUntil(.seconds(120)) { electors.filter(\.isLeader).count == 1 })
        try await Task.sleep(for: .seconds(3))
        #expect(await waitUntil(.seconds(60)) { electors.filter(\.isLeader).count == 1 })
        let maybeLeader = electors.firstIndex { $0.isLeader }
        let leader = try #require(maybeLeader)
        let before = try await f.client.get(V1Lease.self, namespace: "kube-system", name: "ironlb-controller")
        #expect(before.spec?.holderIdentity == "node-\(leader)")
        #expect(before.spec?.renewTime?.description.count == 27)  // MicroTime: 6 fractional digits
        // The leader stops renewing (crash: no release).
        let stopped = ContinuousClock.now
        tasks[leader].cancel()
        await tasks[leader].value
        #expect(await waitUntil(.seconds(120)) { electors.filter(\.isLeader).count == 1 && !electors[leader].isLeader })
        try await Task.sleep(for: .milliseconds(50))
        let took = try #require(obs.firstTime({ $0.count == 1 && $0[0] != leader }, after: stopped))
        // Not before a full leaseDuration after the last renewal the others observed.
        #expect(took - stopped >= .seconds(2))
        sampler.cancel()
        #expect(obs.maxAtOnce.withLockedValue { $0 } <= 1)
        let after = try await f.client.get(V1Lease.self, namespace: "kube-system", name: "ironlb-controller")
        #expect(after.spec?.leaseTransitions == (before.spec?.leaseTransitions ?? 0) + 1)
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
    }

    @Test func releaseOnCancelGivesImmediateTakeover() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        // A long lease: without the release, takeover would need 60 s; with it, the next retry.
        let (electors, tasks) = try runElectors(f, count: 2, release: [true, true], leaseDuration: .seconds(60), renewDeadline: .seconds(20))
        let obs = Observer()
        let sampler = Task { while !Task.isCancelled { obs.sample(electors); try? await Task.sleep(for: .milliseconds(10)) } }
        #expect(await waitUntil(.seconds(120)) { electors.filter(\.isLeader).count == 1 })
        let maybeLeader = electors.firstIndex { $0.isLeader }
        let leader = try #require(maybeLeader)
        var changes: [Bool] = []
        let released = ContinuousClock.now
        tasks[leader].cancel()
        await tasks[leader].value
        for await c in electors[leader].leadership { changes.append(c) }
        #expect(changes == [true, false])
        let lease = try await f.client.get(V1Lease.self, namespace: "kube-system", name: "ironlb-controller")
        #expect(lease.spec?.holderIdentity == "" || lease.spec?.holderIdentity == "node-\(1 - leader)")
        #expect(await waitUntil(.seconds(50)) { electors[1 - leader].isLeader })
        let took = ContinuousClock.now
        #expect(took - released < .seconds(60))
        sampler.cancel()
        #expect(obs.maxAtOnce.withLockedValue { $0 } <= 1)
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
    }

    @Test func leaderStopsWhenTheAPIIsUnreachable() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        let (electors, tasks) = try runElectors(f, count: 1, release: [true])
        #expect(await waitUntil(.seconds(120)) { electors[0].isLeader })
        // The server stays unreachable until the elector has stepped down, however late a loaded
        // machine runs its timers (how soon it must stop is the state machine's test, with a manual
        // clock: LeaderElectionTests); then it comes back.
        f.sim.makeUnreachable(for: .seconds(600))
        #expect(await waitUntil(.seconds(120)) { !electors[0].isLeader })
        f.sim.clearFaults()
        #expect(await waitUntil(.seconds(120)) { electors[0].isLeader })
        tasks[0].cancel()
        await tasks[0].value
    }
}
