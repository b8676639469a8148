/// What the holder of a speaker Lease says it speaks (its marker, docs/design/layer2-leases.md,
/// "Upgrades"). A Lease without a (current) marker is held by a speaker without probes: 0.1.0,
/// or one without the probe key.
public enum LeaseProtocol: String, Hashable, Sendable {
    /// It answers probes on the probe port, renews its speaker Lease, breaks expired Leases of
    /// holders not marked `heartbeats`.
    case probes
    /// As `probes`, and it may renew a heartbeat Lease instead of its speaker Lease: nobody
    /// breaks its Lease on expiry, only on probe evidence.
    case heartbeats
}

/// The other speakers' Leases as this speaker's watch shows them.
///
/// A peer is live while its Lease has a holder. Liveness only ends by a write (release on
/// shutdown, or a break), never by a local timer: every speaker then derives the same
/// candidate set from the same API history. A Lease that this speaker has seen unchanged
/// for `leaseDuration` is broken (holder cleared, compare-and-swap on the version it saw):
/// the CAS fails if the holder renewed in the meantime, and succeeds only after the holder
/// has fenced itself (`renewDeadline` < `leaseDuration`).
public struct PeerLeaseTable<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public struct Break: Hashable, Sendable {
        public var node: String
        public var resourceVersion: String

