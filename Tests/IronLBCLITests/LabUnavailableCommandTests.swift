import ArgumentParser
import Testing
@testable import IronLBCLI

/// `ironlb lab` in a production build (no `Lab` trait): whatever the lab's arguments, it says
/// that this build has no lab and how to get one, and exits non-zero.
@Suite struct LabUnavailableCommandTests {
    @Test(arguments: [[], ["--layer2"], ["--once", "--timeout", "30"], ["--port", "0", "--metallb-resources", "--namespace-prefix", "x"]])
    func everyLabInvocationFailsWithTheWayToTheLab(arguments: [String]) throws {
        let command = try LabUnavailableCommand.parse(arguments)
        let error = #expect(throws: ExitCode.self) { try command.run() }
        #expect(error?.rawValue == 2)
    }

    @Test func theMessageSaysWhereTheLabIs() {
        #expect(LabUnavailableCommand.message.contains("has no lab"))
        #expect(LabUnavailableCommand.message.contains("swift run ironlb lab"))
    }
}
