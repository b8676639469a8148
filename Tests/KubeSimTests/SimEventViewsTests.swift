import Foundation
import KubeModel
import NIOConcurrencyHelpers
import Testing
@testable import KubeSim

/// One Event resource under events.k8s.io/v1 and core/v1 (docs/design/kubesim-events.md), and
/// the bounded watch history.
@Suite struct SimEventViewsTests {
    static let eventsPath = "/apis/events.k8s.io/v1/namespaces/default/events"
    static let corePath = "/api/v1/namespaces/default/events"

    static let eventsV1: JSONValue = [
        "metadata": ["name": "web.1", "namespace": "default"],
        "eventTime": "2026-12-06T09:00:00.123456Z", "reportingController": "ironlb.io/controller", "reportingInstance": "controller-0",
        "action": "Allocate", "reason": "IPAllocated", "type": "Normal", "note": "assigned IP 198.51.100.5 from pool lab",
        "regarding": ["kind": "Service", "namespace": "default", "name": "web", "uid": "u-1", "apiVersion": "v1"],
        "series": ["count": 2, "lastObservedTime": "2026-12-06T09:01:00.000000Z"],
        "deprecatedSource": ["component": "old-recorder"], "deprecatedCount": 7,
        "deprecatedFirstTimestamp": "2026-12-06T08:00:00Z", "deprecatedLastTimestamp": "2026-12-06T08:30:00Z",
    ]

