import Testing
@testable import KubeClient

/// Issue 15, item 9: the informer-to-decider queues held every event (`.unbounded`).
@Suite struct CoalescingQueueTests {
    struct Change: Sendable, Equatable {
        var object: String
        var version: Int
    }

    @Test func holdsTheLatestValuePerObjectInFirstSeenOrder() async {
        let queue = CoalescingQueue<String, Change>(key: { $0.object })
        for version in 0..<10_000 {
            queue.yield(Change(object: "service-\(version % 10)", version: version))
        }
        #expect(queue.count == 10)
        #expect(queue.peak == 10)
        #expect(queue.coalesced == 9_990)
        queue.finish()
        var taken: [Change] = []
        for await change in queue.stream() { taken.append(change) }
        #expect(taken == (0..<10).map { Change(object: "service-\($0)", version: 9_990 + $0) })
    }

    @Test func aWaitingConsumerGetsTheNextValue() async {
        let queue = CoalescingQueue<String, Change>(key: { $0.object })
        let consumer = Task { await queue.next() }
        // Whether the consumer waits already or not, it gets this value.
        queue.yield(Change(object: "a", version: 1))
        #expect(await consumer.value == Change(object: "a", version: 1))
        let cancelled = Task { await queue.next() }
        cancelled.cancel()
        #expect(await cancelled.value == nil)
    }

    /// After a large backlog drains the queue gives its storage back; it keeps working after.
    @Test func keepsOrderAndCoalescingAfterALargeBacklogDrains() async {
        let queue = CoalescingQueue<String, Change>(key: { $0.object })
        for round in 0..<2 {
            for number in 0..<3_000 { queue.yield(Change(object: "service-\(number)", version: round)) }
            queue.yield(Change(object: "service-0", version: round + 10))
            #expect(queue.count == 3_000)
            var taken: [Change] = []
            while taken.count < 3_000, let batch = await queue.nextBatch(maximum: 256) { taken += batch }
            #expect(taken.count == 3_000)
            #expect(taken.first == Change(object: "service-0", version: round + 10))
            #expect(taken.last == Change(object: "service-2999", version: round))
            #expect(queue.count == 0)
        }
        queue.yield(Change(object: "a", version: 1))
        queue.yield(Change(object: "a", version: 2))
        #expect(await queue.next() == Change(object: "a", version: 2))
    }

    @Test func batchesTakeWhatWaitsInOrderUpToTheirMaximum() async {
        let queue = CoalescingQueue<String, Change>(key: { $0.object })
        for (object, version) in [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("d", 5), ("e", 6)] {
            queue.yield(Change(object: object, version: version))
        }
        // An object taken away by its merge is skipped.
        queue.yield(Change(object: "d", version: 7), merge: { _, _ in nil })
        #expect(await queue.nextBatch(maximum: 2) == [Change(object: "a", version: 3), Change(object: "b", version: 2)])
        #expect(queue.waiting(maximum: 10) == [Change(object: "c", version: 4), Change(object: "e", version: 6)])
        #expect(queue.waiting(maximum: 10).isEmpty)
        queue.yield(Change(object: "f", version: 8))
        queue.yield(Change(object: "g", version: 9))
        #expect(queue.waiting(maximum: 1) == [Change(object: "f", version: 8)])
        queue.finish()
        #expect(await queue.nextBatch(maximum: 5) == [Change(object: "g", version: 9)])
        #expect(await queue.nextBatch(maximum: 5) == nil)
    }
}
