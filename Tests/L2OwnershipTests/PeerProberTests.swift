import L2Ownership
import NetPrimitives
import Testing
import TestSupport

/// The probe datagram codec and the failure detector (issue 12), scripted with a manual clock.
struct PeerProberTests {
    typealias Prober = PeerProber<ManualInstant>
    static let key = ProbeKey(Array("0123456789abcdef-probe-key".utf8))!
    static let otherKey = ProbeKey(Array("another-cluster-key-0123".utf8))!
    static func endpoint(_ last: UInt8, port: UInt16 = 7946) -> ProbeEndpoint { ProbeEndpoint(address: .v4(IPv4Address(192, 0, 2, last)), port: port) }

    // MARK: Codec

    @Test func roundTripsEveryKind() throws {
        for kind in ProbeMessage.Kind.allCases {
            let message = ProbeMessage(kind: kind, incarnation: 1_733_000_000_000, counter: 7, nonce: 0xdead_beef_0102_0304, from: "node-a", to: "node-b", subject: kind == .pingRequest ? "node-c" : "")
            let bytes = message.encoded(key: Self.key)
            #expect(Array(bytes.prefix(6)) == [0x49, 0x4c, 0x42, 0x50, 1, kind.rawValue])
            #expect(try ProbeMessage(decoding: bytes, key: Self.key) == message)
        }
    }

