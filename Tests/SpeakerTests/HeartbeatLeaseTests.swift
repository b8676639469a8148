import KubeClient
import KubeModel
import KubeSim
import Logging
import Speaker
import SpeakerCore
import Testing

/// With a probe key the speaker renews a heartbeat Lease that only it watches
/// (docs/design/layer2-leases.md, "Watch fan-out"): against KubeSim, its one Lease watch shows
/// every speaker Lease (0.1.0's unlabelled ones too) and its own heartbeat, never another
/// node's heartbeat; each Lease with its holder's marker, none when stale
/// (docs/design/layer2-leases.md, "Upgrades").
struct HeartbeatLeaseTests {
    static let namespace = "ironlb-system"

    func api(_ client: KubeClient, node: String) -> KubeSpeakerAPI {
        KubeSpeakerAPI(
            client: client, namespace: Self.namespace, configName: "config", loadBalancerClass: nil, leaseDuration: .seconds(15),
            node: node, logger: Logger(label: "test"), leaseProtocol: .heartbeats
        )
    }

    @Test func theLeaseWatchShowsEverySpeakerLeaseAndOnlyItsOwnHeartbeat() async throws {
        var configuration = KubeSimServer.Configuration()
        configuration.port = 0
        let sim = try KubeSimServer(configuration: configuration)
        try await sim.start()
        let clients = try (0..<2).map { _ in try KubeClient(configuration: try KubeConfigLoader.load(paths: [sim.kubeconfigPath])) }
        do {
            let (status, _) = sim.request("POST", "/api/v1/namespaces", body: ["metadata": ["name": .string(Self.namespace)]])
            #expect(status == 201)
            let a = api(clients[0], node: "node-a")
            let b = api(clients[1], node: "node-b")
            // Both acquire and renew twice (the first renewal creates the heartbeat).
            for (speaker, node) in [(a, "node-a"), (b, "node-b")] {
                guard case .succeeded = await speaker.leaseRequest(.acquire, node: node) else { Issue.record("acquire \(node)"); continue }
                for _ in 0..<2 {
                    guard case .succeeded = await speaker.leaseRequest(.heartbeat, node: node) else { Issue.record("renew \(node)"); continue }
                }
            }
            let (_, speakerLease) = sim.request("GET", "/apis/coordination.k8s.io/v1/namespaces/\(Self.namespace)/leases/ironlb-speaker-node-a")
            #expect(speakerLease["metadata"]?["labels"]?["ironlb.io/watch"] == .string("all"))
            #expect(speakerLease["metadata"]?["labels"]?["ironlb.io/lease-protocol"] == .string("heartbeats-0"))
            #expect(speakerLease["spec"]?["holderIdentity"] == .string("node-a"))
            let (heartbeatStatus, heartbeat) = sim.request("GET", "/apis/coordination.k8s.io/v1/namespaces/\(Self.namespace)/leases/ironlb-heartbeat-node-a")
            #expect(heartbeatStatus == 200)
            for (key, value) in KubeSpeakerAPI.heartbeatLabels("node-a") {
                #expect(heartbeat["metadata"]?["labels"]?[key] == .string(value), "\(key)")
            }
            // A 0.1.0 speaker's Lease (its labels, no marker), and a Lease a 0.1.0 speaker
            // acquired after this version released it: labels kept, one more transition.
            let leasesPath = "/apis/coordination.k8s.io/v1/namespaces/\(Self.namespace)/leases"
            let (oldStatus, _) = sim.request("POST", leasesPath, body: [
                "metadata": ["name": "ironlb-speaker-node-old", "labels": ["app.kubernetes.io/name": "ironlb", "app.kubernetes.io/component": "speaker"]],
                "spec": ["holderIdentity": "node-old", "leaseDurationSeconds": 15, "leaseTransitions": 0],
            ])
            #expect(oldStatus == 201)
            let (staleStatus, _) = sim.request("POST", leasesPath, body: [
                "metadata": ["name": "ironlb-speaker-node-back", "labels": ["ironlb.io/watch": "all", "ironlb.io/lease-protocol": "heartbeats-3"]],
                "spec": ["holderIdentity": "node-back", "leaseDurationSeconds": 15, "leaseTransitions": 4],
            ])
            #expect(staleStatus == 201)

            // node-a's informers list everything once: what its Lease watch delivered.
            let run = Task { try await a.run() }
            var leases: [SpeakerInput] = []
            for await input in a.changes() {
                switch input {
                case .lease, .heartbeat, .leaseDeleted: leases.append(input)
                case .synced: break
                default: continue
                }
                if case .synced = input { break }
            }
            run.cancel()
            #expect(leases.contains { if case .lease(node: "node-a", held: true, _, marker: .heartbeats) = $0 { true } else { false } }, "\(leases)")
            #expect(leases.contains { if case .lease(node: "node-b", held: true, _, marker: .heartbeats) = $0 { true } else { false } }, "\(leases)")
            #expect(leases.contains { if case .lease(node: "node-old", held: true, _, marker: nil) = $0 { true } else { false } }, "\(leases)")
            #expect(leases.contains { if case .lease(node: "node-back", held: true, _, marker: nil) = $0 { true } else { false } }, "\(leases)")
            #expect(leases.contains { if case .heartbeat(node: "node-a", _) = $0 { true } else { false } }, "\(leases)")
            #expect(!leases.contains { if case .heartbeat(node: "node-b", _) = $0 { true } else { false } }, "\(leases)")

            // Release clears the speaker Lease (whatever version the machine last saw).
            guard case .succeeded = await a.leaseRequest(.release(resourceVersion: "ignored"), node: "node-a") else { Issue.record("release"); throw CancellationError() }
            let (_, released) = sim.request("GET", "/apis/coordination.k8s.io/v1/namespaces/\(Self.namespace)/leases/ironlb-speaker-node-a")
            #expect(released["spec"]?["holderIdentity"] == .string("") || released["spec"]?["holderIdentity"] == nil)
        } catch {
            for client in clients { try? await client.shutdown() }
            try? await sim.stop()
            throw error
        }
        for client in clients { try? await client.shutdown() }
        try? await sim.stop()
    }
}
