import Foundation
import KubeModel
import Testing
import TestSupport
@testable import KubeSim

/// API-server semantics checked in-process (no HTTP).
@Suite struct SimSemanticsTests {
    let sim: KubeSimServer
    init() throws { sim = try KubeSimServer() }

    let svcPath = "/api/v1/namespaces/default/services"

    func svc(_ name: String, _ spec: JSONValue = ["type": "LoadBalancer", "ports": [["port": 80]]]) -> JSONValue {
        ["metadata": ["name": .string(name)], "spec": spec]
    }

    @Test func dualStackDefaultsAndAllocations() {
        let r = sim.request("POST", svcPath, body: svc("ds", ["type": "LoadBalancer", "ipFamilyPolicy": "PreferDualStack", "externalTrafficPolicy": "Local",
                                                              "ports": [["port": 80, "name": "a"], ["port": 53, "protocol": "UDP", "name": "b"]]]))
        #expect(r.status == 201)
        let spec = r.body["spec"]!
        #expect(spec["ipFamilies"] == ["IPv4", "IPv6"])
        #expect(spec["clusterIPs"]?.arrayValue?.count == 2)
        #expect(spec["healthCheckNodePort"]?.intValue != nil)
        #expect(spec.value(atPath: "ports")?.arrayValue?.compactMap { $0["nodePort"]?.intValue }.count == 2)
        #expect(spec.value(atPath: "ports")?.arrayValue?.first?["targetPort"] == 80)
        // Headless and ExternalName.
        let h = sim.request("POST", svcPath, body: svc("hl", ["clusterIP": "None", "selector": ["a": "b"]]))
        #expect(h.body.value(atPath: "spec.clusterIPs") == ["None"])
        let en = sim.request("POST", svcPath, body: svc("en", ["type": "ExternalName", "externalName": "example.com"]))
        #expect(en.status == 201 && en.body.value(atPath: "spec.clusterIP") == nil)
        // A requested nodePort already in use is Invalid.
        let np = r.body.value(atPath: "spec.ports")!.arrayValue![0]["nodePort"]!
        let dup = sim.request("POST", svcPath, body: svc("dup", ["type": "NodePort", "ports": [["port": 80, "nodePort": np]]]))
        #expect(dup.status == 422 && dup.body["message"]?.stringValue?.contains("provided port is already allocated") == true)
    }

    @Test func loadBalancerClassRules() {
        let bad = sim.request("POST", svcPath, body: svc("c1", ["type": "ClusterIP", "loadBalancerClass": "ironlb.io/x", "ports": [["port": 80]]]))
        #expect(bad.status == 422)
        #expect(bad.body["message"] == "Service \"c1\" is invalid: spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'")
        _ = sim.request("POST", svcPath, body: svc("c2", ["type": "LoadBalancer", "loadBalancerClass": "ironlb.io/x", "ports": [["port": 80]]]))
        let change = sim.request("PATCH", svcPath + "/c2", body: ["spec": ["loadBalancerClass": "other.io/y"]], contentType: "application/merge-patch+json")
        #expect(change.status == 422)
        let toCIP = sim.request("PATCH", svcPath + "/c2", body: ["spec": ["type": "ClusterIP"]], contentType: "application/merge-patch+json")
        #expect(toCIP.status == 200 && toCIP.body.value(atPath: "spec.loadBalancerClass") == nil)
    }

