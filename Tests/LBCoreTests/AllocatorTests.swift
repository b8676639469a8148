import Testing
import LBConfig
import NetPrimitives
@testable import LBCore

func ip(_ text: String) -> IPAddress { IPAddress(text)! }

func config(_ yaml: String) -> Configuration {
    switch ConfigParser.parse(yaml) {
    case .success(let parsed): return parsed.configuration
    case .failure(let errors): fatalError("test config is invalid: \(errors)")
    }
}

func request(
    _ name: String, namespace: String = "default", uid: String? = nil, families: [IPFamily] = [.ipv4],
    policy: IPFamilyPolicy = .singleStack, ips: [String] = [], pool: String? = nil, share: String? = nil,
    ports: [TransportPort] = [TransportPort(80)], backend: String? = nil,
    namespaceLabels: [String: String] = [:], labels: [String: String] = [:]
) -> AllocationRequest {
    AllocationRequest(
        service: ServiceKey(namespace: namespace, name: name), uid: uid ?? "uid-\(namespace)-\(name)", ipFamilies: families,
        ipFamilyPolicy: policy, requestedIPs: ips.map(ip), requestedPool: pool, sharingKey: share, ports: Set(ports),
        backendKey: backend, namespaceLabels: namespaceLabels, serviceLabels: labels
    )
}

extension Result where Success == Assignment, Failure == AllocationError {
    var ips: [String]? { (try? get())?.ips.map(\.description) }
    var pool: String? { (try? get())?.pool }
    var failure: AllocationError? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

let twoPools = config("""
    address-pools:
    - {name: first, protocol: layer2, addresses: [198.51.100.1-198.51.100.3]}
    - {name: second, protocol: bgp, addresses: [203.0.113.0/30]}
    - {name: reserved, protocol: bgp, addresses: [192.0.2.0/29], auto-assign: false}
    """)

@Suite struct AllocationOrderTests {
    @Test func lowestFreeAddressOfTheFirstPoolThenTheNext() {
        var allocator = Allocator(configuration: twoPools)
        let got = (1...7).map { allocator.allocate(request("s\($0)")).ips?.first ?? "-" }
        #expect(got == ["198.51.100.1", "198.51.100.2", "198.51.100.3", "203.0.113.0", "203.0.113.1", "203.0.113.2", "203.0.113.3"])
        // auto-assign: false pools are never used without a request.
        #expect(allocator.allocate(request("s8")).failure == .noAvailableIPs(pool: nil))
        #expect(allocator.allocate(request("s9", pool: "reserved")).ips == ["192.0.2.0"])
    }

    @Test func releasedAddressesAreReusedLowestFirst() {
        var allocator = Allocator(configuration: config("address-pools: [{name: p, protocol: layer2, addresses: [198.51.100.0/29]}]"))
        for n in 0..<6 { _ = allocator.allocate(request("s\(n)")) }
        allocator.release(ServiceKey(namespace: "default", name: "s3"))
        allocator.release(ServiceKey(namespace: "default", name: "s1"))
        #expect(allocator.allocate(request("a")).ips == ["198.51.100.1"])
        #expect(allocator.allocate(request("b")).ips == ["198.51.100.3"])
        #expect(allocator.allocate(request("c")).ips == ["198.51.100.6"])
        #expect(allocator.allocate(request("d")).ips == ["198.51.100.7"])
        #expect(allocator.allocate(request("e")).failure == .noAvailableIPs(pool: "p"))
    }

    @Test func avoidBuggyIPsSkipsDotZeroAndDot255() {
        var allocator = Allocator(configuration: config("""
            address-pools: [{name: p, protocol: layer2, avoid-buggy-ips: true, addresses: [198.51.100.254-198.51.101.1]}]
            """))
        #expect(allocator.allocate(request("a")).ips == ["198.51.100.254"])
        #expect(allocator.allocate(request("b")).ips == ["198.51.101.1"])
        #expect(allocator.allocate(request("c")).failure == .noAvailableIPs(pool: "p"))
        #expect(allocator.usage == [Allocator.PoolUsage(pool: "p", family: .ipv4, total: 2, inUse: 2)])
        #expect(allocator.allocate(request("d", ips: ["198.51.101.0"])).failure
                == .invalidRequestedIPs("requested IP 198.51.101.0 ends in .0 or .255, which pool \"p\" avoids (avoid-buggy-ips)"))
    }

