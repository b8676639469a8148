import KubeClient
import KubeModel
import KubeSim
import LBCore
import Logging
import Speaker
import SpeakerCore
import Testing

/// An EndpointSlice counts for the Service its `kubernetes.io/service-name` label names, while
/// it names it: when the label goes, the Service's endpoints lose the slice's (MetalLB finds a
/// Service's slices by that label). Against KubeSim, through the speaker's informers.
struct SliceLabelTests {
    @Test func aSliceWhoseServiceLabelGoesNoLongerCountsForTheService() async throws {
        var configuration = KubeSimServer.Configuration()
        configuration.port = 0
        let sim = try KubeSimServer(configuration: configuration)
        try await sim.start()
        let client = try KubeClient(configuration: try KubeConfigLoader.load(paths: [sim.kubeconfigPath]))
        let api = KubeSpeakerAPI(client: client, namespace: "ironlb-system", configName: "config", loadBalancerClass: nil,
                                 leaseDuration: .seconds(15), node: "node1", logger: Logger(label: "test"))
        let slices = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
        let (created, _) = sim.request("POST", slices, body: [
            "metadata": ["name": "web-x1", "labels": ["kubernetes.io/service-name": "web"]], "addressType": "IPv4",
            "endpoints": [["addresses": ["192.0.2.10"], "conditions": ["ready": true], "nodeName": "node1"]],
        ])
        #expect(created == 201)
        let web = ServiceKey(namespace: "default", name: "web")
        let run = Task { try await api.run() }
        // What the speaker is told of `web`'s endpoints, in order, until it is told `last`.
        func endpoints(until last: ServiceEndpoints) async -> [ServiceEndpoints] {
            var seen: [ServiceEndpoints] = []
            for await input in api.changes() {
                guard case .endpoints(let key, let endpoints) = input, key == web else { continue }
                seen.append(endpoints)
                if endpoints == last { break }
            }
            return seen
        }
        #expect(await endpoints(until: ServiceEndpoints(nodes: ["node1"])).last == ServiceEndpoints(nodes: ["node1"]))
        // The label goes (another label changes with it, so the update is not empty).
        let (patched, _) = sim.request("PATCH", slices + "/web-x1", body: ["metadata": ["labels": ["kubernetes.io/service-name": .null, "other": "x"]]],
                                       contentType: "application/merge-patch+json")
        #expect(patched == 200)
        let told = await withTaskGroup(of: [ServiceEndpoints]?.self) { group in
            group.addTask { await endpoints(until: .none) }
            group.addTask { try? await Task.sleep(for: .seconds(60)); return nil }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        #expect(told == [.none], "the speaker was not told that web lost the slice's endpoints")
        run.cancel()
        _ = await run.result
        try? await client.shutdown()
        try? await sim.stop()
    }
}
