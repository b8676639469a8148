import LBCore
import ControllerCore

/// The informers' view, kept by every replica so a new leader starts from warm caches. The
/// leader's `ControllerCore` holds the Services itself: while it leads, `services` stays empty
/// (`apply(_:services: false)`) and the core's are handed back when it stops leading.
struct ClusterSnapshot: Sendable {
    var services: [ServiceKey: ServiceState] = [:]
    var namespaces: [String: [String: String]] = [:]
    var config: String??
    var synced = false

    mutating func apply(_ input: ControllerInput, services keepsServices: Bool = true) {
        switch input {
        case .serviceUpserted(let state): if keepsServices { services[state.key] = state }
        case .serviceDeleted(let key): if keepsServices { services[key] = nil }
        case .config(let text): config = .some(text)
        case .namespace(let name, let labels): namespaces[name] = labels
        case .synced: synced = true
        case .announcements, .speakerLease: break
        }
    }

    /// A core fed with everything known, in a stable order, ready to act.
    func makeCore(settings: ControllerCore.Settings) -> (ControllerCore, [ControllerAction]) {
        var core = ControllerCore(settings: settings)
        var actions: [ControllerAction] = []
        for (name, labels) in namespaces.sorted(by: { $0.key < $1.key }) { actions += core.namespaceChanged(name, labels: labels) }
        for state in services.values.sorted(by: { $0.key < $1.key }) { actions += core.serviceChanged(state) }
        if case .some(let text) = config { actions += core.configChanged(text) }
        if synced { actions += core.cachesSynced() }
        return (core, actions)
    }
}

extension ControllerCore {
    /// Routes one informer change to the matching event.
    mutating func apply(_ input: ControllerInput) -> [ControllerAction] {
        switch input {
        case .serviceUpserted(let state): return serviceChanged(state)
        case .serviceDeleted(let key): return serviceDeleted(key)
        case .config(let text): return configChanged(text)
        case .namespace(let name, let labels): return namespaceChanged(name, labels: labels)
        case .synced: return cachesSynced()
        case .announcements, .speakerLease: return []
        }
    }
}
