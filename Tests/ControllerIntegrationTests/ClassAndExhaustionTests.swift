import Foundation
import KubeModel
import Testing
import TestSupport

extension ControllerAcceptance {
    @Suite(.timeLimit(.minutes(5))) struct ClassFiltering {
        /// The default controller (in-process, no class) and `ironlb controller --lb-class` (a
        /// process, with its own ConfigMap) each handle only their Services; a third class is
        /// nobody's.
        @Test func eachControllerHandlesOnlyItsClass() async throws {
            try await withCluster { cluster in
                try cluster.applyConfig(allocationConfig)
                try cluster.applyConfig("""
                    address-pools:
                    - name: other
                      protocol: layer2
                      addresses: [203.0.113.128/28]
                    """, name: "other-config")
                try await withInProcessController(on: cluster) { _ in
                    let classed = try ControllerProcess(cluster: cluster, identity: "classed", extraArguments: [
                        "--lb-class", "example.com/other", "--config-name", "other-config",
                    ])
                    defer { classed.terminate() }

                    var mine = ServiceSpecification("classed")
                    mine.loadBalancerClass = "example.com/other"
                    try cluster.create(mine)
                    var nobodys = ServiceSpecification("nobodys")
                    nobodys.loadBalancerClass = "example.com/nobody"
                    try cluster.create(nobodys)
                    try cluster.create(ServiceSpecification("unclassed"))

                    let classedIPs = await cluster.awaitIPs("classed")
                    #expect(classedIPs.count == 1 && ipInRange(classedIPs[0], "203.0.113.128", "203.0.113.143"), "\(classedIPs) \(classed.logTail)")
                    #expect(cluster.service("classed")?.pool == "other")
                    let unclassed = await cluster.awaitIPs("unclassed")
                    #expect(unclassed.count == 1 && inMain(unclassed[0]), "\(unclassed)")
                    let event = await cluster.awaitEvent(reason: "IPAllocated", about: "classed")
                    #expect(event?.reportingInstance == "classed")

                    // Barriers: later Services of both classes are done, so both have decided `nobodys`.
                    var later = ServiceSpecification("classed-later")
                    later.loadBalancerClass = "example.com/other"
                    try cluster.create(later)
                    try cluster.create(ServiceSpecification("unclassed-later"))
                    #expect(await cluster.awaitIPs("classed-later").count == 1)
                    #expect(await cluster.awaitIPs("unclassed-later").count == 1)
                    #expect(cluster.ips("nobodys").isEmpty)
                    let events = try cluster.events(namespace: "default")
                    #expect(!events.contains { $0.regardingName == "nobodys" }, "\(events.filter { $0.regardingName == "nobodys" })")
                    #expect(!events.contains { $0.regardingName.hasPrefix("unclassed") && $0.reportingInstance == "classed" })
                    #expect(!events.contains { $0.regardingName.hasPrefix("classed") && $0.reportingInstance != "classed" })
                    #expect(sharingViolations(try cluster.services(), ignoringClasses: true).isEmpty)

                    #expect(await classed.terminated() == 0, "exit status after SIGTERM")
                }
            }
        }
    }

    @Suite(.timeLimit(.minutes(5))) struct Exhaustion {
        @Test func aFullPoolReportsAndAFreedAddressGoesToTheOldestWaitingService() async throws {
            try await withInProcessController(config: """
                address-pools:
                - name: small
                  protocol: layer2
                  addresses: [198.51.100.1-198.51.100.2]
                """) { cluster, controller in
                try cluster.create(ServiceSpecification("a"))
                let a = await cluster.awaitIPs("a")
                try cluster.create(ServiceSpecification("b"))
                let b = await cluster.awaitIPs("b")
                #expect(Set(a + b) == ["198.51.100.1", "198.51.100.2"], "\(a) \(b)")

                try cluster.create(ServiceSpecification("c"))
                let failed = await cluster.awaitEvent(reason: "AllocationFailed", about: "c") { $0.type == "Warning" }
                #expect(failed?.note.contains("NoAvailableIPs") == true, "\(String(describing: failed))")
                try cluster.create(ServiceSpecification("d"))
                #expect(await cluster.awaitEvent(reason: "AllocationFailed", about: "d") { $0.type == "Warning" } != nil)
                #expect(await eventually { metricValue(in: controller.metrics, "ironlb_controller_services_waiting") == 2 })
                #expect(metricValue(in: controller.metrics, "ironlb_allocator_addresses_in_use_total", labels: "pool=\"small\",family=\"IPv4\"") == 2)
                #expect(cluster.ips("c").isEmpty && cluster.ips("d").isEmpty)

                // Deleting `a` frees its address for `c`, which has waited longest.
                try cluster.delete("a")
                #expect(await cluster.awaitIPs("c") == a)
                #expect(await cluster.awaitEvent(reason: "IPAllocated", about: "c") != nil)
                #expect(cluster.ips("d").isEmpty)
                try cluster.delete("b")
                #expect(await cluster.awaitIPs("d") == b)
                #expect(await eventually { metricValue(in: controller.metrics, "ironlb_controller_services_waiting") == 0 })
                #expect(sharingViolations(try cluster.services()).isEmpty)
            }
        }
    }
}
