import Synchronization
import LBCore
import NetPrimitives
@testable import Controller
@testable import ControllerCore
@testable import Announcements

/// An in-memory API for the controller's edge: Services with status, a broadcast watch, and
/// injectable write failures. Status writes are echoed to every watcher, as a real watch does.
final class FakeCluster: ControllerAPI, Sendable {
    struct State {
        var services: [ServiceKey: ServiceState] = [:]
        var config: String?
        var watchers: [AsyncStream<ControllerInput>.Continuation] = []
        var events: [RecordedEvent] = []
        var writes: [(ServiceKey, [IPAddress], String?)] = []
        var annotationWrites: [(ServiceKey, String?)] = []
        var failuresLeft = 0
        var writers: Set<String> = []
    }

    let state = Mutex(State())

    func changes() -> AsyncStream<ControllerInput> {
        AsyncStream { continuation in
            state.withLock { state in
                for service in state.services.values.sorted(by: { $0.key < $1.key }) { continuation.yield(.serviceUpserted(service)) }
                continuation.yield(.config(state.config))
                continuation.yield(.synced)
                state.watchers.append(continuation)
            }
        }
    }

    func writeStatus(_ service: ServiceKey, ips: [IPAddress], pool: String?) async -> WriteOutcome {
        state.withLock { state in
            if state.failuresLeft > 0 {
                state.failuresLeft -= 1
                return .retry(reason: "injected 500", retryAfter: nil)
            }
            guard var current = state.services[service] else { return .gone }
            current.ingressIPs = ips.map(\.description)
            current.annotations["ironlb.io/ip-allocated-from-pool"] = pool
            state.services[service] = current
            state.writes.append((service, ips, pool))
            for watcher in state.watchers { watcher.yield(.serviceUpserted(current)) }
            return .done
        }
    }

    func writeAnnouncedBy(_ service: ServiceKey, _ value: String?) async -> WriteOutcome {
        state.withLock { state in
            guard var current = state.services[service] else { return .gone }
            current.annotations[AnnouncedByIndex.annotation] = value
            state.services[service] = current
            state.annotationWrites.append((service, value))
            for watcher in state.watchers { watcher.yield(.serviceUpserted(current)) }
            return .done
        }
    }

    /// Sends an input to every watcher, as an informer would (Lease changes).
    func send(_ input: ControllerInput) {
        state.withLock { state in
            for watcher in state.watchers { watcher.yield(input) }
        }
    }

    func annotation(_ name: String) -> String? {
        state.withLock { $0.services[ServiceKey(namespace: "default", name: name)]?.annotations[AnnouncedByIndex.annotation] }
    }

    func record(_ event: RecordedEvent) async {
        state.withLock { $0.events.append(event) }
    }

    func put(_ service: ServiceState) {
        state.withLock { state in
            state.services[service.key] = service
            for watcher in state.watchers { watcher.yield(.serviceUpserted(service)) }
        }
    }

    func delete(_ key: ServiceKey) {
        state.withLock { state in
            state.services[key] = nil
            for watcher in state.watchers { watcher.yield(.serviceDeleted(key)) }
        }
    }

    func setConfig(_ text: String?) {
        state.withLock { state in
            state.config = text
            for watcher in state.watchers { watcher.yield(.config(text)) }
        }
    }

    func ips(_ name: String) -> [String] {
        state.withLock { $0.services[ServiceKey(namespace: "default", name: name)]?.ingressIPs ?? [] }
    }

    var writeCount: Int { state.withLock { $0.writes.count } }
    var eventReasons: [String] { state.withLock { $0.events.map(\.reason) } }
}

/// Leadership driven by the test.
final class ManualLeadership: LeadershipSource, Sendable {
    private let continuation = Mutex<AsyncStream<Bool>.Continuation?>(nil)
    private let initial: Bool

    init(initial: Bool) { self.initial = initial }

    func leadership() -> AsyncStream<Bool> {
        AsyncStream { continuation in
            continuation.yield(initial)
            self.continuation.withLock { $0 = continuation }
        }
    }

    func set(_ leading: Bool) { continuation.withLock { _ = $0?.yield(leading) } }
}
