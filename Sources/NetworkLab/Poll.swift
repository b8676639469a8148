import Foundation

/// Polls `condition` every `interval` seconds until it holds or `timeout` seconds pass, blocking
/// the calling thread. Returns whether it held. Bounded in time and in count.
///
/// Time the process did not run does not count: a sleep that overran its interval by more than a
/// second (a loaded machine held the process, or the cooperative pool's threads were all busy)
/// counts as the interval plus one second. A test's bound is for the awaited event, and a stall
/// of a minute must not spend it (docs/design/test-waits.md).
///
/// Not from async code: its sleeps would hold one of the cooperative pool's threads (two on
/// these machines), and two such waits at once stop every other task, what they wait for
/// included. Async code awaits `poll`, which has another name so that a synchronous condition
/// cannot select this one.
@available(*, noasync, message: "blocks a cooperative pool thread; await poll")
public func pollBlocking(timeout: Double, interval: Double = 0.1, _ condition: () throws -> Bool) rethrows -> Bool {
    var budget = PollBudget(timeout: timeout, interval: interval)
    while budget.attemptsLeft {
        if try condition() { return true }
        if budget.spent() { break }
        usleep(UInt32(interval * 1_000_000))
        budget.slept()
    }
    return try condition()
}

/// Polls `condition` every `interval` seconds until it holds or `timeout` seconds pass, sleeping
/// between checks without holding a thread. Returns whether it held. Bounded in time and in count,
/// and stall-aware as `pollBlocking` is.
public func poll(timeout: Double, interval: Double = 0.1, _ condition: () async throws -> Bool) async rethrows -> Bool {
    var budget = PollBudget(timeout: timeout, interval: interval)
    while budget.attemptsLeft {
        if try await condition() { return true }
        if budget.spent() { break }
        try? await Task.sleep(nanoseconds: UInt64(interval * 1_000_000_000))
        budget.slept()
    }
    return try await condition()
}

/// What a poll has spent of its timeout and its attempts. `clock`: seconds on any fixed origin.
struct PollBudget {
    let timeout: Double
    let interval: Double
    private let maxAttempts: Int
    private let clock: () -> Double
    private var attempts = 0
    private var used = 0.0
    private var mark: Double

    init(timeout: Double, interval: Double, clock: @escaping () -> Double = { Date().timeIntervalSinceReferenceDate }) {
        self.timeout = timeout
        self.interval = interval
        self.clock = clock
        maxAttempts = Int(timeout / max(interval, 0.001)) + 2
        mark = clock()
    }

    var attemptsLeft: Bool { attempts < maxAttempts }

    /// After a check: counts the time since the last mark (the check itself, in full); whether
    /// the timeout is spent.
    mutating func spent() -> Bool {
        attempts += 1
        let now = clock()
        used += now - mark
        mark = now
        return used >= timeout
    }

    /// After a sleep: counts it, at most the interval plus one second.
    mutating func slept() {
        let now = clock()
        used += min(now - mark, interval + 1)
        mark = now
    }
}
