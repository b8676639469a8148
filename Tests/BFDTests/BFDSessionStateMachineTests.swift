import BFD
import NIOCore
import TestSupport
import Testing

typealias Machine = BFDSessionStateMachine<ManualInstant, SplitMix64>
typealias Action = BFDSessionAction<ManualInstant>

extension Array where Element == BFDSessionAction<ManualInstant> {
    var sent: [BFDControlPacket] { compactMap { if case .send(let packet) = $0 { packet } else { nil } } }
    var changes: [(from: BFDState, to: BFDState, diagnostic: BFDDiagnostic)] {
        compactMap { if case .stateChanged(let from, let to, let diagnostic) = $0 { (from, to, diagnostic) } else { nil } }
    }
    func deadline(_ timer: BFDTimer) -> ManualInstant? {
        compactMap { if case .scheduleTimer(timer, let deadline) = $0 { deadline } else { nil } }.last
    }
    var drops: [BFDDropReason] { compactMap { if case .dropped(let reason) = $0 { reason } else { nil } } }
}

func ms(_ value: Int64) -> ManualInstant { ManualInstant(offset: .milliseconds(value)) }

/// Two machines joined by a lossless wire with a given one-way delay, driven by the earliest
/// pending timer or delivery: a whole session without sockets or a clock.
struct Wire {
    var machines: [Machine]
    var now = ManualInstant.zero
    var timers: [[BFDTimer: ManualInstant]] = [[:], [:]]
    var inFlight: [(at: ManualInstant, to: Int, packet: BFDControlPacket)] = []
    var log: [(side: Int, at: ManualInstant, action: Action)] = []
    var delay: Duration = .milliseconds(1)
    /// A side that is cut off: it sends and receives nothing.
    var silenced: Set<Int> = []

    init(_ first: BFDSessionConfiguration, _ second: BFDSessionConfiguration, seed: UInt64 = 1) {
        machines = [Machine(configuration: first, random: SplitMix64(seed: seed)),
                    Machine(configuration: second, random: SplitMix64(seed: seed + 1))]
    }

    mutating func apply(_ side: Int, _ actions: [Action]) {
        for action in actions {
            log.append((side, now, action))
            switch action {
            case .send(let packet):
                if !silenced.contains(side) { inFlight.append((now.advanced(by: delay), 1 - side, packet)) }
            case .scheduleTimer(let timer, let deadline): timers[side][timer] = deadline
            case .cancelTimer(let timer): timers[side][timer] = nil
            case .stateChanged, .dropped: break
            }
        }
    }

    mutating func start() {
        apply(0, machines[0].start(now: now))
        apply(1, machines[1].start(now: now))
    }

    /// Runs events until `until`.
    mutating func run(until end: ManualInstant) {
        for _ in 0..<1_000_000 {
            let nextDelivery = inFlight.indices.min { inFlight[$0].at < inFlight[$1].at }
            var nextTimer: (side: Int, timer: BFDTimer, at: ManualInstant)?
            for side in 0..<2 {
                for (timer, at) in timers[side] where nextTimer == nil || at < nextTimer!.at { nextTimer = (side, timer, at) }
            }
            let deliveryAt = nextDelivery.map { inFlight[$0].at }
            guard let at = [deliveryAt, nextTimer?.at].compactMap({ $0 }).min(), at <= end else {
                now = end
                return
            }
            now = at
            if let index = nextDelivery, deliveryAt == at {
                let delivery = inFlight.remove(at: index)
                if !silenced.contains(delivery.to) {
                    apply(delivery.to, machines[delivery.to].received(delivery.packet, now: now))
                }
            } else if let timer = nextTimer {
                timers[timer.side][timer.timer] = nil
                apply(timer.side, machines[timer.side].timerFired(timer.timer, now: now))
            }
        }
        Issue.record("the wire did not settle")
    }

    func sent(by side: Int, after start: Int = 0) -> [BFDControlPacket] {
        log[start...].filter { $0.side == side }.map(\.action).sent
    }
}

@Suite struct BFDSessionStateMachineTests {
    static let a = BFDSessionConfiguration(localDiscriminator: 0x1111, desiredMinTxInterval: 300_000, requiredMinRxInterval: 300_000, detectMultiplier: 3)
    static let b = BFDSessionConfiguration(localDiscriminator: 0x2222, desiredMinTxInterval: 300_000, requiredMinRxInterval: 300_000, detectMultiplier: 3)