    @Test func resourceVersionRulesAndNoOpUpdates() {
        let c = sim.request("POST", svcPath, body: ["metadata": ["name": "rv", "resourceVersion": "5"], "spec": ["ports": [["port": 80]]]])
        #expect(c.status == 500 && c.body["message"] == "resourceVersion should not be set on objects to be created")
        let ok = sim.request("POST", svcPath, body: svc("rv"))
        let rv = ok.body.value(atPath: "metadata.resourceVersion")!
        // Unconditional update (no RV) is allowed for Services; a no-op keeps the RV.
        var same = ok.body
        same.set(["metadata", "resourceVersion"], nil)
        let noop = sim.request("PUT", svcPath + "/rv", body: same)
        #expect(noop.status == 200 && noop.body.value(atPath: "metadata.resourceVersion") == rv)
        // Patch carrying a stale RV is a precondition failure.
        let stale = sim.request("PATCH", svcPath + "/rv", body: ["metadata": ["resourceVersion": "1", "labels": ["a": "b"]]], contentType: "application/merge-patch+json")
        #expect(stale.status == 409 && stale.body["reason"] == "Conflict")
        // Body namespace must match the URL.
        let ns = sim.request("POST", svcPath, body: ["metadata": ["name": "x", "namespace": "kube-system"], "spec": ["ports": [["port": 80]]]])
        #expect(ns.status == 400 && ns.body["message"] == "the namespace of the provided object does not match the namespace sent on the request")
        // PUT creates a missing Service.
        let put = sim.request("PUT", svcPath + "/putme", body: svc("putme"))
        #expect(put.status == 201)
        // ConfigMaps do not allow create-on-update.
        let cm = sim.request("PUT", "/api/v1/namespaces/default/configmaps/nope", body: ["metadata": ["name": "nope"]])
        #expect(cm.status == 404 && cm.body["message"] == "configmaps \"nope\" not found")
    }

    @Test func patchTypesAndDryRun() {
        _ = sim.request("POST", svcPath, body: svc("p"))
        let apply = sim.request("PATCH", svcPath + "/p", body: ["spec": [:] as JSONValue], contentType: "application/apply-patch+yaml")
        #expect(apply.status == 422)  // fieldManager missing
        let weird = sim.request("PATCH", svcPath + "/p", body: ["spec": [:] as JSONValue], contentType: "text/plain")
        #expect(weird.status == 415 && weird.body["reason"] == "UnsupportedMediaType")
        let dry = sim.request("PATCH", svcPath + "/p?dryRun=All", body: ["metadata": ["labels": ["dry": "1"]]], contentType: "application/merge-patch+json")
        #expect(dry.status == 200 && dry.body.value(atPath: "metadata.labels.dry") == "1")
        #expect(sim.request("GET", svcPath + "/p").body.value(atPath: "metadata.labels.dry") == nil)
        let smp = sim.request("PATCH", svcPath + "/p", body: ["spec": ["ports": [["port": 443, "name": "https"]]]], contentType: "application/strategic-merge-patch+json")
        #expect(smp.status == 422)  // two ports now need names: merged by key, not replaced
        let smp2 = sim.request("PATCH", svcPath + "/p", body: ["spec": ["ports": [["port": 80, "name": "http"], ["port": 443, "name": "https"]]]], contentType: "application/strategic-merge-patch+json")
        #expect(smp2.body.value(atPath: "spec.ports")?.arrayValue?.count == 2)
    }

    @Test func namespaceDeletionCascadesAndDeleteCollection() {
        _ = sim.request("POST", "/api/v1/namespaces", body: ["metadata": ["name": "tmp"]])
        _ = sim.request("POST", "/api/v1/namespaces/tmp/configmaps", body: ["metadata": ["name": "a", "labels": ["k": "v"]]])
        _ = sim.request("POST", "/api/v1/namespaces/tmp/configmaps", body: ["metadata": ["name": "b"]])
        let dc = sim.request("DELETE", "/api/v1/namespaces/tmp/configmaps?labelSelector=k%3Dv")
        #expect(dc.body["items"]?.arrayValue?.count == 1)
        // The first DELETE only marks the namespace Terminating (its content stays, new content is refused) ...
        let del = sim.request("DELETE", "/api/v1/namespaces/tmp")
        #expect(del.status == 200 && del.body.value(atPath: "status.phase") == "Terminating" && del.body.value(atPath: "metadata.deletionTimestamp") != nil)
        #expect(sim.request("DELETE", "/api/v1/namespaces/tmp").status == 200)
        #expect(sim.request("GET", "/api/v1/namespaces/tmp/configmaps/b").status == 200)
        let refused = sim.request("POST", "/api/v1/namespaces/tmp/configmaps", body: ["metadata": ["name": "c"]])
        #expect(refused.status == 403 && refused.body["reason"] == "Forbidden", "\(refused.body)")
        #expect(refused.body.value(atPath: "details.causes")?.arrayValue?.first?["reason"] == "NamespaceTerminating")
        // ... and the namespace controller removes the content, then the namespace.
        sim.finalizeTerminatingNamespaces()
        #expect(sim.request("GET", "/api/v1/namespaces/tmp/configmaps/b").status == 404)
        #expect(sim.request("GET", "/api/v1/namespaces/tmp").status == 404)
    }

