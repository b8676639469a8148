import Foundation
import KubeModel
import KubeSim
@testable import KubeClient

/// A started simulator and a client configured from its kubeconfig.
struct SimFixture {
    let sim: KubeSimServer
    let client: KubeClient

    static func start(_ configure: (inout KubeSimServer.Configuration) -> Void = { _ in }) async throws -> SimFixture {
        var cfg = KubeSimServer.Configuration()
        configure(&cfg)
        let sim = try KubeSimServer(configuration: cfg)
        try await sim.start()
        let conf = try KubeConfigLoader.load(paths: [sim.kubeconfigPath])
        return SimFixture(sim: sim, client: try KubeClient(configuration: conf))
    }

    func stop() async {
        try? await client.shutdown()
        try? await sim.stop()
    }
}

/// A seeded generator (SplitMix64) so random mutation tests are reproducible.
struct SeededRandom: RandomNumberGenerator, Sendable {
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

func service(_ name: String, type: String = "LoadBalancer", labels: [String: String] = [:]) -> V1Service {
    V1Service(metadata: ObjectMeta(name: name, namespace: "default", labels: labels),
              spec: ServiceSpec(type: type, ports: [ServicePort(name: "http", port: 80, targetPort: .int(8080))], selector: ["app": name]))
}

func waitUntil(_ timeout: Duration = .seconds(20), _ cond: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await cond() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await cond()
}
