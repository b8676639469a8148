import Announcements
import Testing
import LBConfig
import NetPrimitives
@testable import LBCore
@testable import ControllerCore

let poolConfig = """
    address-pools:
    - {name: main, protocol: layer2, addresses: [198.51.100.1-198.51.100.2]}
    - {name: extra, protocol: bgp, auto-assign: false, addresses: [203.0.113.0/30]}
    """

func svc(_ name: String, ingress: [String] = [], annotations: [String: String] = [:], type lb: Bool = true,
         class lbClass: String? = nil, uid: String? = nil, ports: [TransportPort] = [TransportPort(80)]) -> ServiceState {
    ServiceState(key: ServiceKey(namespace: "default", name: name), uid: uid ?? "uid-\(name)", isLoadBalancer: lb,
                 loadBalancerClass: lbClass, annotations: annotations, ports: Set(ports), ingressIPs: ingress)
}

/// Applies status actions to the cached Service the way the API server would, and echoes the
/// change back into the core (as the informer would), collecting every action.
struct Harness {
    var core = ControllerCore()
    var services: [String: ServiceState] = [:]
    var log: [ControllerAction] = []

    mutating func feed(_ actions: [ControllerAction]) {
        log += actions
        for action in actions {
            switch action {
            case .setStatus(let key, let ips, let pool):
                guard var state = services[key.name] else { continue }
                state.ingressIPs = ips.map(\.description)
                state.annotations["ironlb.io/ip-allocated-from-pool"] = pool
                services[key.name] = state
                feed(core.serviceChanged(state))
            case .clearStatus(let key):
                guard var state = services[key.name] else { continue }
                state.ingressIPs = []
                state.annotations["ironlb.io/ip-allocated-from-pool"] = nil
                services[key.name] = state
                feed(core.serviceChanged(state))
            case .event, .log:
                continue
            }
        }
    }

    mutating func put(_ state: ServiceState) {
        services[state.key.name] = state
        feed(core.serviceChanged(state))
    }

    mutating func delete(_ name: String) {
        services[name] = nil
        feed(core.serviceDeleted(ServiceKey(namespace: "default", name: name)))
    }

    func ip(_ name: String) -> [String] { services[name]?.ingressIPs ?? [] }

    var events: [String] {
        log.compactMap {
            if case .event(let event) = $0 { return "\(event.kind.rawValue) \(event.reason)" }
            return nil
        }
    }

    mutating func takeEvents() -> [String] {
        defer { log = [] }
        return events
    }
}

@Suite struct ControllerCoreTests {
    @Test func nothingHappensBeforeSyncAndConfig() {
        var h = Harness()
        h.put(svc("a"))
        #expect(h.log.isEmpty)
        let actions = h.core.cachesSynced()
        #expect(actions == [.log(level: .warning, message: "no configuration: ConfigMap ironlb-system/config with key \"config\" not found; Services of type LoadBalancer wait for an address")])
        h.feed(h.core.configChanged(poolConfig))
        #expect(h.ip("a") == ["198.51.100.1"])
        #expect(h.core.configLoaded && !h.core.configStale)
    }

    @Test func startupAdoptsStatusBeforeAllocating() {
        var h = Harness()
        h.put(svc("new"))
        h.put(svc("old", ingress: ["198.51.100.1"], annotations: ["ironlb.io/ip-allocated-from-pool": "main"]))
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        // "new" sorts first, but "old" keeps .1: adoption comes before any allocation.
        #expect(h.ip("old") == ["198.51.100.1"])
        #expect(h.ip("new") == ["198.51.100.2"])
        #expect(!h.log.contains { if case .setStatus(let key, _, _) = $0 { return key.name == "old" }; return false })
    }

