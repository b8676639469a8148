import Testing
@testable import KubeModel
@testable import LeaderElection

/// A virtual-time harness: electors share a fake Lease store; API calls are instantaneous.
struct ElectionHarness {
    struct Elector {
        var sm: LeaderElectionStateMachine
        var wake: Duration
        var alive = true       // false = crashed (stops doing anything)
        var apiDown = false    // its requests fail
        var wallOffset: Duration = .zero
        var finished = false
    }

    var record: LeaseRecord?
    var rv = 0
    var electors: [Elector] = []
    var now: Duration = .zero
    var wallEpoch = KubeTime(seconds: 1_700_000_000)
    var random: Double = 0.5

    init(identities: [String], config: (String) -> LeaderElectionConfig = { LeaderElectionConfig(identity: $0) }) {
        for (i, id) in identities.enumerated() {
            electors.append(Elector(sm: LeaderElectionStateMachine(config: config(id)), wake: .milliseconds(100 * i)))
        }
    }

    func wall(_ i: Int) -> KubeTime { wallEpoch + now + electors[i].wallOffset }

    /// Runs one elector's action chain until it sleeps.
    mutating func drive(_ i: Int, _ first: LeaderElectionStateMachine.Action) {
        var action = first
        while true {
            switch action {
            case .sleep(let d):
                electors[i].wake = now + electors[i].sm.jittered(d, random: random)
                return
            case .finished:
                electors[i].finished = true
                return
            case .get:
                if electors[i].apiDown { action = electors[i].sm.getFailed(now: now); continue }
                if let r = record {
                    action = electors[i].sm.getSucceeded(r, resourceVersion: String(rv), now: now, wallNow: wall(i))
                } else {
                    action = electors[i].sm.getNotFound(now: now, wallNow: wall(i))
                }
            case .create(let r):
                if electors[i].apiDown || record != nil { action = electors[i].sm.writeFailed(conflict: record != nil, now: now); continue }
                record = r
                rv += 1
                action = electors[i].sm.writeSucceeded(resourceVersion: String(rv), now: now)
            case .update(let r, let v):
                if electors[i].apiDown { action = electors[i].sm.writeFailed(conflict: false, now: now); continue }
                guard v == String(rv) else { action = electors[i].sm.writeFailed(conflict: true, now: now); continue }
                record = r
                rv += 1
                action = electors[i].sm.writeSucceeded(resourceVersion: String(rv), now: now)
            }
        }
    }

    mutating func start() {
        for i in electors.indices { drive(i, electors[i].sm.start(now: now)) }
    }

    /// Advances virtual time to `until`, checking that at most one elector believes it leads.
    mutating func run(until: Duration, check: (ElectionHarness) -> Void = { _ in }) {
        while true {
            guard let i = electors.indices.filter({ electors[$0].alive && !electors[$0].finished }).min(by: { electors[$0].wake < electors[$1].wake }),
                  electors[i].wake <= until
            else { now = until; return }
            now = electors[i].wake
            drive(i, electors[i].sm.timerFired(now: now, wallNow: wall(i)))
            check(self)
        }
    }

