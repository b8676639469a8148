/// A test instant: an offset from the start of the test. Tests advance it by hand, so state
/// machines that take `now` as a parameter run without a clock.
public struct ManualInstant: InstantProtocol, CustomStringConvertible, Sendable {
    public var offset: Duration

    public init(offset: Duration) { self.offset = offset }

    public static let zero = ManualInstant(offset: .zero)

    public static func seconds(_ s: Double) -> ManualInstant { ManualInstant(offset: .milliseconds(Int64(s * 1000))) }

    public func advanced(by duration: Duration) -> ManualInstant { ManualInstant(offset: offset + duration) }
    public func duration(to other: ManualInstant) -> Duration { other.offset - offset }
    public static func < (lhs: ManualInstant, rhs: ManualInstant) -> Bool { lhs.offset < rhs.offset }

    public var description: String {
        let ms = offset.components.seconds * 1000 + offset.components.attoseconds / 1_000_000_000_000_000
        return "t=\(Double(ms) / 1000)s"
    }
}

extension SplitMix64 {
    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    /// A duration drawn uniformly from `range` seconds, in whole milliseconds.
    public mutating func duration(_ range: ClosedRange<Double>) -> Duration {
        .milliseconds(Int64(Double.random(in: range, using: &self) * 1000))
    }
}
