import L2Ownership
import TestSupport
import Testing

/// The upgrade rules (docs/design/layer2-leases.md, "Upgrades"): what a peer's marker lets a
/// speaker do with its Lease. nil is a speaker without probes (0.1.0, or no probe key).
struct LeaseProtocolTests {
    static let timings = LeaseTimings.probing

    struct Case: CustomTestStringConvertible, Sendable {
        var marker: LeaseProtocol?
        /// Broken once seen unchanged for `leaseDuration` (and the break stagger).
        var expires: Bool
        /// A probe verdict breaks it.
        var brokenOnEvidence: Bool
        /// A newcomer with it keeps the old owner's VIPs for the keep window.
        var pendingAsNewcomer: Bool
        /// This speaker may renew its heartbeat beside it.
        var allowsHeartbeats: Bool
        var testDescription: String { marker?.rawValue ?? "unmarked (0.1.0)" }
    }

    static let cases = [
        Case(marker: nil, expires: true, brokenOnEvidence: false, pendingAsNewcomer: false, allowsHeartbeats: false),
        Case(marker: .probes, expires: true, brokenOnEvidence: true, pendingAsNewcomer: true, allowsHeartbeats: false),
        Case(marker: .heartbeats, expires: false, brokenOnEvidence: true, pendingAsNewcomer: true, allowsHeartbeats: true),
    ]

    @Test(arguments: cases)
    func whatAPeersMarkerAllows(_ rule: Case) {
        var table = PeerLeaseTable<ManualInstant>(selfName: "a", timings: Self.timings)
        table.observe(node: "b", held: true, resourceVersion: "1", marker: rule.marker, now: .seconds(0))
        #expect(table.liveNodes == ["b"])
        #expect(table.unmarkedLiveNodes == (rule.marker == nil ? ["b"] : []))
        #expect(table.everyHolderAllowsHeartbeats == rule.allowsHeartbeats)
        #expect(table.pendingNodes(now: .seconds(1)) == (rule.pendingAsNewcomer ? ["b"] : []))
        // Long past leaseDuration and any stagger: the expiry path.
        let due = table.due(now: .seconds(60))
        #expect(due.breaks == (rule.expires ? [PeerLeaseTable<ManualInstant>.Break(node: "b", resourceVersion: "1")] : []))
        // A fresh table for the evidence path (the expiry break above tried this version).
        var other = PeerLeaseTable<ManualInstant>(selfName: "a", timings: Self.timings)
        other.observe(node: "b", held: true, resourceVersion: "1", marker: rule.marker, now: .seconds(0))
        #expect((other.evidence(node: "b") != nil) == rule.brokenOnEvidence)
    }

    /// Heartbeats need every *held* Lease marked `heartbeats`: an unheld one (released, broken)
    /// has no holder to break anything; one unmarked holder among marked ones is enough to stop.
    @Test(arguments: [
        ([LeaseProtocol?.some(.heartbeats), .some(.heartbeats)], [true, true], true),
        ([.some(.heartbeats), nil], [true, true], false),
        ([.some(.heartbeats), nil], [true, false], true),
        ([.some(.heartbeats), .some(.probes)], [true, true], false),
        ([], [], true),
    ] as [([LeaseProtocol?], [Bool], Bool)])
    func heartbeatsOnlyWhileEveryHolderIsMarked(markers: [LeaseProtocol?], held: [Bool], allowed: Bool) {
        var table = PeerLeaseTable<ManualInstant>(selfName: "a", timings: Self.timings)
        for (index, marker) in markers.enumerated() {
            table.observe(node: "peer-\(index)", held: held[index], resourceVersion: "\(index + 1)", marker: marker, now: .seconds(0))
        }
        #expect(table.everyHolderAllowsHeartbeats == allowed)
    }

    /// The marker follows the Lease's current version: a 0.1.0 speaker that acquires after a
    /// marked holder (its write has no marker) is unmarked from that version on, and the other way.
    @Test func theMarkerFollowsTheLatestVersion() {
        var table = PeerLeaseTable<ManualInstant>(selfName: "a", timings: Self.timings)
        table.observe(node: "b", held: true, resourceVersion: "1", marker: .heartbeats, now: .seconds(0))
        #expect(table.everyHolderAllowsHeartbeats)
        table.observe(node: "b", held: true, resourceVersion: "2", marker: nil, now: .seconds(1))
        #expect(!table.everyHolderAllowsHeartbeats)
        #expect(table.evidence(node: "b") == nil)
        table.observe(node: "b", held: true, resourceVersion: "3", marker: .heartbeats, now: .seconds(2))
        #expect(table.everyHolderAllowsHeartbeats)
        #expect(table.evidence(node: "b") == PeerLeaseTable<ManualInstant>.Break(node: "b", resourceVersion: "3"))
    }
}

