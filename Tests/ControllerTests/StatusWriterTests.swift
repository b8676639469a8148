import LBCore
import Synchronization
import TestSupport
import Testing
@testable import Controller

@Suite struct StatusWriterTests {
    /// A burst larger than the writer's "large backlog" drains (its storage is then given back)
    /// and the writer goes on writing the newest wish per Service afterwards.
    @Test func writesEveryWishOfABurstAndKeepsWritingAfterIt() async throws {
        let written = Mutex<[ServiceKey: Int]>([:])
        let writer = StatusWriter<Int>(retryDelay: { _ in .milliseconds(10) }) { service, wish in
            written.withLock { $0[service] = wish }
            return .done
        }
        let running = Task { await writer.run() }
        defer { running.cancel() }
        let keys = (0..<3_000).map { ServiceKey(namespace: "bench", name: "svc-\($0)") }
        for key in keys { writer.enqueue(key, 1) }
        #expect(await poll(timeout: 60, interval: 0.01) { written.withLock { $0.count } == 3_000 && writer.pending == 0 })
        writer.enqueue(keys[7], 2)
        writer.enqueue(ServiceKey(namespace: "bench", name: "late"), 3)
        #expect(await poll(timeout: 60, interval: 0.01) { written.withLock { $0[keys[7]] == 2 && $0[ServiceKey(namespace: "bench", name: "late")] == 3 } })
        #expect(writer.pending == 0)
    }
}
