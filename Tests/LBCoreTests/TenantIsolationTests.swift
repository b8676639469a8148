import Testing
import LBConfig
import NetPrimitives
@testable import LBCore

/// Issue 15 items 1 and 2: a pool's `service-allocation` holds on every path to an IP, and a
/// sharing key does not let one namespace onto another namespace's IP.
let prodOnly = config("""
    address-pools:
    - {name: prod, protocol: layer2, addresses: [203.0.113.10-203.0.113.12], service-allocation: {namespaces: [prod]}}
    - {name: prod-reserved, protocol: layer2, auto-assign: false, addresses: [203.0.113.20-203.0.113.21], service-allocation: {namespaces: [prod]}}
    - {name: open, protocol: layer2, addresses: [198.51.100.1-198.51.100.3]}
    """)

@Suite struct ServiceAllocationEnforcementTests {
    @Test func aRequestedPoolMustAdmitTheService() {
        var allocator = Allocator(configuration: prodOnly)
        #expect(allocator.allocate(request("web", namespace: "prod", pool: "prod")).ips == ["203.0.113.10"])
        #expect(allocator.allocate(request("x", namespace: "evil", pool: "prod")).failure == .poolNotAllowed(pool: "prod"))
        #expect(allocator.allocate(request("y", namespace: "evil", pool: "prod-reserved")).failure == .poolNotAllowed(pool: "prod-reserved"))
        #expect(allocator.assignment(for: ServiceKey(namespace: "evil", name: "x")) == nil)
    }

    @Test(arguments: ["203.0.113.11", "203.0.113.20"])
    func aRequestedIPMustComeFromAPoolThatAdmitsTheService(_ address: String) {
        var allocator = Allocator(configuration: prodOnly)
        let result = allocator.allocate(request("x", namespace: "evil", ips: [address]))
        #expect(result.failure?.reason == "PoolNotAllowed")
        #expect(allocator.holders(of: ip(address)).isEmpty)
        // The namespace the pool names gets it.
        #expect(allocator.allocate(request("web", namespace: "prod", ips: [address])).ips == [address])
    }

    @Test func selectorsAdmitByNamespaceLabelsAndServiceLabels() {
        let labelled = config("""
            address-pools:
            - name: team
              protocol: layer2
              auto-assign: false
              addresses: [192.0.2.8/30]
              service-allocation:
                namespace-selectors: [{match-labels: {team: blue}}]
                service-selectors: [{match-labels: {tier: edge}}]
            """)
        var allocator = Allocator(configuration: labelled)
        #expect(allocator.allocate(request("a", namespace: "n1", pool: "team", namespaceLabels: ["team": "blue"], labels: ["tier": "edge"])).ips == ["192.0.2.8"])
        #expect(allocator.allocate(request("b", namespace: "n2", pool: "team", namespaceLabels: ["team": "red"], labels: ["tier": "edge"])).failure == .poolNotAllowed(pool: "team"))
        #expect(allocator.allocate(request("c", namespace: "n1", ips: ["192.0.2.9"], namespaceLabels: ["team": "blue"])).failure == .poolNotAllowed(pool: "team"))
    }

    @Test func adoptionAtStartUpRefusesAnIPFromAPoolThatDoesNotAdmitTheService() {
        var allocator = Allocator(configuration: prodOnly)
        #expect(allocator.adopt(request("x", namespace: "evil"), ips: [ip("203.0.113.11")]).failure == .poolNotAllowed(pool: "prod"))
        #expect(allocator.adopt(request("web", namespace: "prod"), ips: [ip("203.0.113.11")]).ips == ["203.0.113.11"])
    }

    @Test func aServiceDoesNotKeepAnIPAcrossAChangeThatRestrictsItsPool() {
        let open = config("address-pools: [{name: prod, protocol: layer2, addresses: [203.0.113.10-203.0.113.12]}]")
        var allocator = Allocator(configuration: open)
        #expect(allocator.allocate(request("x", namespace: "evil")).ips == ["203.0.113.10"])
        #expect(allocator.update(configuration: prodOnly).isEmpty)
        // The next look at the Service moves it to a pool it may use.
        #expect(allocator.allocate(request("x", namespace: "evil")).ips == ["198.51.100.1"])
        #expect(allocator.holders(of: ip("203.0.113.10")).isEmpty)
    }
}

@Suite struct CrossNamespaceSharingTests {
    let open = config("address-pools: [{name: shared, protocol: layer2, addresses: [203.0.113.10-203.0.113.12]}]")

    @Test func aSharingKeyDoesNotCrossNamespaces() {
        var allocator = Allocator(configuration: open)
        #expect(allocator.allocate(request("web", namespace: "prod", ips: ["203.0.113.11"], share: "k", ports: [TransportPort(80)])).ips == ["203.0.113.11"])
        // Same key, other ports, naming the IP: refused.
        let byIP = allocator.allocate(request("x", namespace: "evil", ips: ["203.0.113.11"], share: "k", ports: [TransportPort(443)]))
        #expect(byIP.failure == .incompatibleSharing(ip("203.0.113.11"), with: [ServiceKey(namespace: "prod", name: "web")], reason: .otherNamespace("prod")))
        // Same key, automatic choice: a fresh IP, never prod's.
        #expect(allocator.allocate(request("y", namespace: "evil", share: "k", ports: [TransportPort(8080)])).ips == ["203.0.113.10"])
        // The same namespace still shares.
        #expect(allocator.allocate(request("api", namespace: "prod", ips: ["203.0.113.11"], share: "k", ports: [TransportPort(443)])).ips == ["203.0.113.11"])
    }

    @Test func aPoolNamingBothNamespacesAllowsThemToShare() {
        let both = config("""
            address-pools:
            - {name: shared, protocol: layer2, addresses: [203.0.113.10-203.0.113.12], service-allocation: {namespaces: [prod, staging]}}
            """)
        var allocator = Allocator(configuration: both)
        #expect(allocator.allocate(request("web", namespace: "prod", ips: ["203.0.113.11"], share: "k")).ips == ["203.0.113.11"])
        #expect(allocator.allocate(request("web", namespace: "staging", ips: ["203.0.113.11"], share: "k", ports: [TransportPort(443)])).ips == ["203.0.113.11"])
        #expect(allocator.allocate(request("x", namespace: "evil", ips: ["203.0.113.11"], share: "k", ports: [TransportPort(8443)])).failure == .poolNotAllowed(pool: "shared"))
    }

    @Test func adoptionDoesNotLetAnotherNamespaceOntoASharedIP() {
        var allocator = Allocator(configuration: open)
        #expect(allocator.adopt(request("web", namespace: "prod", share: "k"), ips: [ip("203.0.113.11")]).ips == ["203.0.113.11"])
        #expect(allocator.adopt(request("x", namespace: "evil", share: "k", ports: [TransportPort(443)]), ips: [ip("203.0.113.11")]).failure?.reason == "IncompatibleSharing")
    }
}
