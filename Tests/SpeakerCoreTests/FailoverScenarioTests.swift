import L2Ownership
import SpeakerCore
import TestSupport
import NetPrimitives
import Testing

/// Scripted failures of one VIP's owner in an otherwise quiet cluster (no random faults):
/// who answers when, and how long the VIP goes unanswered.
struct FailoverScenarioTests {
    enum Failure: String, CaseIterable, Sendable {
        case partition, sigkill, sigterm
    }

    /// A stuck watch on the owner while a higher-ranked node joins: the owner cannot see the
    /// newcomer, so it must fence (its own renewals stop coming back) before the newcomer's
    /// hand-off delay ends.
    @Test(arguments: 1...5 as ClosedRange<UInt64>)
    func ownerWithAStuckWatchFencesBeforeANewcomerAnswers(seed: UInt64) throws {
        var parameters = Simulation.Parameters()
        parameters.restartStopped = false
        var sim = Simulation(seed: seed, parameters: parameters)
        // Start with the node that will join stopped.
        try sim.run(until: .seconds(5), faultsEnabled: false)
        let vip = sim.vips[0]
        let ranked = sim.nodes.map(\.name).sorted { OwnerElection.weight(node: $0, address: vip) > OwnerElection.weight(node: $1, address: vip) }
        guard let newcomer = sim.nodes.firstIndex(where: { $0.name == ranked[0] }) else { return }
        sim.kill(newcomer)
        try sim.run(until: .seconds(120), faultsEnabled: false)
        let owner = try #require(sim.answerers[vip]?.first)
        let ownerIndex = try #require(sim.nodes.firstIndex { $0.name == owner })
        sim.nodes[ownerIndex].watchStalled = true
        sim.schedule(at: sim.now, .restart(node: newcomer))
        let joinedAt = sim.now
        try sim.run(until: joinedAt.advanced(by: .seconds(60)), faultsEnabled: false)
        let after = sim.timeline.filter { $0.vip == vip && $0.at >= joinedAt }
        let stop = try #require(after.first { $0.node == owner && !$0.answering })
        let take = try #require(after.first { $0.node == ranked[0] && $0.answering })
        #expect(stop.at <= take.at)
        #expect(joinedAt.duration(to: stop.at) <= LeaseTimings.default.renewDeadline)
    }

    /// Runs to a steady state, fails the owner of the first VIP, and returns the old owner's
    /// last answer and the new owner's first, after the failure.
    static func failover(_ failure: Failure, seed: UInt64) throws -> (failedAt: ManualInstant, stopped: ManualInstant, taken: ManualInstant, newOwner: String, sim: Simulation) {
        var parameters = Simulation.Parameters()
        parameters.restartStopped = false
        var sim = Simulation(seed: seed, parameters: parameters)
        try sim.run(until: .seconds(60), faultsEnabled: false)
        let vip = sim.vips[0]
        let owners = sim.answerers[vip] ?? []
        guard let owner = owners.first, owners.count == 1, let index = sim.nodes.firstIndex(where: { $0.name == owner }) else {
            throw Simulation.Violation(description: "no single steady owner: \(owners)")
        }
        let failedAt = sim.now
        switch failure {
        case .partition: sim.nodes[index].partitioned = true
        case .sigkill: sim.kill(index)
        case .sigterm: sim.apply(sim.nodes[index].core.shutdown(now: sim.now), to: index)
        }
        try sim.run(until: failedAt.advanced(by: .seconds(60)), faultsEnabled: false)
        let after = sim.timeline.filter { $0.vip == vip && $0.at >= failedAt }
        guard let stop = after.first(where: { $0.node == owner && !$0.answering }),
              let take = after.first(where: { $0.node != owner && $0.answering })
        else {
            throw Simulation.Violation(description: "no failover: \(after.map { "\($0.at) \($0.node) \($0.answering)" })")
        }
        return (failedAt, stop.at, take.at, take.node, sim)
    }

    @Test(arguments: Failure.allCases, 1...5 as ClosedRange<UInt64>)
    func ownerStopsBeforeTheNextStarts(_ failure: Failure, seed: UInt64) throws {
        let r = try Self.failover(failure, seed: seed)
        let t = LeaseTimings.default
        #expect(r.stopped <= r.taken)
        switch failure {
        case .partition:
            // Fenced within renewDeadline of its last write seen back (≤ renewDeadline after the cut).
            #expect(r.failedAt.duration(to: r.stopped) <= t.renewDeadline)
            // Broken after leaseDuration of silence: at most a renew interval plus latencies later.
            #expect(r.failedAt.duration(to: r.taken) <= t.leaseDuration + t.renewInterval + .seconds(3))
            #expect(r.stopped.duration(to: r.taken) >= t.leaseDuration - t.renewDeadline - t.renewInterval)
        case .sigkill:
            #expect(r.failedAt.duration(to: r.taken) <= t.leaseDuration + t.renewInterval + .seconds(3))
        case .sigterm:
            // Released first: one write and one watch event.
            #expect(r.failedAt.duration(to: r.taken) <= .seconds(2))
        }
        // The new owner announced at once, then every second for five seconds.
        let announces = r.sim.announcements.filter { $0.1 == r.newOwner && $0.2 == r.sim.vips[0] && $0.0 >= r.taken }.map(\.0)
        #expect(announces.prefix(6).map { r.taken.duration(to: $0) } == (0...5).map { Duration.seconds($0) })
    }

    /// The check is not vacuous: timings that break a Lease before its holder fences, and
    /// let newcomers answer at once, produce two owners.
    @Test func unsafeTimingsAreCaught() {
        var parameters = Simulation.Parameters()
        parameters.timings = LeaseTimings(renewInterval: .seconds(2), renewDeadline: .seconds(10), leaseDuration: .seconds(3), handoffDelay: .zero, breakStagger: .zero)
        #expect(parameters.timings.problem != nil)
        var sim = Simulation(seed: 7, parameters: parameters)
        #expect(throws: Simulation.Violation.self) {
            try sim.run(until: .seconds(900), faultsEnabled: true)
        }
    }
}
