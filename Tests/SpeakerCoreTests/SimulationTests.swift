import L2Ownership
import SpeakerCore
import TestSupport
import NetPrimitives
import Testing

/// Property-style runs of whole clusters (Simulation): thousands of events per seed with
/// crashes, SIGTERMs, restarts, API partitions, lost answers and watch lag; never two owners.
struct SimulationTests {
    @Test(arguments: 1...8 as ClosedRange<UInt64>)
    func neverTwoOwnersUnderRandomFaults(seed: UInt64) throws {
        var parameters = Simulation.Parameters()
        parameters.nodes = 3 + Int(seed % 3)
        parameters.excluded = seed % 2 == 0 ? [1] : []
        var sim = Simulation(seed: seed, parameters: parameters)
        try sim.run(until: .seconds(900), faultsEnabled: true)
        #expect(sim.processed > 2000, "only \(sim.processed) events")
        #expect(sim.faults["crash", default: 0] + sim.faults["stop", default: 0] + sim.faults["partition", default: 0] > 5, "\(sim.faults)")
        #expect(sim.faults["watchStall", default: 0] > 0, "\(sim.faults)")
        #expect(sim.takeovers > parameters.vips, "\(sim.takeovers) takeovers")

        // Then quiet: every VIP ends up answered by exactly the owner a perfect view names.
        sim.healAll()
        try sim.run(until: sim.now.advanced(by: .seconds(120)), faultsEnabled: false)
        for (vip, answering) in sim.answerers {
            let expected = sim.expectedOwner(of: vip)
            #expect(answering == (expected.map { [$0] } ?? []), "\(vip): \(answering), expected \(String(describing: expected))")
        }
    }

    /// The fast profile, more nodes, heavier faults.
    @Test(arguments: 100...103 as ClosedRange<UInt64>)
    func neverTwoOwnersWithFastTimingsAndManyFaults(seed: UInt64) throws {
        var parameters = Simulation.Parameters()
        parameters.nodes = 6
        parameters.vips = 12
        parameters.timings = LeaseTimings(renewInterval: .seconds(2), renewDeadline: .seconds(5), leaseDuration: .seconds(8), handoffDelay: .seconds(6), breakStagger: .seconds(1))
        parameters.crashChance = 0.004
        parameters.stopChance = 0.004
        parameters.partitionChance = 0.008
        parameters.watchStallChance = 0.006
        parameters.responseLossChance = 0.1
        var sim = Simulation(seed: seed, parameters: parameters)
        try sim.run(until: .seconds(400), faultsEnabled: true)
        #expect(sim.processed > 3000, "only \(sim.processed) events")
        #expect((sim.faults["break"] ?? 0) > 0, "no Lease was ever broken: \(sim.faults)")
    }
}