    @Test func twoSessionsComeUpThroughInitAndThenPollForTheirFastIntervals() {
        var wire = Wire(Self.a, Self.b)
        wire.start()
        wire.run(until: ms(5_000))
        #expect(wire.machines.allSatisfy { $0.state == .up })
        #expect(wire.machines.allSatisfy { !$0.polling })
        // One side sees Down → Init → Up, the other Down → Up (it heard Init) or the same.
        for side in 0..<2 {
            let changes = wire.log.filter { $0.side == side }.map(\.action).changes
            #expect(changes.last?.to == .up)
            #expect(changes.allSatisfy { $0.to != .down })
        }
        // After Up both advertise 300 ms; before, the one-second floor (§6.8.3).
        #expect(wire.machines[0].advertisedIntervals == (300_000, 300_000))
        #expect(wire.sent(by: 0).first?.desiredMinTxInterval == 1_000_000)
        #expect(wire.sent(by: 0).contains { $0.poll && $0.state == .up })
        #expect(wire.sent(by: 1).contains { $0.final && $0.state == .up })
        #expect(wire.machines[0].transmitInterval == 300_000)
        #expect(wire.machines[0].detectionTime == 900_000)
        #expect(wire.machines[0].remote.discriminator == 0x2222)
    }

    @Test func whileNotUpTransmissionsAreAboutOneSecondApart() {
        var machine = Machine(configuration: Self.a, random: SplitMix64(seed: 7))
        var actions = machine.start(now: .zero)
        #expect(actions.sent.count == 1)
        #expect(actions.sent.first == BFDControlPacket(state: .down, detectMultiplier: 3, myDiscriminator: 0x1111, yourDiscriminator: 0,
                                                         desiredMinTxInterval: 1_000_000, requiredMinRxInterval: 300_000))
        var at = ManualInstant.zero
        for _ in 0..<50 {
            let deadline = actions.deadline(.transmit)!
            let gap = at.duration(to: deadline)
            #expect(gap >= .milliseconds(750) && gap <= .milliseconds(1_000))
            at = deadline
            actions = machine.timerFired(.transmit, now: at)
            #expect(actions.sent.count == 1)
        }
    }

    @Test func jitterStaysWithinSeventyFiveToOneHundredPercentAndNinetyWithMultiplierOne() {
        for (multiplier, ceiling) in [(UInt8(3), 1.0), (UInt8(1), 0.9)] {
            var configuration = Self.a
            configuration.detectMultiplier = multiplier
            var machine = Machine(configuration: configuration, random: SplitMix64(seed: 99))
            var actions = machine.start(now: .zero)
            var fractions: [Double] = []
            var at = ManualInstant.zero
            for _ in 0..<2_000 {
                let deadline = actions.deadline(.transmit)!
                let gap = at.duration(to: deadline)
                fractions.append(Double(gap.components.attoseconds / 1_000_000_000_000 + gap.components.seconds * 1_000_000) / 1_000_000)
                at = deadline
                actions = machine.timerFired(.transmit, now: at)
            }
            #expect(fractions.allSatisfy { $0 >= 0.75 && $0 <= ceiling })
            #expect(fractions.min()! < 0.76 && fractions.max()! > ceiling - 0.01)
        }
    }

    @Test func transmitIntervalIsTheLargerOfOurTxAndTheirRx() {
        var machine = Machine(configuration: Self.a, random: SplitMix64(seed: 1))
        _ = machine.start(now: .zero)
        // The peer is Init (it heard us) and asks for at most one packet per 500 ms.
        let packet = BFDControlPacket(state: .initializing, detectMultiplier: 4, myDiscriminator: 9, yourDiscriminator: 0x1111,
                                      desiredMinTxInterval: 200_000, requiredMinRxInterval: 500_000)
        let actions = machine.received(packet, now: ms(10))
        #expect(machine.state == .up)
        #expect(actions.changes.map(\.to) == [.up])
        #expect(machine.transmitInterval == 500_000)
        let next = actions.deadline(.transmit)!
        #expect(next >= ms(10 + 375) && next <= ms(10 + 500))
        // Detection: their multiplier × max(our Required Min RX 300 ms, their Desired Min TX 200 ms).
        #expect(machine.detectionTime == 4 * 300_000)
        #expect(actions.deadline(.detection) == ms(10 + 1_200))
    }

    @Test func detectionExpiryGoesDownWithDiagnosticOneAndForgetsThePeer() {
        var wire = Wire(Self.a, Self.b)
        wire.start()
        wire.run(until: ms(5_000))
        #expect(wire.machines[0].state == .up)
        let mark = wire.log.count
        wire.silenced = [1]
        wire.run(until: ms(6_000))
        #expect(wire.machines[0].state == .down)
        #expect(wire.machines[0].diagnostic == .controlDetectionTimeExpired)
        let changes = wire.log[mark...].filter { $0.side == 0 }.map(\.action).changes
        #expect(changes.count == 1)
        #expect(changes.first?.to == .down && changes.first?.diagnostic == .controlDetectionTimeExpired)
        let last = wire.sent(by: 0, after: mark).last!
        #expect(last.state == .down && last.yourDiscriminator == 0 && last.diagnostic == .controlDetectionTimeExpired)
        #expect(last.desiredMinTxInterval == 1_000_000)
        // Cut off, it recovers when the peer is back.
        wire.silenced = []
        wire.run(until: ms(12_000))
        #expect(wire.machines.allSatisfy { $0.state == .up })
    }

    @Test func detectionTakesAtMostTheDetectionTimeAfterTheLastPacket() {
        for seed: UInt64 in 1...20 {
            var wire = Wire(Self.a, Self.b, seed: seed)
            wire.start()
            wire.run(until: ms(5_000))
            wire.silenced = [1]
            let cut = wire.now
            wire.run(until: ms(7_000))
            #expect(wire.machines[0].state == .down)
            // The last packet side 0 accepted (it re-armed detection) and the moment it went Down.
            let downAt = wire.log.first { $0.side == 0 && $0.at > cut && $0.action.isStateChange }!.at
            let lastHeard = wire.log.last { $0.side == 0 && $0.at < downAt && $0.action.armsDetection }!.at
            #expect(lastHeard.duration(to: downAt) == .milliseconds(900))
            // And never sooner than the peer's slowest legitimate gap (its 300 ms interval).
            #expect(cut.duration(to: downAt) > .zero)
        }
    }

    /// RFC 5880 §6.8.6: the state a session moves to for each received state.
    static let transitions: [(local: BFDState, received: BFDState, next: BFDState, diagnostic: BFDDiagnostic?)] = [
        (.down, .adminDown, .down, nil),
        (.down, .down, .initializing, nil),
        (.down, .initializing, .up, BFDDiagnostic.none),
        (.down, .up, .down, nil),
        (.initializing, .adminDown, .down, .neighborSignaledSessionDown),
        (.initializing, .down, .initializing, nil),
        (.initializing, .initializing, .up, BFDDiagnostic.none),
        (.initializing, .up, .up, BFDDiagnostic.none),
        (.up, .adminDown, .down, .neighborSignaledSessionDown),
        (.up, .down, .down, .neighborSignaledSessionDown),
        (.up, .initializing, .up, nil),
        (.up, .up, .up, nil),
    ]

    /// Brings a machine to `state` with packets from a peer with discriminator 9.
    static func machine(in state: BFDState) -> Machine {
        var machine = Machine(configuration: a, random: SplitMix64(seed: 3))
        _ = machine.start(now: .zero)
        func packet(_ state: BFDState) -> BFDControlPacket {
            BFDControlPacket(state: state, detectMultiplier: 3, myDiscriminator: 9, yourDiscriminator: state == .down ? 0 : 0x1111,
                             desiredMinTxInterval: 1_000_000, requiredMinRxInterval: 300_000)
        }
        switch state {
        case .down, .adminDown: break
        case .initializing: _ = machine.received(packet(.down), now: ms(1))
        case .up: _ = machine.received(packet(.initializing), now: ms(1))
        }
        #expect(machine.state == state)
        return machine
    }

    @Test(arguments: 0..<transitions.count)
    func receivedStatesMoveTheSessionAsRFC5880Says(_ row: Int) {
        let (local, received, next, diagnostic) = Self.transitions[row]
        var machine = Self.machine(in: local)
        let packet = BFDControlPacket(state: received, detectMultiplier: 3, myDiscriminator: 9,
                                      yourDiscriminator: received == .down || received == .adminDown ? 0 : 0x1111,
                                      desiredMinTxInterval: 1_000_000, requiredMinRxInterval: 300_000)
        let actions = machine.received(packet, now: ms(100))
        #expect(machine.state == next)
        if local == next {
            #expect(actions.changes.isEmpty)
        } else {
            #expect(actions.changes.map(\.to) == [next])
            // A change goes out at once.
            #expect(actions.sent.last?.state == next)
        }
        if let diagnostic { #expect(machine.diagnostic == diagnostic) }
    }

    @Test func aPollIsAnsweredAtOnceWithFinal() {
        var machine = Self.machine(in: .up)
        let poll = BFDControlPacket(state: .up, poll: true, detectMultiplier: 3, myDiscriminator: 9, yourDiscriminator: 0x1111,
                                    desiredMinTxInterval: 100_000, requiredMinRxInterval: 100_000)
        let actions = machine.received(poll, now: ms(200))
        let finals = actions.sent.filter(\.final)
        #expect(finals.count == 1)
        #expect(finals.first.map { !$0.poll && $0.state == .up } == true)
        #expect(machine.detectionTime == 3 * 300_000)
    }

    @Test func aParameterChangeWhileUpRunsAPollSequenceWithoutAFlap() {
        var wire = Wire(Self.a, Self.b)
        wire.start()
        wire.run(until: ms(5_000))
        let mark = wire.log.count
        var slower = Self.a
        slower.desiredMinTxInterval = 600_000
        slower.requiredMinRxInterval = 100_000
        let before = wire.machines[0].detectionTime
        wire.apply(0, wire.machines[0].reconfigure(slower, now: wire.now))
        // Until the Final: the old (faster) transmit rate and the old (longer) detection time.
        #expect(wire.machines[0].polling)
        #expect(wire.machines[0].transmitInterval == 300_000)
        #expect(wire.machines[0].detectionTime == before)
        #expect(wire.sent(by: 0, after: mark).first.map { $0.poll && $0.desiredMinTxInterval == 600_000 } == true)
        wire.run(until: ms(8_000))
        #expect(!wire.machines[0].polling)
        #expect(wire.machines[0].transmitInterval == 600_000)
        // Their 300 ms TX now bounds our detection: 3 × max(100, 300) ms.
        #expect(wire.machines[0].detectionTime == 900_000)
        // The peer sends at our new Required Min RX... of no less than its own 300 ms; and
        // waits 3 × 600 ms for us.
        #expect(wire.machines[1].detectionTime == 1_800_000)
        #expect(wire.log[mark...].map(\.action).changes.isEmpty)
        #expect(wire.machines.allSatisfy { $0.state == .up })
    }

    @Test func aPassiveSessionWaitsForThePeer() {
        var passive = Self.b
        passive.passive = true
        var machine = Machine(configuration: passive, random: SplitMix64(seed: 5))
        let started = machine.start(now: .zero)
        #expect(started.isEmpty)
        #expect(machine.timerFired(.transmit, now: ms(1_000)).sent.isEmpty)
        let hello = BFDControlPacket(state: .down, detectMultiplier: 3, myDiscriminator: 0x1111, yourDiscriminator: 0,
                                     desiredMinTxInterval: 1_000_000, requiredMinRxInterval: 300_000)
        let actions = machine.received(hello, now: ms(1_500))
        #expect(actions.sent.map(\.state) == [.initializing])
        #expect(actions.sent.first?.yourDiscriminator == 0x1111)
        #expect(actions.deadline(.transmit) != nil)
        // Two passive ends never meet; one passive and one active do.
        var wire = Wire(Self.a, passive)
        wire.start()
        wire.run(until: ms(5_000))
        #expect(wire.machines.allSatisfy { $0.state == .up })
        var silent = Wire(passive, passive)
        silent.start()
        silent.run(until: ms(5_000))
        #expect(silent.log.map(\.action).sent.isEmpty)
    }

    @Test func packetsTheSessionCannotAcceptAreDroppedWithAReason() {
        var machine = Self.machine(in: .up)
        var packet = BFDControlPacket(state: .up, detectMultiplier: 3, myDiscriminator: 9, yourDiscriminator: 0x1111,
                                      desiredMinTxInterval: 300_000, requiredMinRxInterval: 300_000)
        packet.authentication = BFDAuthentication(type: 2, data: Array(repeating: 0, count: 22))
        #expect(machine.received(packet, now: ms(100)) == [.dropped(.authenticationNotSupported)])
        packet.authentication = nil
        packet.yourDiscriminator = 0x3333
        #expect(machine.received(packet, now: ms(100)) == [.dropped(.unknownDiscriminator)])
        packet.yourDiscriminator = 0x1111
        _ = machine.adminDown(now: ms(200))
        #expect(machine.received(packet, now: ms(300)) == [.dropped(.sessionAdminDown)])
        #expect(machine.state == .adminDown)
    }

    @Test func adminDownTellsThePeerAndAdminUpStartsOver() {
        var wire = Wire(Self.a, Self.b)
        wire.start()
        wire.run(until: ms(5_000))
        wire.apply(0, wire.machines[0].adminDown(now: wire.now))
        wire.run(until: ms(6_000))
        #expect(wire.machines[0].state == .adminDown)
        #expect(wire.machines[1].state == .down)
        #expect(wire.machines[1].diagnostic == .neighborSignaledSessionDown)
        wire.apply(0, wire.machines[0].adminUp(now: wire.now))
        wire.run(until: ms(10_000))
        #expect(wire.machines.allSatisfy { $0.state == .up })
    }

    @Test func aPeerAskingForNoPacketsGetsNoPeriodicOnes() {
        var machine = Self.machine(in: .up)
        let quiet = BFDControlPacket(state: .up, detectMultiplier: 3, myDiscriminator: 9, yourDiscriminator: 0x1111,
                                     desiredMinTxInterval: 300_000, requiredMinRxInterval: 0)
        let actions = machine.received(quiet, now: ms(100))
        #expect(actions.contains(.cancelTimer(.transmit)))
        #expect(machine.transmitInterval == nil)
        #expect(machine.timerFired(.transmit, now: ms(1_000)).deadline(.transmit) == nil)
    }

    /// The routers' own packets, replayed: our session plays BIRD's part against FRR's
    /// captured Down and Up packets (discriminators as captured).
    @Test func frrsCapturedPacketsBringASessionUp() throws {
        let down = try BFDFixtures.packet("frr-down-v4")
        let up = try BFDFixtures.packet("frr-up-v4")
        var machine = Machine(configuration: BFDSessionConfiguration(localDiscriminator: up.yourDiscriminator), random: SplitMix64(seed: 1))
        _ = machine.start(now: .zero)
        #expect(machine.received(down, now: ms(10)).changes.map(\.to) == [.initializing])
        // FRR, having heard our Init, is Up: so are we.
        #expect(machine.received(up, now: ms(20)).changes.map(\.to) == [.up])
        let poll = try BFDFixtures.packet("frr-up-poll-v4")
        #expect(machine.received(poll, now: ms(30)).sent.contains { $0.final })
        let admin = try BFDFixtures.packet("frr-admindown-v4")
        #expect(machine.received(admin, now: ms(40)).changes.map(\.diagnostic) == [.neighborSignaledSessionDown])
    }
}

