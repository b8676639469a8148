import NetPrimitives

/// Turns the set of VIPs this node should answer for into answer/stop/announce actions, and
/// repeats the takeover announcement (gratuitous ARP, unsolicited NA): at once, then every
/// `interval` for `repeats` more times.
public struct AnnouncementScheduler<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public enum Action: Hashable, Sendable {
        case startAnswering(IPAddress)
        case stopAnswering(IPAddress)
        case announce(IPAddress)
        case scheduleTimer(Instant)
    }

    private struct Burst: Sendable {
        var nextAt: Instant
        var remaining: Int
    }

    public let interval: Duration
    public let repeats: Int
    private var answering: [IPAddress: Burst?] = [:]

    public init(interval: Duration = .seconds(1), repeats: Int = 5) {
        self.interval = interval
        self.repeats = repeats
    }

    public var answered: Set<IPAddress> { Set(answering.keys) }

    public func isAnswering(_ address: IPAddress) -> Bool { answering[address] != nil }

    public var isAnsweringAny: Bool { !answering.isEmpty }

    /// The VIPs this node owns and may answer for now.
    public mutating func update(owned: Set<IPAddress>, now: Instant) -> [Action] {
        var actions: [Action] = []
        for address in answering.keys.sorted() where !owned.contains(address) {
            answering[address] = nil
            actions.append(.stopAnswering(address))
        }
        for address in owned.sorted() where answering[address] == nil {
            answering[address] = repeats > 0 ? Burst(nextAt: now.advanced(by: interval), remaining: repeats) : .some(nil)
            actions += [.startAnswering(address), .announce(address)]
        }
        return actions + timer()
    }

    public mutating func timerFired(now: Instant) -> [Action] {
        var actions: [Action] = []
        for (address, burst) in answering.sorted(by: { $0.key < $1.key }) {
            guard var burst = burst, now >= burst.nextAt else { continue }
            actions.append(.announce(address))
            burst.remaining -= 1
            // Keep the cadence; after a late timer, do not send two back to back.
            burst.nextAt = burst.nextAt.advanced(by: interval)
            if burst.nextAt <= now { burst.nextAt = now.advanced(by: interval) }
            answering[address] = burst.remaining > 0 ? burst : .some(nil)
        }
        return actions + timer()
    }

    private func timer() -> [Action] {
        let next = answering.values.compactMap { $0?.nextAt }.min()
        return next.map { [.scheduleTimer($0)] } ?? []
    }
}
