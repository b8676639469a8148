import Testing
import LBConfig
import NetPrimitives
@testable import LBCore
import TestSupport


@Suite struct AllocatorPropertyTests {
    /// Random allocate/release/re-request sequences against a brute-force model: every
    /// automatic allocation is the lowest usable address not held, no IP is held by two
    /// Services unless they share compatibly, and usage counts agree.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func randomOperationsKeepTheInvariants(seed: UInt64) {
        var random = SplitMix64(state: seed)
        let configuration = config("""
            address-pools:
            - {name: a, protocol: layer2, avoid-buggy-ips: true, addresses: [198.51.100.250-198.51.101.5, 198.51.100.0/30]}
            - {name: b, protocol: bgp, addresses: [203.0.113.0/29, "2001:db8::/125"]}
            """)
        var allocator = Allocator(configuration: configuration)
        let poolA = configuration.pools[0]
        let usableA = poolA.addresses.flatMap { Array($0.range) }.filter { addr in
            guard case .v4(let v4) = addr else { return true }
            return v4.rawValue & 0xff != 0 && v4.rawValue & 0xff != 255
        }.sorted()
        let usableB4 = Array(configuration.pools[1].addresses[0].range)
        var live: Set<String> = []
        for step in 0..<3000 {
            let name = "s\(random.next() % 40)"
            let key = ServiceKey(namespace: "default", name: name)
            switch random.next() % 4 {
            case 0:
                allocator.release(key)
                live.remove(name)
            case 1:
                // Requested IP somewhere in pool b, sometimes shared.
                let share = random.next() % 2 == 0 ? "k" : nil
                let port = TransportPort(Int(random.next() % 3) + 80)
                let target = usableB4[Int(random.next() % UInt64(usableB4.count))]
                let result = allocator.allocate(request(name, ips: [target.description], share: share, ports: [port]))
                if case .success = result { live.insert(name) } else { live.remove(name) }
            default:
                let heldBefore = allocator.assignment(for: key)
                let heldA = Set(allocator.allAssignments.filter { $0.pool == "a" }.flatMap(\.ips))
                let result = allocator.allocate(request(name))
                switch result {
                case .success(let assignment):
                    live.insert(name)
                    if let heldBefore, heldBefore.request == request(name) {
                        #expect(assignment.ips == heldBefore.ips, "step \(step): a valid assignment moved")
                    } else if assignment.pool == "a" {
                        let lowest = usableA.first { !heldA.contains($0) }
                        #expect(assignment.ips.first == lowest, "step \(step): not the lowest free address")
                    }
                case .failure:
                    live.remove(name)
                }
            }
            // Invariants after every step.
            var byIP: [IPAddress: [Assignment]] = [:]
            for assignment in allocator.allAssignments {
                for address in assignment.ips {
                    byIP[address, default: []].append(assignment)
                    #expect(allocator.pool(containing: address)?.name == assignment.pool)
                }
            }
            for (address, holders) in byIP where holders.count > 1 {
                let keys = Set(holders.map(\.request.sharingKey))
                #expect(keys.count == 1 && keys.first! != nil, "step \(step): \(address) held by \(holders.map(\.service)) without a shared key")
                let ports = holders.flatMap(\.request.ports)
                #expect(Set(ports).count == ports.count, "step \(step): \(address) shared with clashing ports")
            }
            #expect(Set(allocator.allAssignments.map(\.service.name)) == live)
            let usage = Dictionary(allocator.usage.map { ("\($0.pool)/\($0.family)", $0.inUse) }, uniquingKeysWith: +)
            let distinct = Dictionary(grouping: byIP.keys) { "\(allocator.pool(containing: $0)!.name)/\($0.family)" }.mapValues(\.count)
            for (key, value) in usage { #expect(value == (distinct[key] ?? 0), "step \(step): usage of \(key)") }
        }
    }

    @Test func exhaustingAndRefillingALargePoolNeverRepeatsAnAddress() {
        var allocator = Allocator(configuration: config("address-pools: [{name: p, protocol: layer2, addresses: [198.51.100.0/24, 203.0.113.0/24]}]"))
        var seen: Set<IPAddress> = []
        for n in 0..<512 {
            guard case .success(let assignment) = allocator.allocate(request("s\(n)")) else {
                Issue.record("allocation \(n) failed")
                return
            }
            #expect(seen.insert(assignment.ips[0]).inserted)
        }
        #expect(allocator.allocate(request("extra")).failure == .noAvailableIPs(pool: "p"))
        for n in stride(from: 511, through: 0, by: -2) { allocator.release(ServiceKey(namespace: "default", name: "s\(n)")) }
        // The freed addresses come back lowest first: .1, .3, ... of the first /24.
        #expect(allocator.allocate(request("again-0")).ips == ["198.51.100.1"])
        #expect(allocator.allocate(request("again-1")).ips == ["198.51.100.3"])
    }
}

@Suite struct ServiceAnnotationTests {
    @Test(arguments: [
        (["ironlb.io/address-pool": "gold"], nil as String?, "gold", [] as [String], nil as String?, [] as [String]),
        (["metallb.universe.tf/address-pool": "gold"], nil, "gold", [], nil, ["annotation metallb.universe.tf/address-pool is MetalLB's spelling; use ironlb.io/address-pool"]),
        (["metallb.io/loadBalancerIPs": "192.0.2.1, 2001:db8::1"], nil, nil, ["192.0.2.1", "2001:db8::1"], nil, ["annotation metallb.io/loadBalancerIPs is MetalLB's spelling; use ironlb.io/loadBalancerIPs"]),
        (["ironlb.io/allow-shared-ip": "dns"], "192.0.2.9", nil, ["192.0.2.9"], "dns", []),
        (["ironlb.io/address-pool": "gold", "metallb.io/address-pool": "gold"], nil, "gold", [], nil, ["annotation metallb.io/address-pool is MetalLB's spelling; use ironlb.io/address-pool"]),
    ] as [([String: String], String?, String?, [String], String?, [String])])
    func reads(annotations: [String: String], loadBalancerIP: String?, pool: String?, ips: [String], share: String?, warnings: [String]) throws {
        let parsed = try ServiceAnnotations.parse(annotations, loadBalancerIP: loadBalancerIP).get()
        #expect(parsed.addressPool == pool)
        #expect(parsed.requestedIPs.map(\.description) == ips)
        #expect(parsed.sharingKey == share)
        #expect(parsed.warnings == warnings)
    }

    @Test(arguments: [
        (["ironlb.io/address-pool": "gold", "metallb.io/address-pool": "silver"], nil as String?, "annotation metallb.io/address-pool: \"silver\" contradicts ironlb.io/address-pool=\"gold\""),
        (["ironlb.io/loadBalancerIPs": "192.0.2.300"], nil, "annotation ironlb.io/loadBalancerIPs: \"192.0.2.300\" is not an IP address"),
        (["ironlb.io/loadBalancerIPs": "192.0.2.3"], "192.0.2.4", "annotation ironlb.io/loadBalancerIPs: and spec.loadBalancerIP are both set; keep only the annotation"),
        ([:], "banana", "annotation spec.loadBalancerIP: \"banana\" is not an IP address"),
        (["ironlb.io/address-pool": " "], nil, "annotation ironlb.io/address-pool: is empty"),
    ] as [([String: String], String?, String)])
    func rejects(annotations: [String: String], loadBalancerIP: String?, message: String) {
        guard case .failure(let problem) = ServiceAnnotations.parse(annotations, loadBalancerIP: loadBalancerIP) else {
            Issue.record("expected a failure")
            return
        }
        #expect(problem.description == message)
    }
}
