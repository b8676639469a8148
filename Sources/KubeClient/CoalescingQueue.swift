import DequeModule
import Synchronization

/// A queue of the latest value per object, for level-triggered consumers (client-go's work
/// queue keeps keys the same way). A value whose key is already waiting replaces it in place;
/// so the queue holds at most one entry per object however fast an object changes, and its
/// length is bounded by the number of objects, not by the rate of events.
///
/// One consumer: `stream()` pulls on demand (no buffer of its own). Every operation is O(1):
/// the order is a deque of keys beside a dictionary of values (an `OrderedDictionary`'s
/// `removeFirst` moves every waiting entry, O(n) per value taken when thousands wait).
public final class CoalescingQueue<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct State {
        /// The waiting objects, oldest first; each key at most once.
        var order: Deque<Key> = []
        var pending: [Key: Value] = [:]
        var waiter: CheckedContinuation<Value?, Never>?
        var finished = false
        var coalesced = 0
        var peak = 0
        /// More than `Self.largeBacklog` keys waited since the storage was last given back.
        var grown = false
    }

    /// A `Deque` and a dictionary keep their capacity when emptied: after a burst (10,000
    /// Services queued in the controller: over a MiB) the storage is given back once drained.
    private static var largeBacklog: Int { 1024 }

    private static func releaseIfDrained(_ state: inout State) {
        guard state.grown, state.order.isEmpty else { return }
        state.order = []
        state.pending = [:]
        state.grown = false
    }

    private let state = Mutex(State())
    private let key: @Sendable (Value) -> Key

    /// `key`: the object a value is about.
    public init(key: @escaping @Sendable (Value) -> Key) {
        self.key = key
    }

    /// Queues `value`, replacing a value about the same object that still waits.
    public func yield(_ value: Value) {
        yield(value, merge: { _, newer in newer })
    }

    /// Queues `value`; when a value about the same object still waits, `merge(waiting, value)`
    /// takes its place (in its place in the order), or nil takes both away.
    public func yield(_ value: Value, merge: (Value, Value) -> Value?) {
        let key = self.key(value)
        let waiter = state.withLock { state -> CheckedContinuation<Value?, Never>? in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            if let waiting = state.pending[key] {
                // A key taken away stays in `order`; `next` skips it.
                state.pending[key] = merge(waiting, value)
                state.coalesced += 1
            } else {
                state.pending[key] = value
                state.order.append(key)
                if state.order.count > Self.largeBacklog { state.grown = true }
            }
            state.peak = max(state.peak, state.pending.count)
            return nil
        }
        waiter?.resume(returning: value)
    }

    /// Ends the queue once what waits has been taken.
    public func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Value?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Values replaced before they were taken.
    public var coalesced: Int { state.withLock { $0.coalesced } }
    /// The most values that waited at once.
    public var peak: Int { state.withLock { $0.peak } }
    public var count: Int { state.withLock { $0.pending.count } }

    /// The oldest waiting value; nil once finished and empty, or when the task is cancelled.
    public func next() async -> Value? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
                let answer = state.withLock { state -> Value?? in
                    while let key = state.order.popFirst() {
                        if let value = state.pending.removeValue(forKey: key) {
                            Self.releaseIfDrained(&state)
                            return .some(value)
                        }
                    }
                    Self.releaseIfDrained(&state)
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Value?, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// The oldest waiting values, up to `maximum`, in order, waiting for the first one; nil once
    /// finished and empty, or when the task is cancelled. A consumer that decides per batch
    /// pays its per-decision costs (a hop to an actor, a push to each BGP session) once per batch.
    public func nextBatch(maximum: Int) async -> [Value]? {
        guard let first = await next() else { return nil }
        return [first] + waiting(maximum: maximum - 1)
    }

    /// The values waiting now, oldest first, up to `maximum` (none: empty); does not wait.
    public func waiting(maximum: Int) -> [Value] {
        var values: [Value] = []
        state.withLock { state in
            while values.count < maximum, let key = state.order.popFirst() {
                if let value = state.pending.removeValue(forKey: key) { values.append(value) }
            }
            Self.releaseIfDrained(&state)
        }
        return values
    }

    /// The values as an `AsyncStream` that takes one only when its consumer asks.
    public func stream() -> AsyncStream<Value> {
        AsyncStream(unfolding: { await self.next() })
    }
}