        public init(node: String, resourceVersion: String) {
            self.node = node
            self.resourceVersion = resourceVersion
        }
    }

    private struct Peer: Sendable {
        var held: Bool
        var resourceVersion: String
        /// When this speaker saw the current version.
        var observedAt: Instant
        /// The version a break was already tried for (at most one try per version).
        var breakTried: String?
        /// When this speaker saw the Lease become held (a newcomer), until the newcomer is settled.
        var joinedAt: Instant?
        /// The newcomer claimed its VIPs (probe `claim`): it counts fully at once.
        var claimed = false
        /// Live by an authenticated claim that the watch has not caught up with yet, until then.
        var claimedUntil: Instant?
        /// The claimant's Lease version named in its claim: until the watch shows it, every
        /// event for this Lease is older than the claim and cannot end its liveness.
        var claimVersion: String?
        /// The holder's marker (nil: a speaker without probes, e.g. 0.1.0).
        var marker: LeaseProtocol?
    }

    public let selfName: String
    public let timings: LeaseTimings
    private var peers: [String: Peer] = [:]

    public init(selfName: String, timings: LeaseTimings) {
        self.selfName = selfName
        self.timings = timings
    }

    /// A watch event (or list item) for `node`'s Lease. `held`: it names a holder; `marker`:
    /// the holder's current marker. A Lease seen unchanged for `leaseDuration` is broken unless
    /// marked `heartbeats` (its holder may renew a Lease only it watches): those only on evidence.
    public mutating func observe(node: String, held: Bool, resourceVersion: String, marker: LeaseProtocol?, now: Instant) {
        guard node != selfName else { return }
        let old = peers[node]
        if let old, old.resourceVersion == resourceVersion { return }
        var peer = Peer(held: held, resourceVersion: resourceVersion, observedAt: now, breakTried: nil)
        peer.marker = held ? marker : nil
        if held {
            // A newcomer when it was not held before (pending only matters for VIPs this
            // speaker already answers). Its claim may have come before the watch showed it.
            if old?.held == true || old?.claimedUntil != nil {
                peer.joinedAt = old?.joinedAt
                peer.claimed = old?.claimed ?? false
            } else if marker != nil {
                peer.joinedAt = now
            }
            // A newcomer without probes (0.1.0) has the shorter hand-off delay of its version and
            // claims nothing: it counts fully at once, no keep window (see the design note).
            if old?.claimedUntil != nil { peer.claimed = true }
        }
        // A claim is newer than every version the watch delivers before the one it names (the
        // watch is ordered): an unheld one among them (the break the claimant recovered from,
        // delivered late) must not end the claimant's liveness. Once the named version shows,
        // the watch is past the claim and the Lease speaks alone again.
        if let until = old?.claimedUntil, let version = old?.claimVersion, version != resourceVersion {
            peer.claimedUntil = until
            peer.claimVersion = version
            peer.claimed = true
        }
        peers[node] = peer
    }

    /// An authenticated claim from `node`: it holds its Lease at `version` (perhaps not yet on
    /// this speaker's watch) and asks this speaker to yield. It counts as live and settled
    /// until the watch shows that version, whatever older versions the watch still delivers
    /// (at most `handoffDelay`, in case the watch skips it, e.g. on a relist).
    public mutating func claimed(node: String, version: String, now: Instant) {
        guard node != selfName else { return }
        var peer = peers[node] ?? Peer(held: false, resourceVersion: "", observedAt: now, breakTried: nil)
        peer.claimed = true
        if peer.held, peer.resourceVersion == version {
            // The watch already shows the claimed version: nothing older can come any more.
            peer.claimedUntil = nil
            peer.claimVersion = nil
        } else {
            peer.claimedUntil = now.advanced(by: timings.handoffDelay)
            peer.claimVersion = version
        }
        peers[node] = peer
    }

    /// Newcomers that outrank for starting but not yet for keeping: seen joining less than
    /// `keepWindow` ago and not claimed. A speaker keeps answering a VIP such a newcomer
    /// outranks it for (hand-back without a gap, see the design note).
    public func pendingNodes(now: Instant) -> Set<String> {
        guard timings.keepWindow > .zero else { return [] }
        return Set(peers.filter { _, peer in
            peer.held && !peer.claimed && peer.joinedAt.map { now < $0.advanced(by: timings.keepWindow) } == true
        }.keys)
    }

    /// A probe found `node` dead: break its Lease now, if it is held (once per version) and its
    /// holder is marked: a speaker without probes (0.1.0) has no probe port, its silence
    /// proves nothing.
    public mutating func evidence(node: String) -> Break? {
        guard let peer = peers[node], peer.held, peer.marker != nil, peer.breakTried != peer.resourceVersion else { return nil }
        peers[node]?.breakTried = peer.resourceVersion
        return Break(node: node, resourceVersion: peer.resourceVersion)
    }

    /// The Lease was deleted.
    public mutating func removed(node: String) {
        peers[node] = nil
    }

    /// Whether `node` counts as live for candidacy.
    public func isLive(_ node: String) -> Bool {
        peers[node].map { $0.held || $0.claimedUntil != nil } == true
    }

    public var liveNodes: [String] {
        peers.filter { $0.value.held || $0.value.claimedUntil != nil }.map { $0.key }.sorted()
    }

    /// Live peers whose Lease carries no marker: speakers without probes (0.1.0), which never
    /// answer a probe or yield to a claim.
    public var unmarkedLiveNodes: [String] {
        peers.filter { $0.value.held && $0.value.marker == nil && $0.value.claimedUntil == nil }.map { $0.key }.sorted()
    }

    /// Every held Lease in view is marked `heartbeats`: no speaker in view breaks a Lease that
    /// is not renewed, so this speaker may renew its heartbeat instead (the upgrade rule).
    public var everyHolderAllowsHeartbeats: Bool {
        peers.values.allSatisfy { !$0.held || $0.marker == .heartbeats }
    }

    /// The breaks to try now, and the next instant to look again. The speaker first in the
    /// rendezvous ranking (among live speakers, itself included) tries as soon as the Lease
    /// has been silent for `leaseDuration`; the k-th after `k * breakStagger` more.
    public mutating func due(now: Instant) -> (breaks: [Break], next: Instant?) {
        var breaks: [Break] = []
        var next: Instant?
        var live: [String]?
        for (name, peer) in peers {
            if let until = peer.claimedUntil {
                if now >= until {
                    peers[name]?.claimedUntil = nil
                } else {
                    next = next.map { min($0, until) } ?? until
                }
            }
            if peer.held, !peer.claimed, timings.keepWindow > .zero, let joined = peer.joinedAt {
                let settles = joined.advanced(by: timings.keepWindow)
                if now < settles { next = next.map { min($0, settles) } ?? settles }
            }
        }
        for (name, peer) in peers where peer.held && peer.marker != .heartbeats && peer.breakTried != peer.resourceVersion {
            let expiry = peer.observedAt.advanced(by: timings.leaseDuration)
            guard now >= expiry else {
                next = next.map { min($0, expiry) } ?? expiry
                continue
            }
            // Ranking costs a hash per live node: only for Leases already silent too long.
            let everyone = live ?? (liveNodes + [selfName])
            live = everyone
            let others = everyone.filter { $0 != name }
            let rank = OwnerElection.ranking(of: others, forKey: name).firstIndex(of: selfName) ?? others.count
            let at = expiry.advanced(by: timings.breakStagger * rank)
            if now >= at {
                breaks.append(Break(node: name, resourceVersion: peer.resourceVersion))
                peers[name]?.breakTried = peer.resourceVersion
            } else {
                next = next.map { min($0, at) } ?? at
            }
        }
        return (breaks.sorted { $0.node < $1.node }, next)
    }
}
