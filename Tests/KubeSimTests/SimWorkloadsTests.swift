import Foundation
import KubeModel
import Testing
import TestSupport
@testable import KubeSim

/// KubeSim's workloads (`Configuration.workloads`): Deployments create Pods, a scheduler places
/// them, kubelets give them IPs and readiness and finish their graceful deletion, and the
/// EndpointSlice controller publishes them; `scale` works; without the option nothing of it runs.
@Suite struct SimWorkloadsTests {
    static func server(workloads: Bool = true) async throws -> KubeSimServer {
        var configuration = KubeSimServer.Configuration()
        configuration.tls = false
        if workloads {
            var options = SimWorkloadOptions()
            options.readyDelay = .milliseconds(300)
            options.terminationDelay = .seconds(1)
            options.interval = .milliseconds(50)
            configuration.workloads = options
        }
        let sim = try KubeSimServer(configuration: configuration)
        try await sim.start()
        return sim
    }

    static let deployments = "/apis/apps/v1/namespaces/default/deployments"
    static let pods = "/api/v1/namespaces/default/pods"
    static let slices = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"

    static func node(_ sim: KubeSimServer, _ name: String, labels: [String: JSONValue] = [:], unschedulable: Bool = false, ready: String? = nil) {
        var labels = labels
        labels["kubernetes.io/hostname"] = .string(name)
        let created = sim.request("POST", "/api/v1/nodes", body: ["metadata": ["name": .string(name), "labels": .object(labels)], "spec": ["unschedulable": .bool(unschedulable)]])
        #expect(created.status == 201)
        if let ready {
            let patched = sim.request("PATCH", "/api/v1/nodes/\(name)/status", body: ["status": ["conditions": [["type": "Ready", "status": .string(ready)]]]],
                                      contentType: "application/merge-patch+json")
            #expect(patched.status == 200)
        }
    }

    static func deployment(_ name: String, replicas: Int64, nodeSelector: [String: JSONValue]? = nil) -> JSONValue {
        var podSpec: JSONValue = ["containers": [["name": "app", "image": "agnhost", "ports": [["name": "http", "containerPort": 8080]]]]]
        if let nodeSelector { podSpec["nodeSelector"] = .object(nodeSelector) }
        return ["metadata": ["name": .string(name)],
                "spec": ["replicas": .int(replicas), "selector": ["matchLabels": ["app": .string(name)]],
                         "template": ["metadata": ["labels": ["app": .string(name)]], "spec": podSpec]]]
    }

    static func service(_ name: String) -> JSONValue {
        ["metadata": ["name": .string(name)], "spec": ["type": "LoadBalancer", "selector": ["app": .string(name)], "ports": [["name": "web", "port": 80, "targetPort": "http"]]]]
    }

    static func items(_ sim: KubeSimServer, _ path: String) -> [JSONValue] { sim.request("GET", path).body["items"]?.arrayValue ?? [] }

    static func endpoints(_ sim: KubeSimServer, _ service: String) -> [JSONValue] {
        items(sim, slices + "?labelSelector=kubernetes.io/service-name=\(service)").flatMap { $0["endpoints"]?.arrayValue ?? [] }
    }

    /// Every change KubeSim recorded after `start`, in order: the states a sequence of changes
    /// passed through, which a poll between changes misses on a loaded machine.
    static func changes(_ sim: KubeSimServer, after start: Int64) throws -> [HistoryEntry] {
        try #require(sim.store.lock.withLock { sim.store.changes(after: start) }, "the history no longer reaches resourceVersion \(start)")
    }

    /// Whether any EndpointSlice version of `service` among `changes` had an endpoint matching `condition`.
    static func published(_ changes: [HistoryEntry], _ service: String, _ condition: (JSONValue) -> Bool) -> Bool {
        changes.contains { change in
            change.resource == "endpointslices.discovery.k8s.io"
                && change.object["metadata"]?["labels"]?["kubernetes.io/service-name"]?.stringValue == service
                && (change.object["endpoints"]?.arrayValue ?? []).contains(where: condition)
        }
    }

    static func resourceVersion(_ sim: KubeSimServer) -> Int64 { sim.store.lock.withLock { sim.store.rv } }

