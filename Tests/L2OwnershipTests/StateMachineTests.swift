import TestSupport
import L2Ownership
import NetPrimitives
import Testing

/// Scripted event sequences for the speaker's own Lease, with a manual clock.
struct NodeLeaseStateMachineTests {
    typealias M = NodeLeaseStateMachine<ManualInstant>
    static let t = LeaseTimings.default  // renew 5 s, deadline 11 s, lease 15 s, handoff 12 s
    static func at(_ s: Double) -> ManualInstant { .seconds(s) }

    /// Acquired at 0, seen back at 0.5, renewed every 5 s: answers from 12 s (handoff).
    @Test func acquireHoldOffThenAnswer() {
        var m = M(timings: Self.t)
        #expect(m.start(now: Self.at(0)) == [.send(.acquire, sentAt: Self.at(0))])
        #expect(m.writeSucceeded(sentAt: Self.at(0), resourceVersion: "1", now: Self.at(0.2)) == [.scheduleTimer(Self.at(5))])
        #expect(m.observedOwnLease(resourceVersion: "1", now: Self.at(0.5)) == [.scheduleTimer(Self.at(5))])
        #expect(m.timerFired(now: Self.at(5)) == [.send(.renew(resourceVersion: "1"), sentAt: Self.at(5)), .scheduleTimer(Self.at(10))])
        #expect(m.writeSucceeded(sentAt: Self.at(5), resourceVersion: "2", now: Self.at(5.1)) == [.scheduleTimer(Self.at(10))])
        #expect(m.observedOwnLease(resourceVersion: "2", now: Self.at(5.3)) == [.scheduleTimer(Self.at(10))])
        _ = m.timerFired(now: Self.at(10))
        _ = m.writeSucceeded(sentAt: Self.at(10), resourceVersion: "3", now: Self.at(10.1))
        #expect(m.observedOwnLease(resourceVersion: "3", now: Self.at(10.2)) == [.scheduleTimer(Self.at(12))])
        #expect(!m.isAnswering)
        #expect(m.timerFired(now: Self.at(12)) == [.startAnswering, .scheduleTimer(Self.at(15))])
        #expect(m.isAnswering)
    }

    /// Steady holder at 20 s, then every write fails: it fences 11 s after the last write
    /// it saw come back, before anyone may break its Lease (15 s after that write).
    @Test func fencesWhenRenewalsFail() {
        var m = M(timings: Self.t)
        _ = m.start(now: Self.at(0))
        _ = m.writeSucceeded(sentAt: Self.at(0), resourceVersion: "1", now: Self.at(0.1))
        _ = m.observedOwnLease(resourceVersion: "1", now: Self.at(0.2))
        var version = 1
        for renewAt in stride(from: 5.0, through: 20.0, by: 5.0) {
            _ = m.timerFired(now: Self.at(renewAt))
            version += 1
            _ = m.writeSucceeded(sentAt: Self.at(renewAt), resourceVersion: "\(version)", now: Self.at(renewAt + 0.1))
            _ = m.observedOwnLease(resourceVersion: "\(version)", now: Self.at(renewAt + 0.2))
        }
        #expect(m.isAnswering)
        // Partition from 21 s: renews at 25 and 30 time out.
        #expect(m.timerFired(now: Self.at(25)) == [.send(.renew(resourceVersion: "5"), sentAt: Self.at(25)), .scheduleTimer(Self.at(30))])
        #expect(m.writeFailed(sentAt: Self.at(25), conflict: false, now: Self.at(27)) == [.scheduleTimer(Self.at(30))])
        #expect(m.timerFired(now: Self.at(30)) == [.send(.renew(resourceVersion: "5"), sentAt: Self.at(30)), .scheduleTimer(Self.at(31))])
        #expect(m.timerFired(now: Self.at(31)) == [.stopAnswering, .scheduleTimer(Self.at(35))])
        #expect(!m.isAnswering)
        // The write sent at 30 turns out to have succeeded: answering again once seen.
        _ = m.writeSucceeded(sentAt: Self.at(30), resourceVersion: "6", now: Self.at(31.5))
        #expect(m.observedOwnLease(resourceVersion: "6", now: Self.at(31.6)) == [.startAnswering, .scheduleTimer(Self.at(35))])
    }

