import Foundation
import KubeModel
import Testing
import TestSupport
@testable import KubeSim

/// The real kubectl against KubeSim (issue #13, part 3): every `kubectl create <generator>`
/// (protobuf bodies since kubectl 1.32), `expose`, `rollout restart`, `wait --for=jsonpath`, and
/// Events written under events.k8s.io/v1 shown by `kubectl get events` and `kubectl describe svc`
/// (core/v1). Serial ("Interop"): each test blocks a thread on kubectl processes.
@Suite(.serialized) struct KubectlGeneratorsInteropTests {
    @Test func createNamespaceConfigMapFromFileSecretAndDeployment() async throws {
        guard Prerequisites.require(.command("kubectl")) else { return }
        let (sim, env) = try await startSimForKubectl(http2: true)
        func kubectl(_ args: [String]) throws -> RunResult { try run(["kubectl"] + args, env: env) }

        let namespace = try kubectl(["create", "namespace", "metallb-system", "-v=8"])
        #expect(namespace.status == 0 && namespace.output.contains("namespace/metallb-system created"), "\(namespace.output)")
        #expect(namespace.output.contains("Content-Type: application/vnd.kubernetes.protobuf"), "\(namespace.output)")
        #expect(sim.request("GET", "/api/v1/namespaces/metallb-system").body.value(atPath: "status.phase") == "Active")

        // MetalLB v0.12's install step: the configuration file as a ConfigMap, plus a binary file.
        let config = "address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 192.0.2.10-192.0.2.20\n"
        let configPath = sim.directory + "/config", blobPath = sim.directory + "/blob"
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        try Data([0, 1, 2, 0xff]).write(to: URL(fileURLWithPath: blobPath))
        let cm = try kubectl(["-n", "metallb-system", "create", "configmap", "config", "--from-file=config=\(configPath)", "--from-file=blob=\(blobPath)"])
        #expect(cm.status == 0 && cm.output.contains("configmap/config created"), "\(cm.output)")
        let stored = sim.request("GET", "/api/v1/namespaces/metallb-system/configmaps/config").body
        #expect(stored.value(atPath: "data.config") == .string(config), "\(stored)")
        #expect(stored.value(atPath: "binaryData.blob") == "AAEC/w==", "\(stored)")
        let readBack = try kubectl(["-n", "metallb-system", "get", "configmap", "config", "-o", "jsonpath={.data.config}"])
        #expect(readBack.output == config, "\(readBack.output)")

        let secret = try kubectl(["-n", "metallb-system", "create", "secret", "generic", "memberlist", "--from-literal=secretkey=s3cr3t"])
        #expect(secret.status == 0 && secret.output.contains("secret/memberlist created"), "\(secret.output)")
        let secretObject = sim.request("GET", "/api/v1/namespaces/metallb-system/secrets/memberlist").body
        #expect(secretObject["type"] == "Opaque" && secretObject.value(atPath: "data.secretkey") == .string(Base64.encode(Array("s3cr3t".utf8))))

        let deployment = try kubectl(["create", "deployment", "web", "--image=registry.example/web:1.0", "--replicas=2", "--port=8080"])
        #expect(deployment.status == 0 && deployment.output.contains("deployment.apps/web created"), "\(deployment.output)")
        let summary = try kubectl(["get", "deployment", "web", "-o",
                                   "jsonpath={.spec.replicas} {.spec.selector.matchLabels.app} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.metadata.generation}"])
        #expect(summary.output == "2 web registry.example/web:1.0 8080 1", "\(summary.output)")

        // `expose deployment --type=LoadBalancer` reads the Deployment's selector.
        let expose = try kubectl(["expose", "deployment", "web", "--type=LoadBalancer", "--port=80", "--target-port=8080"])
        #expect(expose.status == 0 && expose.output.contains("service/web exposed"), "\(expose.output)")
        let svc = sim.request("GET", "/api/v1/namespaces/default/services/web").body
        #expect(svc.value(atPath: "spec.type") == "LoadBalancer" && svc.value(atPath: "spec.selector.app") == "web", "\(svc)")
        #expect(svc.value(atPath: "spec.ports")?.arrayValue?.first?["targetPort"] == 8080, "\(svc)")

        // `rollout restart` patches the pod template: a new generation.
        let restart = try kubectl(["rollout", "restart", "deployment", "web"])
        #expect(restart.status == 0 && restart.output.contains("deployment.apps/web restarted"), "\(restart.output)")
        let restarted = sim.request("GET", "/apis/apps/v1/namespaces/default/deployments/web").body
        #expect(restarted.value(atPath: "spec.template.metadata.annotations")?["kubectl.kubernetes.io/restartedAt"] != nil, "\(restarted)")
        #expect(restarted.value(atPath: "metadata.generation") == 2)

        // The rest of kubectl's generators.
        for (args, created) in [
            (["create", "serviceaccount", "speaker"], "serviceaccount/speaker created"),
            (["create", "role", "reader", "--verb=get,list,watch", "--resource=services,endpointslices"], "role.rbac.authorization.k8s.io/reader created"),
            (["create", "rolebinding", "reader", "--role=reader", "--serviceaccount=default:speaker"], "rolebinding.rbac.authorization.k8s.io/reader created"),
            (["create", "clusterrole", "node-reader", "--verb=get", "--resource=nodes"], "clusterrole.rbac.authorization.k8s.io/node-reader created"),
            (["create", "clusterrolebinding", "node-reader", "--clusterrole=node-reader", "--user=alice"], "clusterrolebinding.rbac.authorization.k8s.io/node-reader created"),
        ] {
            let result = try kubectl(args)
            #expect(result.status == 0 && result.output.contains(created), "\(result.output)")
        }
        let rules = try kubectl(["get", "role", "reader", "-o", "jsonpath={.rules[*].resources}"])
        #expect(rules.output.contains("services") && rules.output.contains("endpointslices"), "\(rules.output)")

        // `get endpointslices` is served (the slices themselves come from the EndpointSlice controller).
        let slices = try kubectl(["get", "endpointslices", "-A"])
        #expect(slices.status == 0, "\(slices.output)")
        try await sim.stop()
    }