    /// A configuration refused at start-up because a Service holds an IP outside it is applied
    /// as soon as that Service lets go (deleted here), without waiting for another edit.
    @Test func startupRefusalIsRetriedWhenTheBlockingServiceGoes() {
        var h = Harness()
        h.put(svc("old", ingress: ["192.0.2.9"]))
        h.put(svc("other", ingress: ["198.51.100.2"]))
        h.put(svc("new"))
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        #expect(h.takeEvents() == ["Warning ConfigRejected"])
        #expect(!h.core.isRunning && h.ip("new").isEmpty)
        // A change of a Service that does not block it changes nothing, and says nothing.
        h.put(svc("new", annotations: ["note": "x"]))
        #expect(h.log.isEmpty)
        // The blocking Service keeps its IP but changes otherwise: still refused, no new Event.
        h.put(svc("old", ingress: ["192.0.2.9"], annotations: ["note": "y"]))
        #expect(!h.core.isRunning && h.takeEvents().isEmpty)
        h.delete("old")
        #expect(h.core.isRunning && h.core.configLoaded && !h.core.configStale)
        #expect(h.ip("other") == ["198.51.100.2"])
        #expect(h.ip("new") == ["198.51.100.1"])
    }

    @Test func restartIsIdempotent() {
        var h = Harness()
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        for name in ["a", "b"] { h.put(svc(name)) }
        // A fresh core sees the same cache: no writes at all.
        var restarted = ControllerCore()
        for state in h.services.values { _ = restarted.serviceChanged(state) }
        _ = restarted.configChanged(poolConfig)
        let actions = restarted.cachesSynced()
        #expect(!actions.contains { if case .setStatus = $0 { return true }; if case .clearStatus = $0 { return true }; return false })
        #expect(restarted.allocator.allAssignments.map { $0.ips.map(\.description) } == [["198.51.100.1"], ["198.51.100.2"]])
    }

    @Test func exhaustionWaitsAndAReleasedIPGoesToTheWaitingService() {
        var h = Harness()
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        h.put(svc("a"))
        h.put(svc("b"))
        _ = h.takeEvents()
        h.put(svc("c"))
        #expect(h.takeEvents() == ["Warning AllocationFailed"])
        #expect(h.core.waitingServices.map(\.name) == ["c"])
        // An unrelated update does not repeat the event.
        h.put(svc("c", ports: [TransportPort(81)]))
        #expect(h.takeEvents() == [])
        h.delete("a")
        #expect(h.ip("c") == ["198.51.100.1"])
        #expect(h.takeEvents() == ["Normal IPAllocated"])
        #expect(h.core.waitingServices.isEmpty)
    }

    @Test func typeChangeAwayAndBack() {
        var h = Harness()
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        h.put(svc("a"))
        _ = h.takeEvents()
        // The API server clears status when the type leaves LoadBalancer.
        h.put(svc("a", type: false))
        #expect(h.takeEvents() == ["Normal IPReleased"])
        #expect(h.core.allocator.allAssignments.isEmpty)
        h.put(svc("a"))
        #expect(h.ip("a") == ["198.51.100.1"])
    }

    @Test func classFiltering() {
        var h = Harness(core: ControllerCore(settings: .init(loadBalancerClass: "ironlb.io/lb")))
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        h.put(svc("unclassed"))
        h.put(svc("other", class: "example.com/lb"))
        h.put(svc("ours", class: "ironlb.io/lb"))
        #expect(h.ip("unclassed") == [])
        #expect(h.ip("other") == [])
        #expect(h.ip("ours") == ["198.51.100.1"])
    }

    @Test func annotationChangeMovesTheServiceAndInvalidAnnotationsKeepIt() {
        var h = Harness()
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        h.put(svc("a"))
        h.put(svc("a", annotations: h.services["a"]!.annotations.merging(["ironlb.io/address-pool": "extra"]) { $1 }))
        #expect(h.ip("a") == ["203.0.113.0"])
        _ = h.takeEvents()
        h.put(svc("a", ingress: h.ip("a"), annotations: h.services["a"]!.annotations.merging(["ironlb.io/loadBalancerIPs": "not-an-ip"]) { $1 }))
        #expect(h.ip("a") == ["203.0.113.0"])
        #expect(h.takeEvents() == ["Warning AllocationFailed"])
    }