    @Test func namespaceControllerRunsAfterTheConfiguredDelay() async throws {
        var config = KubeSimServer.Configuration()
        config.namespaceFinalizationDelay = .milliseconds(50)
        let sim = try KubeSimServer(configuration: config)
        _ = sim.request("POST", "/api/v1/namespaces", body: ["metadata": ["name": "gone"]])
        _ = sim.request("POST", "/api/v1/namespaces/gone/serviceaccounts", body: ["metadata": ["name": "sa"]])
        #expect(sim.request("DELETE", "/api/v1/namespaces/gone").status == 200)
        let removed = await poll(timeout: 60) { sim.request("GET", "/api/v1/namespaces/gone").status == 404 }
        #expect(removed)
        #expect(sim.request("GET", "/api/v1/namespaces/gone/serviceaccounts/sa").status == 404)
        try await sim.stop()
    }

    @Test func discoveryDocuments() {
        let core = sim.request("GET", "/api/v1").body
        let names = core["resources"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names.contains("services") && names.contains("services/status") && names.contains("nodes"))
        let svc = core["resources"]?.arrayValue?.first { $0["name"] == "services" }
        #expect(svc?["shortNames"] == ["svc"])
        let groups = sim.request("GET", "/apis").body["groups"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(Set(groups) == ["discovery.k8s.io", "coordination.k8s.io", "events.k8s.io", "apps", "rbac.authorization.k8s.io", "apiextensions.k8s.io"])
        #expect(sim.request("GET", "/apis/coordination.k8s.io/v1").body["groupVersion"] == "coordination.k8s.io/v1")
        #expect(sim.request("GET", "/version").body["major"] == "1")
        #expect(sim.request("GET", "/api/v1/foos").body["reason"] == "NotFound")
    }

    @Test func secretsStringDataAndEndpointSliceValidation() {
        let s = sim.request("POST", "/api/v1/namespaces/default/secrets", body: ["metadata": ["name": "s"], "stringData": ["k": "hello"]])
        #expect(s.body.value(atPath: "data.k") == "aGVsbG8=" && s.body["type"] == "Opaque" && s.body["stringData"] == nil)
        let es = sim.request("POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", body: ["metadata": ["name": "e"], "addressType": "IPv5"])
        #expect(es.status == 422)
        let node = sim.request("POST", "/api/v1/nodes", body: ["metadata": ["name": "node-a", "labels": ["node.kubernetes.io/exclude-from-external-load-balancers": ""]],
                                                               "status": ["addresses": [["type": "InternalIP", "address": "192.0.2.10"]]]])
        #expect(node.status == 201 && node.body["status"] == nil)  // create wipes status
        let st = sim.request("PUT", "/api/v1/nodes/node-a/status", body: ["metadata": ["name": "node-a"], "status": ["addresses": [["type": "InternalIP", "address": "192.0.2.10"]]]])
        #expect(st.body.value(atPath: "status.addresses") == [["type": "InternalIP", "address": "192.0.2.10"]])
    }

    @Test func faultEndpoint() {
        let (code, body) = sim.handleFault(method: "POST", path: "/kubesim/faults/error", body: Array(#"{"status":503,"count":1,"retryAfterSeconds":2}"#.utf8))
        #expect(code == 200 && body["action"] == "error")
        let rule = sim.faults.takeError(method: "GET", path: "/api/v1/services", isWatch: false)
        #expect(rule?.status == 503 && rule?.retryAfterSeconds == 2)
        #expect(sim.faults.takeError(method: "GET", path: "/api/v1/services", isWatch: false) == nil)
    }
}