    var leaders: [Int] { electors.indices.filter { electors[$0].alive && electors[$0].sm.isLeader } }
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
        var sm = LeaderElectionStateMachine(config: LeaderElectionConfig(identity: "a"))
        #expect(sm.start(now: .zero) == .get)
        let wall = KubeTime(seconds: 100)
        guard case .create(let r) = sm.getNotFound(now: .zero, wallNow: wall) else { Issue.record("expected create"); return }
        #expect(r.holderIdentity == "a" && r.leaseDurationSeconds == 15 && r.leaseTransitions == 0)
        #expect(r.acquireTime == MicroTime(wall))
        #expect(sm.writeSucceeded(resourceVersion: "1", now: .zero) == .sleep(.seconds(2)))
        #expect(sm.isLeader)
        // Fast path renew: PUT the cached record with a new renewTime, same acquireTime.
        guard case .update(let r2, let rv) = sm.timerFired(now: .seconds(2), wallNow: wall + .seconds(2)) else { Issue.record("expected update"); return }
        #expect(rv == "1" && r2.acquireTime == r.acquireTime && r2.renewTime == MicroTime(wall + .seconds(2)))
    }

    @Test(arguments: [2, 3])
    func exactlyOneLeaderAndTakeoverAfterCrash(_ n: Int) {
        var h = ElectionHarness(identities: (0..<n).map { "node-\($0)" })
        h.start()
        var everMoreThanOne = false
        h.run(until: .seconds(60)) { if $0.leaders.count > 1 { everMoreThanOne = true } }
        #expect(!everMoreThanOne)
        #expect(h.leaders == [0])
        // The leader crashes at t=60 (last renewal at or before 60 s).
        let lastRenew = h.now
        h.electors[0].alive = false
        var takeover: Duration?
        h.run(until: .seconds(120)) { hh in
            if takeover == nil, let l = hh.leaders.first, l != 0 { takeover = hh.now }
            if hh.leaders.count > 1 { everMoreThanOne = true }
        }
        #expect(!everMoreThanOne)
        let t = try! #require(takeover)
        // No one takes over before a full leaseDuration after the last observed change.
        #expect(t - lastRenew >= .seconds(15))
        #expect(t - lastRenew <= .seconds(15) + .seconds(5))
        #expect(h.record?.leaseTransitions == 1)
    }

    @Test func releaseOnCancelAllowsImmediateTakeover() {
        var h = ElectionHarness(identities: ["a", "b"])
        h.start()
        h.run(until: .seconds(30))
        #expect(h.leaders == [0])
        let action = h.electors[0].sm.cancel(now: h.now, wallNow: h.wall(0))
        guard case .update(let r, _) = action else { Issue.record("expected release update"); return }
        #expect(r.holderIdentity == "" && r.leaseDurationSeconds == 1)
        h.drive(0, action)
        #expect(h.electors[0].finished)
        #expect(!h.electors[0].sm.isLeader)
        let released = h.now
        var takeover: Duration?
        h.run(until: .seconds(60)) { hh in if takeover == nil, hh.leaders == [1] { takeover = hh.now } }
        // b takes over at its next retry (≤ RetryPeriod × (1 + 1.2)), not after leaseDuration.
        let t = try! #require(takeover)
        #expect(t - released <= .milliseconds(4400))
    }

    @Test func leaderThatCannotRenewStopsWithinRenewDeadline() {
        var h = ElectionHarness(identities: ["a", "b"])
        h.start()
        h.run(until: .seconds(20))
        #expect(h.leaders == [0])
        h.electors[0].apiDown = true
        let cut = h.now
        var stopped: Duration?
        var overlap = false
        h.run(until: .seconds(60)) { hh in
            if stopped == nil, !hh.electors[0].sm.isLeader { stopped = hh.now }
            if hh.leaders.count > 1 { overlap = true }
        }
        let s = try! #require(stopped)
        #expect(s - cut <= .seconds(2) + .seconds(10) + .seconds(2))
        #expect(!overlap)
        #expect(h.leaders == [1])
        // Fencing: the old leader stopped before the new one could take over.
        #expect(h.electors[0].sm.leadershipValidUntil == nil)
    }

    @Test func wallClockSkewDoesNotCauseTakeover() {
        var h = ElectionHarness(identities: ["a", "b"])
        h.electors[1].wallOffset = .seconds(3600)  // b's clock is an hour ahead
        h.start()
        var overlap = false
        h.run(until: .seconds(120)) { if $0.leaders.count > 1 { overlap = true } }
        #expect(!overlap)
        #expect(h.leaders == [0])
        #expect(h.record?.leaseTransitions == 0)
    }

    @Test func conflictOnAcquireIsALoss() {
        var sm = LeaderElectionStateMachine(config: LeaderElectionConfig(identity: "b"))
        _ = sm.start(now: .zero)
        let empty = LeaseRecord(holderIdentity: "", leaseDurationSeconds: 1, acquireTime: nil, renewTime: nil, leaseTransitions: 4)
        guard case .update(let r, "9") = sm.getSucceeded(empty, resourceVersion: "9", now: .zero, wallNow: KubeTime(seconds: 5)) else {
            Issue.record("expected update"); return
        }
        #expect(r.leaseTransitions == 5)
        #expect(sm.writeFailed(conflict: true, now: .zero) == .sleep(.seconds(2)))
        #expect(!sm.isLeader)
    }
}