    @Test func podsAreScheduledOnReadyUncordonedMatchingNodesGetIPsAndBecomeReady() async throws {
        let sim = try await Self.server()
        defer { Task { try? await sim.stop() } }
        Self.node(sim, "n1", labels: ["zone": "a"], ready: "True")
        Self.node(sim, "n2", labels: ["zone": "a"], unschedulable: true)
        Self.node(sim, "n3", labels: ["zone": "a"], ready: "False")
        Self.node(sim, "n4", labels: ["zone": "b"], ready: "True")
        #expect(sim.request("POST", Self.deployments, body: Self.deployment("web", replicas: 2, nodeSelector: ["zone": "a"])).status == 201)
        #expect(sim.request("POST", "/api/v1/namespaces/default/services", body: Self.service("web")).status == 201)

        let ready = await poll(timeout: 30) {
            let pods = Self.items(sim, Self.pods)
            return pods.count == 2 && pods.allSatisfy { SimWorkloadRules.isReady(pod: $0) }
        }
        #expect(ready, "\(Self.items(sim, Self.pods))")
        let pods = Self.items(sim, Self.pods)
        // Only n1 is Ready, schedulable and in zone a.
        #expect(pods.map { $0.value(atPath: "spec.nodeName")?.stringValue } == ["n1", "n1"])
        let ips = pods.compactMap { $0.value(atPath: "status.podIP")?.stringValue }
        #expect(ips.count == 2 && Set(ips).count == 2 && ips.allSatisfy { $0.hasPrefix("10.244.") }, "\(ips)")
        #expect(pods.allSatisfy { SimWorkloadRules.labels($0)["pod-template-hash"] != nil && SimWorkloadRules.controller($0, kind: "Deployment") != nil })

        // The EndpointSlice, labelled as on a cluster, with the named target port resolved.
        let published = await poll(timeout: 30) { Self.endpoints(sim, "web").count == 2 }
        #expect(published)
        let slice = try #require(Self.items(sim, Self.slices).first)
        #expect(SimWorkloadRules.labels(slice) == ["kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"])
        #expect(slice["addressType"] == "IPv4")
        #expect(slice["ports"] == [["name": "web", "port": 8080, "protocol": "TCP"]])
        for endpoint in Self.endpoints(sim, "web") {
            #expect(endpoint["conditions"] == ["ready": true, "serving": true, "terminating": false])
            #expect(endpoint["nodeName"] == "n1")
            #expect(endpoint.value(atPath: "targetRef.kind") == "Pod")
        }
        // The Deployment's status, as `kubectl rollout status` reads it.
        let status = await poll(timeout: 30) {
            sim.request("GET", Self.deployments + "/web").body.value(atPath: "status.availableReplicas") == 2
        }
        #expect(status)

        // A pod no Node can take stays Pending, marked Unschedulable.
        #expect(sim.request("POST", Self.deployments, body: Self.deployment("nowhere", replicas: 1, nodeSelector: ["zone": "c"])).status == 201)
        let pending = await poll(timeout: 30) {
            Self.items(sim, Self.pods + "?labelSelector=app=nowhere").first.map { SimWorkloadRules.condition($0, "PodScheduled") == "False" } == true
        }
        #expect(pending)
        #expect(Self.items(sim, Self.pods + "?labelSelector=app=nowhere").first?.value(atPath: "spec.nodeName") == nil)
    }

    @Test func aDeletedPodTerminatesServingAndIsReplaced() async throws {
        let sim = try await Self.server()
        defer { Task { try? await sim.stop() } }
        Self.node(sim, "n1")
        Self.node(sim, "n2")
        #expect(sim.request("POST", Self.deployments, body: Self.deployment("web", replicas: 1)).status == 201)
        #expect(sim.request("POST", "/api/v1/namespaces/default/services", body: Self.service("web")).status == 201)
        #expect(await poll(timeout: 30) { Self.endpoints(sim, "web").first?.value(atPath: "conditions.ready") == true })
        let first = try #require(Self.items(sim, Self.pods).first)
        let name = SimWorkloadRules.name(first)

        let start = Self.resourceVersion(sim)
        let deleted = sim.request("DELETE", Self.pods + "/\(name)")
        #expect(deleted.status == 200 && deleted.body.value(atPath: "metadata.deletionTimestamp") != nil)
        let replaced = await poll(timeout: 30) {
            let pods = Self.items(sim, Self.pods)
            return pods.count == 1 && SimWorkloadRules.name(pods[0]) != name && SimWorkloadRules.isReady(pod: pods[0])
        }
        #expect(replaced, "\(Self.items(sim, Self.pods).map(SimWorkloadRules.name))")
        // While it stopped: not ready, still serving, terminating; a replacement started meanwhile.
        let changes = try Self.changes(sim, after: start)
        #expect(Self.published(changes, "web") { $0["conditions"] == ["ready": false, "serving": true, "terminating": true] })
        #expect(sim.request("GET", Self.pods + "/\(name)").status == 404)
    }

