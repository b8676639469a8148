// Speaker: `ironlb speaker` as a ServiceLifecycle service. It feeds what the informers see to
// SpeakerCore, and turns the node's plan into BGP sessions (one BGPPeer per configured peer
// that selects this node) and layer 2 duties (the VIPs the node answers ARP/NDP for).
import L2Ownership
import LBCore
import NetPrimitives
import SpeakerCore
import Announcements

/// The narrow view of the Kubernetes API the speaker needs.
public protocol SpeakerAPI: Sendable {
    func changes() -> AsyncStream<SpeakerInput>
    func leaseRequest(_ request: NodeLeaseStateMachine<ContinuousClock.Instant>.Request, node: String) async -> LeaseWriteOutcome
    /// Clears another node's expired Lease, only if it is still at `resourceVersion`.
    func breakLease(node: String, resourceVersion: String) async -> Bool
    func record(_ event: RecordedEvent) async
    /// Writes this node's announcement report (`AnnouncementReport`); false when it failed.
    func publishReport(_ report: [ServiceKey: String], node: String) async -> Bool
}

/// What answers ARP/NDP on the node's interfaces.
public protocol Layer2DataPlane: Sendable {
    /// The VIPs to answer for now, with their allowed interfaces (empty: the default choice).
    func answer(_ duties: [IPAddress: [String]])
    /// Sends gratuitous ARP / unsolicited NA for these VIPs now.
    func announce(_ vips: [IPAddress])
}

/// A node without a layer 2 data plane (BGP only, or tests): answers nothing.
public struct NoLayer2DataPlane: Layer2DataPlane {
    public init() {}
    public func answer(_ duties: [IPAddress: [String]]) {}
    public func announce(_ vips: [IPAddress]) {}
}
