import Foundation

/// Polls `condition` every `interval` seconds until it holds or `timeout` seconds pass.
/// Returns whether it held. Bounded in time and in count.
public func poll(timeout: Double, interval: Double = 0.1, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    var attempts = 0
    let maxAttempts = Int(timeout / max(interval, 0.001)) + 2
    while attempts < maxAttempts {
        if try condition() { return true }
        attempts += 1
        if Date() >= deadline { break }
        usleep(UInt32(interval * 1_000_000))
    }
    return try condition()
}

/// The async form of `poll`, for tests that await.
public func poll(timeout: Double, interval: Double = 0.1, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    var attempts = 0
    let maxAttempts = Int(timeout / max(interval, 0.001)) + 2
    while attempts < maxAttempts {
        if try await condition() { return true }
        attempts += 1
        if Date() >= deadline { break }
        try? await Task.sleep(nanoseconds: UInt64(interval * 1_000_000_000))
    }
    return try await condition()
}