    @Test func rolloutRestartReplacesPodsOneByOne() async throws {
        let sim = try await Self.server()
        defer { Task { try? await sim.stop() } }
        Self.node(sim, "n1")
        #expect(sim.request("POST", Self.deployments, body: Self.deployment("web", replicas: 3)).status == 201)
        #expect(sim.request("POST", "/api/v1/namespaces/default/services", body: Self.service("web")).status == 201)
        #expect(await poll(timeout: 30) { Self.items(sim, Self.pods).filter(SimWorkloadRules.isReady(pod:)).count == 3 })
        let before = Set(Self.items(sim, Self.pods).map(SimWorkloadRules.name))

        // What `kubectl rollout restart` sends.
        let restart: JSONValue = ["spec": ["template": ["metadata": ["annotations": ["kubectl.kubernetes.io/restartedAt": "2026-12-06T10:00:00Z"]]]]]
        let start = Self.resourceVersion(sim)
        #expect(sim.request("PATCH", Self.deployments + "/web", body: restart, contentType: "application/strategic-merge-patch+json").status == 200)
        let done = await poll(timeout: 60, interval: 0.05) {
            let pods = Self.items(sim, Self.pods)
            return pods.count == 3 && pods.allSatisfy { !before.contains(SimWorkloadRules.name($0)) && SimWorkloadRules.isReady(pod: $0) }
        }
        #expect(done, "\(Self.items(sim, Self.pods).map(SimWorkloadRules.name))")
        let changes = try Self.changes(sim, after: start)
        var live = Set(before)
        var most = live.count
        for change in changes where change.resource == "pods" && change.namespace == "default" {
            let name = SimWorkloadRules.name(change.object)
            if change.kind == .deleted || SimWorkloadRules.isDeleting(change.object) { live.remove(name) } else { live.insert(name) }
            most = max(most, live.count)
        }
        let sawTerminating = Self.published(changes, "web") {
            $0.value(atPath: "conditions.terminating") == true && $0.value(atPath: "conditions.serving") == true
        }
        #expect(most == 4, "at most one pod above the 3 replicas (maxSurge 1); saw \(most)")
        #expect(sawTerminating, "no EndpointSlice published a terminating endpoint that still serves")
        let status = sim.request("GET", Self.deployments + "/web").body["status"]
        #expect(status?["updatedReplicas"] == 3 && status?["replicas"] == 3)
    }

    @Test func theScaleSubresourceReadsAndWritesReplicas() async throws {
        let sim = try await Self.server()
        defer { Task { try? await sim.stop() } }
        Self.node(sim, "n1")
        #expect(sim.request("POST", Self.deployments, body: Self.deployment("web", replicas: 1)).status == 201)
        let scale = sim.request("GET", Self.deployments + "/web/scale")
        #expect(scale.status == 200 && scale.body["kind"] == "Scale" && scale.body["apiVersion"] == "autoscaling/v1")
        #expect(scale.body.value(atPath: "spec.replicas") == 1 && scale.body.value(atPath: "status.selector") == "app=web")
        let patched = sim.request("PATCH", Self.deployments + "/web/scale", body: ["spec": ["replicas": 3]], contentType: "application/merge-patch+json")
        #expect(patched.status == 200 && patched.body.value(atPath: "spec.replicas") == 3)
        #expect(sim.request("GET", Self.deployments + "/web").body.value(atPath: "spec.replicas") == 3)
        #expect(await poll(timeout: 30) { Self.items(sim, Self.pods).count == 3 })
        let zero = sim.request("PUT", Self.deployments + "/web/scale", body: ["kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": ["name": "web"], "spec": ["replicas": 0]])
        #expect(zero.status == 200)
        #expect(await poll(timeout: 30) { Self.items(sim, Self.pods).isEmpty })
        #expect(sim.request("PATCH", Self.deployments + "/web/scale", body: ["spec": ["replicas": -1]], contentType: "application/merge-patch+json").status == 422)
        // Discovery lists it, as kubectl scale needs.
        let resources = sim.request("GET", "/apis/apps/v1").body["resources"]?.arrayValue ?? []
        #expect(resources.contains { $0["name"] == "deployments/scale" && $0["kind"] == "Scale" && $0["group"] == "autoscaling" })
    }

