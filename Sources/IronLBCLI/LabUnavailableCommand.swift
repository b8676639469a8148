import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `ironlb lab` in a production build (built without the `Lab` trait, as `scripts/build-release`
/// and the image build it): says that this binary has no lab and where to get one.
public struct LabUnavailableCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Not in this build: the lab is in a development build (`swift run ironlb lab` in a source checkout)."
    )

    /// Whatever the lab would take (`--layer2`, `--once`, ...): the answer is the same.
    @Argument(parsing: .allUnrecognized) var arguments: [String] = []

    public static let message = """
        ironlb lab: this ironlb is a production build (the controller, the speaker, config and bgp) and has no lab.
        The lab (an embedded API server, a controller, simulated nodes and a route collector on this machine) is in
        the default build: in a checkout of the repository run `swift run ironlb lab`, or build with
        `swift build --product ironlb` (without --disable-default-traits) and run `.build/debug/ironlb lab`.

        """

    public init() {}

    public func run() throws {
        let bytes = Array(Self.message.utf8)
        _ = bytes.withUnsafeBufferPointer { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        throw ExitCode(2)
    }
}
