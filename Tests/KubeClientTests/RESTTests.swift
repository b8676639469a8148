import Foundation
import KubeModel
import KubeSim
import Testing
@testable import KubeClient

@Suite struct RESTTests {
    @Test func createAppliesServerDefaultsAndStatusRules() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        var s = service("web")
        s.status = ServiceStatus(loadBalancer: LoadBalancerStatus(ingress: [LoadBalancerIngress(ip: "203.0.113.99")]))
        let created = try await f.client.create(s)
        #expect(created.spec?.clusterIP?.hasPrefix("10.96.") == true)
        #expect(created.spec?.ipFamilies == ["IPv4"])
        #expect(created.spec?.ipFamilyPolicy == "SingleStack")
        #expect(created.spec?.ports?[0].nodePort.map { (30000...32767).contains($0) } == true)
        #expect(created.spec?.allocateLoadBalancerNodePorts == true)
        #expect(created.spec?.externalTrafficPolicy == "Cluster")
        #expect(created.status?.loadBalancer?.ingress == nil)  // create wipes status
        #expect(created.metadata.uid != nil && created.metadata.creationTimestamp != nil)

        // Status through the main resource is ignored; /status sets it and defaults ipMode.
        var upd = created
        upd.status = ServiceStatus(loadBalancer: LoadBalancerStatus(ingress: [LoadBalancerIngress(ip: "203.0.113.5")]))
        let afterPut = try await f.client.update(upd)
        #expect(afterPut.status?.loadBalancer?.ingress == nil)
        let st = try await f.client.patchServiceStatus(namespace: "default", name: "web",
                                                        status: ServiceStatus(loadBalancer: LoadBalancerStatus(ingress: [LoadBalancerIngress(ip: "203.0.113.5")])))
        #expect(st.status?.loadBalancer?.ingress?.first?.ipMode == "VIP")
        #expect(st.spec == afterPut.spec)
        // /status ignores spec changes but keeps finalizers (cloud-provider pattern).
        let p: JSONValue = ["spec": ["type": "ClusterIP"], "metadata": ["finalizers": ["service.kubernetes.io/load-balancer-cleanup"]]]
        let st2 = try await f.client.patch(V1Service.self, namespace: "default", name: "web", patch: p, type: .strategic, subresource: "status")
        #expect(st2.spec?.type == "LoadBalancer")
        #expect(st2.metadata.finalizers == ["service.kubernetes.io/load-balancer-cleanup"])
        // Type change away from LoadBalancer clears status.loadBalancer.
        let ct = try await f.client.patch(V1Service.self, namespace: "default", name: "web", patch: ["spec": ["type": "ClusterIP"]])
        #expect(ct.status?.loadBalancer?.ingress == nil)
        #expect(ct.spec?.ports?[0].nodePort == nil)
    }

    @Test func errorsCarryExactReasonsAndMessages() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        _ = try await f.client.create(service("a"))
        do { _ = try await f.client.create(service("a")); Issue.record("expected AlreadyExists") } catch let e as KubeAPIError {
            #expect(e.isAlreadyExists && e.status?.message == #"services "a" already exists"#)
        }
        do { _ = try await f.client.get(V1Lease.self, namespace: "default", name: "x"); Issue.record("expected NotFound") } catch let e as KubeAPIError {
            #expect(e.isNotFound && e.status?.message == #"leases.coordination.k8s.io "x" not found"#)
            #expect(e.status?.details?.kind == "leases" && e.status?.details?.group == "coordination.k8s.io")
        }
        var stale = try await f.client.get(V1Service.self, name: "a")
        _ = try await f.client.patch(V1Service.self, name: "a", patch: ["metadata": ["labels": ["v": "2"]]])
        stale.metadata.labels = ["v": "stale"]
        do { _ = try await f.client.update(stale); Issue.record("expected Conflict") } catch let e as KubeAPIError {
            #expect(e.isConflict)
            #expect(e.status?.message == #"Operation cannot be fulfilled on services "a": the object has been modified; please apply your changes to the latest version and try again"#)
        }
        // retryOnConflict re-reads and wins.
        let won = try await f.client.retryOnConflict(V1Service.self, name: "a") { $0.metadata.labels?["v"] = "3" }
        #expect(won.metadata.labels?["v"] == "3")
        // JSON patch with a stale test precondition is refused.
        do {
            _ = try await f.client.jsonPatch(V1Service.self, name: "a", expectedResourceVersion: "1",
                                             operations: [["op": "add", "path": "/metadata/finalizers", "value": ["x/y"]]])
            Issue.record("expected 422")
        } catch let e as KubeAPIError { #expect(e.code == 422) }
        let fresh = try await f.client.get(V1Service.self, name: "a")
        let fin = try await f.client.jsonPatch(V1Service.self, name: "a", expectedResourceVersion: fresh.metadata.resourceVersion!,
                                               operations: [["op": "add", "path": "/metadata/finalizers", "value": ["x/y"]]])
        #expect(fin.metadata.finalizers == ["x/y"])
        // Lease update without resourceVersion is 422.
        _ = try await f.client.create(V1Lease(metadata: ObjectMeta(name: "l", namespace: "default"), spec: LeaseSpec(holderIdentity: "a", leaseDurationSeconds: 15)))
        var lease = try await f.client.get(V1Lease.self, name: "l")
        lease.metadata.resourceVersion = nil
        do { _ = try await f.client.update(lease); Issue.record("expected 422") } catch let e as KubeAPIError {
            #expect(e.code == 422 && e.reason == "Invalid")
            #expect(e.status?.message == #"Lease.coordination.k8s.io "l" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"#)
        }
        // Invalid service.
        var bad = service("b")
        bad.spec?.ports = [ServicePort(port: 0)]
        do { _ = try await f.client.create(bad); Issue.record("expected Invalid") } catch let e as KubeAPIError {
            #expect(e.status?.message == #"Service "b" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"#)
            #expect(e.status?.details?.causes?.first?.field == "spec.ports[0].port")
        }
        // Namespace must exist.
        var c = service("c")
        c.metadata.namespace = nil
        do { _ = try await f.client.create(c, namespace: "nope"); Issue.record("expected NotFound") } catch let e as KubeAPIError {
            #expect(e.status?.message == #"namespaces "nope" not found"#)
        }
    }

    @Test func deleteWithFinalizerWaitsForRemoval() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        var s = service("fin")
        s.metadata.finalizers = ["service.kubernetes.io/load-balancer-cleanup"]
        _ = try await f.client.create(s)
        try await f.client.delete(V1Service.self, name: "fin")
        let marked = try await f.client.get(V1Service.self, name: "fin")
        #expect(marked.metadata.deletionTimestamp != nil)
        _ = try await f.client.patch(V1Service.self, name: "fin", patch: ["metadata": ["finalizers": .null]])
        do { _ = try await f.client.get(V1Service.self, name: "fin"); Issue.record("still there") } catch let e as KubeAPIError { #expect(e.isNotFound) }
    }

    @Test func retryAfterAndTooManyRequests() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        f.sim.injectError(status: 429, count: 2, method: "GET", retryAfterSeconds: 1)
        f.sim.recordRequests(true)
        let list = try await f.client.list(V1Service.self, namespace: "default")
        #expect(list.items.count == 1)
        #expect(f.sim.requests.count == 3)
        f.sim.injectError(status: 500, count: 1, method: "GET")
        do { _ = try await f.client.list(V1Service.self, namespace: "default"); Issue.record("expected 500") } catch let e as KubeAPIError {
            #expect(e.code == 500 && e.reason == "InternalError")
        }
    }

    @Test func pagedListAndSelectors() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        for i in 0..<25 { _ = try await f.client.create(service("s\(i)", type: i % 2 == 0 ? "LoadBalancer" : "ClusterIP", labels: ["i": "\(i % 3)"])) }
        let all = try await f.client.listAll(V1Service.self, namespace: "default", pageSize: 7)
        #expect(all.items.count == 26)
        #expect(Set(all.items.map(\.key)).count == 26)
        let lb = try await f.client.list(V1Service.self, namespace: nil, fieldSelector: "spec.type=LoadBalancer")
        #expect(lb.items.count == 13)
        let sel = try await f.client.list(V1Service.self, namespace: "default", labelSelector: "i in (0,1),i!=1")
        #expect(sel.items.count == 9)
        do { _ = try await f.client.list(V1Service.self, namespace: "default", fieldSelector: "spec.loadBalancerClass=x"); Issue.record("expected 400") } catch let e as KubeAPIError {
            #expect(e.code == 400 && e.status?.message == "field label not supported: spec.loadBalancerClass")
        }
    }

    @Test func eventsAggregateIntoSeries() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        let svc = try await f.client.create(service("ev"))
        let rec = EventRecorder(client: f.client, reportingController: "ironlb.io/controller", reportingInstance: "ironlb-controller-0")
        let ref = ObjectReference(kind: "Service", namespace: "default", name: "ev", uid: svc.metadata.uid, apiVersion: "v1")
        let e1 = try await rec.record(regarding: ref, type: "Normal", reason: "IPAllocated", action: "Allocate", note: "Assigned IP 203.0.113.1")
        let e2 = try await rec.record(regarding: ref, type: "Normal", reason: "IPAllocated", action: "Allocate", note: "Assigned IP 203.0.113.1")
        let e3 = try await rec.record(regarding: ref, type: "Normal", reason: "IPAllocated", action: "Allocate", note: "Assigned IP 203.0.113.1")
        #expect(e1.metadata.name == e2.metadata.name && e2.metadata.name == e3.metadata.name)
        #expect(e3.series?.count == 3)
        _ = try await rec.record(regarding: ref, type: "Warning", reason: "AllocationFailed", action: "Allocate", note: "pool exhausted")
        let list = try await f.client.list(EventsV1Event.self, namespace: "default")
        #expect(list.items.count == 2)
        // events.k8s.io validation: missing reportingController is Invalid.
        var bad = EventsV1Event(metadata: ObjectMeta(name: "bad", namespace: "default"), eventTime: MicroTime(KubeTime(seconds: 1)))
        bad.type = "Normal"
        do { _ = try await f.client.create(bad); Issue.record("expected Invalid") } catch let e as KubeAPIError { #expect(e.code == 422) }
    }

    @Test func preservedUpdateKeepsUnknownFields() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        f.sim.request("POST", "/api/v1/namespaces/default/configmaps", body: ["metadata": ["name": "cm"], "data": ["a": "1"], "futureField": ["k": "v"]])
        var cm = try await f.client.getPreserved(V1ConfigMap.self, name: "cm")
        cm.value.data?["b"] = "2"
        _ = try await f.client.update(cm)
        let raw = f.sim.request("GET", "/api/v1/namespaces/default/configmaps/cm").body
        #expect(raw["futureField"] == ["k": "v"])
        #expect(raw.value(atPath: "data.b") == "2")
    }
}

@Suite struct HTTP2Tests {
    /// client-go and AsyncHTTPClient negotiate HTTP/2 with real API servers: the same REST and
    /// watch code must work over DATA frames.
    @Test func restAndWatchOverHTTP2() async throws {
        let f = try await SimFixture.start { $0.http2 = true }
        defer { Task { await f.stop() } }
        _ = try await f.client.create(service("h2"))
        let inf = Informer<V1Service>(client: f.client, namespace: "default")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await inf.run() }
            #expect(await inf.waitForSync())
            f.sim.splitWatchWrites([3, 1000])
            for i in 0..<50 { _ = try await f.client.patch(V1Service.self, name: "h2", patch: ["metadata": ["labels": ["i": .string("\(i)")]]]) }
            #expect(await waitUntil { inf.get("default/h2")?.metadata.labels?["i"] == "49" })
            f.sim.closeWatches()
            _ = try await f.client.delete(V1Service.self, name: "h2")
            #expect(await waitUntil { inf.get("default/h2") == nil })
            group.cancelAll()
        }
        #expect(f.sim.http2RequestCount > 50)
    }
}
