import LBConfig
import NetPrimitives

/// Decides whether a new configuration may replace the one in force: it may not take an IP
/// away from a Service that holds one (IronLB never renumbers a Service behind its owner's back).
public enum ConfigChange {
    public struct Orphan: Hashable, Sendable, CustomStringConvertible {
        public let service: ServiceKey
        public let ips: [IPAddress]
        public let reason: String

        public var description: String { "\(service) (\(ips.map(\.description).joined(separator: ", "))): \(reason)" }
    }

    /// The Services that would lose their IPs under `new`, in service order; empty means the
    /// configuration may be applied.
    public static func orphans(applying new: Configuration, to assignments: [Assignment]) -> [Orphan] {
        let allocator = Allocator(configuration: new)
        var orphans: [Orphan] = []
        for assignment in assignments.sorted(by: { $0.service < $1.service }) {
            let pools = assignment.ips.map { allocator.pool(containing: $0) }
            if let index = pools.firstIndex(where: { $0 == nil }) {
                orphans.append(Orphan(service: assignment.service, ips: assignment.ips, reason: "\(assignment.ips[index]) is in no pool of the new configuration"))
                continue
            }
            let names = Set(pools.compactMap { $0?.name })
            if names.count > 1 {
                orphans.append(Orphan(service: assignment.service, ips: assignment.ips, reason: "its IPs would fall in different pools (\(names.sorted().joined(separator: ", ")))"))
                continue
            }
            if let requested = assignment.request.requestedPool, let name = names.first, requested != name {
                orphans.append(Orphan(service: assignment.service, ips: assignment.ips, reason: "it asks for pool \"\(requested)\" but its IPs would be in pool \"\(name)\""))
            }
        }
        return orphans
    }
}
