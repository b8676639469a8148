import L2Ownership
import NetPrimitives
import SpeakerCore
import Testing
import TestSupport

/// The ownership simulation with 0.1.0 speakers beside this version (a DaemonSet rolling
/// update; docs/design/layer2-leases.md, "Upgrades"), invariant after every event.
struct SimulationUpgradeTests {
    /// Every node starts as 0.1.0; from 30 s, one at a time every 15 s, SIGTERM and restart as
    /// this version with heartbeats allowed. No faults: no Lease of a running speaker is ever
    /// broken (a 0.1.0 speaker breaks every Lease it sees unchanged for `leaseDuration`, so a
    /// heartbeat renewed beside one would be), no speaker renews its heartbeat while a 0.1.0 one
    /// holds a Lease, every speaker does once all are upgraded, and every VIP ends with its owner.
    @Test(arguments: 1...4 as ClosedRange<UInt64>)
    func aRollingUpdateFrom010BreaksNoLiveLease(seed: UInt64) throws {
        let count = 3 + Int(seed % 3)
        var parameters = SimulationProbeTests.parameters(nodes: count)
        parameters.legacyNodes = Set(0..<count)
        parameters.upgradeAt = .seconds(30)
        var sim = Simulation(seed: seed, parameters: parameters)
        var heartbeatsBesideLegacy = 0
        for index in 0..<count {
            let at = ManualInstant.seconds(30 + 15 * Double(index))
            while sim.now < at {
                try sim.run(until: min(at, sim.now.advanced(by: .milliseconds(500))), faultsEnabled: false)
                let legacyHolds = sim.nodes.contains { $0.running && $0.legacy && sim.store[$0.name]?.holder != nil }
                if legacyHolds { heartbeatsBesideLegacy += sim.nodes.filter { $0.running && !$0.legacy && $0.core.renewsHeartbeat }.count }
            }
            #expect(sim.nodes[index].legacy)
            sim.apply(sim.nodes[index].core.shutdown(now: sim.local(index)), to: index)
        }
        try sim.run(until: .seconds(30 + 15 * Double(count) + 60), faultsEnabled: false)
        #expect(heartbeatsBesideLegacy == 0, "speakers renewed their heartbeat while a 0.1.0 speaker held its Lease (\(heartbeatsBesideLegacy) samples)")
        #expect(sim.faults["wrongBreak", default: 0] == 0, "\(sim.faults)")
        #expect(sim.nodes.allSatisfy { $0.running && !$0.legacy && $0.core.renewsHeartbeat }, "not every node upgraded and renewing its heartbeat")
        for (vip, answering) in sim.answerers {
            #expect(answering == sim.expectedOwner(of: vip).map { [$0] }, "\(vip): \(answering)")
        }
        print("simulation upgrade seed \(seed) (\(count) nodes): \(sim.processed) events, faults \(sim.faults.sorted { $0.key < $1.key })")
    }

    /// Every fault at once with node-0 running 0.1.0 for the first 75 s (after that it comes
    /// back as this version when it restarts): invariant after every event, then quiet, and
    /// every VIP ends with the owner a perfect view names.
    @Test(arguments: 1...16 as ClosedRange<UInt64>)
    func neverTwoOwnersWithA010SpeakerUnderEveryFault(seed: UInt64) throws {
        var parameters = SimulationProbeTests.everyFault(seed: seed)
        parameters.legacyNodes = [0]
        parameters.upgradeAt = .seconds(75)
        var sim = Simulation(seed: seed, parameters: parameters)
        try sim.run(until: .seconds(150), faultsEnabled: true)
        #expect(sim.takeovers > parameters.vips, "\(sim.takeovers) takeovers")
        print("simulation with 0.1.0 seed \(seed): \(sim.processed) events, faults \(sim.faults.sorted { $0.key < $1.key }), admitted overlaps \(sim.admittedOverlaps)")
        sim.healAll()
        try sim.run(until: sim.now.advanced(by: .seconds(120)), faultsEnabled: false)
        for (vip, answering) in sim.answerers {
            let expected = sim.expectedOwner(of: vip)
            #expect(answering == (expected.map { [$0] } ?? []), "\(vip): \(answering), expected \(String(describing: expected))")
        }
    }
}
