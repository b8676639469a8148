import Foundation
import Testing
import TestSupport

extension ControllerAcceptance {
    @Suite(.timeLimit(.minutes(5))) struct LeaderElection {
        /// Two `ironlb controller` processes with leader election (4s lease, 3s renew deadline,
        /// 1s retry): exactly one leads and writes; SIGKILL it and the other takes over within the
        /// lease duration plus bounded slack, and allocates for a new Service.
        @Test func oneLeaderWritesAndTheStandbyTakesOver() async throws {
            try await withCluster { cluster in
                try cluster.applyConfig(allocationConfig)
                let a = try ControllerProcess(cluster: cluster, identity: "ctl-a", leaderElect: true)
                let b = try ControllerProcess(cluster: cluster, identity: "ctl-b", leaderElect: true)
                defer {
                    a.terminate()
                    b.terminate()
                }
                let observer = Observer(cluster: cluster)
                observer.start()

                // Exactly one leads, and the Lease names it.
                var leaderFlags: (Double?, Double?) = (nil, nil)
                #expect(await eventually {
                    leaderFlags = (a.metric("ironlb_controller_leader"), b.metric("ironlb_controller_leader"))
                    return [leaderFlags.0, leaderFlags.1].compactMap { $0 }.sorted() == [0, 1]
                }, "leader gauges \(leaderFlags); a: \(a.logTail) b: \(b.logTail)")
                let (leader, standby) = leaderFlags.0 == 1 ? (a, b) : (b, a)
                #expect(cluster.leaseHolder() == leader.identity)

                for index in 0..<5 { try cluster.create(ServiceSpecification("before-\(index)")) }
                #expect(await cluster.awaitAllAllocated(Set((0..<5).map { "default/before-\($0)" })))
                // Only the leader wrote: every Event comes from it; the standby shows no pool usage.
                let allocated = try cluster.events(namespace: "default").filter { $0.reason == "IPAllocated" }
                #expect(allocated.count >= 5 && allocated.allSatisfy { $0.reportingInstance == leader.identity },
                        "\(allocated.map(\.reportingInstance))")
                #expect(standby.metric("ironlb_controller_leader") == 0)
                #expect(standby.http("/metrics")?.body.contains("ironlb_allocator_addresses_in_use_total{") == false)
                #expect(leader.http("/metrics")?.body.contains("ironlb_allocator_addresses_in_use_total{") == true)
                #expect(standby.isReady, "a warm standby is ready")

                // Kill the leader; the standby takes over after the Lease expires.
                let killed = ContinuousClock.now
                leader.kill()
                let leaseDuration = 4.0
                let slack = 20.0
                #expect(await eventually(leaseDuration + slack, interval: 0.05) { standby.metric("ironlb_controller_leader") == 1 },
                        "no takeover; \(standby.logTail)")
                let takeover = ContinuousClock.now - killed
                #expect(cluster.leaseHolder() == standby.identity)
                print("leader election: \(standby.identity) took over \(takeover) after SIGKILL of \(leader.identity) (lease 4s, retry 1s)")

                try cluster.create(ServiceSpecification("after-takeover"))
                let ips = await cluster.awaitIPs("after-takeover")
                #expect(ips.count == 1 && inMain(ips[0]), "\(ips); \(standby.logTail)")
                let event = await cluster.awaitEvent(reason: "IPAllocated", about: "after-takeover")
                #expect(event?.reportingInstance == standby.identity)
                await observer.stop()
                #expect(observer.changes.isEmpty, "IP changes: \(observer.changes.prefix(5))")
                #expect(observer.violations.isEmpty, "\(observer.violations.prefix(5))")
                #expect(await standby.terminated() == 0)
                // Graceful shutdown released the Lease.
                #expect(await eventually(Bounds.short) { (cluster.leaseHolder() ?? "") == "" }, "holder \(cluster.leaseHolder() ?? "nil")")
            }
        }
    }
}