    @Test func requestedIPInUseClearsAndWarns() {
        var h = Harness()
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        h.put(svc("a"))
        h.put(svc("b"))
        _ = h.takeEvents()
        h.put(svc("b", ingress: h.ip("b"), annotations: h.services["b"]!.annotations.merging(["ironlb.io/loadBalancerIPs": "198.51.100.1"]) { $1 }))
        #expect(h.ip("b") == [])
        #expect(h.takeEvents() == ["Warning ClearAssignment", "Warning AllocationFailed"])
    }

    @Test func deprecatedAnnotationWarnsOnce() {
        var h = Harness()
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        h.put(svc("a", annotations: ["metallb.universe.tf/address-pool": "extra"]))
        #expect(h.ip("a") == ["203.0.113.0"])
        #expect(h.takeEvents() == ["Warning DeprecatedAnnotation", "Normal IPAllocated"])
    }

    @Test func deprecatedAnnotationWarnsForServicesThatExistedAtStart() {
        var h = Harness()
        h.put(svc("a", annotations: ["metallb.universe.tf/address-pool": "extra"]))
        h.put(svc("held", ingress: ["198.51.100.1"], annotations: ["metallb.io/address-pool": "main", "ironlb.io/ip-allocated-from-pool": "main"]))
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        #expect(h.ip("a") == ["203.0.113.0"])
        #expect(h.ip("held") == ["198.51.100.1"])
        #expect(h.takeEvents() == ["Warning DeprecatedAnnotation", "Normal IPAllocated", "Warning DeprecatedAnnotation"])
        // The echo of the status write is not a change of annotations: no second warning.
        #expect(!h.log.contains { if case .setStatus(let key, _, _) = $0 { return key.name == "held" }; return false })
    }