    @Test func withoutWorkloadsNothingWritesPodsOrSlices() async throws {
        let sim = try await Self.server(workloads: false)
        defer { Task { try? await sim.stop() } }
        Self.node(sim, "n1")
        #expect(sim.request("POST", Self.deployments, body: Self.deployment("web", replicas: 2)).status == 201)
        #expect(sim.request("POST", "/api/v1/namespaces/default/services", body: Self.service("web")).status == 201)
        // A pod written by hand is deleted at once (no kubelet would finish a graceful deletion).
        let pod: JSONValue = ["metadata": ["name": "p"], "spec": ["nodeName": "n1", "containers": [["name": "c", "image": "i"]]]]
        #expect(sim.request("POST", Self.pods, body: pod).status == 201)
        #expect(sim.request("DELETE", Self.pods + "/p").status == 200)
        #expect(sim.request("GET", Self.pods + "/p").status == 404)
        try await Task.sleep(for: .milliseconds(300))
        #expect(Self.items(sim, Self.pods).isEmpty)
        #expect(Self.items(sim, Self.slices).isEmpty)
    }

    @Test func handWrittenSlicesAreLeftAlone() async throws {
        let sim = try await Self.server()
        defer { Task { try? await sim.stop() } }
        Self.node(sim, "n1")
        let slice: JSONValue = ["metadata": ["name": "manual", "labels": ["kubernetes.io/service-name": "web"]], "addressType": "IPv4",
                                "endpoints": [["addresses": ["10.0.0.1"], "nodeName": "n1", "conditions": ["ready": true]]]]
        #expect(sim.request("POST", Self.slices, body: slice).status == 201)
        #expect(sim.request("POST", "/api/v1/namespaces/default/services", body: Self.service("web")).status == 201)
        // The controller's own slice appears (empty: no pods), the manual one stays as written.
        #expect(await poll(timeout: 30) { Self.items(sim, Self.slices).count == 2 })
        let manual = sim.request("GET", Self.slices + "/manual").body
        #expect(manual["endpoints"] == slice["endpoints"])
    }

    @Test func podTableCells() {
        let pod: JSONValue = ["metadata": ["name": "web-1"], "spec": ["nodeName": "n1", "containers": [["name": "a"], ["name": "b"]]],
                              "status": ["phase": "Running", "podIP": "10.244.0.10", "containerStatuses": [["ready": true], ["ready": false]]]]
        let columns = SimWorkloadRules.podColumns(name: ["name": "Name"], age: ["name": "Age"]).map { $0["name"]?.stringValue ?? "" }
        #expect(columns == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"])
        #expect(SimWorkloadRules.podCells(pod, name: "web-1", age: "5s") == ["web-1", "1/2", "Running", "0", "5s", "10.244.0.10", "n1", "<none>", "<none>"])
        var deleting = pod
        deleting.set(["metadata", "deletionTimestamp"], "2026-12-06T10:00:00Z")
        #expect(SimWorkloadRules.podCells(deleting, name: "web-1", age: "5s")[2] == "Terminating")
    }

    /// The rolling update's decisions, without a server.
    @Test func deploymentSteps() {
        func pod(_ name: String, _ hash: String, ready: Bool, deleting: Bool = false) -> JSONValue {
            var pod: JSONValue = ["metadata": ["name": .string(name), "labels": ["pod-template-hash": .string(hash)]],
                                  "status": ["conditions": [["type": "Ready", "status": .string(ready ? "True" : "False")]]]]
            if deleting { pod.set(["metadata", "deletionTimestamp"], "2026-12-06T10:00:00Z") }
            return pod
        }
        typealias Step = (create: Int, delete: [String])
        let cases: [([JSONValue], Int, Step)] = [
            ([], 3, (3, [])),                                                                          // scale up at once
            ([pod("a", "new", ready: true)], 0, (0, ["a"])),                                           // scale to zero
            ([pod("a", "new", ready: false), pod("b", "new", ready: true)], 1, (0, ["a"])),             // not ready goes first
            ([pod("a", "old", ready: true)], 1, (1, [])),                                               // surge one new pod
            ([pod("a", "old", ready: true), pod("b", "new", ready: false)], 1, (0, [])),                // wait for it
            ([pod("a", "old", ready: true), pod("b", "new", ready: true)], 1, (0, ["a"])),              // then retire the old
            ([pod("a", "old", ready: true, deleting: true), pod("b", "new", ready: true)], 1, (0, [])), // terminating: done
            ([pod("a", "old", ready: false), pod("b", "old", ready: true)], 2, (1, ["a"])),             // unready old go at once
        ]
        for (pods, replicas, expected) in cases {
            let step = SimWorkloadRules.deploymentStep(replicas: replicas, hash: "new", pods: pods)
            #expect(step.create == expected.create && step.delete == expected.delete, "\(pods.map(SimWorkloadRules.name)) × \(replicas): \(step)")
        }
    }
}
