import Foundation
import LBConfig
import Testing
import TestSupport

extension ControllerAcceptance {
    @Suite(.timeLimit(.minutes(8))) struct ConfigReload {
        /// Invalid configurations from LBConfig's fixture corpus (Tests/Fixtures/config/invalid).
        static let fixtures = [
            "address-host-bits-set", "address-octet-out-of-range", "auto-assign-not-bool", "bgp-advertisements-on-layer2",
            "community-bad-syntax", "duplicate-pool-names", "hold-time-too-short", "overlapping-cidr-and-range",
            "peer-asn-zero", "pool-bad-protocol", "pool-empty-addresses", "pool-missing-name", "range-start-after-end",
            "selector-bad-operator", "unknown-bfd-profile", "unknown-pool-key", "unknown-top-level-key", "yaml-syntax-error",
        ]

        struct Invalid {
            let name: String
            let text: String
            let reason: String
            /// A piece of the Event's note.
            let expected: String
        }

        static func invalidConfigs() throws -> [Invalid] {
            let directory = BuiltProducts.repositoryRoot.appendingPathComponent("Tests/Fixtures/config/invalid")
            var result: [Invalid] = try fixtures.map { name in
                let text = try String(contentsOf: directory.appendingPathComponent("\(name).yaml"), encoding: .utf8)
                let errors = try String(contentsOf: directory.appendingPathComponent("\(name).errors"), encoding: .utf8)
                let first = String(errors.split(separator: "\n").first ?? "")
                return Invalid(name: name, text: text, reason: "InvalidConfig", expected: String(first.prefix(200)))
            }
            // Valid YAML that would take IPs from Services: rejected too.
            result.append(Invalid(name: "drops-main", text: """
                address-pools:
                - name: elsewhere
                  protocol: layer2
                  addresses: [203.0.113.200/29]
                """, reason: "ConfigRejected", expected: "would take IPs from Services"))
            result.append(Invalid(name: "shrinks-main", text: """
                address-pools:
                - name: main
                  protocol: layer2
                  addresses: [198.51.100.60/30, 2001:db8:2::/120]
                """, reason: "ConfigRejected", expected: "is in no pool of the new configuration"))
            return result
        }

        /// Valid configuration number `generation`: `main` always, and a small pool `gen-N`
        /// whose name tells which configuration is in force.
        static func valid(_ generation: Int) -> String {
            """
            address-pools:
            - name: main
              protocol: layer2
              addresses: [198.51.100.0/26, 2001:db8:2::/120]
            - name: gen-\(generation)
              protocol: layer2
              auto-assign: false
              addresses: [203.0.113.\(4 * generation)/30]
            """
        }

        /// 20 invalid ConfigMaps, each between two valid ones: each is rejected with its Event and
        /// `ironlb_config_stale 1`, the last good configuration stays in force, no IP changes.
        @Test func twentyInvalidConfigurationsAreRejected() async throws {
            let invalid = try Self.invalidConfigs()
            try #require(invalid.count == 20)
            for config in invalid.prefix(Self.fixtures.count) {
                guard case .failure = ConfigParser.parseConfigValue(config.text) else {
                    Issue.record("fixture \(config.name) parses")
                    continue
                }
            }
            try await withCluster { cluster in
                try cluster.applyConfig(Self.valid(0))
                let process = try ControllerProcess(cluster: cluster, identity: "config-test")
                defer { process.terminate() }
                for index in 0..<20 { try cluster.create(ServiceSpecification("steady-\(index)")) }
                #expect(await cluster.awaitAllAllocated(Set((0..<20).map { "default/steady-\($0)" })), "\(process.logTail)")
                let observer = Observer(cluster: cluster)
                observer.start()

                /// Observations of a reason on the ConfigMap (an Event may count repeats in its series).
                func observed(_ reason: String) -> Int {
                    ((try? cluster.events(namespace: cluster.configNamespace)) ?? [])
                        .filter { $0.reason == reason && $0.regardingKind == "ConfigMap" && $0.regardingName == "config" }
                        .reduce(0) { $0 + $1.count }
                }

                var generation = 0
                #expect(await eventually { process.metric("ironlb_config_loaded") == 1 && process.metric("ironlb_config_stale") == 0 })
                for (round, bad) in invalid.enumerated() {
                    let before = observed(bad.reason)
                    try cluster.applyConfig(bad.text)
                    #expect(await eventually { observed(bad.reason) > before }, "\(bad.name): no \(bad.reason) Event; \(process.logTail)")
                    let notes = ((try? cluster.events(namespace: cluster.configNamespace)) ?? []).filter { $0.reason == bad.reason }.map(\.note)
                    #expect(notes.contains { $0.contains(bad.expected) }, "\(bad.name): no Event says \"\(bad.expected)\"")
                    #expect(await eventually { process.metric("ironlb_config_stale") == 1 }, "\(bad.name): not stale")
                    #expect(process.metric("ironlb_config_loaded") == 1)

                    // The last good configuration is in force: its marker pool serves, main serves.
                    var probe = ServiceSpecification("probe-\(round)")
                    probe.annotations = ["ironlb.io/address-pool": "gen-\(generation)"]
                    try cluster.create(probe)
                    let ips = await cluster.awaitIPs(probe.name)
                    #expect(ips.count == 1 && ipInRange(ips[0], "203.0.113.\(4 * generation)", "203.0.113.\(4 * generation + 3)"),
                            "\(bad.name): probe got \(ips) under gen-\(generation)")
                    try cluster.create(ServiceSpecification("after-\(round)"))
                    let after = await cluster.awaitIPs("after-\(round)")
                    #expect(after.count == 1 && ipInRange(after[0], "198.51.100.0", "198.51.100.63"), "\(bad.name): \(after)")

                    // The next valid one (the probe goes first, or the new one would orphan it).
                    try cluster.delete(probe.name)
                    #expect(await eventually {
                        process.metric("ironlb_allocator_addresses_in_use_total", labels: "pool=\"gen-\(generation)\",family=\"IPv4\"") == 0
                    })
                    generation += 1
                    let loaded = observed("ConfigLoaded")
                    try cluster.applyConfig(Self.valid(generation))
                    #expect(await eventually { process.metric("ironlb_config_stale") == 0 && observed("ConfigLoaded") > loaded },
                            "generation \(generation) not loaded; \(process.logTail)")
                }
                let counts = (invalid: observed("InvalidConfig"), rejected: observed("ConfigRejected"), loaded: observed("ConfigLoaded"))
                #expect(counts.invalid == 18 && counts.rejected == 2 && counts.loaded == 20, "\(counts)")

                // A configuration refused for taking IPs applies by itself once the Services
                // holding them are gone (no new edit of the ConfigMap).
                let outside = try cluster.services().filter { $0.ips.contains { !ipInRange($0, "198.51.100.0", "198.51.100.31") } }
                #expect(!outside.isEmpty)
                let rejectedBefore = observed("ConfigRejected")
                try cluster.applyConfig("""
                    address-pools:
                    - name: main
                      protocol: layer2
                      addresses: [198.51.100.0/27, 2001:db8:2::/120]
                    """)
                #expect(await eventually { observed("ConfigRejected") > rejectedBefore && process.metric("ironlb_config_stale") == 1 })
                for service in outside { try cluster.delete(service.name) }
                #expect(await eventually { process.metric("ironlb_config_stale") == 0 }, "the refused configuration never applied; \(process.logTail)")
                #expect(process.metric("ironlb_allocator_addresses_total", labels: "pool=\"main\",family=\"IPv4\"") == 32)
                await observer.stop()
                print("config reload: \(counts.invalid) InvalidConfig, \(counts.rejected) ConfigRejected, \(counts.loaded) ConfigLoaded observations; \(observer.snapshots) observed states")
                #expect(observer.changes.isEmpty, "IP changes: \(observer.changes.prefix(5))")
                #expect(observer.violations.isEmpty, "\(observer.violations.prefix(5))")
                let steady = try cluster.services().filter { $0.name.hasPrefix("steady-") || $0.name.hasPrefix("after-") }
                #expect(steady.count == 40 - outside.count && steady.allSatisfy { $0.ips.count == 1 && $0.pool == "main" })
                #expect(await process.terminated() == 0)
            }
        }
    }
}