    @Test func serviceAllocationOrdersAndRestrictsPools() {
        let configuration = config("""
            address-pools:
            - {name: general, protocol: layer2, addresses: [198.51.100.0/30]}
            - name: web-low
              protocol: layer2
              addresses: [203.0.113.0/30]
              service-allocation: {priority: 20, namespaces: [web]}
            - name: web-high
              protocol: layer2
              addresses: [203.0.113.8/30]
              service-allocation: {priority: 10, namespace-selectors: [{match-labels: {team: web}}]}
            - name: db-only
              protocol: layer2
              addresses: [192.0.2.0/30]
              service-allocation: {service-selectors: [{match-labels: {app: db}}]}
            """)
        var allocator = Allocator(configuration: configuration)
        #expect(allocator.candidatePools(for: request("x", namespace: "web", namespaceLabels: ["team": "web"])).map(\.name) == ["web-high", "web-low", "general"])
        #expect(allocator.candidatePools(for: request("x", namespace: "web")).map(\.name) == ["web-low", "general"])
        #expect(allocator.candidatePools(for: request("x", namespace: "other", labels: ["app": "db"])).map(\.name) == ["db-only", "general"])
        #expect(allocator.allocate(request("a", namespace: "web", namespaceLabels: ["team": "web"])).pool == "web-high")
        #expect(allocator.allocate(request("b", namespace: "shop")).pool == "general")
        // Naming a pool does not get around its service-allocation (as in MetalLB).
        #expect(allocator.allocate(request("c", namespace: "shop", pool: "db-only")).failure == .poolNotAllowed(pool: "db-only"))
        #expect(allocator.allocate(request("d", namespace: "shop", pool: "db-only", labels: ["app": "db"])).ips == ["192.0.2.0"])
    }

    @Test func noEligiblePoolAndUnknownPool() {
        var allocator = Allocator(configuration: config("address-pools: [{name: p, protocol: layer2, auto-assign: false, addresses: [198.51.100.0/30]}]"))
        #expect(allocator.allocate(request("a")).failure == .noEligiblePool)
        #expect(allocator.allocate(request("a", pool: "nope")).failure == .poolNotFound("nope"))
        var empty = Allocator(configuration: .empty)
        #expect(empty.allocate(request("a")).failure == .noEligiblePool)
    }
}

@Suite struct RequestedIPTests {
    @Test func requestedIPsTable() {
        struct Case { let name: String; let ips: [String]; let pool: String?; let expect: Result<[String], AllocationError> }
        let cases: [Case] = [
            Case(name: "in a pool", ips: ["203.0.113.2"], pool: nil, expect: .success(["203.0.113.2"])),
            Case(name: "auto-assign false pool", ips: ["192.0.2.5"], pool: nil, expect: .success(["192.0.2.5"])),
            Case(name: "in the requested pool", ips: ["192.0.2.6"], pool: "reserved", expect: .success(["192.0.2.6"])),
            Case(name: "in no pool", ips: ["192.0.2.100"], pool: nil, expect: .failure(.requestedIPNotInAnyPool(ip("192.0.2.100")))),
            Case(name: "in another pool", ips: ["203.0.113.1"], pool: "reserved", expect: .failure(.requestedIPNotInPool(ip("203.0.113.1"), pool: "reserved"))),
            Case(name: "unknown pool", ips: ["203.0.113.1"], pool: "nope", expect: .failure(.poolNotFound("nope"))),
            Case(name: "two of one family", ips: ["203.0.113.1", "203.0.113.2"], pool: nil,
                 expect: .failure(.invalidRequestedIPs("requested IPs 203.0.113.1, 203.0.113.2 include two of one family; request at most one IPv4 and one IPv6"))),
            Case(name: "wrong family for single stack", ips: ["2001:db8::1"], pool: nil,
                 expect: .failure(.invalidRequestedIPs("the Service is single-stack IPv4 but requests 2001:db8::1"))),
        ]
        for item in cases {
            var allocator = Allocator(configuration: twoPools)
            let result = allocator.allocate(request("svc", ips: item.ips, pool: item.pool)).map { $0.ips.map(\.description) }
            #expect(result == item.expect, "\(item.name)")
        }
    }

