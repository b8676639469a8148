import L2Ownership
import NetPrimitives
import SpeakerCore
import Testing
import TestSupport

/// The ownership simulation with the failure detector (issue 12): the new faults, failover,
/// hand-back and start-up in simulated time, and the load figures of the design note.
struct SimulationProbeTests {
    static func parameters(nodes: Int, vips: Int = 8) -> Simulation.Parameters {
        var parameters = Simulation.Parameters()
        parameters.nodes = nodes
        parameters.vips = vips
        parameters.probing = true
        parameters.timings = .probing
        // Probes make about ten times more events: the same fault rate per simulated second.
        parameters.crashChance /= 10
        parameters.stopChance /= 10
        parameters.partitionChance /= 10
        parameters.watchStallChance /= 10
        return parameters
    }

    /// Every fault at once, invariant after every event; then quiet, and every VIP ends with
    /// the owner a perfect view names. Heartbeat Leases, as the speaker runs with probes.
    @Test(arguments: 1...24 as ClosedRange<UInt64>)
    func neverTwoOwnersWithProbesUnderEveryFault(seed: UInt64) throws {
        try runEveryFault(seed: seed)
    }

    /// The same without heartbeat Leases (every speaker watches every renewal, Leases also
    /// expire): the expiry path beside the probes.
    @Test(arguments: 1...8 as ClosedRange<UInt64>)
    func neverTwoOwnersWithProbesAndExpiringLeases(seed: UInt64) throws {
        try runEveryFault(seed: seed, heartbeats: false)
    }

    /// Every fault at once, for 3-6 nodes by seed.
    static func everyFault(seed: UInt64) -> Simulation.Parameters {
        var parameters = Self.parameters(nodes: 3 + Int(seed % 4))
        parameters.freezeChance = 0.0006
        parameters.oneWayLossChance = 0.0006
        parameters.pairPartitionChance = 0.0006
        parameters.portBlockChance = 0.0004
        parameters.crashChance *= 2
        parameters.stopChance *= 2
        parameters.probeLossChance = 0.05
        parameters.clockRates = 0.99...1.01
        return parameters
    }

    func runEveryFault(seed: UInt64, heartbeats: Bool = true) throws {
        var parameters = Self.everyFault(seed: seed)
        parameters.heartbeats = heartbeats
        var sim = Simulation(seed: seed, parameters: parameters)
        try sim.run(until: .seconds(150), faultsEnabled: true)
        #expect(sim.processed > 4_000, "only \(sim.processed) events")  // seed 12 (3 nodes): 4,991 once refused peers are re-pinged at once
        let kinds = ["crash", "freeze", "pairPartition"]
        #expect(kinds.filter { sim.faults[$0, default: 0] > 0 }.count >= 2 || seed > 6, "\(sim.faults)")
        #expect(sim.takeovers > parameters.vips, "\(sim.takeovers) takeovers")
        print("simulation seed \(seed)\(heartbeats ? "" : " (expiring Leases)"): \(sim.processed) events, faults \(sim.faults.sorted { $0.key < $1.key }), admitted overlaps \(sim.admittedOverlaps) (longest \(sim.longestAdmittedOverlap) after the break)")

        sim.healAll()
        try sim.run(until: sim.now.advanced(by: .seconds(120)), faultsEnabled: false)
        print("simulation seed \(seed)\(heartbeats ? "" : " (expiring Leases)") healed: \(sim.processed) events in all, \(sim.admittedOverlaps) admitted overlaps")
        for (vip, answering) in sim.answerers {
            let expected = sim.expectedOwner(of: vip)
            #expect(answering == (expected.map { [$0] } ?? []), "\(vip): \(answering), expected \(String(describing: expected))")
        }
    }

