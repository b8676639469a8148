import Foundation
import Synchronization

/// The safety invariants at one instant: no IP is held by two Services unless they share it by
/// the rules (same `allow-shared-ip` key, disjoint ports, same backends for Local). Services of
/// `otherClasses` belong to someone else and are ignored.
func sharingViolations(_ services: [ServiceView], ignoringClasses: Bool = false) -> [String] {
    var holders: [String: [ServiceView]] = [:]
    for service in services where service.type == "LoadBalancer" && (ignoringClasses || service.loadBalancerClass == nil) {
        for ip in Set(service.ips) { holders[ip, default: []].append(service) }
    }
    var problems: [String] = []
    for (ip, held) in holders.sorted(by: { $0.key < $1.key }) where held.count > 1 {
        let names = held.map(\.key).sorted().joined(separator: ", ")
        let keys = Set(held.map(\.sharingKey))
        guard keys.count == 1, keys.first! != nil else {
            problems.append("\(ip) held by \(names) without a shared key")
            continue
        }
        for (index, a) in held.enumerated() {
            for b in held.dropFirst(index + 1) {
                let clash = a.ports.intersection(b.ports)
                if !clash.isEmpty { problems.append("\(ip) shared by \(a.key) and \(b.key) with clashing ports \(clash.sorted())") }
                if a.local != b.local || (a.local && a.selector != b.selector) {
                    problems.append("\(ip) shared by \(a.key) and \(b.key) across traffic policies or backends")
                }
            }
        }
    }
    return problems
}

/// Watches the cluster by listing every Service (one consistent read each time) as often as it
/// can, checking the sharing invariant at every observed state and, per Service UID, whether a
/// Service's IPs ever change once it has some.
final class Observer: Sendable {
    struct State {
        var snapshots = 0
        var violations: [String] = []
        /// Per UID, the IPs last seen, once it had some.
        var ipChanges = IPChangeLog()
        var exempt: Set<String> = []
    }

    private let cluster: Cluster
    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(cluster: Cluster) { self.cluster = cluster }

    func start(interval: Duration = .milliseconds(20)) {
        let task = Task { [self] in
            while !Task.isCancelled {
                observeNow()
                try? await Task.sleep(for: interval)
            }
        }
        self.task.withLock { $0 = task }
    }

    /// Takes one more observation now (after the last change a test waits for).
    func observeNow() { if let services = try? cluster.services() { observe(services) } }

    func stop() async {
        let task = self.task.withLock { $0 }
        task?.cancel()
        await task?.value
        observeNow()
    }

    /// Services (`namespace/name`) whose IPs a test changes on purpose.
    func exempt(_ key: String) { state.withLock { _ = $0.exempt.insert(key) } }

    var snapshots: Int { state.withLock { $0.snapshots } }
    var violations: [String] { state.withLock { $0.violations } }
    var changes: [String] { state.withLock { $0.ipChanges.changes } }

    private func observe(_ services: [ServiceView]) {
        let problems = sharingViolations(services)
        state.withLock { state in
            state.snapshots += 1
            if state.violations.count < 50 { state.violations += problems.prefix(50 - state.violations.count) }
            for service in services where service.type == "LoadBalancer" && !state.exempt.contains(service.key) {
                state.ipChanges.observe(uid: service.uid, key: "\(service.key)", ips: service.ips)
            }
        }
    }
}

/// The IP changes of Services, by UID: an IP list that differs from the last non-empty one seen
/// for the same UID is a change (at most 50 are kept for messages).
struct IPChangeLog {
    private var lastIPs: [String: [String]] = [:]
    private(set) var changes: [String] = []

    mutating func observe(uid: String, key: String, ips unsorted: [String]) {
        let ips = unsorted.sorted()
        if let last = lastIPs[uid] {
            guard ips != last else { return }
            if changes.count < 50 { changes.append("\(key): \(last) -> \(ips)") }
            lastIPs[uid] = ips
        } else if !ips.isEmpty {
            lastIPs[uid] = ips
        }
    }

    /// The UID is gone: a later Service with it starts afresh.
    mutating func forget(uid: String) { lastIPs[uid] = nil }
}
