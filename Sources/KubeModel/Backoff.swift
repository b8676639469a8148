/// client-go's jittered exponential backoff (reflector defaults): 800 ms doubling to a 30 s cap,
/// jitter 1.0 (each wait is d + random·d), reset after 2 minutes without failures.
/// Randomness and time are parameters.
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var factor: Double
    public var jitter: Double
    public var cap: Duration
    public var resetAfter: Duration
    private var step: Duration?
    private var lastFailure: Duration?

    public init(initial: Duration = .milliseconds(800), factor: Double = 2, jitter: Double = 1.0, cap: Duration = .seconds(30), resetAfter: Duration = .seconds(120)) {
        self.initial = initial
        self.factor = factor
        self.jitter = jitter
        self.cap = cap
        self.resetAfter = resetAfter
    }

    /// The wait before the next attempt. `random` in [0, 1); `now` is a monotonic instant
    /// expressed as time since an arbitrary origin.
    public mutating func next(random: Double, now: Duration) -> Duration {
        if let last = lastFailure, now - last > resetAfter { step = nil }
        lastFailure = now
        let base: Duration
        if let previous = step { base = min(cap, previous * factor) } else { base = initial }
        step = base
        let withJitter = base + base * (jitter * max(0, min(random, 1)))
        return withJitter
    }

    /// Forget failures (after a healthy period the caller observed itself).
    public mutating func reset() {
        step = nil
        lastFailure = nil
    }

    /// Current base step (without jitter); nil before the first failure.
    public var currentStep: Duration? { step }
}
