import LBCore
import NetPrimitives
import Prometheus
import Synchronization
import ControllerCore

/// The allocation part of a Service's status: its ingress IPs and the pool they came from.
struct AllocationWish: Hashable, Sendable {
    var ips: [IPAddress]
    var pool: String?
}

/// Writes one kind of patch per Service, the latest wish per Service winning, retrying failures
/// with backoff until they land, the Service is gone, or leadership ends. A failed write never
/// changes what was decided: the wish stays queued and is retried.
///
/// `enqueue` is synchronous so the controller's state owner never suspends between deciding
/// and queueing (the order of wishes is the order of decisions).
final class StatusWriter<Wish: Hashable & Sendable>: Sendable {
    private struct Queue {
        var wishes: [ServiceKey: Wish] = [:]
        var order: [ServiceKey] = []
        var attempts: [ServiceKey: Int] = [:]
        var notBefore: [ServiceKey: ContinuousClock.Instant] = [:]
        var inFlight: ServiceKey?
    }

    private let write: @Sendable (ServiceKey, Wish) async -> WriteOutcome
    /// The delay before retry number `attempt` (1-based) of one Service's write.
    private let retryDelay: @Sendable (Int) -> Duration
    private let queue = Mutex(Queue())
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>
    private let clock = ContinuousClock()

    init(retryDelay: @escaping @Sendable (Int) -> Duration, write: @escaping @Sendable (ServiceKey, Wish) async -> WriteOutcome) {
        self.write = write
        self.retryDelay = retryDelay
        (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func enqueue(_ service: ServiceKey, _ wish: Wish) {
        queue.withLock { queue in
            if queue.wishes[service] == nil { queue.order.append(service) }
            queue.wishes[service] = wish
            queue.attempts[service] = nil
            queue.notBefore[service] = nil
        }
        wake.yield()
    }

    /// Drops every queued write (leadership lost: the next leader decides anew).
    func abandon() {
        queue.withLock { queue in
            queue.wishes = [:]
            queue.order = []
            queue.attempts = [:]
            queue.notBefore = [:]
        }
    }

    var pending: Int { queue.withLock { $0.wishes.count } }

    /// Works through the queue until cancelled. Retries wait for a tick (every 250 ms) at the
    /// earliest after their due time.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [wake] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    wake.yield()
                }
                wake.finish()
            }
            group.addTask { [self] in
                for await _ in wakes { await drain() }
            }
            await group.waitForAll()
        }
    }

    private func drain() async {
        while !Task.isCancelled, let (service, wish) = nextReady() {
            let outcome = await write(service, wish)
            finish(service, wish, outcome)
        }
    }

    private func nextReady() -> (ServiceKey, Wish)? {
        let now = clock.now
        return queue.withLock { queue in
            for service in queue.order {
                guard let wish = queue.wishes[service] else { continue }
                if let due = queue.notBefore[service], due > now { continue }
                return (service, wish)
            }
            return nil
        }
    }

    private func finish(_ service: ServiceKey, _ wish: Wish, _ outcome: WriteOutcome) {
        let now = clock.now
        queue.withLock { queue in
            // A newer wish arrived while writing (or leadership ended): leave the queue as it is.
            guard queue.wishes[service] == wish else { return }
            switch outcome {
            case .done, .gone:
                queue.wishes[service] = nil
                queue.attempts[service] = nil
                queue.notBefore[service] = nil
                queue.order.removeAll { $0 == service }
            case .retry(_, let retryAfter):
                let attempt = (queue.attempts[service] ?? 0) + 1
                queue.attempts[service] = attempt
                var delay = retryDelay(attempt)
                if let retryAfter, .seconds(retryAfter) > delay { delay = .seconds(retryAfter) }
                queue.notBefore[service] = now.advanced(by: delay)
                // To the back, so one failing Service does not starve the rest.
                queue.order.removeAll { $0 == service }
                queue.order.append(service)
            }
        }
    }
}

/// Records Events in the order they were decided, off the decision path. At most `capacity`
/// wait; beyond that the oldest is dropped and counted in `dropped`.
final class EventSink: Sendable {
    private let api: any ControllerAPI
    private let events: AsyncStream<ControllerEvent>
    private let continuation: AsyncStream<ControllerEvent>.Continuation
    private let dropped: Counter

    init(api: any ControllerAPI, capacity: Int = 10_000, dropped: Counter) {
        self.api = api
        self.dropped = dropped
        (events, continuation) = AsyncStream<ControllerEvent>.makeStream(bufferingPolicy: .bufferingNewest(capacity))
    }

    func record(_ event: ControllerEvent) {
        if case .dropped = continuation.yield(event) { dropped.increment() }
    }

    func run() async {
        for await event in events {
            if Task.isCancelled { break }        // buffered Events still arrive after cancellation
            await api.record(event)
        }
    }

    func finish() { continuation.finish() }
}
