import L2Ownership
import NetPrimitives
import Testing
import TestSupport

/// The Lease side of issue 12: a granted claim waives the hand-off wait, a stall or a broken
/// Lease stops the node at once, and a newcomer is pending (kept from) for `keepWindow` or until
/// it claims.
struct HandBackTests {
    typealias M = NodeLeaseStateMachine<ManualInstant>
    static let t = LeaseTimings.probing  // renew 5 s, deadline 11 s, lease 15 s, keep 3 s, handoff 15 s
    static func at(_ s: Double) -> ManualInstant { .seconds(s) }

    /// Acquired at 0, seen back at 0.5.
    static func holding() -> M {
        var m = M(timings: t)
        _ = m.start(now: at(0))
        _ = m.writeSucceeded(sentAt: at(0), resourceVersion: "1", now: at(0.2))
        _ = m.observedOwnLease(resourceVersion: "1", now: at(0.5))
        return m
    }

    @Test func probingTimingsAreSafeAndTheHandOffCoversTheKeepWindow() {
        #expect(Self.t.problem == nil)
        #expect(Self.t.handoffDelay == .seconds(15))
        var unsafe = Self.t
        unsafe.handoffDelay = unsafe.renewDeadline + unsafe.keepWindow
        #expect(unsafe.problem != nil)
    }

    @Test func aGrantedClaimAnswersAtOnceOnlyOnceTheViewIsCurrent() {
        var m = M(timings: Self.t)
        _ = m.start(now: Self.at(0))
        _ = m.writeSucceeded(sentAt: Self.at(0), resourceVersion: "1", now: Self.at(0.2))
        // Not yet seen back: no claim, and a waiver does not answer (the fence is not fresh).
        #expect(!m.awaitsHandoff)
        _ = m.observedOwnLease(resourceVersion: "1", now: Self.at(0.5))
        #expect(m.awaitsHandoff)
        #expect(m.waiveHandoff(now: Self.at(0.6)).contains(.startAnswering))
        #expect(m.isAnswering && !m.awaitsHandoff)
    }

    @Test func withoutAGrantItWaitsTheWholeHandOff() {
        var m = Self.holding()
        _ = m.timerFired(now: Self.at(5))
        _ = m.writeSucceeded(sentAt: Self.at(5), resourceVersion: "2", now: Self.at(5.1))
        _ = m.observedOwnLease(resourceVersion: "2", now: Self.at(5.2))
        _ = m.timerFired(now: Self.at(10))
        _ = m.writeSucceeded(sentAt: Self.at(10), resourceVersion: "3", now: Self.at(10.1))
        _ = m.observedOwnLease(resourceVersion: "3", now: Self.at(10.2))
        #expect(!m.timerFired(now: Self.at(14.9)).contains(.startAnswering))
        #expect(!m.isAnswering)
        #expect(m.timerFired(now: Self.at(15)).contains(.startAnswering))
    }

    @Test func aStallStopsAnsweringUntilAWriteSentAfterItComesBack() {
        var m = Self.holding()
        _ = m.waiveHandoff(now: Self.at(1))
        #expect(m.isAnswering)
        let actions = m.stalled(now: Self.at(9))
        #expect(actions.contains(.stopAnswering))
        #expect(actions.contains(.send(.renew(resourceVersion: "1"), sentAt: Self.at(9))))
        _ = m.writeSucceeded(sentAt: Self.at(9), resourceVersion: "2", now: Self.at(9.1))
        #expect(!m.isAnswering)
        #expect(m.observedOwnLease(resourceVersion: "2", now: Self.at(9.2)).contains(.startAnswering))
    }

    /// The frozen-owner case with heartbeats: thawed, it renews (its heartbeat, which does not
    /// conflict) and its watch shows its speaker Lease broken meanwhile: it must act on that.
    @Test func itsLeaseSeenClearedAfterAStallStillStopsIt() {
        var m = Self.holding()
        _ = m.waiveHandoff(now: Self.at(1))
        _ = m.stalled(now: Self.at(9))
        #expect(m.observedOwnLeaseCleared(resourceVersion: "7", now: Self.at(9.1)) == [.send(.acquire, sentAt: Self.at(9.1))])
        _ = m.writeSucceeded(sentAt: Self.at(9.1), resourceVersion: "8", now: Self.at(9.2))
        _ = m.observedOwnLease(resourceVersion: "8", now: Self.at(9.3))
        #expect(!m.isAnswering, "a new hold waits for its hand-off again")
    }

    @Test func itsLeaseSeenClearedStopsAndAcquiresButAnOlderVersionBeforeItsOwnDoesNot() {
        var fresh = M(timings: Self.t)
        _ = fresh.start(now: Self.at(0))
        _ = fresh.writeSucceeded(sentAt: Self.at(0), resourceVersion: "5", now: Self.at(0.1))
        // An unheld version from before the acquisition, delivered late: nothing.
        #expect(fresh.observedOwnLeaseCleared(resourceVersion: "3", now: Self.at(0.2)).isEmpty)

        var m = Self.holding()
        _ = m.waiveHandoff(now: Self.at(1))
        #expect(m.observedOwnLeaseCleared(resourceVersion: "7", now: Self.at(2)) == [.stopAnswering, .send(.acquire, sentAt: Self.at(2))])
        #expect(!m.isAnswering)
    }

    @Test func aNewcomerIsPendingForTheKeepWindowOrUntilItClaims() {
        var table = PeerLeaseTable<ManualInstant>(selfName: "a", timings: Self.t)
        table.observe(node: "b", held: true, resourceVersion: "1", marker: .probes, now: Self.at(0))
        table.observe(node: "c", held: false, resourceVersion: "2", marker: .probes, now: Self.at(0))
        #expect(table.pendingNodes(now: Self.at(1)) == ["b"])
        #expect(table.pendingNodes(now: Self.at(3)).isEmpty)
        // c rejoins at 10; a due() tick wakes the speaker when its keep window ends.
        table.observe(node: "c", held: true, resourceVersion: "3", marker: .probes, now: Self.at(10))
        #expect(table.pendingNodes(now: Self.at(11)) == ["c"])
        #expect(table.due(now: Self.at(11)).next == Self.at(13))
        table.claimed(node: "c", version: "3", now: Self.at(11.5))
        #expect(table.pendingNodes(now: Self.at(11.6)).isEmpty)
        // A claim before the watch shows the Lease: live (and settled) at once, then held.
        table.claimed(node: "d", version: "5", now: Self.at(20))
        #expect(table.isLive("d"))
        table.observe(node: "d", held: false, resourceVersion: "4", marker: .probes, now: Self.at(20.1))  // older, unheld
        #expect(table.isLive("d"))
        table.observe(node: "d", held: true, resourceVersion: "5", marker: .probes, now: Self.at(20.2))
        #expect(table.isLive("d") && !table.pendingNodes(now: Self.at(20.3)).contains("d"))
        // Evidence breaks a held Lease once per version.
        #expect(table.evidence(node: "d") == .init(node: "d", resourceVersion: "5"))
        #expect(table.evidence(node: "d") == nil)
    }
}
