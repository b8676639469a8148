import NetPrimitives

/// Where a probe datagram goes or came from.
public struct ProbeEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public var description: String { address.family == .ipv4 ? "\(address):\(port)" : "[\(address)]:\(port)" }
}

/// How fast the speakers probe each other (docs/design/layer2-leases.md, "Failure detector").
public struct ProbeTimings: Hashable, Sendable {
    /// One direct probe (ping) of one peer per interval, peers in shuffled round-robin order.
    public var interval: Duration
    /// Without an ack this long after the ping, ask `indirectProbes` other peers to ping it.
    public var directTimeout: Duration
    /// The probe (direct and indirect) fails without any ack this long after the ping.
    public var probeTimeout: Duration
    /// A peer not heard from (any authenticated datagram) for this long, whose last probe
    /// failed, is declared dead: its Lease is broken at once.
    public var suspicion: Duration
    /// A peer whose kernel refused a ping (ICMP port unreachable: no process on the probe
    /// port) and that was not heard from for this long is declared dead at once.
    public var refusalQuiet: Duration
    public var indirectProbes: Int

    public init(interval: Duration, directTimeout: Duration, probeTimeout: Duration, suspicion: Duration, refusalQuiet: Duration, indirectProbes: Int) {
        self.interval = interval
        self.directTimeout = directTimeout
        self.probeTimeout = probeTimeout
        self.suspicion = suspicion
        self.refusalQuiet = refusalQuiet
        self.indirectProbes = indirectProbes
    }

    public static let `default` = ProbeTimings(
        interval: .milliseconds(200), directTimeout: .milliseconds(300), probeTimeout: .milliseconds(800),
        suspicion: .milliseconds(1500), refusalQuiet: .milliseconds(400), indirectProbes: 3
    )
}

