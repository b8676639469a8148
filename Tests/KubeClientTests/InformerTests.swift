import TestSupport
import Foundation
import KubeModel
import KubeSim
import NIOConcurrencyHelpers
import Testing
@testable import KubeClient

/// Collects informer events per object key as (type, resourceVersion).
final class EventLog: Sendable {
    let box = NIOLockedValueBox<[String: [String]]>([:])
    let syncs = NIOLockedValueBox(0)
    func record(_ e: InformerEvent<V1Service>) {
        switch e {
        case .added(let o): box.withLockedValue { $0[o.key, default: []].append("A\(o.metadata.resourceVersion ?? "")") }
        case .updated(_, let o): box.withLockedValue { $0[o.key, default: []].append("M\(o.metadata.resourceVersion ?? "")") }
        case .deleted(let o): box.withLockedValue { $0[o.key, default: []].append("D\(o.metadata.resourceVersion ?? "")") }
        case .synced: syncs.withLockedValue { $0 += 1 }
        }
    }
    var perKey: [String: [String]] { box.withLockedValue { $0 } }
}

@Suite(.serialized) struct InformerTests {
    /// Random creates/updates/deletes; returns the expected per-key event log.
    func mutate(_ f: SimFixture, count: Int, seed: UInt64, between: (Int) async -> Void) async throws -> [String: [String]] {
        var rng = SeededRandom(seed: seed)
        var live: [String: Int] = [:]
        var expected: [String: [String]] = [:]
        for i in 0..<count {
            let name = "svc-\(Int.random(in: 0..<60, using: &rng))"
            let key = "default/\(name)"
            if live[name] == nil {
                let s = try await f.client.create(service(name, type: Bool.random(using: &rng) ? "LoadBalancer" : "ClusterIP"))
                live[name] = 0
                expected[key, default: []].append("A\(s.metadata.resourceVersion!)")
            } else if Int.random(in: 0..<4, using: &rng) == 0 {
                try await f.client.delete(V1Service.self, name: name)
                live[name] = nil
                // The DELETED event's RV is the deletion's RV: the next global RV after the last write.
                expected[key, default: []].append("D\(f.sim.currentResourceVersion)")
            } else {
                live[name]! += 1
                let s = try await f.client.patch(V1Service.self, name: name, patch: ["metadata": ["labels": ["gen": .string("\(live[name]!)")]]])
                expected[key, default: []].append("M\(s.metadata.resourceVersion!)")
            }
            await between(i)
        }
        return expected
    }

