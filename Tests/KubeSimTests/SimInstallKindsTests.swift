import Foundation
import KubeModel
import Testing
@testable import KubeSim

/// The kinds an install manifest uses (ServiceAccounts, apps/v1, rbac/v1), served from the
/// resource table: scope, discovery, generation, status, validation. In-process (no HTTP).
@Suite struct SimInstallKindsTests {
    let sim: KubeSimServer
    init() throws { sim = try KubeSimServer() }

    static let deployPath = "/apis/apps/v1/namespaces/default/deployments"
    static let rbac = "/apis/rbac.authorization.k8s.io/v1"

    func deployment(_ name: String, replicas: Int64? = nil, image: String = "example.com/app:1", podLabel: String = "web") -> JSONValue {
        var spec: [String: JSONValue] = [
            "selector": ["matchLabels": ["app": "web"]],
            "template": ["metadata": ["labels": ["app": .string(podLabel)]],
                         "spec": ["containers": [["name": "app", "image": .string(image), "ports": [["containerPort": 8080]],
                                                  "env": [["name": "A", "value": "1"]]]]]],
        ]
        if let replicas { spec["replicas"] = .int(replicas) }
        return ["metadata": ["name": .string(name)], "spec": .object(spec)]
    }

    static let scopeCases: [(ResourceDescriptor, JSONValue)] = [
        (.serviceAccounts, ["metadata": ["name": "sa"]]),
        (.roles, ["metadata": ["name": "system:r"], "rules": [["apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]]]]),
        (.clusterRoles, ["metadata": ["name": "system:cr"], "rules": [["nonResourceURLs": ["/healthz"], "verbs": ["get"]]]]),
        (.roleBindings, ["metadata": ["name": "rb"], "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"],
                         "subjects": [["kind": "ServiceAccount", "name": "sa"]]]),
        (.clusterRoleBindings, ["metadata": ["name": "crb"], "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cr"],
                                "subjects": [["kind": "ServiceAccount", "name": "sa", "namespace": "default"],
                                             ["kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ops"]]]),
    ]

    /// Every new kind at its scope: create 201, get, list; the wrong scope is a 404.
    @Test(arguments: scopeCases)
    func createGetListAtTheRightScope(_ r: ResourceDescriptor, _ body: JSONValue) {
        let ns: String? = r.namespaced ? "default" : nil
        let created = sim.request("POST", r.path(namespace: ns), body: body)
        #expect(created.status == 201, "\(created.body)")
        let name = body.value(atPath: "metadata.name")!.stringValue!
        #expect(created.body["kind"] == .string(r.kind) && created.body["apiVersion"] == .string(r.apiVersion))
        #expect(created.body.value(atPath: "metadata.namespace") == ns.map { .string($0) })
        #expect(created.body.value(atPath: "metadata.generation") == nil && created.body.value(atPath: "metadata.uid") != nil)
        #expect(sim.request("GET", r.path(namespace: ns, name: name)).body == created.body)
        let list = sim.request("GET", r.path(namespace: nil))
        #expect(list.body["kind"] == .string(r.kind + "List") && list.body["items"]?.arrayValue?.count == 1)
        let wrongScope = r.namespaced ? "\(r.groupPrefix)/\(r.plural)/\(name)" : "\(r.groupPrefix)/namespaces/default/\(r.plural)"
        if r.namespaced {
            // A namespaced item has no cluster-scoped path (only the all-namespaces collection).
            #expect(sim.request("GET", wrongScope).status == 404)
        } else {
            #expect(sim.request("POST", wrongScope, body: body).status == 404)
        }
    }

    @Test func deploymentGenerationStatusAndDefaults() {
        let c = sim.request("POST", Self.deployPath, body: deployment("web"))
        #expect(c.status == 201, "\(c.body)")
        #expect(c.body.value(atPath: "metadata.generation") == 1 && c.body.value(atPath: "spec.replicas") == 1)
        #expect(c.body["status"] == .object([:]))
        // Spec change: generation + 1. A label change: same generation, new resourceVersion.
        let scaled = sim.request("PATCH", Self.deployPath + "/web", body: ["spec": ["replicas": 3]], contentType: "application/merge-patch+json")
        #expect(scaled.body.value(atPath: "metadata.generation") == 2 && scaled.body.value(atPath: "spec.replicas") == 3)
        let labelled = sim.request("PATCH", Self.deployPath + "/web", body: ["metadata": ["labels": ["tier": "x"]]], contentType: "application/merge-patch+json")
        #expect(labelled.body.value(atPath: "metadata.generation") == 2)
        #expect(labelled.body.value(atPath: "metadata.resourceVersion") != scaled.body.value(atPath: "metadata.resourceVersion"))
        // Annotations feed ReplicaSets, so they bump a Deployment's generation.
        let annotated = sim.request("PATCH", Self.deployPath + "/web", body: ["metadata": ["annotations": ["a": "b"]]], contentType: "application/merge-patch+json")
        #expect(annotated.body.value(atPath: "metadata.generation") == 3)
        // A client's generation is ignored; status through the main resource is dropped, through /status kept.
        let put = sim.request("PATCH", Self.deployPath + "/web", body: ["metadata": ["generation": 99], "status": ["replicas": 3]], contentType: "application/merge-patch+json")
        #expect(put.body.value(atPath: "metadata.generation") == 3 && put.body["status"] == .object([:]))
        let st = sim.request("PATCH", Self.deployPath + "/web/status", body: ["status": ["replicas": 3, "observedGeneration": 3]], contentType: "application/merge-patch+json")
        #expect(st.body.value(atPath: "status.replicas") == 3 && st.body.value(atPath: "metadata.generation") == 3)
    }

    @Test func strategicMergePatchMergesPodTemplateListsByKey() {
        _ = sim.request("POST", Self.deployPath, body: deployment("smp"))
        // What `kubectl apply` sends for a changed image and a new env var.
        let patch: JSONValue = ["spec": ["template": ["spec": [
            "$setElementOrder/containers": [["name": "app"]],
            "containers": [["name": "app", "image": "example.com/app:2",
                            "$setElementOrder/env": [["name": "A"], ["name": "B"]], "env": [["name": "B", "value": "2"]]]],
        ]]]]
        let r = sim.request("PATCH", Self.deployPath + "/smp", body: patch, contentType: "application/strategic-merge-patch+json")
        #expect(r.status == 200, "\(r.body)")
        let container = r.body.value(atPath: "spec.template.spec.containers")?.arrayValue?.first
        #expect(container?["image"] == "example.com/app:2")
        #expect(container?["env"] == [["name": "A", "value": "1"], ["name": "B", "value": "2"]])
        #expect(container?["ports"] == [["containerPort": 8080]])
        #expect(r.body.value(atPath: "metadata.generation") == 2)
    }

    @Test func workloadValidation() {
        let mismatch = sim.request("POST", Self.deployPath, body: deployment("bad", podLabel: "other"))
        #expect(mismatch.status == 422)
        #expect(mismatch.body.value(atPath: "details.causes")?.arrayValue?.first?["field"] == "spec.template.metadata.labels")
        var noContainers = deployment("empty")
        noContainers.set(["spec", "template", "spec", "containers"], .array([]))
        #expect(sim.request("POST", Self.deployPath, body: noContainers).status == 422)
        let ds = "/apis/apps/v1/namespaces/default/daemonsets"
        let created = sim.request("POST", ds, body: deployment("agent"))
        #expect(created.status == 201 && created.body.value(atPath: "status.numberReady") == 0 && created.body.value(atPath: "spec.replicas") == nil)
        let moved = sim.request("PATCH", ds + "/agent", body: ["spec": ["selector": ["matchLabels": ["app": "other"]],
                                                                        "template": ["metadata": ["labels": ["app": "other"]]]]],
                                contentType: "application/merge-patch+json")
        #expect(moved.status == 422 && moved.body["message"]?.stringValue?.contains("field is immutable") == true, "\(moved.body)")
    }

    @Test func rbacValidation() {
        let noVerbs = sim.request("POST", Self.rbac + "/clusterroles", body: ["metadata": ["name": "x"], "rules": [["apiGroups": [""], "resources": ["pods"]]]])
        #expect(noVerbs.status == 422 && noVerbs.body.value(atPath: "details.causes")?.arrayValue?.first?["field"] == "rules[0].verbs")
        let nsURL = sim.request("POST", Self.rbac + "/namespaces/default/roles", body: ["metadata": ["name": "x"], "rules": [["nonResourceURLs": ["/metrics"], "verbs": ["get"]]]])
        #expect(nsURL.status == 422)
        let crbToRole = sim.request("POST", Self.rbac + "/clusterrolebindings", body: [
            "metadata": ["name": "x"], "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"],
            "subjects": [["kind": "ServiceAccount", "name": "sa"]],
        ])
        #expect(crbToRole.status == 422)
        let causes = crbToRole.body.value(atPath: "details.causes")?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? []
        #expect(causes == ["roleRef.kind", "subjects[0].namespace"])
        let rb: JSONValue = ["metadata": ["name": "rb"], "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"]]
        #expect(sim.request("POST", Self.rbac + "/namespaces/default/rolebindings", body: rb).status == 201)
        let changed = sim.request("PATCH", Self.rbac + "/namespaces/default/rolebindings/rb", body: ["roleRef": ["name": "other"]], contentType: "application/merge-patch+json")
        #expect(changed.status == 422 && changed.body["message"]?.stringValue?.contains("cannot change roleRef") == true)
        #expect(sim.request("POST", Self.rbac + "/clusterroles", body: ["metadata": ["name": "a/b"]]).status == 422)
    }

