import Testing
import LBConfig
import NetPrimitives
@testable import LBCore
@testable import ControllerCore

/// Issue 15 item 1 at the controller: a pool's `service-allocation` holds at start-up adoption
/// and across a configuration change (the allocator's side is in LBCoreTests).
@Suite struct ServiceAllocationAtTheControllerTests {
    @Test func theControllerClearsAnIPItsPoolNoLongerAdmitsAndNeverAdoptsOne() {
        let restricted = """
            address-pools:
            - {name: prod, protocol: layer2, addresses: [203.0.113.10-203.0.113.12], service-allocation: {namespaces: [prod]}}
            """
        // Start-up: the status of evil/x shows a prod IP; it is not adopted, and cleared.
        var h = Harness()
        let evil = ServiceState(key: ServiceKey(namespace: "evil", name: "x"), uid: "uid-x", ports: [TransportPort(80)], ingressIPs: ["203.0.113.11"])
        h.services["x"] = evil
        _ = h.core.serviceChanged(evil)
        h.feed(h.core.cachesSynced())
        h.feed(h.core.configChanged(restricted))
        #expect(h.ip("x") == [])
        #expect(h.events.contains("Warning ClearAssignment"))

        // Reload: a pool that used to admit evil/x is restricted; its IP goes.
        var reload = Harness()
        reload.feed(reload.core.cachesSynced())
        reload.feed(reload.core.configChanged("address-pools: [{name: prod, protocol: layer2, addresses: [203.0.113.10-203.0.113.12]}]"))
        reload.put(ServiceState(key: ServiceKey(namespace: "evil", name: "x"), uid: "uid-x", ports: [TransportPort(80)]))
        #expect(reload.ip("x") == ["203.0.113.10"])
        reload.feed(reload.core.configChanged(restricted))
        #expect(reload.ip("x") == [])
        #expect(reload.events.contains("Warning ClearAssignment"))
    }
}