    @Test func seesEveryChangeExactlyOnceAcrossWatchClosesAndSplitWrites() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        let inf = Informer<V1Service>(client: f.client, namespace: "default", fieldSelector: "metadata.name!=kubernetes")
        let log = EventLog()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await inf.run() }
            group.addTask { for await e in inf.events { log.record(e) } }
            #expect(await inf.waitForSync())
            var rng = SeededRandom(seed: 7)
            f.sim.splitWatchWrites([1, 7, 3, 150, 2, 4096])
            let expected = try await mutate(f, count: 1500, seed: 42) { i in
                if Int.random(in: 0..<50, using: &rng) == 0 { f.sim.closeWatches() }
                if i == 700 { f.sim.splitWatchWrites([]) }
            }
            let ok = await waitUntil(.seconds(60)) { log.perKey == expected }
            #expect(ok)
            if !ok {
                let got = log.perKey
                for (k, v) in expected where got[k] != v { Issue.record("\(k): expected \(v) got \(got[k] ?? [])"); break }
            }
            #expect(inf.stats.lists == 1)
            #expect(inf.stats.watches > 5)
            group.cancelAll()
        }
    }

    /// `run(delivering:)`: the same changes, each handed over on the informer's own task, in
    /// order, across watch closes; nothing goes to `events`.
    @Test func deliveringHandsEveryChangeOverOnItsOwnTask() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        let inf = Informer<V1Service>(client: f.client, namespace: "default", fieldSelector: "metadata.name!=kubernetes")
        let log = EventLog()
        let streamed = NIOLockedValueBox(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await inf.run(delivering: log.record) }
            group.addTask { for await _ in inf.events { streamed.withLockedValue { $0 += 1 } } }
            #expect(await waitUntil(.seconds(60)) { log.syncs.withLockedValue { $0 } == 1 })
            var rng = SeededRandom(seed: 11)
            let expected = try await mutate(f, count: 600, seed: 5) { _ in
                if Int.random(in: 0..<40, using: &rng) == 0 { f.sim.closeWatches() }
            }
            let ok = await waitUntil(.seconds(60)) { log.perKey == expected }
            #expect(ok)
            #expect(inf.stats.watches > 2)
            group.cancelAll()
        }
        #expect(streamed.withLockedValue { $0 } == 0)
    }

    /// `keeping`: the cache holds the kept form (here: without its spec); events carry objects as
    /// they came, except the old object of an update and a delete a relist found, which come
    /// from the cache.
    @Test func keepingHoldsTheKeptFormAndEventsTheObjectsAsTheyCame() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        _ = try await f.client.create(service("a"))
        // What each call of `keeping` was given to replace: nothing, or the cached (kept) form.
        let replaced = NIOLockedValueBox<[String]>([])
        let inf = Informer<V1Service>(client: f.client, namespace: "default", fieldSelector: "metadata.name!=kubernetes",
                                      keeping: { object, replacing in
                                          replaced.withLockedValue { $0.append(replacing.map { "\($0.key) spec=\($0.spec != nil)" } ?? "none") }
                                          var kept = object
                                          kept.spec = nil
                                          return kept
                                      })
        // Per object, each event as (kind, whether its object had a spec; for updates, the old one's too).
        let log = NIOLockedValueBox<[String: [String]]>([:])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await inf.run { event in
                    switch event {
                    case .added(let o): log.withLockedValue { $0[o.key, default: []].append("A spec=\(o.spec != nil)") }
                    case .updated(let old, let o): log.withLockedValue { $0[o.key, default: []].append("M spec=\(o.spec != nil) old=\(old.spec != nil)") }
                    case .deleted(let o): log.withLockedValue { $0[o.key, default: []].append("D spec=\(o.spec != nil)") }
                    case .synced: break
                    }
                }
            }
            // `a` comes from the list, `b` from the watch: both are cached in the kept form.
            #expect(await waitUntil(.seconds(60)) { log.withLockedValue { $0.count } == 1 })
            _ = try await f.client.create(service("b"))
            #expect(await waitUntil(.seconds(60)) { log.withLockedValue { $0.count } == 2 })
            #expect(inf.get("default/a")?.spec == nil && inf.get("default/a")?.metadata.resourceVersion != nil)
            #expect(inf.get("default/b")?.spec == nil && inf.get("default/b")?.metadata.resourceVersion != nil)
            _ = try await f.client.patch(V1Service.self, name: "a", patch: ["metadata": ["labels": ["gen": "1"]]])
            _ = try await f.client.patch(V1Service.self, name: "b", patch: ["metadata": ["labels": ["gen": "1"]]])
            // A delete the watch carries: the object as the server sent it.
            try await f.client.delete(V1Service.self, name: "a")
            #expect(await waitUntil(.seconds(60)) { log.withLockedValue { $0["default/a"]?.count } == 3 })
            // A delete only a relist finds: the watch fails three times (backing off between), so
            // none is open when `b` goes, and the history it would resume from is gone (410).
            f.sim.injectError(status: 500, count: 3, watch: true)
            f.sim.closeWatches()
            try await f.client.delete(V1Service.self, name: "b")
            f.sim.compactHistory(keep: 0)
            #expect(await waitUntil(.seconds(60)) { log.withLockedValue { $0["default/b"]?.count } == 3 })
            #expect(log.withLockedValue { $0 } == [
                "default/a": ["A spec=true", "M spec=true old=false", "D spec=true"],
                "default/b": ["A spec=true", "M spec=true old=false", "D spec=false"],
            ])
            #expect(inf.stats.lists == 2)
            // The list and the watch's add replaced nothing, the patches the kept forms.
            #expect(replaced.withLockedValue { $0 } == ["none", "none", "default/a spec=false", "default/b spec=false"])
            group.cancelAll()
        }
    }

    @Test func relistsOn410WithoutDuplicatesAndEmitsDeletes() async throws {
        let f = try await SimFixture.start { $0.historyCapacity = 200 }
        defer { Task { await f.stop() } }
        let inf = Informer<V1Service>(client: f.client, namespace: "default", fieldSelector: "metadata.name!=kubernetes")
        let log = EventLog()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await inf.run() }
            group.addTask { for await e in inf.events { log.record(e) } }
            #expect(await inf.waitForSync())
            var rng = SeededRandom(seed: 99)
            _ = try await mutate(f, count: 2500, seed: 1234) { _ in
                switch Int.random(in: 0..<120, using: &rng) {
                case 0: f.sim.expireWatches()         // in-stream ERROR 410
                case 1: f.sim.compactHistory(keep: 0); f.sim.closeWatches()  // re-watch gets 410
                case 2: f.sim.injectError(status: 410, count: 1, watch: true)  // plain HTTP 410
                case 3: f.sim.closeWatches()
                default: break
                }
            }
            // Converges to the server's state.
            let server = try await f.client.list(V1Service.self, namespace: "default", fieldSelector: "metadata.name!=kubernetes")
            let want = Dictionary(uniqueKeysWithValues: server.items.map { ($0.key, $0.metadata.resourceVersion!) })
            let ok = await waitUntil(.seconds(60)) { inf.snapshot.mapValues { $0.metadata.resourceVersion! } == want }
            #expect(ok)
            #expect(inf.stats.expired > 3)
            #expect(inf.stats.lists > 3)
            // Per object: versions strictly increase, never repeat; adds and deletes alternate.
            for (key, evs) in log.perKey {
                // A delete found by a relist carries the last known state (client-go's
                // DeletedFinalStateUnknown), so it may repeat the previous version.
                for (a, b) in zip(evs, evs.dropFirst()) {
                    let ra = Int(a.dropFirst())!, rb = Int(b.dropFirst())!
                    #expect(ra < rb || (b.first == "D" && ra == rb), "\(key): \(evs)")
                }
                var present = false
                for e in evs {
                    switch e.first! {
                    case "A": #expect(!present, "\(key): \(evs)"); present = true
                    case "M": #expect(present, "\(key): \(evs)")
                    default: #expect(present, "\(key): \(evs)"); present = false
                    }
                }
                #expect(present == (want[key] != nil), "\(key)")
            }
            group.cancelAll()
        }
    }

    @Test func labelSelectorTransitionsAndBookmarks() async throws {
        let f = try await SimFixture.start { $0.bookmarkInterval = .milliseconds(200) }
        defer { Task { await f.stop() } }
        let inf = Informer<V1Service>(client: f.client, namespace: "default", labelSelector: "ironlb.io/managed=true")
        let log = EventLog()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await inf.run() }
            group.addTask { for await e in inf.events { log.record(e) } }
            #expect(await inf.waitForSync())
            _ = try await f.client.create(service("x"))
            _ = try await f.client.patch(V1Service.self, name: "x", patch: ["metadata": ["labels": ["ironlb.io/managed": "true"]]])
            _ = try await f.client.patch(V1Service.self, name: "x", patch: ["metadata": ["labels": ["ironlb.io/managed": "false"]]])
            #expect(await waitUntil { log.perKey["default/x"]?.map { String($0.first!) } == ["A", "D"] })
            #expect(await waitUntil { inf.stats.bookmarks >= 2 })
            #expect(inf.lastResourceVersion == f.sim.currentResourceVersion)
            group.cancelAll()
        }
    }

    @Test func watchOptionsThatRealServersReject() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        let r = try await f.client.send(.GET, "/api/v1/namespaces/default/services", query: [("watch", "1"), ("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan"), ("allowWatchBookmarks", "true")])
        #expect(r.status == 422)
        let old = try await f.client.send(.GET, "/api/v1/namespaces/default/services", query: [("watch", "1"), ("resourceVersion", "999999")])
        #expect(old.status == 504)
        f.sim.compactHistory(keep: 0)
        for i in 0..<3 { _ = try await f.client.create(service("h\(i)")) }
        f.sim.compactHistory(keep: 1)
        // Too old: 200, then an ERROR event with a 410 Status, then the end.
        let events = NIOLockedValueBox<[WatchEvent<V1Service>]>([])
        try await f.client.watch(V1Service.self, namespace: "default", resourceVersion: "2", timeoutSeconds: 5) { event in
            events.withLockedValue { $0.append(event) }
        }
        guard case .error(let s)? = events.withLockedValue({ $0 }).first else { Issue.record("expected ERROR"); return }
        #expect(s.code == 410 && s.reason == "Expired" && s.message?.hasPrefix("too old resource version: 2") == true)
    }
}