    /// Writes succeed but the watch stalls: the fence closes all the same (the node cannot
    /// see newcomers).
    @Test func fencesWhenItsWatchStalls() {
        var m = M(timings: Self.t)
        _ = m.start(now: Self.at(0))
        _ = m.writeSucceeded(sentAt: Self.at(0), resourceVersion: "1", now: Self.at(0.1))
        _ = m.observedOwnLease(resourceVersion: "1", now: Self.at(0.2))
        for (i, renewAt) in [5.0, 10.0, 15.0].enumerated() {
            _ = m.timerFired(now: Self.at(renewAt))
            _ = m.writeSucceeded(sentAt: Self.at(renewAt), resourceVersion: "\(i + 2)", now: Self.at(renewAt + 0.1))
        }
        // The hold-off ended at 12, but the last write seen back was sent at 0: fenced since 11.
        #expect(m.timerFired(now: Self.at(16)) == [.scheduleTimer(Self.at(20))])
        #expect(!m.isAnswering)
    }

    /// A conflict means someone wrote the Lease: read it; broken → stop, acquire anew.
    @Test func brokenLeaseIsReacquiredWithANewHoldOff() {
        var m = M(timings: Self.t)
        _ = m.start(now: Self.at(0))
        _ = m.writeSucceeded(sentAt: Self.at(0), resourceVersion: "1", now: Self.at(0.1))
        _ = m.observedOwnLease(resourceVersion: "1", now: Self.at(0.2))
        _ = m.timerFired(now: Self.at(5))
        _ = m.writeSucceeded(sentAt: Self.at(5), resourceVersion: "2", now: Self.at(5.1))
        _ = m.observedOwnLease(resourceVersion: "2", now: Self.at(5.2))
        _ = m.timerFired(now: Self.at(10))
        _ = m.writeSucceeded(sentAt: Self.at(10), resourceVersion: "3", now: Self.at(10.1))
        _ = m.observedOwnLease(resourceVersion: "3", now: Self.at(10.2))
        #expect(m.timerFired(now: Self.at(12)) == [.startAnswering, .scheduleTimer(Self.at(15))])
        _ = m.timerFired(now: Self.at(15))
        #expect(m.writeFailed(sentAt: Self.at(15), conflict: true, now: Self.at(15.1))
            == [.send(.read, sentAt: Self.at(15.1)), .scheduleTimer(Self.at(20))])
        #expect(m.leaseRead(sentAt: Self.at(15.1), heldBySelf: false, resourceVersion: "9", now: Self.at(15.2))
            == [.stopAnswering, .send(.acquire, sentAt: Self.at(15.2))])
        _ = m.writeSucceeded(sentAt: Self.at(15.2), resourceVersion: "10", now: Self.at(15.3))
        _ = m.observedOwnLease(resourceVersion: "10", now: Self.at(15.4))
        #expect(!m.isAnswering)
    }

    /// A conflict caused by our own write whose answer was lost: adopt the version, renew at
    /// once, do not count the lost write.
    @Test func ownUnansweredWriteIsAdopted() {
        var m = M(timings: Self.t)
        _ = m.start(now: Self.at(0))
        _ = m.writeSucceeded(sentAt: Self.at(0), resourceVersion: "1", now: Self.at(0.1))
        _ = m.timerFired(now: Self.at(5))
        _ = m.writeFailed(sentAt: Self.at(5), conflict: false, now: Self.at(7))  // committed as "2", answer lost
        _ = m.timerFired(now: Self.at(10))
        #expect(m.writeFailed(sentAt: Self.at(10), conflict: true, now: Self.at(10.1)).first == .send(.read, sentAt: Self.at(10.1)))
        #expect(m.leaseRead(sentAt: Self.at(10.1), heldBySelf: true, resourceVersion: "2", now: Self.at(10.2)).first
            == .send(.renew(resourceVersion: "2"), sentAt: Self.at(10.2)))
    }

    /// SIGTERM: stop answering before the release is sent; exit when it is done.
    @Test func shutdownStopsThenReleases() {
        var m = M(timings: Self.t)
        _ = m.start(now: Self.at(0))
        _ = m.writeSucceeded(sentAt: Self.at(0), resourceVersion: "1", now: Self.at(0.1))
        _ = m.observedOwnLease(resourceVersion: "1", now: Self.at(0.2))
        for (i, renewAt) in [5.0, 10.0].enumerated() {
            _ = m.timerFired(now: Self.at(renewAt))
            _ = m.writeSucceeded(sentAt: Self.at(renewAt), resourceVersion: "\(i + 2)", now: Self.at(renewAt + 0.1))
            _ = m.observedOwnLease(resourceVersion: "\(i + 2)", now: Self.at(renewAt + 0.2))
        }
        _ = m.timerFired(now: Self.at(12))
        #expect(m.isAnswering)
        #expect(m.shutdown(now: Self.at(13)) == [.stopAnswering, .send(.release(resourceVersion: "3"), sentAt: Self.at(13))])
        #expect(m.timerFired(now: Self.at(15)) == [])
        #expect(m.writeSucceeded(sentAt: Self.at(13), resourceVersion: "4", now: Self.at(13.1)) == [.exit])
        #expect(m.shutdown(now: Self.at(14)) == [])
    }

    @Test func failedAcquireIsRetried() {
        var m = M(timings: Self.t)
        _ = m.start(now: Self.at(0))
        #expect(m.writeFailed(sentAt: Self.at(0), conflict: false, now: Self.at(2)) == [.scheduleTimer(Self.at(7))])
        #expect(m.timerFired(now: Self.at(6)) == [.scheduleTimer(Self.at(7))])
        #expect(m.timerFired(now: Self.at(7)) == [.send(.acquire, sentAt: Self.at(7))])
        // A stale answer to the first attempt changes nothing.
        #expect(m.writeSucceeded(sentAt: Self.at(0), resourceVersion: "1", now: Self.at(7.5)) == [])
    }

    @Test func shutdownBeforeHoldingExitsAtOnce() {
        var m = M(timings: Self.t)
        _ = m.start(now: Self.at(0))
        #expect(m.shutdown(now: Self.at(1)) == [.exit])
    }
}