    @Test func legacyDiscoveryListsTheNewGroups() {
        let apps = sim.request("GET", "/apis/apps/v1").body
        let names = apps["resources"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names == ["deployments", "deployments/status", "deployments/scale", "daemonsets", "daemonsets/status"])
        let rbac = sim.request("GET", "/apis/rbac.authorization.k8s.io/v1").body["resources"]?.arrayValue ?? []
        #expect(rbac.compactMap { $0["name"]?.stringValue } == ["roles", "rolebindings", "clusterroles", "clusterrolebindings"])
        #expect(rbac.compactMap { $0["namespaced"]?.boolValue } == [true, true, false, false])
        let sa = sim.request("GET", "/api/v1").body["resources"]?.arrayValue?.first { $0["name"] == "serviceaccounts" }
        #expect(sa?["shortNames"] == ["sa"] && sa?["namespaced"] == true)
        #expect(sim.request("GET", "/openapi/v3").body.value(atPath: "paths")?.objectValue?.keys.contains("apis/apps/v1") == true)
    }

    @Test func aggregatedDiscoveryWhenAsked() {
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        #expect(SimRouting.wantsAggregatedDiscovery(accept))
        #expect(!SimRouting.wantsAggregatedDiscovery("application/json, */*"))
        #expect(!SimRouting.wantsAggregatedDiscovery("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"))
        let req = SimRequest(method: "GET", uri: "/apis", headers: ["accept": accept], body: [], user: "kubesim-admin")
        guard case .json(200, let doc, let headers) = sim.api.handle(req) else {
            Issue.record("no JSON answer")
            return
        }
        #expect(headers.contains { $0.0 == "Content-Type" && $0.1 == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" })
        #expect(doc["kind"] == "APIGroupDiscoveryList" && doc["apiVersion"] == "apidiscovery.k8s.io/v2")
        let groups = doc["items"]?.arrayValue ?? []
        #expect(groups.compactMap { $0.value(atPath: "metadata.name")?.stringValue } == [
            "discovery.k8s.io", "coordination.k8s.io", "events.k8s.io", "apps", "rbac.authorization.k8s.io", "apiextensions.k8s.io",
        ])
        let apps = groups.first { $0.value(atPath: "metadata.name") == "apps" }
        let deploy = apps?.value(atPath: "versions")?.arrayValue?.first?["resources"]?.arrayValue?.first
        #expect(deploy?["resource"] == "deployments" && deploy?["scope"] == "Namespaced" && deploy?["shortNames"] == ["deploy"])
        #expect(deploy?["responseKind"] == ["group": "apps", "version": "v1", "kind": "Deployment"])
        #expect(deploy?["subresources"]?.arrayValue?.first?["subresource"] == "status")
        let rbac = groups.first { $0.value(atPath: "metadata.name") == "rbac.authorization.k8s.io" }
        let crb = rbac?.value(atPath: "versions")?.arrayValue?.first?["resources"]?.arrayValue?.last
        #expect(crb?["resource"] == "clusterrolebindings" && crb?["scope"] == "Cluster")
        // /api holds the core group only, without a name.
        let core = sim.api.handle(SimRequest(method: "GET", uri: "/api", headers: ["accept": accept], body: [], user: "kubesim-admin"))
        guard case .json(200, let coreDoc, _) = core else {
            Issue.record("no JSON answer for /api")
            return
        }
        #expect(coreDoc["items"]?.arrayValue?.count == 1 && coreDoc.value(atPath: "items")?.arrayValue?.first?.value(atPath: "metadata.name") == nil)
    }
}