    @Test func requestedIPInUseWithoutSharing() {
        var allocator = Allocator(configuration: twoPools)
        #expect(allocator.allocate(request("a", ips: ["203.0.113.1"])).ips == ["203.0.113.1"])
        #expect(allocator.allocate(request("b", ips: ["203.0.113.1"])).failure
                == .requestedIPInUse(ip("203.0.113.1"), by: [ServiceKey(namespace: "default", name: "a")]))
        // The automatic choice skips the requested one.
        for n in 0..<3 { _ = allocator.allocate(request("f\(n)")) }
        #expect(allocator.allocate(request("g")).ips == ["203.0.113.0"])
        #expect(allocator.allocate(request("h")).ips == ["203.0.113.2"])
    }

    @Test func requestedIPsInDifferentPools() {
        var allocator = Allocator(configuration: config("""
            address-pools:
            - {name: v4, protocol: layer2, addresses: [198.51.100.0/30]}
            - {name: v6, protocol: layer2, addresses: ["2001:db8::/126"]}
            """))
        #expect(allocator.allocate(request("a", families: [.ipv4, .ipv6], policy: .requireDualStack, ips: ["198.51.100.1", "2001:db8::1"])).failure
                == .requestedIPsInDifferentPools([ip("198.51.100.1"), ip("2001:db8::1")]))
    }
}

@Suite struct SharingTests {
    let pool = config("address-pools: [{name: p, protocol: layer2, addresses: [198.51.100.0/30]}]")

    @Test func sharingTable() {
        struct Case {
            let name: String
            let second: AllocationRequest
            let expect: AllocationError?
        }
        let a = ServiceKey(namespace: "default", name: "a")
        let cases: [Case] = [
            Case(name: "same key, other ports", second: request("b", ips: ["198.51.100.1"], share: "k", ports: [TransportPort(443)]), expect: nil),
            Case(name: "same key, same port other protocol", second: request("b", ips: ["198.51.100.1"], share: "k", ports: [TransportPort(80, .udp)]), expect: nil),
            Case(name: "same key, clashing port", second: request("b", ips: ["198.51.100.1"], share: "k", ports: [TransportPort(80), TransportPort(443)]),
                 expect: .incompatibleSharing(ip("198.51.100.1"), with: [a], reason: .portClash([TransportPort(80)]))),
            Case(name: "other key", second: request("b", ips: ["198.51.100.1"], share: "other", ports: [TransportPort(443)]),
                 expect: .incompatibleSharing(ip("198.51.100.1"), with: [a], reason: .sharingKeyDiffers(mine: "other", theirs: "k"))),
            Case(name: "no key", second: request("b", ips: ["198.51.100.1"], ports: [TransportPort(443)]),
                 expect: .incompatibleSharing(ip("198.51.100.1"), with: [a], reason: .sharingKeyDiffers(mine: nil, theirs: "k"))),
            Case(name: "Local versus Cluster", second: request("b", ips: ["198.51.100.1"], share: "k", ports: [TransportPort(443)], backend: "app=web"),
                 expect: .incompatibleSharing(ip("198.51.100.1"), with: [a], reason: .backendsDiffer)),
        ]
        for item in cases {
            var allocator = Allocator(configuration: pool)
            #expect(allocator.allocate(request("a", ips: ["198.51.100.1"], share: "k")).ips == ["198.51.100.1"])
            let result = allocator.allocate(item.second)
            #expect(result.failure == item.expect, "\(item.name)")
            if item.expect == nil {
                #expect(allocator.holders(of: ip("198.51.100.1")).count == 2, "\(item.name)")
            }
        }
    }