    /// `kubectl wait --for=jsonpath=…` sees a change made while it waits.
    @Test func waitForJSONPath() async throws {
        guard Prerequisites.require(.command("kubectl")) else { return }
        let (sim, env) = try await startSimForKubectl(http2: true)
        let create = try run(["kubectl", "create", "service", "loadbalancer", "web", "--tcp=80"], env: env)
        #expect(create.status == 0, "\(create.output)")
        let already = try run(["kubectl", "wait", "--for=jsonpath={.spec.type}=LoadBalancer", "service/web", "--timeout=60s"], env: env)
        #expect(already.status == 0 && already.output.contains("service/web condition met"), "\(already.output)")
        let writer = Task.detached {
            try await Task.sleep(for: .seconds(2))
            _ = sim.request("PATCH", "/api/v1/namespaces/default/services/web/status",
                            body: ["status": ["loadBalancer": ["ingress": [["ip": "203.0.113.7"]]]]], contentType: "application/merge-patch+json")
        }
        let waited = try run(["kubectl", "wait", "--for=jsonpath={.status.loadBalancer.ingress[0].ip}=203.0.113.7", "service/web", "--timeout=90s"],
                             env: env, timeout: .seconds(120))
        try await writer.value
        #expect(waited.status == 0 && waited.output.contains("service/web condition met"), "\(waited.output)")
        try await sim.stop()
    }

    /// An Event written as events.k8s.io/v1 (as IronLB's EventRecorder does) is a core Event too:
    /// `kubectl get events` lists it with the server's columns, `kubectl describe svc` shows it.
    @Test func eventsV1AreShownByGetEventsAndDescribe() async throws {
        guard Prerequisites.require(.command("kubectl")) else { return }
        let (sim, env) = try await startSimForKubectl(http2: true)
        func kubectl(_ args: [String]) throws -> RunResult { try run(["kubectl"] + args, env: env) }
        #expect(try kubectl(["create", "service", "loadbalancer", "web", "--tcp=80"]).status == 0)
        let svc = sim.request("GET", "/api/v1/namespaces/default/services/web").body
        let uid = svc.value(atPath: "metadata.uid") ?? .null
        let now = KubeTime(seconds: Int64(Date().timeIntervalSince1970))
        let event: JSONValue = [
            "metadata": ["name": "web.17f00000000001", "namespace": "default"],
            "eventTime": .string(MicroTime(now).description), "reportingController": "ironlb.io/controller", "reportingInstance": "ironlb-controller-0",
            "action": "Allocate", "reason": "IPAllocated", "type": "Normal", "note": "assigned IP 198.51.100.5 from pool lab",
            "regarding": ["kind": "Service", "namespace": "default", "name": "web", "uid": uid, "apiVersion": "v1"],
            "series": ["count": 3, "lastObservedTime": .string(MicroTime(now).description)],
        ]
        let created = sim.request("POST", "/apis/events.k8s.io/v1/namespaces/default/events", body: event)
        #expect(created.status == 201, "\(created.body)")

        let get = try kubectl(["get", "events"])
        #expect(get.status == 0, "\(get.output)")
        let header = get.output.split(separator: "\n").first.map(String.init) ?? ""
        #expect(header.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") == "LAST SEEN TYPE REASON OBJECT MESSAGE", "\(get.output)")
        #expect(get.output.contains("Normal") && get.output.contains("IPAllocated") && get.output.contains("service/web")
                && get.output.contains("assigned IP 198.51.100.5 from pool lab"), "\(get.output)")
        let core = try kubectl(["get", "events", "-o", "jsonpath={.items[0].involvedObject.name} {.items[0].message} {.items[0].reportingComponent} {.items[0].series.count}"])
        #expect(core.output == "web assigned IP 198.51.100.5 from pool lab ironlb.io/controller 3", "\(core.output)")
        let selected = try kubectl(["get", "events", "--field-selector", "reason=IPAllocated,involvedObject.kind=Service", "-o", "name"])
        #expect(selected.output == "event/web.17f00000000001\n", "\(selected.output)")

        let describe = try kubectl(["describe", "svc", "web"])
        #expect(describe.status == 0, "\(describe.output)")
        let eventsSection = describe.output.components(separatedBy: "Events:").last ?? ""
        #expect(eventsSection.contains("IPAllocated") && eventsSection.contains("assigned IP 198.51.100.5 from pool lab")
                && eventsSection.contains("ironlb.io/controller"), "\(describe.output)")

        // One object, two groups: deleting it through core/v1 removes it from events.k8s.io/v1.
        let delete = try kubectl(["delete", "events", "web.17f00000000001"])
        #expect(delete.status == 0, "\(delete.output)")
        #expect(sim.request("GET", "/apis/events.k8s.io/v1/namespaces/default/events/web.17f00000000001").status == 404)
        try await sim.stop()
    }
}
