import L2Ownership

/// A test instant: an offset from the start of the test. Tests advance it by hand.
struct ManualInstant: InstantProtocol, CustomStringConvertible {
    var offset: Duration

    static let zero = ManualInstant(offset: .zero)

    static func seconds(_ s: Double) -> ManualInstant { ManualInstant(offset: .milliseconds(Int64(s * 1000))) }

    func advanced(by duration: Duration) -> ManualInstant { ManualInstant(offset: offset + duration) }
    func duration(to other: ManualInstant) -> Duration { other.offset - offset }
    static func < (lhs: ManualInstant, rhs: ManualInstant) -> Bool { lhs.offset < rhs.offset }

    var description: String {
        let ms = offset.components.seconds * 1000 + offset.components.attoseconds / 1_000_000_000_000_000
        return "t=\(Double(ms) / 1000)s"
    }
}

/// SplitMix64: a small seeded generator, so that every failing run can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    mutating func duration(_ range: ClosedRange<Double>) -> Duration {
        .milliseconds(Int64(Double.random(in: range, using: &self) * 1000))
    }
}
