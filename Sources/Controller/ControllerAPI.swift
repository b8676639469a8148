// Controller: `ironlb controller` as a ServiceLifecycle service. It feeds cluster changes to
// LBCore's pure ControllerCore and carries out its actions (status patches, Events) while this
// replica leads; a standby keeps its caches warm and rebuilds the core from them on takeover.
import Announcements
import LBCore
import NetPrimitives
import ControllerCore

/// A change seen by the informers.
public enum ControllerInput: Hashable, Sendable {
    case serviceUpserted(ServiceState)
    case serviceDeleted(ServiceKey)
    /// The config ConfigMap's `config` value; nil when the ConfigMap or its key is absent.
    case config(String?)
    case namespace(String, labels: [String: String]?)
    /// A speaker's report of what its node announces (nil: the report is gone).
    case announcements(node: String, [ServiceKey: String]?)
    /// Whether a node's speaker Lease (`ironlb-speaker-<node>`) is held.
    case speakerLease(node: String, held: Bool)
    /// Every informer has listed once.
    case synced
}

/// How a write ended, for the retry policy.
public enum WriteOutcome: Hashable, Sendable {
    case done
    /// The object is gone: nothing to retry.
    case gone
    /// Worth retrying, after at least `retryAfter` seconds when the server said so.
    case retry(reason: String, retryAfter: Double?)
}

/// The narrow view of the Kubernetes API the controller needs.
public protocol ControllerAPI: Sendable {
    /// Informer changes: the current state of every watched object, then `.synced`, then changes.
    func changes() -> AsyncStream<ControllerInput>
    /// Merge-patches `services/{name}/status`: ingress IPs and the pool annotation (nil pool clears both).
    func writeStatus(_ service: ServiceKey, ips: [IPAddress], pool: String?) async -> WriteOutcome
    /// Merge-patches the `ironlb.io/announced-by` annotation through `services/{name}/status`
    /// (nil removes it).
    func writeAnnouncedBy(_ service: ServiceKey, _ value: String?) async -> WriteOutcome
    func record(_ event: RecordedEvent) async
}

/// Whether this replica leads, as it changes.
public protocol LeadershipSource: Sendable {
    func leadership() -> AsyncStream<Bool>
}

/// A single replica that always leads (tests, `ironlb lab`, `--leader-elect=false`).
public struct AlwaysLeader: LeadershipSource {
    public init() {}
    public func leadership() -> AsyncStream<Bool> {
        AsyncStream { continuation in
            continuation.yield(true)
        }
    }
}