struct PeerLeaseTableTests {
    static let t = LeaseTimings.default

    /// The first breaker in rendezvous order tries after leaseDuration of silence, the next
    /// one breakStagger later; a renewed Lease is not broken; one try per version.
    @Test func breakersAreStaggered() {
        let names = ["a", "b", "c"]
        let order = OwnerElection.ranking(of: ["a", "b"], forKey: "c")
        var tables = names.filter { $0 != "c" }.map { PeerLeaseTable<ManualInstant>(selfName: $0, timings: Self.t) }
        for i in tables.indices {
            for name in names { tables[i].observe(node: name, held: true, resourceVersion: "v1-\(name)", marker: .probes, now: .seconds(0)) }
        }
        for i in tables.indices {
            let me = tables[i].selfName
            let rank = order.firstIndex(of: me)!
            let due = tables[i].due(now: .seconds(14.9))
            #expect(due.breaks.isEmpty)
            // Every peer's Lease expires at 15; this node's turn for "c" is 15 + 2 s × rank.
            #expect(due.next.map { $0 >= .seconds(15) && $0 <= .seconds(15 + 2 * Double(rank)) } == true)
            let at15 = tables[i].due(now: .seconds(15 + 2 * Double(rank)))
            #expect(at15.breaks.contains(.init(node: "c", resourceVersion: "v1-c")))
            #expect(tables[i].due(now: .seconds(40)).breaks.filter { $0.node == "c" }.isEmpty)  // tried once
        }
        // A renewal seen in time defers the break.
        var table = PeerLeaseTable<ManualInstant>(selfName: "a", timings: Self.t)
        table.observe(node: "b", held: true, resourceVersion: "1", marker: .probes, now: .seconds(0))
        table.observe(node: "b", held: true, resourceVersion: "2", marker: .probes, now: .seconds(10))
        #expect(table.due(now: .seconds(20)).breaks.isEmpty)
        #expect(table.due(now: .seconds(20)).next == .seconds(25))
        table.observe(node: "b", held: true, resourceVersion: "2", marker: .probes, now: .seconds(21))  // same version: no change
        #expect(table.due(now: .seconds(25)).breaks == [.init(node: "b", resourceVersion: "2")])
        // Released or broken: not live, nothing to break.
        table.observe(node: "b", held: false, resourceVersion: "3", marker: .probes, now: .seconds(26))
        #expect(!table.isLive("b"))
        let late = table.due(now: .seconds(100))
        #expect(late.breaks.isEmpty)
        #expect(late.next == nil)
        table.removed(node: "b")
        #expect(table.liveNodes.isEmpty)
        table.observe(node: "a", held: true, resourceVersion: "1", marker: .probes, now: .seconds(0))
        #expect(table.liveNodes.isEmpty)  // itself is not a peer
    }
}

