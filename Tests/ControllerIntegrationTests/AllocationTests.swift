import Foundation
import KubeModel
import Testing
import TestSupport

/// Pools for the allocation tests: `main` is dual-stack and auto-assigned; `manual` and
/// `v4only` hand out addresses only to Services that ask for them.
let allocationConfig = """
    address-pools:
    - name: main
      protocol: layer2
      addresses: [198.51.100.0/27, 2001:db8:1::/123]
    - name: manual
      protocol: layer2
      auto-assign: false
      addresses: [203.0.113.0/28]
    - name: v4only
      protocol: layer2
      auto-assign: false
      addresses: [203.0.113.64/28]
    """

func inMain(_ ip: String) -> Bool {
    ipInRange(ip, "198.51.100.0", "198.51.100.31") || ipInRange(ip, "2001:db8:1::", "2001:db8:1::1f")
}

func isV6(_ ip: String) -> Bool { ip.contains(":") }

/// Starts KubeSim, runs `body`, stops KubeSim (also when `body` throws).
func withCluster(_ body: (Cluster) async throws -> Void) async throws {
    let cluster = try await Cluster.start()
    do {
        try await body(cluster)
    } catch {
        await cluster.stop()
        throw error
    }
    await cluster.stop()
}

/// Runs `body` with an in-process controller on `cluster`, stopping it afterwards.
func withInProcessController(on cluster: Cluster, _ body: (InProcessController) async throws -> Void) async throws {
    let controller = try InProcessController(cluster: cluster)
    do {
        try await body(controller)
    } catch {
        await controller.stop()
        throw error
    }
    await controller.stop()
}

/// Starts KubeSim with `config` and an in-process controller; runs `body`; stops both.
func withInProcessController(config: String, _ body: (Cluster, InProcessController) async throws -> Void) async throws {
    try await withCluster { cluster in
        try cluster.applyConfig(config)
        try await withInProcessController(on: cluster) { controller in try await body(cluster, controller) }
    }
}

extension ControllerAcceptance {
    @Suite(.timeLimit(.minutes(5))) struct Allocation {
        @Test func eachServiceGetsAnAddressFromTheRightPool() async throws {
            try await withInProcessController(config: allocationConfig) { cluster, _ in
                try cluster.create(ServiceSpecification("plain"))
                var annotated = ServiceSpecification("annotated")
                annotated.annotations = ["ironlb.io/loadBalancerIPs": "198.51.100.20"]
                try cluster.create(annotated)
                var legacy = ServiceSpecification("legacy")
                legacy.loadBalancerIP = "198.51.100.21"
                try cluster.create(legacy)
                var pooled = ServiceSpecification("pooled")
                pooled.annotations = ["ironlb.io/address-pool": "manual"]
                try cluster.create(pooled)
                var requestedManual = ServiceSpecification("requested-manual")
                requestedManual.annotations = ["ironlb.io/loadBalancerIPs": "203.0.113.9"]
                try cluster.create(requestedManual)
                var metallb = ServiceSpecification("metallb-spelling")
                metallb.annotations = ["metallb.universe.tf/address-pool": "v4only"]
                try cluster.create(metallb)
                var nowhere = ServiceSpecification("nowhere")
                nowhere.annotations = ["ironlb.io/loadBalancerIPs": "203.0.113.200"]
                try cluster.create(nowhere)
                for index in 0..<6 { try cluster.create(ServiceSpecification("auto-\(index)")) }

                let plain = await cluster.awaitIPs("plain")
                #expect(plain.count == 1 && plain.allSatisfy(inMain), "plain: \(plain)")
                #expect(cluster.service("plain")?.pool == "main")
                #expect(await cluster.awaitIPs("annotated") == ["198.51.100.20"])
                #expect(await cluster.awaitIPs("legacy") == ["198.51.100.21"])
                let pooledIPs = await cluster.awaitIPs("pooled")
                #expect(pooledIPs.count == 1 && pooledIPs.allSatisfy { ipInRange($0, "203.0.113.0", "203.0.113.15") }, "pooled: \(pooledIPs)")
                #expect(cluster.service("pooled")?.pool == "manual")
                #expect(await cluster.awaitIPs("requested-manual") == ["203.0.113.9"])
                #expect(cluster.service("requested-manual")?.pool == "manual")
                let metallbIPs = await cluster.awaitIPs("metallb-spelling")
                #expect(metallbIPs.count == 1 && metallbIPs.allSatisfy { ipInRange($0, "203.0.113.64", "203.0.113.79") }, "metallb: \(metallbIPs)")
                #expect(await cluster.awaitEvent(reason: "DeprecatedAnnotation", about: "metallb-spelling", matching: {
                    $0.type == "Warning" && $0.note.contains("ironlb.io/address-pool")
                }) != nil)
                let failed = await cluster.awaitEvent(reason: "AllocationFailed", about: "nowhere") { $0.type == "Warning" }
                #expect(failed?.note.contains("RequestedIPNotInAnyPool") == true, "\(String(describing: failed))")

