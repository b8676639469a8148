import Announcements
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
/// Up to `concurrency` writes are in flight at once (each to a different Service; one Service's
/// writes never overlap), so a burst of thousands of Services is not paced by one round trip
/// per Service. Every queue operation is O(1) (amortised), not a scan of the queue.
///
/// `enqueue` is synchronous so the controller's state owner never suspends between deciding
/// and queueing (the order of wishes is the order writes start in).
final class StatusWriter<Wish: Hashable & Sendable>: Sendable {
    private struct Queue {
        /// The newest wish per Service not yet written.
        var wishes: [ServiceKey: Wish] = [:]
        /// Services whose wish can be written now, oldest first; none is in flight or backing off.
        var ready = FirstInFirstOut<ServiceKey>()
        var inFlight: Set<ServiceKey> = []
        var attempts: [ServiceKey: Int] = [:]
        /// Services backing off after a failed write, and when their retry is due.
        var notBefore: [ServiceKey: ContinuousClock.Instant] = [:]
        /// More than `largeBacklog` wishes waited since the storage was last given back.
        var grown = false

        /// Hash tables keep their capacity when emptied: after a burst of 10,000 Services the
        /// empty queue held about 1.5 MiB. Given back once nothing waits, is in flight or retries.
        mutating func releaseIfDrained() {
            guard grown, wishes.isEmpty, inFlight.isEmpty, notBefore.isEmpty else { return }
            self = Queue()
        }

        static var largeBacklog: Int { 1024 }
    }

    private let write: @Sendable (ServiceKey, Wish) async -> WriteOutcome
    /// The delay before retry number `attempt` (1-based) of one Service's write.
    private let retryDelay: @Sendable (Int) -> Duration
    private let concurrency: Int
    private let queue = Mutex(Queue())
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>
    private let clock = ContinuousClock()

    init(concurrency: Int = 16, retryDelay: @escaping @Sendable (Int) -> Duration, write: @escaping @Sendable (ServiceKey, Wish) async -> WriteOutcome) {
        self.write = write
        self.retryDelay = retryDelay
        self.concurrency = max(1, concurrency)
        (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func enqueue(_ service: ServiceKey, _ wish: Wish) {
        queue.withLock { queue in
            queue.wishes[service] = wish
            if queue.wishes.count > Queue.largeBacklog { queue.grown = true }
            queue.attempts[service] = nil
            // A write in flight re-queues the Service when it ends (its wish is no longer the newest).
            if queue.notBefore.removeValue(forKey: service) != nil || !queue.inFlight.contains(service) {
                queue.ready.appendIfAbsent(service)
            }
        }
        wake.yield()
    }

    /// Drops every queued write (leadership lost: the next leader decides anew).
    func abandon() {
        queue.withLock { queue in
            queue.wishes = [:]
            queue.ready = FirstInFirstOut()
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

    /// Writes until nothing is ready and nothing is in flight, at most `concurrency` at once.
    private func drain() async {
        promoteDueRetries()
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            while true {
                while running < concurrency, !Task.isCancelled, let (service, wish) = nextReady() {
                    group.addTask { [self] in
                        let outcome = await write(service, wish)
                        finish(service, wish, outcome)
                    }
                    running += 1
                }
                guard running > 0 else { return }
                await group.next()
                running -= 1
            }
        }
    }

    private func promoteDueRetries() {
        let now = clock.now
        queue.withLock { queue in
            guard !queue.notBefore.isEmpty else { return }
            let due = queue.notBefore.filter { $0.value <= now }.sorted { $0.value < $1.value }
            for (service, _) in due {
                queue.notBefore[service] = nil
                queue.ready.appendIfAbsent(service)
            }
        }
    }

    private func nextReady() -> (ServiceKey, Wish)? {
        queue.withLock { queue in
            while let service = queue.ready.popFirst() {
                guard let wish = queue.wishes[service] else { continue }
                queue.inFlight.insert(service)
                return (service, wish)
            }
            return nil
        }
    }

    private func finish(_ service: ServiceKey, _ wish: Wish, _ outcome: WriteOutcome) {
        let now = clock.now
        let again = queue.withLock { queue -> Bool in
            queue.inFlight.remove(service)
            // A newer wish arrived while writing: write that one next. Leadership ended: drop it.
            guard let newest = queue.wishes[service] else { return false }
            guard newest == wish else {
                queue.ready.appendIfAbsent(service)
                return true
            }
            switch outcome {
            case .done, .gone:
                queue.wishes[service] = nil
                queue.attempts[service] = nil
                queue.releaseIfDrained()
                return false
            case .retry(_, let retryAfter):
                let attempt = (queue.attempts[service] ?? 0) + 1
                queue.attempts[service] = attempt
                var delay = retryDelay(attempt)
                if let retryAfter, .seconds(retryAfter) > delay { delay = .seconds(retryAfter) }
                // Behind every ready Service, so one failing Service does not starve the rest.
                queue.notBefore[service] = now.advanced(by: delay)
                return false
            }
        }
        if again { wake.yield() }
    }
}

/// A first-in-first-out queue of distinct elements: append, membership and take-first in O(1)
/// (amortised), where `Array.removeFirst`/`removeAll(where:)` cost O(count) each.
struct FirstInFirstOut<Element: Hashable & Sendable>: Sendable {
    private var elements: [Element] = []
    private var head = 0
    private var members: Set<Element> = []

    var count: Int { members.count }

    mutating func appendIfAbsent(_ element: Element) {
        guard members.insert(element).inserted else { return }
        elements.append(element)
    }

    mutating func popFirst() -> Element? {
        guard head < elements.count else { return nil }
        let element = elements[head]
        head += 1
        // Drop the taken prefix once it is half the storage, keeping pops O(1) amortised.
        if head >= 1024 && head * 2 >= elements.count {
            elements.removeFirst(head)
            head = 0
        }
        members.remove(element)
        return element
    }
}

/// Records Events in the order they were decided, off the decision path. At most `capacity`
/// wait; beyond that the oldest is dropped and counted in `dropped`.
final class EventSink: Sendable {
    private let api: any ControllerAPI
    private let events: AsyncStream<RecordedEvent>
    private let continuation: AsyncStream<RecordedEvent>.Continuation
    private let dropped: Counter

    init(api: any ControllerAPI, capacity: Int = 10_000, dropped: Counter) {
        self.api = api
        self.dropped = dropped
        (events, continuation) = AsyncStream<RecordedEvent>.makeStream(bufferingPolicy: .bufferingNewest(capacity))
    }

    func record(_ event: RecordedEvent) {
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