struct AnnouncementSchedulerTests {
    static let vip = IPAddress("203.0.113.10")!
    static let vip2 = IPAddress("2001:db8::10")!

    @Test func burstAtOnceThenEverySecondForFiveSeconds() {
        var s = AnnouncementScheduler<ManualInstant>()
        #expect(s.update(owned: [Self.vip], now: .seconds(10)) == [.startAnswering(Self.vip), .announce(Self.vip), .scheduleTimer(.seconds(11))])
        var announced: [ManualInstant] = [.seconds(10)]
        var now = ManualInstant.seconds(10)
        for _ in 0..<20 {
            now = now.advanced(by: .milliseconds(500))
            for action in s.timerFired(now: now) { if case .announce = action { announced.append(now) } }
        }
        #expect(announced == (10...15).map { ManualInstant.seconds(Double($0)) })
        #expect(s.answered == [Self.vip])
        // Unchanged ownership: nothing new.
        #expect(s.update(owned: [Self.vip], now: now) == [])
    }

    @Test func stoppingCancelsTheBurst() {
        var s = AnnouncementScheduler<ManualInstant>()
        _ = s.update(owned: [Self.vip, Self.vip2], now: .seconds(0))
        #expect(s.update(owned: [Self.vip2], now: .seconds(1.5)) == [.stopAnswering(Self.vip), .scheduleTimer(.seconds(1))])
        #expect(s.timerFired(now: .seconds(2)) == [.announce(Self.vip2), .scheduleTimer(.seconds(3))])
        #expect(!s.isAnswering(Self.vip))
        // Taking it back starts a new burst.
        #expect(s.update(owned: [Self.vip, Self.vip2], now: .seconds(2.5)).contains(.announce(Self.vip)))
    }
}

/// A renewal in flight past its interval (the answer deferred by a SIGSTOP) asks for no timer
/// that is already due: its outcome reconciles (the simulation livelocked on it, seed 9).
struct RenewalInFlightTimerTests {
    static func at(_ seconds: Double) -> ManualInstant { NodeLeaseStateMachineTests.at(seconds) }

    @Test func noPastTimerWhileARenewalIsInFlight() {
        var m = renewalSentAtFive()
        // The answer has not come 9 s later; every timer asked for lies ahead.
        for seconds in [10.0, 12.0, 14.0] {
            for action in m.timerFired(now: Self.at(seconds)) {
                if case .scheduleTimer(let next) = action { #expect(next > Self.at(seconds), "timer at \(next) asked at \(seconds) s") }
                #expect(action != .send(.renew(resourceVersion: "1"), sentAt: Self.at(seconds)))
            }
        }
    }
}

/// The acquiring write's answer arrives after the watch showed the acquired version and then its
/// break (the speaker was frozen meanwhile): the hold is lost, acquire again (heartbeat seeds
/// 7, 9, 27, 30, 33 of the probe simulation held on to it).
struct LateAcquireAnswerTests {
    static func at(_ seconds: Double) -> ManualInstant { NodeLeaseStateMachineTests.at(seconds) }

