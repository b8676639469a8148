import L2Ownership
import TestSupport

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


extension SplitMix64 {
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    mutating func duration(_ range: ClosedRange<Double>) -> Duration {
        .milliseconds(Int64(Double.random(in: range, using: &self) * 1000))
    }
}
