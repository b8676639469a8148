import L2Ownership
import LBCore
import NetPrimitives
import SpeakerCore
import TestSupport
import Testing

/// Issue 12, simulation seed 5 (two answerers right after `healAll`): node-3 yielded 203.0.113.17
/// to node-2's claim, then its watch delivered, late, the break of node-2's *previous* Lease
/// version (committed before node-2 acquired again and claimed). node-3 read it as node-2 gone
/// and took the VIP while node-2 answered it. A claim names the claimant's Lease version; until
/// the watch shows that version, older events cannot end the claimant's liveness.
///
/// Each row drives one speaker (node-3) through watch events for node-2's Lease, claims from
/// node-2 and waits, and gives after every step whether node-3 answers the VIP.
struct ClaimThenLateBreakTests {
    typealias Node = NodeSpeaker<ManualInstant>
    static let vip = IPAddress("203.0.113.17")!
    static let key = ProbeKey(Array("claim-then-late-break-test-key".utf8))!
    static let timings = LeaseTimings.probing  // renew 5 s, deadline 11 s, keep 3 s, hand-off 15 s

    enum Step: CustomStringConvertible {
        /// node-2's Lease on node-3's watch.
        case peer(held: Bool, version: String)
        /// An authenticated claim from node-2 naming its Lease version.
        case claim(version: String)
        /// Time passes (node-3 renews its own Lease meanwhile, every write seen back).
        case wait(Double)

        var description: String {
            switch self {
            case .peer(let held, let version): return "node-2 \(held ? "held" : "unheld") rv \(version)"
            case .claim(let version): return "claim rv \(version)"
            case .wait(let seconds): return "wait \(seconds) s"
            }
        }
    }

    struct Row: CustomTestStringConvertible {
        var name: String
        /// Each step and whether node-3 answers the VIP after it.
        var steps: [(Step, answers: Bool)]
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "seed 5: the break of node-2's previous version arrives after its claim", steps: [
            (.peer(held: true, version: "133"), answers: true),  // a newcomer: kept for the keep window
            (.wait(4), answers: false),
            (.claim(version: "137"), answers: false),
            (.peer(held: false, version: "136"), answers: false),  // older than the claim: node-2 stays live
            (.peer(held: true, version: "137"), answers: false),
            (.peer(held: false, version: "138"), answers: true),  // a break after the claim does count
        ]),
        Row(name: "a claim before the watch ever showed node-2", steps: [
            (.claim(version: "5"), answers: false),
            (.peer(held: false, version: "4"), answers: false),
            (.peer(held: true, version: "5"), answers: false),
            (.peer(held: false, version: "6"), answers: true),
        ]),
        Row(name: "a claim of the version the watch already shows", steps: [
            (.peer(held: true, version: "5"), answers: true),
            (.wait(4), answers: false),
            (.claim(version: "5"), answers: false),
            (.peer(held: false, version: "6"), answers: true),
        ]),
        Row(name: "the watch skips the claimed version (relist): the claim lasts the hand-off delay", steps: [
            (.peer(held: true, version: "3"), answers: true),
            (.wait(4), answers: false),
            (.claim(version: "5"), answers: false),
            (.peer(held: false, version: "6"), answers: false),
            (.wait(14), answers: false),
            (.wait(2), answers: true),
        ]),
    ]

    /// node-3 alone with the VIP: acquired at 0, seen back, claim granted (no live peer).
    struct Driver {
        var node = Node(
            nodeName: "node-3", timings: ClaimThenLateBreakTests.timings,
            probing: Node.Probing(key: ClaimThenLateBreakTests.key, incarnation: 3, seed: 3, port: 7946)
        )
        var now = 0.0
        var ownVersion = 0
        var counter: UInt64 = 0

        init() throws {
            let service = ServiceKey(namespace: "ns", name: "svc-7")
            let inputs: [SpeakerInput] = [
                .config("address-pools:\n- {name: sim, protocol: layer2, addresses: [203.0.113.17/32]}"),
                .nodeUpserted(NodeState(name: "node-2", addresses: [IPAddress("192.0.2.12")!])),
                .nodeUpserted(NodeState(name: "node-3", addresses: [IPAddress("192.0.2.13")!])),
                .serviceUpserted(SpeakerService(key: service, ips: [ClaimThenLateBreakTests.vip])),
                .endpoints(service, ServiceEndpoints(anyUsable: true)),
                .synced,
            ]
            for input in inputs { handle(node.apply(input, now: .seconds(now))) }
            handle(node.start(now: .seconds(now)))
            try #require(answers, "node-3 alone should answer the VIP")
        }

        var answers: Bool { node.plan.layer2[ClaimThenLateBreakTests.vip] != nil }

        /// Performs node-3's own Lease writes (each succeeds and comes back on its watch at once).
        mutating func handle(_ actions: [Node.Action]) {
            for action in actions {
                guard case .lease(let request, let sentAt) = action else { continue }
                switch request {
                case .acquire, .renew:
                    ownVersion += 1
                    let version = "own-\(ownVersion)"
                    handle(node.leaseOutcome(sentAt: sentAt, .succeeded(resourceVersion: version), now: .seconds(now)))
                    handle(node.apply(.lease(node: "node-3", held: true, resourceVersion: version, marker: .probes), now: .seconds(now)))
                case .heartbeat:
                    // node-2 unheld, or marked `heartbeats`: node-3 renews its heartbeat Lease.
                    ownVersion += 1
                    let version = "own-\(ownVersion)"
                    handle(node.leaseOutcome(sentAt: sentAt, .succeeded(resourceVersion: version), now: .seconds(now)))
                    handle(node.apply(.heartbeat(node: "node-3", resourceVersion: version), now: .seconds(now)))
                case .release, .read:
                    Issue.record("unexpected \(request)")
                }
            }
        }

        mutating func run(_ step: Step) {
            switch step {
            case .peer(let held, let version):
                now += 0.1
                handle(node.apply(.lease(node: "node-2", held: held, resourceVersion: version, marker: .probes), now: .seconds(now)))
            case .claim(let version):
                now += 0.1
                counter += 1
                let claim = ProbeMessage(kind: .claim, incarnation: 2, counter: counter, nonce: 77, from: "node-2", to: "node-3", subject: version)
                let actions = node.probeReceived(claim.encoded(key: ClaimThenLateBreakTests.key), from: ProbeEndpoint(address: IPAddress("192.0.2.12")!, port: 40000), now: .seconds(now))
                #expect(actions.contains(.yielded(to: "node-2")))
                handle(actions)
            case .wait(let seconds):
                let end = now + seconds
                while now < end {
                    now = min(end, now + 0.25)
                    handle(node.timerFired(now: .seconds(now)))
                }
            }
        }
    }

    @Test(arguments: rows)
    func aLateEventOlderThanAClaimDoesNotEndIt(row: Row) throws {
        var driver = try Driver()
        for (index, (step, answers)) in row.steps.enumerated() {
            driver.run(step)
            #expect(driver.answers == answers, "step \(index) (\(step)) at t=\(driver.now): node-3 answers \(driver.answers), expected \(answers)")
        }
    }
}