    @Test func refusesForgedTamperedAndMalformedDatagrams() {
        let bytes = ProbeMessage(kind: .ack, incarnation: 1, counter: 1, nonce: 42, from: "a", to: "b").encoded(key: Self.key)
        #expect(throws: ProbeMessage.DecodeError.badTag) { try ProbeMessage(decoding: bytes, key: Self.otherKey) }
        var tampered = bytes
        tampered[20] ^= 1  // the nonce
        #expect(throws: ProbeMessage.DecodeError.badTag) { try ProbeMessage(decoding: tampered, key: Self.key) }
        #expect(throws: ProbeMessage.DecodeError.truncated) { try ProbeMessage(decoding: Array(bytes.prefix(20)), key: Self.key) }
        var magic = bytes
        magic[0] = 0
        #expect(throws: ProbeMessage.DecodeError.badMagic) { try ProbeMessage(decoding: magic, key: Self.key) }
        // Every prefix and every single-byte change is refused without a trap.
        for length in 0..<bytes.count { #expect(throws: ProbeMessage.DecodeError.self) { try ProbeMessage(decoding: Array(bytes.prefix(length)), key: Self.key) } }
        for index in bytes.indices {
            var changed = bytes
            changed[index] ^= 0x80
            #expect(throws: ProbeMessage.DecodeError.self) { try ProbeMessage(decoding: changed, key: Self.key) }
        }
    }

    // MARK: Detector

    /// Two probers wired by hand: `a` pings `b`, `b` acks.
    static func pair() -> (Prober, Prober) {
        var a = Prober(selfName: "a", key: key, incarnation: 100, seed: 1)
        var b = Prober(selfName: "b", key: key, incarnation: 200, seed: 2)
        _ = a.setMembers(["b": endpoint(12)], now: .zero)
        _ = b.setMembers(["a": endpoint(11)], now: .zero)
        return (a, b)
    }

    static func sends(_ actions: [Prober.Action]) -> [(bytes: [UInt8], to: ProbeEndpoint, node: String)] {
        actions.compactMap { if case .send(let bytes, let to, let node) = $0 { return (bytes, to, node) } else { return nil } }
    }

    static func replies(_ actions: [Prober.Action]) -> [[UInt8]] {
        actions.compactMap { if case .reply(let bytes, _) = $0 { return bytes } else { return nil } }
    }

    static func deaths(_ actions: [Prober.Action]) -> [String] {
        actions.compactMap { if case .dead(let node, _) = $0 { return node } else { return nil } }
    }

    @Test func anAckedPeerIsNeverDeclaredDead() {
        var (a, b) = Self.pair()
        var now = ManualInstant.zero
        for _ in 0..<100 {
            now = now.advanced(by: .milliseconds(100))
            for ping in Self.sends(a.tick(now: now)) where ping.node == "b" {
                for ack in Self.replies(b.receive(ping.bytes, from: Self.endpoint(11, port: 40000), now: now)) {
                    #expect(Self.deaths(a.receive(ack, from: Self.endpoint(12), now: now)).isEmpty)
                }
            }
            _ = b.tick(now: now)
        }
        #expect(a.sentCount > 40)
    }

    @Test func aSilentPeerIsDeclaredDeadAfterSuspicionAndOnlyOnce() {
        var (a, _) = Self.pair()
        var now = ManualInstant.zero
        var declared: [ManualInstant] = []
        for _ in 0..<50 {
            now = now.advanced(by: .milliseconds(100))
            if !Self.deaths(a.tick(now: now)).isEmpty { declared.append(now) }
        }
        #expect(declared.count == 1)
        let at = declared.first ?? .zero
        #expect(at >= ManualInstant.zero.advanced(by: ProbeTimings.default.suspicion))
        #expect(at <= ManualInstant.zero.advanced(by: ProbeTimings.default.suspicion + ProbeTimings.default.probeTimeout + ProbeTimings.default.interval))
    }

    @Test func aRefusedPingDeclaresDeathAtOnceButOnlyForAQuietPeerWithAPingOut() {
        var (a, _) = Self.pair()  // a pinged b at 0 (b counts as heard then)
        #expect(a.refused(node: "nobody", now: .seconds(0.5)).isEmpty)
        // Too soon after b was last heard: not enough, and that ping is over.
        #expect(a.refused(node: "b", now: .seconds(0.1)).isEmpty)
        #expect(a.refused(node: "b", now: .seconds(0.15)).isEmpty)
        // b is pinged again at its next turn, and that refusal, quiet enough, is the verdict.
        #expect(Self.sends(a.tick(now: .seconds(0.2))).map(\.node) == ["b"])
        #expect(a.refused(node: "b", now: .seconds(0.5)) == [.dead("b", refused: true)])
        // Once declared, not again.
        #expect(a.refused(node: "b", now: .seconds(0.6)).isEmpty)

        // Heard from b just now: a refusal alone is not enough (a port blocked with REJECT).
        var (c, d) = Self.pair()
        let ping = Self.sends(d.tick(now: .seconds(1))).first!
        _ = c.receive(ping.bytes, from: Self.endpoint(12, port: 40000), now: .seconds(1))
        _ = c.tick(now: .seconds(1))
        #expect(c.refused(node: "b", now: .seconds(1.1)).isEmpty)
    }

    /// A killed peer (its kernel refuses every ping) is declared dead at the first refusal
    /// once it was quiet for `refusalQuiet`: within two ping intervals of that, not after the
    /// refused probe's `probeTimeout` (which bounded SIGKILL failover near 1 s with two nodes).
    @Test func aKilledPeerIsDeclaredDeadSoonAfterItFellQuiet() {
        let timings = ProbeTimings.default
        for killedAt in stride(from: 0, through: 190, by: 10) {
            var (a, b) = Self.pair()
            var now = ManualInstant.zero
            var lastHeard = ManualInstant.zero
            var declared: ManualInstant?
            let kill = ManualInstant.zero.advanced(by: .milliseconds(1000 + killedAt))
            for _ in 0..<60 where declared == nil {
                now = now.advanced(by: .milliseconds(50))
                for ping in Self.sends(a.tick(now: now)) where ping.node == "b" {
                    if now < kill {
                        // b alive: it acks.
                        for ack in Self.replies(b.receive(ping.bytes, from: Self.endpoint(11, port: 40000), now: now)) {
                            _ = a.receive(ack, from: Self.endpoint(12), now: now)
                            lastHeard = now
                        }
                    } else if !Self.deaths(a.refused(node: "b", now: now)).isEmpty {
                        declared = now
                    }
                }
            }
            guard let at = declared else {
                Issue.record("killed at +\(killedAt) ms: never declared")
                continue
            }
            #expect(at >= lastHeard.advanced(by: timings.refusalQuiet), "killed at +\(killedAt) ms")
            #expect(at < lastHeard.advanced(by: timings.refusalQuiet + timings.interval * 2), "killed at +\(killedAt) ms: declared at \(at), last heard \(lastHeard)")
            #expect(at < lastHeard.advanced(by: timings.probeTimeout), "killed at +\(killedAt) ms")
        }
    }

    @Test func indirectProbesKeepAPeerAliveAcrossABrokenDirectPath() {
        var a = Prober(selfName: "a", key: Self.key, incarnation: 1, seed: 5)
        var b = Prober(selfName: "b", key: Self.key, incarnation: 2, seed: 6)
        var c = Prober(selfName: "c", key: Self.key, incarnation: 3, seed: 7)
        _ = a.setMembers(["b": Self.endpoint(12), "c": Self.endpoint(13)], now: .zero)
        _ = b.setMembers(["a": Self.endpoint(11), "c": Self.endpoint(13)], now: .zero)
        _ = c.setMembers(["a": Self.endpoint(11), "b": Self.endpoint(12)], now: .zero)
        var now = ManualInstant.zero
        var deaths: [String] = []
        // a cannot reach b directly (either way), both reach c.
        for _ in 0..<100 {
            now = now.advanced(by: .milliseconds(100))
            var queue: [(from: String, action: Prober.Action)] = a.tick(now: now).map { ("a", $0) } + b.tick(now: now).map { ("b", $0) } + c.tick(now: now).map { ("c", $0) }
            var steps = 0
            while !queue.isEmpty, steps < 1000 {
                steps += 1
                let (from, action) = queue.removeFirst()
                let source = from == "a" ? Self.endpoint(11) : from == "b" ? Self.endpoint(12) : Self.endpoint(13)
                let bytes: [UInt8]
                let to: String
                switch action {
                case .send(let data, _, let node): (bytes, to) = (data, node)
                case .reply(let data, let endpoint): (bytes, to) = (data, endpoint.address == Self.endpoint(11).address ? "a" : endpoint.address == Self.endpoint(12).address ? "b" : "c")
                case .dead(let node, _): deaths.append("\(from)->\(node)"); continue
                default: continue
                }
                if Set([from, to]) == ["a", "b"] { continue }
                switch to {
                case "a": queue += a.receive(bytes, from: source, now: now).map { ("a", $0) }
                case "b": queue += b.receive(bytes, from: source, now: now).map { ("b", $0) }
                default: queue += c.receive(bytes, from: source, now: now).map { ("c", $0) }
                }
            }
        }
        #expect(deaths.isEmpty, "\(deaths)")
    }

    @Test func replayedAndForeignDatagramsChangeNothing() {
        var (a, b) = Self.pair()
        let ping = Self.sends(a.tick(now: .seconds(1))).first!
        let ack = Self.replies(b.receive(ping.bytes, from: Self.endpoint(11, port: 40000), now: .seconds(1))).first!
        _ = a.receive(ack, from: Self.endpoint(12), now: .seconds(1))
        // The same ack again, later: refused as a replay (it cannot keep a dead b alive).
        #expect(a.receive(ack, from: Self.endpoint(12), now: .seconds(5)) == [.rejected("replayed")])
        // A ping signed with another key: refused, no answer.
        let forged = ProbeMessage(kind: .ping, incarnation: 9, counter: 1, nonce: 1, from: "b", to: "a").encoded(key: Self.otherKey)
        #expect(a.receive(forged, from: Self.endpoint(50), now: .seconds(5)) == [.rejected("badTag")])
        // b stays silent after that: a still declares it dead on time (the replay did not help).
        var declared = false
        var now = ManualInstant.seconds(5)
        for _ in 0..<30 {
            now = now.advanced(by: .milliseconds(100))
            declared = declared || !Self.deaths(a.tick(now: now)).isEmpty
        }
        #expect(declared)
    }

    @Test func aClaimIsGrantedWhenEveryMemberYielded() {
        var a = Prober(selfName: "a", key: Self.key, incarnation: 1, seed: 5)
        var b = Prober(selfName: "b", key: Self.key, incarnation: 2, seed: 6)
        var c = Prober(selfName: "c", key: Self.key, incarnation: 3, seed: 7)
        _ = a.setMembers(["b": Self.endpoint(12), "c": Self.endpoint(13)], now: .zero)
        let claims = Self.sends(a.startClaim(version: "41", now: .zero)).filter { _ in true }
        #expect(Set(claims.map(\.node)) == ["b", "c"])
        var granted = false
        for claim in claims {
            var peer = claim.node == "b" ? b : c
            let received = peer.receive(claim.bytes, from: Self.endpoint(11, port: 40000), now: .zero)
            guard case .claimReceived(let node, let nonce, let version, let from)? = received.first else { Issue.record("no claim: \(received)"); return }
            #expect(node == "a" && version == "41")
            let yield = Self.replies(peer.yieldMessage(to: node, nonce: nonce, endpoint: from)).first!
            #expect(!granted)
            granted = a.receive(yield, from: claim.to, now: .zero).contains(.claimGranted)
            if claim.node == "b" { b = peer } else { c = peer }
        }
        #expect(granted)
        // Without members, granted at once.
        var lonely = Prober(selfName: "z", key: Self.key, incarnation: 1, seed: 1)
        #expect(lonely.startClaim(version: "1", now: .zero) == [.claimGranted])
    }
}