    /// A steady cluster: every node running, every VIP answered by its owner.
    static func steady(nodes: Int, seed: UInt64 = 7) throws -> Simulation {
        var sim = Simulation(seed: seed, parameters: parameters(nodes: nodes))
        try sim.run(until: .seconds(60), faultsEnabled: false)
        for (vip, answering) in sim.answerers { #expect(answering.count == 1, "\(vip): \(answering)") }
        return sim
    }

    /// When some node other than `node` starts answering `vip` after `since`.
    static func takeover(_ sim: Simulation, _ vip: IPAddress, by node: String? = nil, excluding old: String, since: ManualInstant) -> ManualInstant? {
        sim.timeline.first { $0.at >= since && $0.vip == vip && $0.answering && $0.node != old && (node == nil || $0.node == node) }?.at
    }

    /// The issue's SIGKILL target over several runs (the simulated watch lags up to 0.8 s and a
    /// request takes up to 0.4 s, so one run may exceed a second): median ≤ 1 s, max ≤ 2 s.
    @Test func aKilledOwnersVIPMovesWithinASecond() throws {
        var took: [Duration] = []
        for seed in 7...11 as ClosedRange<UInt64> {
            var sim = try Self.steady(nodes: 4, seed: seed)
            let vip = sim.vips[0]
            let owner = sim.answerers[vip]![0]
            let index = sim.nodes.firstIndex { $0.name == owner }!
            let killedAt = sim.now
            sim.kill(index)
            try sim.run(until: killedAt.advanced(by: .seconds(10)), faultsEnabled: false)
            let at = try #require(Self.takeover(sim, vip, excluding: owner, since: killedAt))
            took.append(killedAt.duration(to: at))
            #expect(sim.faults["break", default: 0] == 1)
        }
        took.sort()
        #expect(took[took.count / 2] <= .seconds(1), "took \(took)")
        #expect(took.last! <= .seconds(2), "took \(took)")
    }

    @Test func aFrozenOwnersVIPMovesWithinThreeSecondsAndTheOwnerStopsOnThaw() throws {
        var sim = try Self.steady(nodes: 4)
        let vip = sim.vips[1]
        let owner = sim.answerers[vip]![0]
        let index = sim.nodes.firstIndex { $0.name == owner }!
        let frozenAt = sim.now
        sim.nodes[index].frozenUntil = frozenAt.advanced(by: .seconds(8))
        sim.schedule(at: frozenAt.advanced(by: .seconds(8)), .thaw(node: index, frozenFor: .seconds(8)))
        try sim.run(until: frozenAt.advanced(by: .seconds(40)), faultsEnabled: false)
        let at = try #require(Self.takeover(sim, vip, excluding: owner, since: frozenAt))
        #expect(frozenAt.duration(to: at) <= .seconds(3), "took \(frozenAt.duration(to: at))")
        // The thawed owner never answered beside the new one (checked after every event), and
        // it did not need the admitted window either.
        #expect(sim.admittedOverlaps == 0)
    }

    /// The longest time `vip` had no answerer in [from, to].
    static func longestGap(_ sim: Simulation, _ vip: IPAddress, from: ManualInstant, to: ManualInstant) -> Duration {
        var answering: Set<String> = Set(sim.timeline.filter { $0.vip == vip && $0.at < from }.reduce(into: [String: Bool]()) { $0[$1.node] = $1.answering }.filter(\.value).keys)
        var darkSince: ManualInstant? = answering.isEmpty ? from : nil
        var longest: Duration = .zero
        for change in sim.timeline where change.vip == vip && change.at >= from && change.at <= to {
            if change.answering { answering.insert(change.node) } else { answering.remove(change.node) }
            if answering.isEmpty, darkSince == nil { darkSince = change.at }
            if !answering.isEmpty, let since = darkSince {
                longest = max(longest, since.duration(to: change.at))
                darkSince = nil
            }
        }
        if let since = darkSince { longest = max(longest, since.duration(to: to)) }
        return longest
    }

    @Test func aRestartedSpeakerTakesItsVIPsBackWithoutAGap() throws {
        var sim = try Self.steady(nodes: 4)
        let index = 2
        let stoppedAt = sim.now
        sim.apply(sim.nodes[index].core.shutdown(now: sim.local(index)), to: index)
        try sim.run(until: stoppedAt.advanced(by: .seconds(40)), faultsEnabled: false)
        // It was restarted (restartStopped) and took its VIPs back.
        #expect(sim.nodes[index].running)
        let name = sim.nodes[index].name
        let handedBack = sim.vips.filter { vip in sim.answerers[vip] == [name] }
        #expect(!handedBack.isEmpty, "node-2 owns no VIP: pick another node")
        for vip in sim.vips {
            let gap = Self.longestGap(sim, vip, from: stoppedAt.advanced(by: .milliseconds(500)), to: sim.now)
            #expect(gap <= .milliseconds(500), "\(vip) was dark for \(gap)")
        }
    }

    @Test func freshStartAnswersEveryVIPWithinTwoSeconds() throws {
        var sim = Simulation(seed: 3, parameters: Self.parameters(nodes: 4))
        // Every speaker starts within the first 3 s (Simulation.init).
        try sim.run(until: .seconds(20), faultsEnabled: false)
        let lastStart = ManualInstant.seconds(3)
        for vip in sim.vips {
            let first = try #require(sim.timeline.first { $0.vip == vip && $0.answering }?.at, "\(vip) never answered")
            #expect(first <= lastStart.advanced(by: .seconds(2)), "\(vip) first answered at \(first)")
        }
    }

    /// API writes, watch events and probe traffic per second in a steady cluster: a 10 s window
    /// after 25 s (every speaker started and settled).
    static func load(nodes: Int, probing: Bool) throws -> (writes: Double, events: Double, datagrams: Double, bytes: Double) {
        var parameters = Self.parameters(nodes: nodes, vips: 16)
        parameters.heartbeats = probing
        if !probing {
            parameters.probing = false
            parameters.timings = .default
        }
        var sim = Simulation(seed: 11, parameters: parameters)
        try sim.run(until: .seconds(25), faultsEnabled: false)
        let (writes, events, datagrams, bytes) = (sim.apiWrites, sim.watchEvents, sim.probeDatagrams, sim.probeBytes)
        let window: Double = 10
        try sim.run(until: sim.now.advanced(by: .seconds(10)), faultsEnabled: false)
        for (vip, answering) in sim.answerers { #expect(answering == sim.expectedOwner(of: vip).map { [$0] }, "\(vip): \(answering)") }
        return (
            writes: Double(sim.apiWrites - writes) / window, events: Double(sim.watchEvents - events) / window,
            datagrams: Double(sim.probeDatagrams - datagrams) / window / Double(nodes), bytes: Double(sim.probeBytes - bytes) / window / Double(nodes)
        )
    }

    /// The design note's table: with probes, Lease writes stay nodes / renew interval, and watch
    /// events fall from nodes² / renew interval (every speaker watches every renewal, measured
    /// here too) to nodes / renew interval (each speaker watches its own heartbeat; the speaker
    /// Leases everyone watches change only on acquire, release and break). Probe traffic per
    /// node does not grow with the cluster.
    @Test func loadFiguresScaleLinearlyWithProbes() throws {
        let interval = 5.0  // renew interval of the default timings
        var eventsPerNode: [Int: Double] = [:]
        for nodes in [10, 30] {
            let probing = try Self.load(nodes: nodes, probing: true)
            let without = try Self.load(nodes: nodes, probing: false)
            print("load at \(nodes) nodes: with probes \(probing.writes) Lease writes/s, \(probing.events) watch events/s, \(probing.datagrams) probe datagrams/s and \(probing.bytes) bytes/s sent per node; without probes \(without.writes) Lease writes/s, \(without.events) watch events/s")
            let n = Double(nodes)
            #expect(probing.writes <= n / interval * 1.1, "Lease writes above today's nodes / renew interval")
            #expect(without.writes <= n / interval * 1.1)
            // Today's fan-out, measured: every renewal reaches every speaker.
            #expect(without.events >= n * n / interval * 0.9, "\(without.events)")
            // With heartbeats: each renewal reaches its own speaker only.
            #expect(probing.events <= n / interval * 1.1, "\(probing.events)")
            #expect(probing.datagrams <= 12, "a node sends one ping and answers about one per 200 ms")
            #expect(probing.bytes <= 12 * 80)
            eventsPerNode[nodes] = probing.events / n
        }
        // Linear: three times the nodes, three times the events (not nine), so 1,000 nodes stay
        // at about 1,000 / renew interval = 200 events/s, far under the 20,000/s of issue 12.
        let perNode = try #require(eventsPerNode[30])
        #expect(abs(perNode - eventsPerNode[10]!) <= 0.1 / interval, "events per node: \(eventsPerNode)")
        #expect(perNode * 1_000 <= 20_000, "extrapolated to 1,000 nodes: \(perNode * 1_000)")
    }
}
