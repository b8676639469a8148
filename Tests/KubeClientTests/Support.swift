import Foundation
import KubeModel
import KubeSim
@testable import KubeClient
import TestSupport

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
