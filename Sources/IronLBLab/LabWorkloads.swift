import KubeModel
import KubeSim
import SpeakerCore

/// The lab's workloads: each demo Service selects the pods of a Deployment, which KubeSim runs
/// (`SimWorkloadOptions`), so Services have endpoints as on a cluster and IronLB announces them.
enum LabWorkloads {
    struct Demo {
        let name: String
        let port: Int64
        let portName: String
        let replicas: Int64
        /// `externalTrafficPolicy: Local`: announced only from nodes with a ready pod.
        let local: Bool
    }

    static let bgp = [
        Demo(name: "web", port: 80, portName: "http", replicas: 2, local: false),
        Demo(name: "api", port: 443, portName: "https", replicas: 1, local: false),
    ]
    /// The layer 2 lab adds a Local Service that follows its one pod (`kubectl scale`,
    /// `kubectl delete pod`).
    static let layer2 = bgp + [Demo(name: "local", port: 8080, portName: "http", replicas: 1, local: true)]

    /// How KubeSim runs the lab's pods: ready a second after they start, two seconds to stop.
    static var options: SimWorkloadOptions {
        var options = SimWorkloadOptions()
        options.readyDelay = .seconds(1)
        options.terminationDelay = .seconds(2)
        return options
    }

    /// The Deployment and Service of each demo, as requests for `KubeSimServer.request`.
    static func requests(_ demos: [Demo]) -> [(String, JSONValue)] {
        demos.flatMap { demo -> [(String, JSONValue)] in
            let labels: JSONValue = ["app": .string(demo.name)]
            var spec: JSONValue = ["type": "LoadBalancer", "ports": [["port": .int(demo.port), "name": .string(demo.portName), "targetPort": 8080]], "selector": labels]
            if demo.local { spec["externalTrafficPolicy"] = "Local" }
            return [
                ("/apis/apps/v1/namespaces/default/deployments", [
                    "metadata": ["name": .string(demo.name), "labels": labels],
                    "spec": [
                        "replicas": .int(demo.replicas), "selector": ["matchLabels": labels],
                        "template": ["metadata": ["labels": labels],
                                     "spec": ["containers": [["name": "app", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53", "ports": [["containerPort": 8080]]]]]],
                    ],
                ]),
                ("/api/v1/namespaces/default/services", ["metadata": ["name": .string(demo.name)], "spec": spec]),
            ]
        }
    }

    /// Per Service (`namespace/name`), the nodes with a ready (or serving, terminating)
    /// endpoint, from the EndpointSlices.
    static func endpointNodes(_ sim: KubeSimServer) -> [String: [String]] {
        let (_, list) = sim.request("GET", "/apis/discovery.k8s.io/v1/endpointslices")
        var nodes: [String: Set<String>] = [:]
        for slice in list["items"]?.arrayValue ?? [] {
            guard let namespace = slice.value(atPath: "metadata.namespace")?.stringValue,
                  let service = slice.value(atPath: "metadata.labels")?["kubernetes.io/service-name"]?.stringValue else { continue }
            let key = "\(namespace)/\(service)"
            if nodes[key] == nil { nodes[key] = [] }
            for endpoint in slice["endpoints"]?.arrayValue ?? [] {
                let conditions = endpoint["conditions"]
                let usable = ServiceEndpoints.isUsable(
                    ready: conditions?["ready"]?.boolValue, serving: conditions?["serving"]?.boolValue, terminating: conditions?["terminating"]?.boolValue
                )
                guard usable, let node = endpoint["nodeName"]?.stringValue else { continue }
                nodes[key, default: []].insert(node)
            }
        }
        return nodes.mapValues { $0.sorted() }
    }
}