    @Test func localServicesShareOnlyWithTheSameBackends() {
        var allocator = Allocator(configuration: pool)
        _ = allocator.allocate(request("a", ips: ["198.51.100.2"], share: "k", backend: "app=web"))
        #expect(allocator.allocate(request("b", ips: ["198.51.100.2"], share: "k", ports: [TransportPort(443)], backend: "app=web")).ips == ["198.51.100.2"])
        #expect(allocator.allocate(request("c", ips: ["198.51.100.2"], share: "k", ports: [TransportPort(8080)], backend: "app=db")).failure?.reason == "IncompatibleSharing")
    }

    @Test func automaticAllocationJoinsACompatibleSharedIP() {
        var allocator = Allocator(configuration: pool)
        #expect(allocator.allocate(request("plain")).ips == ["198.51.100.0"])
        #expect(allocator.allocate(request("dns-tcp", share: "dns", ports: [TransportPort(53, .tcp)])).ips == ["198.51.100.1"])
        #expect(allocator.allocate(request("dns-udp", share: "dns", ports: [TransportPort(53, .udp)])).ips == ["198.51.100.1"])
        // A clash sends the third one to a free address.
        #expect(allocator.allocate(request("dns-udp-2", share: "dns", ports: [TransportPort(53, .udp)])).ips == ["198.51.100.2"])
        #expect(allocator.usage.first?.inUse == 3)
        // The shared IP stays held until its last holder goes.
        allocator.release(ServiceKey(namespace: "default", name: "dns-tcp"))
        #expect(allocator.allocate(request("x")).ips == ["198.51.100.3"])
        allocator.release(ServiceKey(namespace: "default", name: "dns-udp"))
        #expect(allocator.allocate(request("y")).ips == ["198.51.100.1"])
    }
}

@Suite struct DualStackTests {
    let dual = config("""
        address-pools:
        - {name: v4only, protocol: layer2, addresses: [198.51.100.0/30]}
        - {name: dual, protocol: layer2, addresses: [203.0.113.0/30, "2001:db8::/126"]}
        - {name: v6only, protocol: layer2, addresses: ["2001:db8:1::/126"]}
        """)

    @Test(arguments: [
        ([IPFamily.ipv4], IPFamilyPolicy.singleStack, ["198.51.100.0"], "v4only"),
        ([.ipv6], .singleStack, ["2001:db8::"], "dual"),
        ([.ipv4, .ipv6], .preferDualStack, ["198.51.100.0"], "v4only"),        // the first pool serves the primary family
        ([.ipv4, .ipv6], .requireDualStack, ["203.0.113.0", "2001:db8::"], "dual"),
        ([.ipv6, .ipv4], .requireDualStack, ["2001:db8::", "203.0.113.0"], "dual"),
        ([.ipv6, .ipv4], .preferDualStack, ["2001:db8::", "203.0.113.0"], "dual"),
        ([.ipv4], .requireDualStack, ["203.0.113.0", "2001:db8::"], "dual"),
    ])
    func policies(families: [IPFamily], policy: IPFamilyPolicy, expected: [String], pool: String) {
        var allocator = Allocator(configuration: dual)
        let result = allocator.allocate(request("s", families: families, policy: policy))
        #expect(result.ips == expected)
        #expect(result.pool == pool)
    }

