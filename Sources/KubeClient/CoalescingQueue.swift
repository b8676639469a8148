import OrderedCollections
import Synchronization

/// A queue of the latest value per object, for level-triggered consumers (client-go's work
/// queue keeps keys the same way). A value whose key is already waiting replaces it in place;
/// so the queue holds at most one entry per object however fast an object changes, and its
/// length is bounded by the number of objects, not by the rate of events.
///
/// One consumer: `stream()` pulls on demand (no buffer of its own).
public final class CoalescingQueue<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct State {
        var pending: OrderedDictionary<Key, Value> = [:]
        var waiter: CheckedContinuation<Value?, Never>?
        var finished = false
        var coalesced = 0
        var peak = 0
    }

    private let state = Mutex(State())
    private let key: @Sendable (Value) -> Key

    /// `key`: the object a value is about.
    public init(key: @escaping @Sendable (Value) -> Key) {
        self.key = key
    }

    /// Queues `value`, replacing a value about the same object that still waits.
    public func yield(_ value: Value) {
        let key = self.key(value)
        let waiter = state.withLock { state -> CheckedContinuation<Value?, Never>? in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            if state.pending.updateValue(value, forKey: key) != nil { state.coalesced += 1 }
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
                    if !state.pending.isEmpty { return .some(state.pending.removeFirst().value) }
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

    /// The values as an `AsyncStream` that takes one only when its consumer asks.
    public func stream() -> AsyncStream<Value> {
        AsyncStream(unfolding: { await self.next() })
    }
}
