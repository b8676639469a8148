import Foundation

/// Runs CPU-bound or blocking test work (simulations, property checks over thousands of inputs,
/// a child process or a socket waited for) on a thread of its own, not on Swift Concurrency's
/// cooperative pool.
///
/// The pool has one thread per core: on a 2-core machine two synchronous simulations running as
/// tests hold both threads for minutes, and every asynchronous test of the same process (a
/// controller against KubeSim, a speaker's daemon) gets no thread at all until they finish; its
/// waits then end in failures that have nothing to do with what it tests. On a thread of its own
/// the simulation shares the cores through the kernel's scheduler like any other process.
public func offCooperativePool<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Swift.Result { try body() })
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
