import Foundation
import KubeSim
import NIOPosix
import Testing
import TestSupport

extension ControllerAcceptance {
    @Suite(.timeLimit(.minutes(8))) struct APIFaults {
        static let config = """
            address-pools:
            - name: main
              protocol: layer2
              addresses: [198.51.100.0/24]
            """

        /// The real process against KubeSim's faults, one after another, with Services created,
        /// deleted and retyped throughout: watches closed, in-stream 410, HTTP 410 after
        /// compaction, 409 on status patches, 500s, 429 with Retry-After, 10 s unreachable, and
        /// KubeSim stopped for 10 s and restarted on the same port with the same state. An
        /// observer lists every Service every 20 ms and checks the sharing invariant at each
        /// observed state; after each fault every Service converges, and no IP ever changes.
        @Test func everyServiceConvergesThroughFaults() async throws {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let port = freePort()
            let cluster = try await Cluster.start(port: port, eventLoopGroup: group)
            let sim = cluster.sim
            try cluster.applyConfig(Self.config)
            let process = try ControllerProcess(cluster: cluster, identity: "faults")
            let observer = Observer(cluster: cluster)
            observer.start()
            var counter = 0
            var phases: [String] = []

            func add(_ count: Int, shared: Bool = false) throws {
                for _ in 0..<count {
                    var spec = ServiceSpecification("svc-\(counter)")
                    if shared {
                        spec.annotations = ["ironlb.io/allow-shared-ip": "group-\(counter / 3)"]
                        spec.ports = [(8000 + counter % 3, "TCP")]
                    }
                    try cluster.create(spec)
                    counter += 1
                }
            }
            func converge(_ phase: String) async throws {
                let keys = Set(try cluster.loadBalancers().keys)
                let ok = await cluster.awaitAllAllocated(keys, timeout: 180)
                #expect(ok, "\(phase): not converged; \(process.logTail)")
                phases.append(phase)
            }

            try add(20)
            try await converge("baseline")

            for _ in 0..<3 {
                sim.closeWatches()
                try add(3)
            }
            try await converge("watches closed")

            sim.expireWatches()
            try add(5, shared: true)
            try await converge("in-stream 410 Expired")

            sim.compactHistory(keep: 0)
            sim.closeWatches()
            try add(5)
            try cluster.delete("svc-3")
            try await converge("HTTP 410 after compaction")

            sim.injectError(status: 409, count: 15, method: "PATCH", pathContains: "/status")
            try add(10)
            try await converge("409 Conflict on status patches")

            sim.injectError(status: 500, count: 10, watch: false)
            try add(10, shared: true)
            try cluster.delete("svc-5")
            try cluster.delete("svc-6")
            try await converge("500 Internal Server Error")

            sim.injectError(status: 429, count: 10, retryAfterSeconds: 1)
            try add(10)
            try await converge("429 with Retry-After")

            // Unreachable: connections dropped and refused for 10 s; the cluster changes meanwhile.
            sim.makeUnreachable(for: .seconds(10))
            try add(5)
            try cluster.delete("svc-7")
            observer.exempt("default/svc-8")
            try cluster.patch("svc-8", ["spec": ["type": "ClusterIP"]])
            try await Task.sleep(for: .seconds(10))
            try await converge("10 s unreachable")
            #expect(cluster.ips("svc-8").isEmpty)

            // Stopped for 10 s and restarted on the same port with the same state.
            try await sim.stop()
            try add(5)
            try cluster.delete("svc-9")
            try cluster.patch("svc-8", ["spec": ["type": "LoadBalancer"]])
            try await Task.sleep(for: .seconds(10))
            try await sim.start()
            #expect(sim.port == port)
            try await converge("KubeSim stopped 10 s and restarted")

            await observer.stop()
            let services = try cluster.services().filter { $0.type == "LoadBalancer" }
            #expect(services.allSatisfy { !$0.ips.isEmpty })
            #expect(sharingViolations(services).isEmpty, "\(sharingViolations(services))")
            #expect(observer.violations.isEmpty, "\(observer.violations.prefix(5))")
            #expect(observer.changes.isEmpty, "IP changes: \(observer.changes.prefix(5))")
            #expect(await eventually { process.metric("ironlb_controller_services_waiting") == 0 })
            // The faults reached the controller: its log shows the failed writes it retried.
            let log = process.process.stderr
            #expect(log.contains("kube api 409"), "no 409 in the controller's log")
            #expect(log.contains("kube api 500"), "no 500 in the controller's log")
            print("faults: \(phases.count) phases converged, \(services.count) Services, \(observer.snapshots) observed states")
            #expect(await process.terminated() == 0)
            await cluster.stop()
            try await group.shutdownGracefully()
        }
    }
}