    @Test func invalidAndOrphaningConfigsAreRejectedAndTheGoodOneStays() {
        var h = Harness()
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        h.put(svc("a"))
        _ = h.takeEvents()
        for bad in [
            "address-pools: [{name: main, protocol: layer3, addresses: [198.51.100.1-198.51.100.2]}]",
            "address-pools: [{name: main, protocol: layer2, addresses: [198.51.100.2/32]}]",
            "not: [valid",
        ] {
            h.feed(h.core.configChanged(bad))
            #expect(h.core.configStale)
            #expect(h.ip("a") == ["198.51.100.1"])
        }
        #expect(h.takeEvents() == ["Warning InvalidConfig", "Warning ConfigRejected", "Warning InvalidConfig"])
        #expect(h.log.isEmpty)
        // The orphaning message names the Service.
        let actions = h.core.configChanged("address-pools: [{name: main, protocol: layer2, addresses: [198.51.100.2/32]}]")
        #expect(actions.contains(.event(RecordedEvent(.configMap(namespace: "ironlb-system", name: "config"), .warning, "ConfigRejected",
            "configuration would take IPs from Services; keeping the last good one: default/a (198.51.100.1): 198.51.100.1 is in no pool of the new configuration"))))
        // The last good pools are still in force, and a valid config clears the stale flag.
        h.put(svc("b"))
        #expect(h.ip("b") == ["198.51.100.2"])
        h.feed(h.core.configChanged(poolConfig + "\n- {name: more, protocol: layer2, addresses: [192.0.2.0/30]}"))
        #expect(!h.core.configStale)
        h.put(svc("c"))
        #expect(h.ip("c") == ["192.0.2.0"])
        #expect(h.ip("a") == ["198.51.100.1"])
    }

    @Test func aRefusedConfigIsAppliedOnceTheServicesHoldingItsIPsAreGone() {
        var h = Harness()
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        for name in ["a", "b", "c"] { h.put(svc(name)) }
        #expect(h.ip("a") == ["198.51.100.1"] && h.ip("b") == ["198.51.100.2"])
        let shrunk = "address-pools: [{name: main, protocol: layer2, addresses: [198.51.100.2/32]}]"
        h.feed(h.core.configChanged(shrunk))
        #expect(h.core.configStale)
        _ = h.takeEvents()
        // `c` waits and holds nothing: its going changes nothing.
        h.delete("c")
        #expect(h.core.configStale && h.takeEvents().isEmpty)
        // `a` holds .1: once it is gone, the refused configuration applies, quietly until then.
        h.delete("a")
        #expect(!h.core.configStale)
        #expect(h.takeEvents() == ["Normal ConfigLoaded"])
        #expect(h.ip("b") == ["198.51.100.2"])
        // Leaving LoadBalancer counts as letting go too.
        h.feed(h.core.configChanged(poolConfig))
        h.put(svc("d"))
        #expect(h.ip("d") == ["198.51.100.1"])
        h.feed(h.core.configChanged(shrunk))
        #expect(h.core.configStale)
        h.put(svc("d", type: false))
        #expect(!h.core.configStale)
    }

    @Test func startupWithAConfigThatWouldOrphanTouchesNothing() {
        var h = Harness()
        h.put(svc("old", ingress: ["192.0.2.9"]))
        h.put(svc("new"))
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        #expect(!h.core.isRunning)
        #expect(h.core.configStale)
        #expect(h.ip("old") == ["192.0.2.9"])
        #expect(h.ip("new") == [])
        h.feed(h.core.configChanged(poolConfig + "\n- {name: legacy, protocol: layer2, addresses: [192.0.2.0/28]}"))
        #expect(h.core.isRunning)
        #expect(h.ip("old") == ["192.0.2.9"])
        #expect(h.ip("new") == ["198.51.100.1"])
    }

    @Test func conflictingStatusAtStartupMovesOnlyTheLaterService() {
        var h = Harness()
        h.put(svc("a", ingress: ["198.51.100.2"]))
        h.put(svc("b", ingress: ["198.51.100.2"]))
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        #expect(h.ip("a") == ["198.51.100.2"])
        #expect(h.ip("b") == ["198.51.100.1"])
    }

    @Test func missingConfigMapLaterKeepsTheLastGood() {
        var h = Harness()
        h.feed(h.core.configChanged(poolConfig))
        h.feed(h.core.cachesSynced())
        h.put(svc("a"))
        h.feed(h.core.configChanged(nil))
        #expect(h.core.configStale)
        h.put(svc("b"))
        #expect(h.ip("b") == ["198.51.100.2"])
    }
}

/// Issue 15, item 9: with the pool exhausted, every input re-tried every waiting Service.
@Suite struct ControllerCoreWaitingTests {
    @Test func waitingServicesAreRetriedOnlyWhenAddressesMove() {
        var h = Harness()
        _ = h.core.cachesSynced()
        h.feed(h.core.configChanged(poolConfig))
        h.put(svc("a"))
        h.put(svc("b"))
        for index in 0..<100 { h.put(svc("w\(index)")) }
        #expect(h.core.waitingServices.count == 100)
        let before = h.core.waitingAttempts
        // Changes that move no address: a waiting Service's labels, a holder's port name.
        for index in 0..<100 {
            var state = h.services["w\(index)"]!
            state.labels = ["revision": "2"]
            h.put(state)
        }
        var holder = h.services["a"]!
        holder.labels = ["revision": "2"]
        h.put(holder)
        #expect(h.core.waitingAttempts == before)
        // A freed address is offered to the oldest waiting Service.
        h.delete("a")
        #expect(h.ip("w0") == ["198.51.100.1"])
        #expect(h.core.waitingServices.count == 99)
        #expect(h.core.waitingAttempts - before <= 100)
    }
}
