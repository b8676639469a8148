import Foundation
import KubeModel
import Testing
import TestSupport

extension ControllerAcceptance {
    @Suite(.timeLimit(.minutes(10))) struct Restarts {
        static let config = """
            address-pools:
            - name: main
              protocol: layer2
              addresses: [198.51.100.0/24, 203.0.113.0/24, 2001:db8:100::/112]
            """

        /// 1,000 Services of every kind (IPv4, pairs sharing an IP, dual-stack, IPv6).
        static func population() -> [ServiceSpecification] {
            var all: [ServiceSpecification] = []
            for index in 0..<250 { all.append(bulk("v4-\(index)")) }
            for index in 0..<100 {
                var spec = bulk("shared-\(index)")
                spec.annotations = ["ironlb.io/allow-shared-ip": "pair-\(index / 2)"]
                spec.ports = [(80 + index % 2, "TCP")]
                all.append(spec)
            }
            for index in 0..<100 {
                var spec = bulk("dual-\(index)")
                spec.ipFamilyPolicy = "PreferDualStack"
                all.append(spec)
            }
            for index in 0..<550 { all.append(bulk("v6-\(index)", v6: true)) }
            return all
        }

        static func bulk(_ name: String, v6: Bool = false) -> ServiceSpecification {
            var spec = ServiceSpecification(name)
            spec.allocateNodePorts = false
            if v6 {
                spec.ipFamilyPolicy = "SingleStack"
                spec.ipFamilies = ["IPv6"]
            }
            return spec
        }

        enum Ending: String { case killAtReady = "SIGKILL once ready", killMidBurst = "SIGKILL amid a burst", terminate = "SIGTERM when converged" }

        /// Ten restarts of the real process, ending with SIGKILL while it works (at readiness, or
        /// amid a burst of new Services) or with SIGTERM once converged, with Services created and
        /// deleted in between: no Service's IPs ever change, no IP is ever held twice.
        @Test func tenRestartsNeverRenumberOrDuplicate() async throws {
            try await withCluster { cluster in
                try cluster.applyConfig(Self.config)
                for spec in Self.population() { try cluster.create(spec) }
                // A watch, not lists: listing 1,000 Services many times a second would slow the
                // API server for the controller.
                let observer = try WatchObserver(cluster: cluster)
                observer.start()
                #expect(await observer.waitForSync())
                var random = SplitMix(seed: 4)
                var created = 0

                func allKeys() throws -> Set<String> { Set(try cluster.loadBalancers().keys) }

                // The first run allocates everything.
                let started = ContinuousClock.now
                let first = try ControllerProcess(cluster: cluster, identity: "restart-0")
                try #require(await cluster.awaitAllAllocated(try allKeys(), timeout: 300), "\(first.logTail)")
                print("restarts: the first run allocated 1,000 Services in \(ContinuousClock.now - started)")
                #expect(await first.terminated() == 0)

                var endings: [Ending: Int] = [:]
                var progress: [String] = []
                for run in 1...10 {
                    // Churn while no controller runs: some go, some come.
                    let existing = try cluster.loadBalancers().keys.sorted()
                    var victims: Set<String> = []
                    while victims.count < 3 { victims.insert(existing[Int(random.next() % UInt64(existing.count))]) }
                    for victim in victims { try cluster.delete(String(victim.split(separator: "/")[1])) }
                    for index in 0..<5 {
                        try cluster.create(Self.bulk("new-\(run)-\(index)", v6: index >= 2))
                        created += 1
                    }
                    let ending: Ending = [.killMidBurst, .terminate, .killAtReady][run % 3]
                    endings[ending, default: 0] += 1
                    let process = try ControllerProcess(cluster: cluster, identity: "restart-\(run)")
                    #expect(await eventually { process.isReady }, "run \(run) never ready: \(process.logTail)")
                    switch ending {
                    case .killAtReady:
                        process.kill()
                        let written = (0..<5).filter { !cluster.ips("new-\(run)-\($0)").isEmpty }.count
                        progress.append("run \(run): killed at readiness, \(written)/5 new written")
                    case .killMidBurst:
                        let burst = (0..<30).map { Self.bulk("burst-\(run)-\($0)", v6: true) }
                        for spec in burst { try cluster.create(spec) }
                        created += burst.count
                        _ = await eventually(interval: 0.01) { burst.contains { !cluster.ips($0.name).isEmpty } }
                        process.kill()
                        let written = burst.filter { !cluster.ips($0.name).isEmpty }.count
                        progress.append("run \(run): killed amid a burst, \(written)/30 written")
                    case .terminate:
                        try #require(await cluster.awaitAllAllocated(try allKeys()), "run \(run): \(process.logTail)")
                        #expect(await process.terminated() == 0, "run \(run): exit status after SIGTERM")
                    }
                }

                // A last run converges; then the checks.
                let last = try ControllerProcess(cluster: cluster, identity: "restart-last")
                #expect(await eventually { last.isReady }, "the last run never ready: \(last.logTail)")
                let keys = try allKeys()
                #expect(await cluster.awaitAllAllocated(keys), "\(last.logTail)")
                #expect(await last.terminated() == 0)
                await observer.stop()

                let services = try cluster.services().filter { $0.type == "LoadBalancer" }
                #expect(services.count == 1_000 - 30 + created)
                #expect(services.allSatisfy { !$0.ips.isEmpty })
                #expect(sharingViolations(services).isEmpty, "\(sharingViolations(services).prefix(5))")
                var holders: [String: Int] = [:]
                for service in services where service.sharingKey == nil { for ip in service.ips { holders[ip, default: 0] += 1 } }
                #expect(holders.values.allSatisfy { $0 == 1 }, "duplicates: \(holders.filter { $0.value > 1 }.prefix(5))")
                #expect(observer.changes.isEmpty, "IP changes: \(observer.changes.prefix(5))")
                #expect(observer.violations.isEmpty, "\(observer.violations.prefix(5))")
                #expect(observer.events > 2_000)
                #expect(endings.count == 3)
                print("restarts: \(endings.map { "\($0.value)× \($0.key.rawValue)" }.sorted().joined(separator: ", ")); \(observer.events) observed changes; \(services.count) Services")
                print("restarts: " + progress.joined(separator: "; "))
            }
        }
    }
}

/// A seeded generator (SplitMix64), so the churn is the same on every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