                // auto-assign: false: Services that ask for nothing get only `main` addresses.
                for index in 0..<6 {
                    let ips = await cluster.awaitIPs("auto-\(index)")
                    #expect(ips.count == 1 && ips.allSatisfy(inMain), "auto-\(index): \(ips)")
                    #expect(cluster.service("auto-\(index)")?.pool == "main")
                }
                #expect(cluster.ips("nowhere").isEmpty)
                let all = try cluster.services()
                #expect(sharingViolations(all).isEmpty, "\(sharingViolations(all))")
                // Events are recorded after the status writes, off the decision path: wait for them.
                let wanted: Set<String> = ["plain", "annotated", "legacy", "pooled", "requested-manual", "metallb-spelling"]
                var named: Set<String> = []
                let recorded = await poll(timeout: 60, interval: 0.2) {
                    named = Set(((try? cluster.events(namespace: "default")) ?? []).filter { $0.reason == "IPAllocated" && $0.type == "Normal" }.map(\.regardingName))
                    return named.isSuperset(of: wanted)
                }
                #expect(recorded, "IPAllocated Events for \(named.sorted()), wanted \(wanted.sorted())")
            }
        }

        @Test func sharingIsAllowedOnlyByTheRules() async throws {
            try await withInProcessController(config: allocationConfig) { cluster, _ in
                func sharing(_ name: String, key: String?, ports: [(Int, String)], local: Bool = false, selector: [String: String]? = nil, ip: String? = "198.51.100.30") -> ServiceSpecification {
                    var spec = ServiceSpecification(name)
                    if let key { spec.annotations["ironlb.io/allow-shared-ip"] = key }
                    if let ip { spec.annotations["ironlb.io/loadBalancerIPs"] = ip }
                    spec.ports = ports
                    spec.local = local
                    spec.selector = selector
                    return spec
                }
                try cluster.create(sharing("web-http", key: "web", ports: [(80, "TCP")]))
                #expect(await cluster.awaitIPs("web-http") == ["198.51.100.30"])
                try cluster.create(sharing("web-https", key: "web", ports: [(443, "TCP"), (443, "UDP")]))
                #expect(await cluster.awaitIPs("web-https") == ["198.51.100.30"])

                // Refused: a clashing port; Local against Cluster; no key.
                try cluster.create(sharing("web-clash", key: "web", ports: [(80, "TCP")]))
                let clash = await cluster.awaitEvent(reason: "AllocationFailed", about: "web-clash") { $0.type == "Warning" }
                #expect(clash?.note.contains("IncompatibleSharing") == true && clash?.note.contains("80/TCP") == true, "\(String(describing: clash))")
                try cluster.create(sharing("web-local", key: "web", ports: [(8443, "TCP")], local: true))
                let local = await cluster.awaitEvent(reason: "AllocationFailed", about: "web-local") { $0.type == "Warning" }
                #expect(local?.note.contains("IncompatibleSharing") == true && local?.note.contains("Local") == true, "\(String(describing: local))")
                try cluster.create(sharing("no-key", key: nil, ports: [(9000, "TCP")]))
                let noKey = await cluster.awaitEvent(reason: "AllocationFailed", about: "no-key") { $0.type == "Warning" }
                #expect(noKey?.note.contains("IncompatibleSharing") == true && noKey?.note.contains("keys differ") == true, "\(String(describing: noKey))")
                try cluster.create(sharing("other-key", key: "other", ports: [(9001, "TCP")]))
                let otherKey = await cluster.awaitEvent(reason: "AllocationFailed", about: "other-key") { $0.type == "Warning" }
                #expect(otherKey?.note.contains("IncompatibleSharing") == true, "\(String(describing: otherKey))")

                // Local Services with the same key and the same pods share without asking for an IP;
                // a Local one with other pods does not.
                try cluster.create(sharing("db-a", key: "db", ports: [(5432, "TCP")], local: true, selector: ["app": "db"], ip: nil))
                let dbA = await cluster.awaitIPs("db-a")
                try cluster.create(sharing("db-b", key: "db", ports: [(5433, "TCP")], local: true, selector: ["app": "db"], ip: nil))
                let dbB = await cluster.awaitIPs("db-b")
                #expect(!dbA.isEmpty && dbA == dbB, "\(dbA) vs \(dbB)")
                try cluster.create(sharing("db-other-pods", key: "db", ports: [(5434, "TCP")], local: true, selector: ["app": "other"], ip: dbA.first))
                let otherPods = await cluster.awaitEvent(reason: "AllocationFailed", about: "db-other-pods") { $0.type == "Warning" }
                #expect(otherPods?.note.contains("IncompatibleSharing") == true, "\(String(describing: otherPods))")

                for refused in ["web-clash", "web-local", "no-key", "other-key", "db-other-pods"] {
                    #expect(cluster.ips(refused).isEmpty, "\(refused) got \(cluster.ips(refused))")
                }
                let all = try cluster.services()
                #expect(sharingViolations(all).isEmpty, "\(sharingViolations(all))")

                // When the clashing holder goes, the oldest waiting Service that may now share gets
                // the address (web-clash, beside web-https); the others are still refused.
                try cluster.delete("web-http")
                #expect(await cluster.awaitIPs("web-clash") == ["198.51.100.30"])
                try cluster.delete("web-https")
                try cluster.create(ServiceSpecification("barrier"))
                #expect(await cluster.awaitIPs("barrier").count == 1)
                #expect(cluster.ips("web-clash") == ["198.51.100.30"])
                for refused in ["web-local", "no-key", "other-key", "db-other-pods"] {
                    #expect(cluster.ips(refused).isEmpty, "\(refused) got \(cluster.ips(refused))")
                }
                #expect(sharingViolations(try cluster.services()).isEmpty)
            }
        }

        @Test func dualStackWithEveryPolicy() async throws {
            try await withInProcessController(config: allocationConfig) { cluster, _ in
                func spec(_ name: String, policy: String?, families: [String]? = nil, annotations: [String: String] = [:]) -> ServiceSpecification {
                    var spec = ServiceSpecification(name)
                    spec.ipFamilyPolicy = policy
                    spec.ipFamilies = families
                    spec.annotations = annotations
                    return spec
                }
                // What KubeSim (a dual-stack cluster) fills in, checked first.
                let defaulted = try cluster.create(spec("single-default", policy: nil))
                #expect(defaulted.ipFamilies == ["IPv4"])
                let prefer = try cluster.create(spec("prefer", policy: "PreferDualStack"))
                #expect(prefer.ipFamilies == ["IPv4", "IPv6"])
                let require = try cluster.create(spec("require", policy: "RequireDualStack"))
                #expect(require.ipFamilies == ["IPv4", "IPv6"])
                let prefer6 = try cluster.create(spec("prefer-v6-first", policy: "PreferDualStack", families: ["IPv6"]))
                #expect(prefer6.ipFamilies == ["IPv6", "IPv4"])
                try cluster.create(spec("single-v6", policy: "SingleStack", families: ["IPv6"]))
                try cluster.create(spec("require-v4only", policy: "RequireDualStack", annotations: ["ironlb.io/address-pool": "v4only"]))
                try cluster.create(spec("prefer-v4only", policy: "PreferDualStack", annotations: ["ironlb.io/address-pool": "v4only"]))
                try cluster.create(spec("require-requested", policy: "RequireDualStack", annotations: ["ironlb.io/loadBalancerIPs": "198.51.100.25,2001:db8:1::19"]))

                let single = await cluster.awaitIPs("single-default")
                #expect(single.count == 1 && !isV6(single[0]) && inMain(single[0]), "\(single)")
                let both = await cluster.awaitIPs("prefer")
                #expect(both.count == 2 && !isV6(both[0]) && isV6(both[1]) && both.allSatisfy(inMain), "\(both)")
                let required = await cluster.awaitIPs("require")
                #expect(required.count == 2 && !isV6(required[0]) && isV6(required[1]) && required.allSatisfy(inMain), "\(required)")
                let v6First = await cluster.awaitIPs("prefer-v6-first")
                #expect(v6First.count == 2 && isV6(v6First[0]) && !isV6(v6First[1]), "\(v6First)")
                let v6 = await cluster.awaitIPs("single-v6")
                #expect(v6.count == 1 && isV6(v6[0]) && inMain(v6[0]), "\(v6)")
                let preferV4 = await cluster.awaitIPs("prefer-v4only")
                #expect(preferV4.count == 1 && ipInRange(preferV4[0], "203.0.113.64", "203.0.113.79"), "\(preferV4)")
                #expect(await cluster.awaitIPs("require-requested") == ["198.51.100.25", "2001:db8:1::19"])
                let failed = await cluster.awaitEvent(reason: "AllocationFailed", about: "require-v4only") { $0.type == "Warning" }
                #expect(failed?.note.contains("FamilyNotInPool") == true, "\(String(describing: failed))")
                #expect(cluster.ips("require-v4only").isEmpty)
                #expect(sharingViolations(try cluster.services()).isEmpty)
            }
        }

        @Test func typeChangeAwayAndBackReleasesAndReallocates() async throws {
            try await withInProcessController(config: allocationConfig) { cluster, _ in
                try cluster.create(ServiceSpecification("flip"))
                let first = await cluster.awaitIPs("flip")
                try #require(first.count == 1)

                // Away: the API server clears status.loadBalancer itself; the controller releases.
                let away = try cluster.patch("flip", ["spec": ["type": "ClusterIP"]])
                #expect(away.type == "ClusterIP" && away.ips.isEmpty)
                let released = await cluster.awaitEvent(reason: "IPReleased", about: "flip")
                #expect(released?.note.contains(first[0]) == true, "\(String(describing: released))")
                #expect(await poll(timeout: 30) { cluster.service("flip")?.pool == nil }, "the pool annotation stayed after the type change")

                // The address is free again: another Service may ask for exactly it.
                var taker = ServiceSpecification("taker")
                taker.annotations = ["ironlb.io/loadBalancerIPs": first[0]]
                try cluster.create(taker)
                #expect(await cluster.awaitIPs("taker") == first)
                #expect(cluster.ips("flip").isEmpty)

                // And back: a fresh address, not the one now held by `taker`.
                try cluster.patch("flip", ["spec": ["type": "LoadBalancer"]])
                let second = await cluster.awaitIPs("flip")
                #expect(second.count == 1 && second != first && inMain(second[0]), "\(first) then \(second)")
                #expect(cluster.service("flip")?.pool == "main")
                #expect(sharingViolations(try cluster.services()).isEmpty)
            }
        }
    }
}
