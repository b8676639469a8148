import Controller
import Foundation
import KubeModel
import Testing
import TestSupport

extension ControllerAcceptance {
    /// The install's probe key: the real `ironlb controller --ml-secret-name` against KubeSim
    /// creates the speakers' Secret when it is missing (as MetalLB's controller does for its
    /// memberlist Secret), never replaces one, and only ever creates (its RBAC is `create`).
    @Suite(.timeLimit(.minutes(5))) struct ProbeKey {
        static let config = """
            address-pools:
            - name: main
              protocol: layer2
              addresses: [198.51.100.0/28]
            """
        static let path = "/api/v1/namespaces/ironlb-system/secrets/ironlb-memberlist"

        /// The Secret's `secretkey` bytes and resourceVersion, or nil while it does not exist.
        static func key(_ cluster: Cluster) -> (bytes: [UInt8], version: String)? {
            guard let secret = try? cluster.call("GET", path), let text = secret["data"]?["secretkey"]?.stringValue,
                  let bytes = Base64.decode(text), let version = secret["metadata"]?["resourceVersion"]?.stringValue else { return nil }
            return (bytes, version)
        }

        @Test func createdWhenMissingKeptAcrossRestartsAndOnlyEverCreated() async throws {
            try await withCluster { cluster in
                try cluster.applyConfig(Self.config)
                cluster.sim.recordRequests(true)
                // The first tries are refused (RBAC not applied yet, say): the controller retries.
                cluster.sim.injectError(status: 403, count: 2, method: "POST", pathContains: "/secrets")
                let first = try ControllerProcess(cluster: cluster, identity: "probe-key-1", extraArguments: ["--ml-secret-name", "ironlb-memberlist"])
                try cluster.create(ServiceSpecification("web"))
                #expect(await !cluster.awaitIPs("web").isEmpty, "allocation goes on while the Secret is not made yet")
                #expect(await eventually { Self.key(cluster) != nil }, "no Secret after the refused tries: \(first.logTail)")
                let created = try #require(Self.key(cluster))
                // The key: base64 text of 32 random bytes, which the speaker reads as it is (>= 16 bytes).
                #expect(created.bytes.count == 44)
                #expect(Base64.decode(String(decoding: created.bytes, as: UTF8.self))?.count == ProbeKeySecret.keyBytes)
                #expect(first.process.stderr.contains("created the speakers' probe key Secret"))
                #expect(first.process.stderr.contains("cannot create the speakers' probe key Secret"), "the refusals were logged")
                #expect(await first.terminated() == 0)

                // Started again (a rollout, a second replica): the Secret stays as it was.
                let second = try ControllerProcess(cluster: cluster, identity: "probe-key-2", extraArguments: ["--ml-secret-name", "ironlb-memberlist"])
                #expect(await eventually { second.process.stderr.contains("probe key Secret exists; left as it is") }, "\(second.logTail)")
                let kept = try #require(Self.key(cluster))
                #expect(kept.bytes == created.bytes && kept.version == created.version)
                #expect(await second.terminated() == 0)

                // Its only requests on Secrets were creations (never a read, update or delete).
                let onSecrets = cluster.sim.requests.filter { $0.contains("/secrets") }
                #expect(onSecrets.allSatisfy { $0.hasPrefix("POST ") }, "\(onSecrets)")
                #expect(onSecrets.count == 4, "two refused, one created, one AlreadyExists: \(onSecrets)")
            }
        }

        @Test func anExistingSecretIsNeverReplaced() async throws {
            try await withCluster { cluster in
                try cluster.applyConfig(Self.config)
                let mine: [UInt8] = Array("the-operators-own-probe-key-0001".utf8)
                try cluster.call("POST", "/api/v1/namespaces/ironlb-system/secrets",
                                 ["metadata": ["name": "ironlb-memberlist"], "data": ["secretkey": .string(Base64.encode(mine))]])
                let before = try #require(Self.key(cluster))
                let process = try ControllerProcess(cluster: cluster, identity: "probe-key-existing", extraArguments: ["--ml-secret-name", "ironlb-memberlist"])
                #expect(await eventually { process.process.stderr.contains("probe key Secret exists; left as it is") }, "\(process.logTail)")
                let after = try #require(Self.key(cluster))
                #expect(after.bytes == mine && after.version == before.version)
                #expect(await process.terminated() == 0)
            }
        }

        /// Without the flag the controller makes no Secret (as MetalLB's without --ml-secret-name).
        @Test func noFlagNoSecret() async throws {
            try await withCluster { cluster in
                try cluster.applyConfig(Self.config)
                let process = try ControllerProcess(cluster: cluster, identity: "probe-key-none")
                try cluster.create(ServiceSpecification("web"))
                #expect(await !cluster.awaitIPs("web").isEmpty, "\(process.logTail)")
                #expect(Self.key(cluster) == nil)
                #expect(!process.process.stderr.contains("probe key Secret"))
                #expect(await process.terminated() == 0)
            }
        }

        /// Two keys are never the same (random, not derived from anything the cluster shows).
        @Test func keysAreRandomBase64Text() {
            var generator = SystemRandomNumberGenerator()
            let keys = (0..<100).map { _ in ProbeKeySecret.newKey(using: &generator) }
            #expect(Set(keys).count == 100)
            for key in keys { #expect(Base64.decode(String(decoding: key, as: UTF8.self))?.count == 32) }
        }
    }
}