    @Test func anEventsV1EventIsACoreEvent() throws {
        let sim = try KubeSimServer()
        let created = sim.request("POST", Self.eventsPath, body: Self.eventsV1)
        #expect(created.status == 201, "\(created.body)")
        #expect(created.body["apiVersion"] == "events.k8s.io/v1" && created.body["note"] == Self.eventsV1["note"])
        let core = sim.request("GET", Self.corePath + "/web.1").body
        #expect(core["apiVersion"] == "v1" && core["kind"] == "Event")
        #expect(core["involvedObject"] == Self.eventsV1["regarding"])
        #expect(core["message"] == Self.eventsV1["note"] && core["reportingComponent"] == "ironlb.io/controller")
        #expect(core["source"] == ["component": "old-recorder"] && core["count"] == 7)
        #expect(core["firstTimestamp"] == "2026-12-06T08:00:00Z" && core["lastTimestamp"] == "2026-12-06T08:30:00Z")
        for same in ["eventTime", "series", "reportingInstance", "action", "reason", "type"] { #expect(core[same] == Self.eventsV1[same], "\(same)") }
        for renamed in ["regarding", "note", "reportingController", "deprecatedSource", "deprecatedCount"] { #expect(core[renamed] == nil, "\(renamed)") }
        #expect(core.value(atPath: "metadata.resourceVersion") == created.body.value(atPath: "metadata.resourceVersion"))
        #expect(core.value(atPath: "metadata.uid") == created.body.value(atPath: "metadata.uid"))

        // Lists and field selectors of each group see the object in that group's form.
        let coreList = sim.request("GET", Self.corePath + "?fieldSelector=involvedObject.name%3Dweb,reason%3DIPAllocated").body
        #expect(coreList["items"]?.arrayValue?.map { $0["message"] } == [Self.eventsV1["note"]])
        #expect(sim.request("GET", Self.corePath + "?fieldSelector=involvedObject.name%3Dother").body["items"] == [])
        let eventsList = sim.request("GET", Self.eventsPath + "?fieldSelector=regarding.name%3Dweb").body
        #expect(eventsList["items"]?.arrayValue?.map { $0["note"] } == [Self.eventsV1["note"]])
    }

    /// A write through either group is seen by the other: same object, one resourceVersion.
    @Test func writesThroughEitherGroupChangeTheSameObject() throws {
        let sim = try KubeSimServer()
        #expect(sim.request("POST", Self.eventsPath, body: Self.eventsV1).status == 201)
        let patched = sim.request("PATCH", Self.corePath + "/web.1", body: ["message": "assigned again"], contentType: "application/merge-patch+json")
        #expect(patched.status == 200 && patched.body["message"] == "assigned again", "\(patched.body)")
        let viaEvents = sim.request("GET", Self.eventsPath + "/web.1").body
        #expect(viaEvents["note"] == "assigned again" && viaEvents["message"] == nil)
        #expect(viaEvents.value(atPath: "metadata.resourceVersion") == patched.body.value(atPath: "metadata.resourceVersion"))
        // events.k8s.io's merge patch on series (EventRecorder's repeat path) shows in core's series.
        let series = sim.request("PATCH", Self.eventsPath + "/web.1", body: ["series": ["count": 3, "lastObservedTime": "2026-12-06T09:02:00.000000Z"]],
                                 contentType: "application/merge-patch+json")
        #expect(series.status == 200, "\(series.body)")
        #expect(sim.request("GET", Self.corePath + "/web.1").body.value(atPath: "series.count") == 3)
        // Created under core, read under events.k8s.io.
        let coreEvent: JSONValue = ["metadata": ["name": "legacy.1"], "involvedObject": ["kind": "Node", "name": "n1"], "reason": "Ready",
                                    "message": "node is ready", "type": "Normal", "source": ["component": "kubelet"], "count": 1]
        #expect(sim.request("POST", Self.corePath, body: coreEvent).status == 201)
        let asV1 = sim.request("GET", Self.eventsPath + "/legacy.1").body
        #expect(asV1["regarding"] == ["kind": "Node", "name": "n1"] && asV1["note"] == "node is ready" && asV1["deprecatedSource"] == ["component": "kubelet"])
        // Deleted under one group: gone from both.
        #expect(sim.request("DELETE", Self.eventsPath + "/web.1").status == 200)
        #expect(sim.request("GET", Self.corePath + "/web.1").status == 404)
        #expect(sim.request("GET", Self.eventsPath + "/web.1").status == 404)
    }

    /// Watches of each group get the other group's writes, converted.
    @Test func watchesOfEachGroupSeeWritesOfTheOther() throws {
        let sim = try KubeSimServer()
        let received = NIOLockedValueBox<[JSONValue]>([])
        let from = Int64(sim.currentResourceVersion)
        let start = sim.store.lock.withLock {
            sim.store.addWatcher(WatchFilter(resource: .coreEvents, namespace: "default", bookmarks: false), fromRV: from) { output in
                if case .events(let events) = output { received.withLockedValue { $0 += events } }
            }
        }
        guard case .started = start else {
            Issue.record("the watch did not start")
            return
        }
        #expect(sim.request("POST", Self.eventsPath, body: Self.eventsV1).status == 201)
        let events = received.withLockedValue { $0 }
        #expect(events.count == 1)
        #expect(events.first?["type"] == "ADDED" && events.first?.value(atPath: "object.message") == Self.eventsV1["note"])
        #expect(events.first?.value(atPath: "object.apiVersion") == "v1")
    }

    /// `kubectl get events` columns: the API server's, from the core form.
    @Test func coreEventTableColumns() throws {
        let sim = try KubeSimServer()
        #expect(sim.request("POST", Self.eventsPath, body: Self.eventsV1).status == 201)
        let request = SimRequest(method: "GET", uri: Self.corePath, headers: ["accept": "application/json;as=Table;v=v1;g=meta.k8s.io"], body: [], user: "kubesim-admin")
        guard case .json(200, let table, _) = sim.api.handle(request) else {
            Issue.record("no table")
            return
        }
        #expect(table["columnDefinitions"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["Last Seen", "Type", "Reason", "Object", "Message", "Source", "Count", "Name"])
        let cells = table["rows"]?.arrayValue?.first?["cells"]?.arrayValue ?? []
        #expect(Array(cells.dropFirst()) == ["Normal", "IPAllocated", "service/web", "assigned IP 198.51.100.5 from pool lab", "old-recorder", "2", "web.1"])
    }
}

/// The watch history is bounded like kube-apiserver's watch cache: old resourceVersions get 410.
@Suite struct SimHistoryBoundTests {
    @Test func historyKeepsTheCapacityAndExpiresOlderResourceVersions() throws {
        var configuration = KubeSimServer.Configuration()
        configuration.historyCapacity = 100
        let sim = try KubeSimServer(configuration: configuration)
        let first = Int64(sim.currentResourceVersion)!
        #expect(sim.request("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", body: ["metadata": ["name": "renewed"], "spec": ["holderIdentity": "a"]]).status == 201)
        for renewal in 0..<1_000 {
            let update = sim.request("PATCH", "/apis/coordination.k8s.io/v1/namespaces/default/leases/renewed",
                                     body: ["spec": ["renewTime": .string(MicroTime(KubeTime(seconds: 1_800_000_000 + Int64(renewal))).description)]],
                                     contentType: "application/merge-patch+json")
            #expect(update.status == 200)
            let held = sim.store.lock.withLock { sim.store.historyFootprint }
            #expect(held <= 125, "after \(renewal + 1) renewals the history holds \(held) entries")
        }
        let latest = Int64(sim.currentResourceVersion)!
        #expect(latest - first == 1_001)
        let filter = WatchFilter(resource: .leases, namespace: "default", bookmarks: false)
        let old = sim.store.lock.withLock { sim.store.addWatcher(filter, fromRV: first) { _ in } }
        guard case .expired(let status) = old else {
            Issue.record("a watch from the first resourceVersion was not expired")
            return
        }
        #expect(status.code == 410)
        // The last 100 changes are still there: a watch from 100 changes ago replays 100 events.
        let replayed = NIOLockedValueBox(0)
        let recent = sim.store.lock.withLock {
            sim.store.addWatcher(filter, fromRV: latest - 100) { output in
                if case .events(let events) = output { replayed.withLockedValue { $0 += events.count } }
            }
        }
        guard case .started = recent else {
            Issue.record("a watch from 100 changes ago expired")
            return
        }
        #expect(replayed.withLockedValue { $0 } == 100)
    }

    /// Above 100 retained changes, changes older than 75 s go (kube-apiserver's watch cache
    /// freshness), so an idle server's lease renewals hold a constant amount of memory.
    @Test func changesOlderThanTheFreshnessGoAboveTheLowerBound() throws {
        let sim = try KubeSimServer()
        let clock = NIOLockedValueBox(Date(timeIntervalSince1970: 1_800_000_000))
        sim.store.lock.withLock { sim.store.now = { clock.withLockedValue { $0 } } }
        #expect(sim.request("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", body: ["metadata": ["name": "renewed"], "spec": ["holderIdentity": "a"]]).status == 201)
        func renew(_ count: Int, every seconds: TimeInterval) {
            for _ in 0..<count {
                clock.withLockedValue { $0 = $0.addingTimeInterval(seconds) }
                let now = clock.withLockedValue { $0 }
                let update = sim.request("PATCH", "/apis/coordination.k8s.io/v1/namespaces/default/leases/renewed",
                                         body: ["spec": ["renewTime": .string(MicroTime(KubeTime(epochNanoseconds: Int64(now.timeIntervalSince1970 * 1e9))).description)]],
                                         contentType: "application/merge-patch+json")
                #expect(update.status == 200)
            }
        }
        // 300 renewals within 30 s: all fresh, all kept (capacity 1024).
        renew(300, every: 0.1)
        #expect(sim.store.lock.withLock { sim.store.historyFootprint } >= 300)
        // Three hours of renewals every 5 s: the history stays at its lower bound.
        for _ in 0..<9 {
            renew(240, every: 5)
            let held = sim.store.lock.withLock { sim.store.historyFootprint }
            #expect(held <= 200, "the history holds \(held) entries")
        }
        let latest = Int64(sim.currentResourceVersion)!
        let filter = WatchFilter(resource: .leases, namespace: "default", bookmarks: false)
        let kept = sim.store.lock.withLock { sim.store.addWatcher(filter, fromRV: latest - 100) { _ in } }
        guard case .started(let id) = kept else {
            Issue.record("a watch from 100 changes ago expired")
            return
        }
        sim.store.lock.withLock { sim.store.removeWatcher(id) }
        guard case .expired = sim.store.lock.withLock({ sim.store.addWatcher(filter, fromRV: latest - 120) { _ in } }) else {
            Issue.record("a watch from 120 changes (10 minutes) ago did not expire")
            return
        }
    }
}
