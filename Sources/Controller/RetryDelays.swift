import KubeModel

/// How long to wait before retrying a failed write to the API server.
public enum RetryDelays {
    /// client-go's backoff for failed writes: 0.8 s doubling to 30 s, jittered.
    public static let kubernetes: @Sendable (Int) -> Duration = { attempt in
        var backoff = Backoff()
        var delay = Duration.zero
        for _ in 0..<max(1, min(attempt, 12)) { delay = backoff.next(random: Double.random(in: 0..<1), now: .zero) }
        return delay
    }
}