/// Where this speaker's renewals go: its heartbeat while allowed, back to the speaker Lease at
/// once when not, with the speaker Lease's own version (heartbeat versions never replace it).
struct RenewalTargetTests {
    typealias Machine = NodeLeaseStateMachine<ManualInstant>
    static let timings = LeaseTimings.probing

    /// Acquired at 0 (version "1"), seen back; heartbeats on from the start.
    static func held() -> Machine {
        var machine = Machine(timings: timings)
        _ = machine.start(now: .seconds(0))
        _ = machine.writeSucceeded(sentAt: .seconds(0), resourceVersion: "1", now: .seconds(0.1))
        _ = machine.observedOwnLease(resourceVersion: "1", now: .seconds(0.2))
        #expect(machine.setRenewsHeartbeat(true, now: .seconds(0.2)).isEmpty)
        return machine
    }

    static func sent(_ actions: [Machine.Action]) -> [Machine.Request] {
        actions.compactMap { if case .send(let request, _) = $0 { return request } else { return nil } }
    }

    @Test func heartbeatsWhileAllowedThenTheSpeakerLeaseAtOnce() {
        var machine = Self.held()
        // The renewal at 5 s goes to the heartbeat; its version "9" is the heartbeat's.
        #expect(Self.sent(machine.timerFired(now: .seconds(5))) == [.heartbeat])
        _ = machine.writeSucceeded(sentAt: .seconds(5), resourceVersion: "9", now: .seconds(5.1))
        _ = machine.observedOwnLease(resourceVersion: "9", heartbeat: true, now: .seconds(5.2))
        // A 0.1.0 speaker appears at 6 s: renew the speaker Lease now, on its own version "1".
        #expect(Self.sent(machine.setRenewsHeartbeat(false, now: .seconds(6))) == [.renew(resourceVersion: "1")])
        _ = machine.writeSucceeded(sentAt: .seconds(6), resourceVersion: "12", now: .seconds(6.1))
        // Then every interval on the speaker Lease, at its newest version.
        #expect(Self.sent(machine.timerFired(now: .seconds(11))) == [.renew(resourceVersion: "12")])
    }

    /// A heartbeat still out when heartbeats stop: the speaker Lease is renewed as soon as its
    /// answer (whatever it is) comes, not an interval later; a failed heartbeat is no conflict.
    @Test(arguments: [true, false])
    func aHeartbeatInFlightIsFollowedByTheSpeakerLease(heartbeatSucceeds: Bool) {
        var machine = Self.held()
        #expect(Self.sent(machine.timerFired(now: .seconds(5))) == [.heartbeat])
        #expect(Self.sent(machine.setRenewsHeartbeat(false, now: .seconds(5.05))).isEmpty)
        let answer = heartbeatSucceeds
            ? machine.writeSucceeded(sentAt: .seconds(5), resourceVersion: "9", now: .seconds(5.1))
            : machine.writeFailed(sentAt: .seconds(5), conflict: true, now: .seconds(5.1))
        #expect(Self.sent(answer) == [.renew(resourceVersion: "1")])
    }

    /// Back to heartbeats: the next renewal (not an extra one) goes to the heartbeat.
    @Test func backToHeartbeatsAtTheNextInterval() {
        var machine = Self.held()
        _ = machine.setRenewsHeartbeat(false, now: .seconds(1))
        _ = machine.writeSucceeded(sentAt: .seconds(1), resourceVersion: "4", now: .seconds(1.1))
        #expect(Self.sent(machine.setRenewsHeartbeat(true, now: .seconds(2))).isEmpty)
        #expect(Self.sent(machine.timerFired(now: .seconds(6))) == [.heartbeat])
        // Shutdown releases the speaker Lease at its own version, not the heartbeat's.
        _ = machine.writeSucceeded(sentAt: .seconds(6), resourceVersion: "30", now: .seconds(6.1))
        #expect(Self.sent(machine.shutdown(now: .seconds(7))) == [.release(resourceVersion: "4")])
    }
}