    @Test func requireDualStackFailsWhenOneFamilyIsExhausted() {
        var allocator = Allocator(configuration: config("address-pools: [{name: dual, protocol: layer2, addresses: [203.0.113.0/31, \"2001:db8::/127\"]}]"))
        for n in 0..<2 { _ = allocator.allocate(request("v4-\(n)")) }
        #expect(allocator.allocate(request("r", families: [.ipv4, .ipv6], policy: .requireDualStack)).failure == .noAvailableIPs(pool: "dual"))
        // Prefer takes what there is of the primary, and nothing when the primary is gone.
        #expect(allocator.allocate(request("p6", families: [.ipv6, .ipv4], policy: .preferDualStack)).ips == ["2001:db8::"])
        #expect(allocator.allocate(request("p4", families: [.ipv4, .ipv6], policy: .preferDualStack)).failure == .noAvailableIPs(pool: "dual"))
        #expect(allocator.usage.map(\.inUse) == [2, 1])
    }

    @Test func requireDualStackWithRequestedPoolLackingAFamily() {
        var allocator = Allocator(configuration: dual)
        #expect(allocator.allocate(request("r", families: [.ipv4, .ipv6], policy: .requireDualStack, pool: "v4only")).failure
                == .familyNotInPool(.ipv6, pool: "v4only"))
        #expect(allocator.allocate(request("r", families: [.ipv4, .ipv6], policy: .preferDualStack, pool: "v4only")).ips == ["198.51.100.0"])
    }

    @Test func requestedDualStackIPsAreOrderedByFamilies() {
        var allocator = Allocator(configuration: dual)
        let result = allocator.allocate(request("r", families: [.ipv6, .ipv4], policy: .requireDualStack, ips: ["203.0.113.2", "2001:db8::2"]))
        #expect(result.ips == ["2001:db8::2", "203.0.113.2"])
    }
}

@Suite struct StickinessTests {
    @Test func aServiceKeepsItsIPWhileValid() {
        var allocator = Allocator(configuration: twoPools)
        #expect(allocator.allocate(request("a")).ips == ["198.51.100.1"])
        #expect(allocator.allocate(request("b")).ips == ["198.51.100.2"])
        allocator.release(ServiceKey(namespace: "default", name: "a"))
        // b is asked again (a resync): it keeps .2 although .1 is now lower and free.
        #expect(allocator.allocate(request("b", ports: [TransportPort(8080)])).ips == ["198.51.100.2"])
        #expect(allocator.assignment(for: ServiceKey(namespace: "default", name: "b"))?.request.ports == [TransportPort(8080)])
    }

    @Test func aNewUIDIsANewService() {
        var allocator = Allocator(configuration: twoPools)
        _ = allocator.allocate(request("a"))
        _ = allocator.allocate(request("b"))
        allocator.release(ServiceKey(namespace: "default", name: "a"))
        #expect(allocator.allocate(request("b", uid: "recreated")).ips == ["198.51.100.1"])
    }

    @Test func aChangedRequestReallocates() {
        var allocator = Allocator(configuration: twoPools)
        #expect(allocator.allocate(request("a")).pool == "first")
        #expect(allocator.allocate(request("a", pool: "second")).ips == ["203.0.113.0"])
        #expect(allocator.allocate(request("a", ips: ["203.0.113.3"])).ips == ["203.0.113.3"])
        #expect(allocator.allocate(request("a", ips: ["203.0.113.3"])).ips == ["203.0.113.3"])
        // The old addresses were freed.
        #expect(allocator.allocate(request("b")).ips == ["198.51.100.1"])
        // SingleStack → RequireDualStack on a v4-only configuration: the Service loses its IP.
        #expect(allocator.allocate(request("b", families: [.ipv4, .ipv6], policy: .requireDualStack)).failure == .noAvailableIPs(pool: nil))
        #expect(allocator.assignment(for: ServiceKey(namespace: "default", name: "b")) == nil)
    }