/// The failure detector and hand-back messenger between speakers (SWIM-style), pure: datagrams
/// and a manual clock in, datagrams to send and verdicts out.
///
/// - Every `interval` it pings one live peer (shuffled round-robin); without an ack within
///   `directTimeout` it asks up to `indirectProbes` other peers to ping it and relay the ack.
///   A peer whose probe failed and that was not heard from for `suspicion` is declared dead
///   (`.dead(refused: false)`); a ping refused by the peer's kernel (no process on the port)
///   declares it dead at once if it was quiet for `refusalQuiet` (`.dead(refused: true)`).
/// - Claims: a speaker that holds its Lease asks the live peers to stop answering the VIPs it
///   outranks them for (`startClaim`); each answers `yield` after doing so (`claimReceived`,
///   then `yieldMessage`). `.claimGranted` when every asked peer yielded.
///
/// Every datagram carries an HMAC with the cluster key and a per-sender increasing
/// (incarnation, counter): without the key nobody can fake an ack (keep a dead node alive) or
/// a claim, and recorded datagrams are refused. Timeouts only ever *suspect*; the Lease
/// (broken with compare-and-swap) stays the authority, see the design note.
public struct PeerProber<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public enum Action: Hashable, Sendable {
        /// Send to a peer's probe port; report a refusal with `refused(node:)`.
        case send([UInt8], to: ProbeEndpoint, node: String)
        /// Answer from the probe port to where a datagram came from.
        case reply([UInt8], to: ProbeEndpoint)
        case dead(String, refused: Bool)
        /// A peer says (authenticated, in a ping or an ack) that its fence is closed: it answers
        /// nothing and cannot renew or cannot see; its Lease may be broken.
        case fenced(String)
        /// A peer claims its VIPs: stop answering those it outranks this node for, count it as
        /// live, then send `yieldMessage(to:nonce:endpoint:)`. `version`: the resourceVersion of
        /// the claimant's Lease that it saw back before claiming (the message's subject).
        case claimReceived(String, nonce: UInt64, version: String, from: ProbeEndpoint)
        /// Every peer asked in the current claim yielded.
        case claimGranted
        /// A datagram was refused (metrics).
        case rejected(String)
        case scheduleTimer(Instant)
    }

    private struct Member: Sendable {
        var endpoint: ProbeEndpoint
        var lastHeard: Instant
        var declared = false
    }

    private struct Probe: Sendable {
        var target: String
        var sentAt: Instant
        var indirectSent = false
    }

    private struct Relay: Sendable {
        var requester: ProbeEndpoint
        var requesterName: String
        var requesterNonce: UInt64
        var target: String
        var expiry: Instant
    }

    private struct Claim: Sendable {
        var nonce: UInt64
        var version: String
        var awaiting: Set<String>
        var nextSendAt: Instant
    }

    public let selfName: String
    public let timings: ProbeTimings
    private let key: ProbeKey
    private let incarnation: UInt64
    private var counter: UInt64 = 0
    private var random: UInt64
    private var members: [String: Member] = [:]
    private var order: [String] = []
    private var orderIndex = 0
    private var nextProbeAt: Instant?
    private var probes: [UInt64: Probe] = [:]
    private var relays: [UInt64: Relay] = [:]
    private var claim: Claim?
    /// This node's fence is closed (`NodeLeaseStateMachine.isFenced`): its pings and acks say so.
    public var fenced = false
    /// The subject of a ping or ack from a fenced node.
    public static var fencedMark: String { "fenced" }
    /// Highest (incarnation, counter) accepted per sender.
    private var accepted: [String: (UInt64, UInt64)] = [:]
    /// Datagrams sent and received, for the simulation's traffic figures.
    public private(set) var sentCount = 0
    public private(set) var sentBytes = 0

    /// `incarnation`: the start time in wall-clock milliseconds (it must grow across restarts);
    /// `seed`: randomness for the probe order and nonces.
    public init(selfName: String, key: ProbeKey, incarnation: UInt64, seed: UInt64, timings: ProbeTimings = .default) {
        self.selfName = selfName
        self.key = key
        self.incarnation = incarnation
        self.random = seed
        self.timings = timings
    }

    /// Peers being probed (live, with a probe address).
    public var memberNames: [String] { members.keys.sorted() }

    public var isClaiming: Bool { claim != nil }

    /// The live peers and their probe endpoints. New members count as heard now.
    public mutating func setMembers(_ endpoints: [String: ProbeEndpoint], now: Instant) -> [Action] {
        var changed = false
        for name in members.keys where endpoints[name] == nil {
            members[name] = nil
            changed = true
        }
        for (name, endpoint) in endpoints where name != selfName {
            if members[name] == nil {
                members[name] = Member(endpoint: endpoint, lastHeard: now)
                changed = true
            } else {
                members[name]?.endpoint = endpoint
            }
        }
        guard changed else { return [] }
        probes = probes.filter { members[$0.value.target] != nil }
        order = shuffled(members.keys.sorted())
        orderIndex = 0
        if nextProbeAt == nil { nextProbeAt = now }
        var actions: [Action] = []
        if var claim {
            claim.awaiting = claim.awaiting.filter { members[$0] != nil }
            self.claim = claim
            if claim.awaiting.isEmpty {
                self.claim = nil
                actions.append(.claimGranted)
            }
        }
        return actions + tick(now: now)
    }

    /// Asks every member to yield; `.claimGranted` when all did (at once when there is none).
    /// `version`: this node's Lease version, seen back on its watch; a peer counts this node as
    /// live until its own watch reaches that version (older events cannot end the claim).
    public mutating func startClaim(version: String, now: Instant) -> [Action] {
        let nonce = nextRandom()
        guard !members.isEmpty else {
            claim = nil
            return [.claimGranted]
        }
        claim = Claim(nonce: nonce, version: version, awaiting: Set(members.keys), nextSendAt: now)
        return tick(now: now)
    }

    public mutating func cancelClaim() {
        claim = nil
    }

    /// The answer to a claim, once this node stopped answering what the claimant outranks.
    public mutating func yieldMessage(to node: String, nonce: UInt64, endpoint: ProbeEndpoint) -> [Action] {
        [.reply(message(.yield, to: node, nonce: nonce), to: endpoint)]
    }

    /// The peer's kernel refused a ping sent to `node` (ICMP port unreachable). Too soon after
    /// the peer was last heard, the refused probe is dropped, so that the peer is pinged again
    /// at its next turn (the next interval, with few peers) rather than after `probeTimeout`.
    public mutating func refused(node: String, now: Instant) -> [Action] {
        guard let member = members[node], !member.declared,
              probes.values.contains(where: { $0.target == node }) else { return [] }
        guard now >= member.lastHeard.advanced(by: timings.refusalQuiet) else {
            probes = probes.filter { $0.value.target != node }
            return []
        }
        members[node]?.declared = true
        probes = probes.filter { $0.value.target != node }
        return [.dead(node, refused: true)]
    }

    /// A datagram arrived on the probe port (or on a socket a ping was sent from).
    public mutating func receive(_ bytes: [UInt8], from endpoint: ProbeEndpoint, now: Instant) -> [Action] {
        let message: ProbeMessage
        do {
            message = try ProbeMessage(decoding: bytes, key: key)
        } catch {
            return [.rejected(error.rawValue)]
        }
        guard message.to == selfName, message.from != selfName else { return [.rejected("misdirected")] }
        if let last = accepted[message.from], (message.incarnation, message.counter) <= last { return [.rejected("replayed")] }
        accepted[message.from] = (message.incarnation, message.counter)
        if members[message.from] != nil {
            members[message.from]?.lastHeard = now
            members[message.from]?.declared = false
        }
        var actions: [Action] = []
        if message.kind == .ping || message.kind == .ack, message.subject == Self.fencedMark, members[message.from] != nil {
            actions.append(.fenced(message.from))
        }
        switch message.kind {
        case .ping:
            actions.append(.reply(self.message(.ack, to: message.from, nonce: message.nonce, subject: fenced ? Self.fencedMark : ""), to: endpoint))
        case .ack:
            if let probe = probes[message.nonce], probe.target == message.from {
                probes[message.nonce] = nil
            } else if let relay = relays.removeValue(forKey: message.nonce), relay.target == message.from {
                actions.append(.reply(self.message(.indirectAck, to: relay.requesterName, nonce: relay.requesterNonce, subject: relay.target), to: relay.requester))
            }
        case .pingRequest:
            guard let target = members[message.subject] else { break }
            let nonce = nextRandom()
            relays[nonce] = Relay(requester: endpoint, requesterName: message.from, requesterNonce: message.nonce, target: message.subject, expiry: now.advanced(by: timings.probeTimeout))
            actions.append(.send(self.message(.ping, to: message.subject, nonce: nonce), to: target.endpoint, node: message.subject))
        case .indirectAck:
            if let probe = probes[message.nonce], probe.target == message.subject {
                probes[message.nonce] = nil
                members[message.subject]?.lastHeard = now
                members[message.subject]?.declared = false
            }
        case .claim:
            actions.append(.claimReceived(message.from, nonce: message.nonce, version: message.subject, from: endpoint))
        case .yield:
            if var claim, claim.nonce == message.nonce, claim.awaiting.remove(message.from) != nil {
                self.claim = claim
                if claim.awaiting.isEmpty {
                    self.claim = nil
                    actions.append(.claimGranted)
                }
            }
        }
        return actions
    }

    /// Sends the next ping, escalates and expires probes, repeats claims; asks for the next timer.
    public mutating func tick(now: Instant) -> [Action] {
        var actions: [Action] = []
        // Probes that ran out of time, and indirect requests for those past the direct timeout.
        for (nonce, probe) in probes.sorted(by: { $0.key < $1.key }) {
            guard let member = members[probe.target] else {
                probes[nonce] = nil
                continue
            }
            if now >= probe.sentAt.advanced(by: timings.probeTimeout) {
                probes[nonce] = nil
                if !member.declared, now >= member.lastHeard.advanced(by: timings.suspicion) {
                    members[probe.target]?.declared = true
                    actions.append(.dead(probe.target, refused: false))
                }
            } else if !probe.indirectSent, now >= probe.sentAt.advanced(by: timings.directTimeout) {
                probes[nonce]?.indirectSent = true
                let helpers = shuffled(members.keys.filter { $0 != probe.target }.sorted()).prefix(timings.indirectProbes)
                for helper in helpers {
                    actions.append(.send(message(.pingRequest, to: helper, nonce: nonce, subject: probe.target), to: members[helper]!.endpoint, node: helper))
                }
            }
        }
        relays = relays.filter { now < $0.value.expiry }
        // The next direct ping.
        if let due = nextProbeAt, now >= due, !members.isEmpty {
            var target: String?
            for _ in 0..<order.count {
                if orderIndex >= order.count {
                    order = shuffled(members.keys.sorted())
                    orderIndex = 0
                }
                let candidate = order[orderIndex]
                orderIndex += 1
                if members[candidate] != nil, !probes.values.contains(where: { $0.target == candidate }) {
                    target = candidate
                    break
                }
            }
            if let target, let member = members[target] {
                let nonce = nextRandom()
                probes[nonce] = Probe(target: target, sentAt: now)
                actions.append(.send(message(.ping, to: target, nonce: nonce, subject: fenced ? Self.fencedMark : ""), to: member.endpoint, node: target))
            }
            var next = due.advanced(by: timings.interval)
            if next <= now { next = now.advanced(by: timings.interval) }
            nextProbeAt = next
        }
        if var claim, now >= claim.nextSendAt {
            for name in claim.awaiting.sorted() {
                guard let member = members[name] else { continue }
                actions.append(.send(message(.claim, to: name, nonce: claim.nonce, subject: claim.version), to: member.endpoint, node: name))
            }
            claim.nextSendAt = now.advanced(by: timings.interval)
            self.claim = claim
        }
        var next: Instant? = members.isEmpty ? nil : nextProbeAt
        for probe in probes.values {
            let at = probe.indirectSent ? probe.sentAt.advanced(by: timings.probeTimeout) : probe.sentAt.advanced(by: timings.directTimeout)
            next = next.map { min($0, at) } ?? at
        }
        if let claim { next = next.map { min($0, claim.nextSendAt) } ?? claim.nextSendAt }
        if let next { actions.append(.scheduleTimer(next)) }
        return actions
    }

    private mutating func message(_ kind: ProbeMessage.Kind, to node: String, nonce: UInt64, subject: String = "") -> [UInt8] {
        counter += 1
        let bytes = ProbeMessage(kind: kind, incarnation: incarnation, counter: counter, nonce: nonce, from: selfName, to: node, subject: subject).encoded(key: key)
        sentCount += 1
        sentBytes += bytes.count
        return bytes
    }

    /// SplitMix64: the probe order and nonces (nonces need not be secret: the HMAC and the
    /// counter authenticate, the nonce only pairs an answer with its question).
    private mutating func nextRandom() -> UInt64 {
        random &+= 0x9e37_79b9_7f4a_7c15
        var z = random
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    private mutating func shuffled(_ names: [String]) -> [String] {
        var names = names
        guard names.count > 1 else { return names }
        for index in stride(from: names.count - 1, to: 0, by: -1) {
            let other = Int(nextRandom() % UInt64(index + 1))
            names.swapAt(index, other)
        }
        return names
    }
}
