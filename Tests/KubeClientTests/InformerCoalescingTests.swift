import Foundation
import KubeModel
import KubeSim
import Testing
@testable import KubeClient

/// Issue 15, item 9: an informer's events waited in an unbounded buffer, every change of every
/// object, for as long as the consumer was behind. A coalescing informer holds one per object.
@Suite struct InformerCoalescingTests {
    @Test func aConsumerThatIsBehindGetsOneEventPerObject() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        let inf = Informer<V1Service>(client: f.client, namespace: "default", fieldSelector: "metadata.name!=kubernetes", coalescing: true)
        let run = Task { await inf.run() }
        defer { run.cancel() }
        #expect(await inf.waitForSync())
        // Nobody reads yet: `a` is created and changed five times, `b` created and deleted,
        // `z` created last (the end marker).
        _ = try await f.client.create(service("a"))
        for generation in 1...5 {
            _ = try await f.client.patch(V1Service.self, name: "a", patch: ["metadata": ["labels": ["gen": .string("\(generation)")]]])
        }
        _ = try await f.client.create(service("b"))
        try await f.client.delete(V1Service.self, name: "b")
        let last = try await f.client.create(service("z"))
        #expect(await waitUntil { inf.lastResourceVersion == last.metadata.resourceVersion })
        var seen: [String] = []
        for await event in inf.events {
            switch event {
            case .synced: seen.append("synced")
            case .added(let service): seen.append("A \(service.metadata.name ?? "") \(service.metadata.labels?["gen"] ?? "-")")
            case .updated(_, let service): seen.append("M \(service.metadata.name ?? "")")
            case .deleted(let service): seen.append("D \(service.metadata.name ?? "")")
            }
            if seen.last?.hasPrefix("A z") == true { break }
        }
        #expect(seen == ["synced", "A a 5", "A z -"])
    }

    @Test func mergesAsTheObjectsEndedUp() {
        typealias Events = Informer<V1Service>
        let one = service("a"), two = service("a", labels: ["gen": "2"])
        func describe(_ event: InformerEvent<V1Service>?) -> String {
            switch event {
            case .added(let service)?: return "A\(service.metadata.labels?["gen"] ?? "")"
            case .updated(let old, let new)?: return "M\(old.metadata.labels?["gen"] ?? "")>\(new.metadata.labels?["gen"] ?? "")"
            case .deleted(let service)?: return "D\(service.metadata.labels?["gen"] ?? "")"
            case .synced?: return "S"
            case nil: return "nothing"
            }
        }
        #expect(describe(Events.merge(.added(one), .updated(old: one, new: two))) == "A2")
        #expect(describe(Events.merge(.added(one), .deleted(two))) == "nothing")
        #expect(describe(Events.merge(.updated(old: one, new: one), .updated(old: one, new: two))) == "M>2")
        #expect(describe(Events.merge(.updated(old: one, new: one), .deleted(two))) == "D2")
        #expect(describe(Events.merge(.deleted(one), .added(two))) == "M>2")
    }
}