    @Test func adoptionRestoresAndRefusesConflicts() {
        var allocator = Allocator(configuration: twoPools)
        #expect(allocator.adopt(request("a"), ips: [ip("198.51.100.3")]).ips == ["198.51.100.3"])
        #expect(allocator.adopt(request("b"), ips: [ip("198.51.100.3")]).failure
                == .requestedIPInUse(ip("198.51.100.3"), by: [ServiceKey(namespace: "default", name: "a")]))
        #expect(allocator.adopt(request("c"), ips: [ip("192.0.2.77")]).failure == .requestedIPNotInAnyPool(ip("192.0.2.77")))
        // Adopted IPs are not handed out again, and a later allocate keeps them.
        #expect(allocator.allocate(request("d")).ips == ["198.51.100.1"])
        #expect(allocator.allocate(request("a")).ips == ["198.51.100.3"])
        #expect(allocator.allocate(request("e")).ips == ["198.51.100.2"])
        #expect(allocator.allocate(request("f")).ips == ["203.0.113.0"])
    }

    @Test func configUpdateKeepsAssignments() {
        var allocator = Allocator(configuration: twoPools)
        _ = allocator.allocate(request("a"))
        _ = allocator.allocate(request("b", pool: "reserved"))
        let grown = config("""
            address-pools:
            - {name: zero, protocol: layer2, addresses: [192.0.2.128/30]}
            - {name: first, protocol: layer2, addresses: [198.51.100.0/24]}
            - {name: reserved, protocol: bgp, addresses: [192.0.2.0/29], auto-assign: false}
            """)
        #expect(allocator.update(configuration: grown).isEmpty)
        #expect(allocator.allocate(request("a")).ips == ["198.51.100.1"])
        #expect(allocator.allocate(request("c")).ips == ["192.0.2.128"])
        let shrunk = config("address-pools: [{name: zero, protocol: layer2, addresses: [192.0.2.128/30]}]")
        #expect(allocator.update(configuration: shrunk) == [ServiceKey(namespace: "default", name: "a"), ServiceKey(namespace: "default", name: "b")])
    }
}

@Suite struct ConfigChangeTests {
    @Test func orphansTable() {
        var allocator = Allocator(configuration: twoPools)
        _ = allocator.allocate(request("a"))                       // 198.51.100.1 from first
        _ = allocator.allocate(request("b", pool: "reserved"))     // 192.0.2.0 from reserved
        let assignments = allocator.allAssignments
        let cases: [(String, String, [String])] = [
            ("same config", """
                address-pools:
                - {name: first, protocol: layer2, addresses: [198.51.100.1-198.51.100.3]}
                - {name: reserved, protocol: bgp, addresses: [192.0.2.0/29], auto-assign: false}
                """, []),
            ("pool grows and changes protocol", """
                address-pools:
                - {name: first, protocol: bgp, addresses: [198.51.100.0/24]}
                - {name: reserved, protocol: bgp, addresses: [192.0.2.0/28], auto-assign: false}
                """, []),
            ("range shrinks away from a's IP", """
                address-pools:
                - {name: first, protocol: layer2, addresses: [198.51.100.2-198.51.100.3]}
                - {name: reserved, protocol: bgp, addresses: [192.0.2.0/29]}
                """, ["default/a (198.51.100.1): 198.51.100.1 is in no pool of the new configuration"]),
            ("requested pool renamed", """
                address-pools:
                - {name: first, protocol: layer2, addresses: [198.51.100.1-198.51.100.3]}
                - {name: kept-aside, protocol: bgp, addresses: [192.0.2.0/29]}
                """, ["default/b (192.0.2.0): it asks for pool \"reserved\" but its IPs would be in pool \"kept-aside\""]),
            ("everything removed", "address-pools: []", [
                "default/a (198.51.100.1): 198.51.100.1 is in no pool of the new configuration",
                "default/b (192.0.2.0): 192.0.2.0 is in no pool of the new configuration",
            ]),
        ]
        for (name, yaml, expected) in cases {
            #expect(ConfigChange.orphans(applying: config(yaml), to: assignments).map(\.description) == expected, "\(name)")
        }
    }
}