/// `KubeClient.watch` reads the answer on its event loop (WatchDelegate): a refused watch throws
/// the server's Status, and what the handler throws ends the watch with that error.
@Suite struct WatchEndingTests {
    struct Enough: Error {}

    @Test func aRefusedWatchThrowsTheServersStatusAndAHandlersErrorEndsIt() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        do {
            try await f.client.watch(V1Service.self, namespace: "default", resourceVersion: "999999", timeoutSeconds: 5) { _ in }
            Issue.record("a watch from a future version was accepted")
        } catch let error as KubeAPIError {
            #expect(error.code == 504)
            #expect(error.status?.kind == "Status")
        }
        for i in 0..<3 { _ = try await f.client.create(service("w\(i)")) }
        let seen = NIOLockedValueBox(0)
        await #expect(throws: Enough.self) {
            try await f.client.watch(V1Service.self, namespace: "default", resourceVersion: "0", timeoutSeconds: 30) { _ in
                if seen.withLockedValue({ $0 += 1; return $0 }) == 2 { throw Enough() }
            }
        }
        #expect(seen.withLockedValue { $0 } == 2)
    }
}

@Suite struct LargeObjectTests {
    @Test func megabyteConfigMapsThroughWatchSplitAtOddSizes() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        let inf = Informer<V1ConfigMap>(client: f.client, namespace: "default")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await inf.run() }
            #expect(await inf.waitForSync())
            f.sim.splitWatchWrites([1, 65_537, 13, 300_000])
            let big = String(repeating: "0123456789abcdef", count: 1 << 16)  // 1 MiB
            for i in 0..<3 {
                _ = try await f.client.create(V1ConfigMap(metadata: ObjectMeta(name: "big-\(i)", namespace: "default"), data: ["blob": big + "\(i)"]))
            }
            #expect(await waitUntil(.seconds(30)) { (0..<3).allSatisfy { inf.get("default/big-\($0)")?.data?["blob"] == big + "\($0)" } })
            #expect(inf.stats.errors == 0)
            group.cancelAll()
        }
    }
}
