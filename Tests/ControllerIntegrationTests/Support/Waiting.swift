import Foundation
import TestSupport

/// Generous bounds: the machine is shared, so these only stop a hung test; nothing asserts speed.
enum Bounds {
    static let converge: Double = 120
    static let short: Double = 60
}

extension Cluster {
    /// Polls until the Service shows IPs (at most `timeout` seconds); its IPs, or [] on timeout.
    func awaitIPs(_ name: String, namespace: String = "default", timeout: Double = Bounds.converge) async -> [String] {
        var found: [String] = []
        _ = await poll(timeout: timeout, interval: 0.05) { () async -> Bool in
            found = ips(name, namespace: namespace)
            return !found.isEmpty
        }
        return found
    }

    /// Polls until an Event with this reason exists about `object` (kind and name); the Event.
    func awaitEvent(reason: String, about object: String, kind: String = "Service", namespace: String = "default",
                    matching: @escaping @Sendable (EventView) -> Bool = { _ in true }, timeout: Double = Bounds.converge) async -> EventView? {
        var found: EventView?
        _ = await poll(timeout: timeout, interval: 0.1) { () async -> Bool in
            found = (try? events(namespace: namespace))?.first {
                $0.reason == reason && $0.regardingName == object && $0.regardingKind == kind && matching($0)
            }
            return found != nil
        }
        return found
    }

    /// Polls until every Service of type LoadBalancer in `keys` shows IPs.
    func awaitAllAllocated(_ keys: Set<String>, timeout: Double = Bounds.converge) async -> Bool {
        // Listing thousands of Services holds KubeSim's lock: poll big sets less often.
        await poll(timeout: timeout, interval: keys.count > 200 ? 1 : 0.2) { () async -> Bool in
            guard let all = try? loadBalancers() else { return false }
            return keys.allSatisfy { !(all[$0]?.ips.isEmpty ?? true) }
        }
    }
}

/// Polls a condition until true or `timeout` seconds pass.
func eventually(_ timeout: Double = Bounds.converge, interval: Double = 0.1, _ condition: () async -> Bool) async -> Bool {
    await poll(timeout: timeout, interval: interval) { () async -> Bool in await condition() }
}