extension BFDSessionAction {
    var isStateChange: Bool { if case .stateChanged = self { true } else { false } }
    var armsDetection: Bool { if case .scheduleTimer(.detection, _) = self { true } else { false } }
}

@Suite struct BFDClientGateTests {
    @Test func upToDownTearsDownAndHoldsUntilUpAgain() {
        var gate = BFDClientGate()
        #expect(gate.stateChanged(from: .down, to: .initializing, peerAdminDown: false) == nil)
        #expect(gate.stateChanged(from: .initializing, to: .up, peerAdminDown: false) == nil)
        #expect(gate.stateChanged(from: .up, to: .down, peerAdminDown: false) == .tearDown)
        #expect(gate.holding)
        #expect(gate.stateChanged(from: .down, to: .initializing, peerAdminDown: false) == nil)
        #expect(gate.stateChanged(from: .initializing, to: .down, peerAdminDown: false) == nil)
        #expect(gate.holding)
        #expect(gate.stateChanged(from: .down, to: .up, peerAdminDown: false) == .resume)
        #expect(!gate.holding)
    }

    @Test func thePeersAdminDownIsNotAFailure() {
        var gate = BFDClientGate()
        #expect(gate.stateChanged(from: .up, to: .down, peerAdminDown: true) == nil)
        #expect(!gate.holding)
        #expect(gate.stateChanged(from: .down, to: .up, peerAdminDown: false) == nil)
    }

    @Test func aSessionThatNeverCameUpHoldsNothing() {
        var gate = BFDClientGate()
        #expect(gate.stateChanged(from: .initializing, to: .down, peerAdminDown: false) == nil)
        #expect(gate.stateChanged(from: .down, to: .adminDown, peerAdminDown: false) == nil)
        #expect(!gate.holding)
    }
}
