/// What a BFD client (the BGP session) does when its BFD session changes state (RFC 5882):
/// a session that was Up and goes Down tears the client down at once, unless the peer said
/// AdminDown (RFC 5882 §3.2: administrative, not a path failure); the client then stays down
/// until BFD is Up again, so that it does not come back over a path BFD calls dead (and flap
/// again when the peer's BFD, frozen with it, catches up). A client that never saw BFD Up is
/// not held: BGP does not wait for BFD to come up the first time (docs/design/bfd.md).
public struct BFDClientGate: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        /// Close the client session now (BGP: Cease, BFD Down) and keep it down.
        case tearDown
        /// Start the client again.
        case resume
    }

    /// The client is held down until BFD is Up.
    public private(set) var holding = false

    public init() {}

    public mutating func stateChanged(from: BFDState, to: BFDState, peerAdminDown: Bool) -> Action? {
        switch to {
        case .up:
            guard holding else { return nil }
            holding = false
            return .resume
        case .down:
            guard from == .up, !peerAdminDown, !holding else { return nil }
            holding = true
            return .tearDown
        case .initializing, .adminDown:
            return nil
        }
    }
}
