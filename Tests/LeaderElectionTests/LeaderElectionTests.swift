import Testing
@testable import KubeModel
@testable import LeaderElection

/// A virtual-time harness: electors share a fake Lease store; API calls are instantaneous.
struct ElectionHarness {
    struct Elector {
        var stateMachine: LeaderElectionStateMachine
        var wake: Duration
        var alive = true       // false = crashed (stops doing anything)
        var apiDown = false    // its requests fail
        var wallOffset: Duration = .zero
        var finished = false
    }

    var record: LeaseRecord?
    var resourceVersion = 0
    var electors: [Elector] = []
    var now: Duration = .zero
    var wallEpoch = KubeTime(seconds: 1_700_000_000)
    var random: Double = 0.5

    init(identities: [String], config: (String) -> LeaderElectionConfig = { LeaderElectionConfig(identity: $0) }) {
        for (index, id) in identities.enumerated() {
            electors.append(Elector(stateMachine: LeaderElectionStateMachine(config: config(id)), wake: .milliseconds(100 * index)))
        }
    }

    func wall(_ index: Int) -> KubeTime { wallEpoch + now + electors[index].wallOffset }

    /// Runs one elector's action chain until it sleeps.
    mutating func drive(_ index: Int, _ first: LeaderElectionStateMachine.Action) {
        var action = first
        while true {
            switch action {
            case .sleep(let delay):
                electors[index].wake = now + electors[index].stateMachine.jittered(delay, random: random)
                return
            case .finished:
                electors[index].finished = true
                return
            case .get:
                if electors[index].apiDown { action = electors[index].stateMachine.getFailed(now: now); continue }
                if let stored = record {
                    action = electors[index].stateMachine.getSucceeded(stored, resourceVersion: String(resourceVersion), now: now, wallNow: wall(index))
                } else {
                    action = electors[index].stateMachine.getNotFound(now: now, wallNow: wall(index))
                }
            case .create(let created):
                if electors[index].apiDown || record != nil { action = electors[index].stateMachine.writeFailed(conflict: record != nil, now: now); continue }
                record = created
                resourceVersion += 1
                action = electors[index].stateMachine.writeSucceeded(resourceVersion: String(resourceVersion), now: now)
            case .update(let updated, let expectedVersion):
                if electors[index].apiDown { action = electors[index].stateMachine.writeFailed(conflict: false, now: now); continue }
                guard expectedVersion == String(resourceVersion) else { action = electors[index].stateMachine.writeFailed(conflict: true, now: now); continue }
                record = updated
                resourceVersion += 1
                action = electors[index].stateMachine.writeSucceeded(resourceVersion: String(resourceVersion), now: now)
            }
        }
    }

    mutating func start() {
        for index in electors.indices { drive(index, electors[index].stateMachine.start(now: now)) }
    }

    /// Advances virtual time to `until`, checking that at most one elector believes it leads.
    mutating func run(until: Duration, check: (ElectionHarness) -> Void = { _ in }) {
        while true {
            guard let index = electors.indices.filter({ electors[$0].alive && !electors[$0].finished }).min(by: { electors[$0].wake < electors[$1].wake }),
                  electors[index].wake <= until
            else { now = until; return }
            now = electors[index].wake
            drive(index, electors[index].stateMachine.timerFired(now: now, wallNow: wall(index)))
            check(self)
        }
    }

    var leaders: [Int] { electors.indices.filter { electors[$0].alive && electors[$0].stateMachine.isLeader } }
}

