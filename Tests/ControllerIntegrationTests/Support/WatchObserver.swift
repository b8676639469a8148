import Foundation
import KubeClient
import KubeModel
import Synchronization

/// Watches every Service over HTTPS (an informer of its own) and checks the sharing invariant
/// after every single change it sees, incrementally (only the IPs the changed Service holds),
/// so it costs the API server nothing beyond one watch even with thousands of Services. Also
/// records, per Service UID, any change of IPs once a Service had some.
final class WatchObserver: Sendable {
    struct State {
        var services: [String: ServiceView] = [:]
        var holders: [String: Set<String>] = [:]
        var ipChanges = IPChangeLog()
        var events = 0
        var violations: [String] = []
    }

    private let client: KubeClient
    private let informer: Informer<V1Service>
    private let state = Mutex(State())
    private let tasks = Mutex<[Task<Void, Never>]>([])

    init(cluster: Cluster) throws {
        client = try KubeClient(configuration: try KubeConfigLoader.load(paths: [cluster.kubeconfigPath]))
        informer = Informer<V1Service>(client: client)
    }

    func start() {
        let run = Task { [informer] in await informer.run() }
        let consume = Task { [self] in
            for await event in informer.events {
                switch event {
                case .added(let service), .updated(_, let service): apply(service, deleted: false)
                case .deleted(let service): apply(service, deleted: true)
                case .synced: continue
                }
            }
        }
        tasks.withLock { $0 = [run, consume] }
    }

    /// Waits until the informer has listed once.
    func waitForSync() async -> Bool { await informer.waitForSync(timeout: .seconds(120)) }

    func stop() async {
        let tasks = self.tasks.withLock { $0 }
        tasks.first?.cancel()
        for task in tasks { await task.value }
        try? await client.shutdown()
    }

    var events: Int { state.withLock { $0.events } }
    var violations: [String] { state.withLock { $0.violations } }
    var changes: [String] { state.withLock { $0.ipChanges.changes } }

    private func apply(_ service: V1Service, deleted: Bool) {
        guard let bytes = try? JSONEncoder().encode(service), let json = try? JSONValue.parse(Array(bytes)) else { return }
        var view = ServiceView(json)
        if view.type != "LoadBalancer" || view.loadBalancerClass != nil { view.ips = [] }
        state.withLock { state in
            state.events += 1
            if let old = state.services[view.key] {
                for ip in Set(old.ips) { state.holders[ip]?.remove(old.key) }
            }
            if deleted {
                state.services[view.key] = nil
                state.ipChanges.forget(uid: view.uid)
                return
            }
            state.services[view.key] = view
            for ip in Set(view.ips) { state.holders[ip, default: []].insert(view.key) }
            let involved = Set(view.ips).flatMap { state.holders[$0] ?? [] }.compactMap { state.services[$0] }
            let problems = sharingViolations(Array(Set(involved)))
            if state.violations.count < 50 { state.violations += problems.prefix(50 - state.violations.count) }
            state.ipChanges.observe(uid: view.uid, key: "\(view.key)", ips: view.ips)
        }
    }
}
