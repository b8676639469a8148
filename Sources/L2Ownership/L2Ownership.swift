// L2Ownership: which node answers for a layer-2 VIP, and when it may start and must stop.
// Pure: time is an injected instant, API calls and timers are actions.
//
// - `OwnerElection`: rendezvous (highest random weight) hashing of (node, VIP) with a
//   stable 64-bit hash, over the candidate nodes (live Lease, pool node selectors, not
//   excluded, network available, a ready endpoint for `externalTrafficPolicy: Local`).
// - `NodeLeaseStateMachine`: this speaker's own Lease: acquire, renew, fence itself when it
//   has not renewed for `renewDeadline`, release on shutdown.
// - `PeerLeaseTable`: the other speakers' Leases as observed: liveness, when a newcomer
//   becomes eligible, and breaking (clearing) a Lease that expired.
// - `AnnouncementScheduler`: the gratuitous ARP / unsolicited NA burst on takeover.
//
// SpeakerCore's `NodeSpeaker` puts these together with the speaker's plan, as events in and
// actions out; the speaker process only performs them.
//
// docs/design/layer2-leases.md explains the timing and why two owners cannot answer at once.

/// The timing parameters shared by every speaker in a cluster.
public struct LeaseTimings: Hashable, Sendable {
    /// How often a speaker renews its Lease.
    public var renewInterval: Duration
    /// A speaker stops answering (fences) when its newest own write seen back on its watch
    /// was sent this long ago: it may no longer renew, or no longer see the others.
    public var renewDeadline: Duration
    /// A Lease not renewed for this long, as seen by another speaker, may be broken.
    public var leaseDuration: Duration
    /// A newcomer waits this long after sending its acquiring write before it answers; the
    /// node it takes VIPs from stops as soon as it sees the newcomer, or fences within
    /// `renewDeadline` when it cannot see. Must exceed `renewDeadline` by the longest request
    /// latency (a write sent before the newcomer's but committed after it).
    public var handoffDelay: Duration
    /// Extra wait between successive breakers of one expired Lease (the first in rendezvous
    /// order tries at once), so that not every speaker writes at the same moment.
    public var breakStagger: Duration
    /// Seamless hand-back: a speaker that answers a VIP keeps answering it for up to this long
    /// after it saw a newcomer that outranks it, until the newcomer claims it (probe `claim`).
    /// Zero: stop at once (no probes). Needs `handoffDelay > renewDeadline + keepWindow + L`.
    public var keepWindow: Duration

    public init(renewInterval: Duration, renewDeadline: Duration, leaseDuration: Duration, handoffDelay: Duration, breakStagger: Duration, keepWindow: Duration = .zero) {
        self.renewInterval = renewInterval
        self.renewDeadline = renewDeadline
        self.leaseDuration = leaseDuration
        self.handoffDelay = handoffDelay
        self.breakStagger = breakStagger
        self.keepWindow = keepWindow
    }

    /// The defaults without probes (docs/design/layer2-leases.md): 1,000 nodes cost 200 Lease
    /// writes/s; a crashed owner's VIPs move in about 16 s, a stopped (SIGTERM) owner's in one
    /// watch event.
    public static let `default` = LeaseTimings(
        renewInterval: .seconds(5), renewDeadline: .seconds(11), leaseDuration: .seconds(15),
        handoffDelay: .seconds(12), breakStagger: .seconds(2)
    )

    /// The defaults with probes: the old owner keeps a VIP up to 3 s for the newcomer's claim,
    /// so the hand-off fallback grows by as much (15 s).
    public static let probing = LeaseTimings.flags(renewInterval: .seconds(5), renewDeadline: .seconds(11), leaseDuration: .seconds(15))

    /// The timings of `ironlb speaker`'s flags: the hand-off delay is the deadline plus the
    /// keep window (3 s with probes, none without) plus one second of request latency.
    public static func flags(renewInterval: Duration, renewDeadline: Duration, leaseDuration: Duration, keepWindow: Duration = .seconds(3)) -> LeaseTimings {
        LeaseTimings(
            renewInterval: renewInterval, renewDeadline: renewDeadline, leaseDuration: leaseDuration,
            handoffDelay: renewDeadline + keepWindow + .seconds(1), breakStagger: .seconds(2), keepWindow: keepWindow
        )
    }

    /// Why a set of timings cannot be safe; nil when it is.
    public var problem: String? {
        if renewInterval <= .zero { return "renew interval must be positive" }
        if renewDeadline <= renewInterval { return "renew deadline must exceed the renew interval" }
        if leaseDuration <= renewDeadline { return "lease duration must exceed the renew deadline (fencing happens first)" }
        if keepWindow < .zero { return "keep window must not be negative" }
        if handoffDelay <= renewDeadline + keepWindow { return "handoff delay must exceed the renew deadline plus the keep window" }
        if breakStagger < .zero { return "break stagger must not be negative" }
        return nil
    }
}