@Suite struct LeaderElectionTests {
    @Test func defaultsValidate() throws {
        try LeaderElectionConfig(identity: "a").validate()
        #expect(throws: LeaderElectionConfig.Invalid.self) { try LeaderElectionConfig(identity: "").validate() }
        #expect(throws: LeaderElectionConfig.Invalid.self) {
            try LeaderElectionConfig(identity: "a", leaseDuration: .seconds(10), renewDeadline: .seconds(10)).validate()
        }
        #expect(throws: LeaderElectionConfig.Invalid.self) {
            try LeaderElectionConfig(identity: "a", renewDeadline: .seconds(2), retryPeriod: .seconds(2)).validate()
        }
    }

    @Test func firstCandidateCreatesTheLease() {
        var stateMachine = LeaderElectionStateMachine(config: LeaderElectionConfig(identity: "a"))
        #expect(stateMachine.start(now: .zero) == .get)
        let wall = KubeTime(seconds: 100)
        guard case .create(let created) = stateMachine.getNotFound(now: .zero, wallNow: wall) else { Issue.record("expected create"); return }
        #expect(created.holderIdentity == "a" && created.leaseDurationSeconds == 15 && created.leaseTransitions == 0)
        #expect(created.acquireTime == MicroTime(wall))
        #expect(stateMachine.writeSucceeded(resourceVersion: "1", now: .zero) == .sleep(.seconds(2)))
        #expect(stateMachine.isLeader)
        // Fast path renew: PUT the cached record with a new renewTime, same acquireTime.
        guard case .update(let renewed, let resourceVersion) = stateMachine.timerFired(now: .seconds(2), wallNow: wall + .seconds(2)) else { Issue.record("expected update"); return }
        #expect(resourceVersion == "1" && renewed.acquireTime == created.acquireTime && renewed.renewTime == MicroTime(wall + .seconds(2)))
    }

    @Test(arguments: [2, 3])
    func exactlyOneLeaderAndTakeoverAfterCrash(_ electorCount: Int) {
        var harness = ElectionHarness(identities: (0..<electorCount).map { "node-\($0)" })
        harness.start()
        var everMoreThanOne = false
        harness.run(until: .seconds(60)) { if $0.leaders.count > 1 { everMoreThanOne = true } }
        #expect(!everMoreThanOne)
        #expect(harness.leaders == [0])
        // The leader crashes at t=60 (last renewal at or before 60 s).
        let lastRenew = harness.now
        harness.electors[0].alive = false
        var takeover: Duration?
        harness.run(until: .seconds(120)) { state in
            if takeover == nil, let leader = state.leaders.first, leader != 0 { takeover = state.now }
            if state.leaders.count > 1 { everMoreThanOne = true }
        }
        #expect(!everMoreThanOne)
        let takeoverAt = try! #require(takeover)
        // No one takes over before a full leaseDuration after the last observed change.
        #expect(takeoverAt - lastRenew >= .seconds(15))
        #expect(takeoverAt - lastRenew <= .seconds(15) + .seconds(5))
        #expect(harness.record?.leaseTransitions == 1)
    }

    @Test func releaseOnCancelAllowsImmediateTakeover() {
        var harness = ElectionHarness(identities: ["a", "b"])
        harness.start()
        harness.run(until: .seconds(30))
        #expect(harness.leaders == [0])
        let action = harness.electors[0].stateMachine.cancel(now: harness.now, wallNow: harness.wall(0))
        guard case .update(let release, _) = action else { Issue.record("expected release update"); return }
        #expect(release.holderIdentity == "" && release.leaseDurationSeconds == 1)
        harness.drive(0, action)
        #expect(harness.electors[0].finished)
        #expect(!harness.electors[0].stateMachine.isLeader)
        let released = harness.now
        var takeover: Duration?
        harness.run(until: .seconds(60)) { state in if takeover == nil, state.leaders == [1] { takeover = state.now } }
        // b takes over at its next retry (≤ RetryPeriod × (1 + 1.2)), not after leaseDuration.
        let takeoverAt = try! #require(takeover)
        #expect(takeoverAt - released <= .milliseconds(4400))
    }

    @Test func leaderThatCannotRenewStopsWithinRenewDeadline() {
        var harness = ElectionHarness(identities: ["a", "b"])
        harness.start()
        harness.run(until: .seconds(20))
        #expect(harness.leaders == [0])
        harness.electors[0].apiDown = true
        let cut = harness.now
        var stopped: Duration?
        var overlap = false
        harness.run(until: .seconds(60)) { state in
            if stopped == nil, !state.electors[0].stateMachine.isLeader { stopped = state.now }
            if state.leaders.count > 1 { overlap = true }
        }
        let stoppedAt = try! #require(stopped)
        #expect(stoppedAt - cut <= .seconds(2) + .seconds(10) + .seconds(2))
        #expect(!overlap)
        #expect(harness.leaders == [1])
        // Fencing: the old leader stopped before the new one could take over.
        #expect(harness.electors[0].stateMachine.leadershipValidUntil == nil)
    }

    @Test func wallClockSkewDoesNotCauseTakeover() {
        var harness = ElectionHarness(identities: ["a", "b"])
        harness.electors[1].wallOffset = .seconds(3600)  // b's clock is an hour ahead
        harness.start()
        var overlap = false
        harness.run(until: .seconds(120)) { if $0.leaders.count > 1 { overlap = true } }
        #expect(!overlap)
        #expect(harness.leaders == [0])
        #expect(harness.record?.leaseTransitions == 0)
    }

    @Test func conflictOnAcquireIsALoss() {
        var stateMachine = LeaderElectionStateMachine(config: LeaderElectionConfig(identity: "b"))
        _ = stateMachine.start(now: .zero)
        let empty = LeaseRecord(holderIdentity: "", leaseDurationSeconds: 1, acquireTime: nil, renewTime: nil, leaseTransitions: 4)
        guard case .update(let candidate, "9") = stateMachine.getSucceeded(empty, resourceVersion: "9", now: .zero, wallNow: KubeTime(seconds: 5)) else {
            Issue.record("expected update"); return
        }
        #expect(candidate.leaseTransitions == 5)
        #expect(stateMachine.writeFailed(conflict: true, now: .zero) == .sleep(.seconds(2)))
        #expect(!stateMachine.isLeader)
    }
}