    @Test(arguments: [false, true])
    func aBreakSeenBeforeTheAcquireAnswerIsNotForgotten(heartbeatAfter: Bool) {
        var m = NodeLeaseStateMachine<ManualInstant>(timings: .default)
        _ = m.start(now: Self.at(0))
        _ = m.observedOwnLease(resourceVersion: "9", now: Self.at(4))
        _ = m.observedOwnLeaseCleared(resourceVersion: "16", now: Self.at(4))
        // A heartbeat seen afterwards says nothing about the speaker Lease.
        if heartbeatAfter { _ = m.observedOwnLease(resourceVersion: "17", heartbeat: true, now: Self.at(4)) }
        let actions = m.writeSucceeded(sentAt: Self.at(0), resourceVersion: "9", now: Self.at(4.1))
        #expect(actions == [.send(.acquire, sentAt: Self.at(4.1))])
        #expect(m.acquiredVersion == nil)
        // Later, nothing makes it answer on the lost hold.
        #expect(!m.timerFired(now: Self.at(20)).contains(.startAnswering))
    }

    @Test func aBreakOfAnOlderHoldDoesNotCancelANewAcquire() {
        var m = NodeLeaseStateMachine<ManualInstant>(timings: .default)
        _ = m.start(now: Self.at(0))
        _ = m.observedOwnLease(resourceVersion: "3", now: Self.at(0.5))
        _ = m.observedOwnLeaseCleared(resourceVersion: "8", now: Self.at(0.6))
        let actions = m.writeSucceeded(sentAt: Self.at(0), resourceVersion: "9", now: Self.at(1))
        #expect(!actions.contains(.send(.acquire, sentAt: Self.at(1))))
        #expect(m.acquiredVersion == "9")
    }
}

/// Answers are matched by sent-at: a break seen at the instant a renewal was sent must not
/// produce an acquire with the same sent-at (heartbeat seed 27: the renewal's answer, naming a
/// heartbeat version, passed for the acquire's and the speaker answered on a Lease it lacked).
struct SameInstantAcquireTests {
    static func at(_ seconds: Double) -> ManualInstant { NodeLeaseStateMachineTests.at(seconds) }

    @Test func theAcquireAfterABreakNeverSharesTheRenewalsSentAt() {
        var m = renewalSentAtFive()
        let cleared = m.observedOwnLeaseCleared(resourceVersion: "7", now: Self.at(5))
        #expect(!cleared.contains(.send(.acquire, sentAt: Self.at(5))), "\(cleared)")
        // The renewal's answer is not taken for an acquisition.
        _ = m.writeSucceeded(sentAt: Self.at(5), resourceVersion: "8", now: Self.at(5.1))
        #expect(m.acquiredVersion == nil)
        // The acquire goes out on the next timer, with a sent-at of its own.
        let retried = m.timerFired(now: Self.at(5.2))
        #expect(retried == [.send(.acquire, sentAt: Self.at(5.2))])
    }
}

/// Acquired at 0 (rv 1, seen back at 0.5), its first renewal sent at 5 s and not answered yet.
private func renewalSentAtFive() -> NodeLeaseStateMachine<ManualInstant> {
    var m = NodeLeaseStateMachine<ManualInstant>(timings: .default)
    _ = m.start(now: .seconds(0))
    _ = m.writeSucceeded(sentAt: .seconds(0), resourceVersion: "1", now: .seconds(0.2))
    _ = m.observedOwnLease(resourceVersion: "1", now: .seconds(0.5))
    #expect(m.timerFired(now: .seconds(5)).contains(.send(.renew(resourceVersion: "1"), sentAt: .seconds(5))))
    return m
}
