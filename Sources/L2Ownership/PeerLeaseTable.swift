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
    }

    public let selfName: String
    public let timings: LeaseTimings
    private var peers: [String: Peer] = [:]

    public init(selfName: String, timings: LeaseTimings) {
        self.selfName = selfName
        self.timings = timings
    }

    /// A watch event (or list item) for `node`'s Lease. `held`: it names a holder.
    public mutating func observe(node: String, held: Bool, resourceVersion: String, now: Instant) {
        guard node != selfName else { return }
        if let peer = peers[node], peer.resourceVersion == resourceVersion { return }
        peers[node] = Peer(held: held, resourceVersion: resourceVersion, observedAt: now, breakTried: nil)
    }

    /// The Lease was deleted.
    public mutating func removed(node: String) {
        peers[node] = nil
    }

    /// Whether `node` counts as live for candidacy.
    public func isLive(_ node: String) -> Bool {
        peers[node]?.held == true
    }

    public var liveNodes: [String] {
        peers.filter { $0.value.held }.map(\.key).sorted()
    }

    /// The breaks to try now, and the next instant to look again. The speaker first in the
    /// rendezvous ranking (among live speakers, itself included) tries as soon as the Lease
    /// has been silent for `leaseDuration`; the k-th after `k * breakStagger` more.
    public mutating func due(now: Instant) -> (breaks: [Break], next: Instant?) {
        var breaks: [Break] = []
        var next: Instant?
        var live: [String]?
        for (name, peer) in peers where peer.held && peer.breakTried != peer.resourceVersion {
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
