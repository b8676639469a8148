import Foundation
import TestSupport
import Testing

/// The manifests' arguments against the real `ironlb` binary's `--help`, once the process
/// subcommands exist: every flag the manifests pass must be one the subcommand accepts.
/// (WorkloadTests checks the same against the agreed flag list without the binary.)
@Suite struct CommandLineTests {
    @Test(arguments: WorkloadTests.workloads)
    func manifestFlagsAreAcceptedByTheBinary(_ workload: WorkloadTests.Workload) async throws {
        let binary = try #require(BuiltProducts.executable("ironlb"), "swift build --build-tests builds ironlb")
        let top = try await Shell.output(of: [binary, "--help"])
        guard top.stdout.contains(" \(workload.subcommand) ") || top.stdout.contains(" \(workload.subcommand)\n") else {
            // The subcommand has not landed yet: nothing to compare with.
            print("SKIP: \(#fileID): `ironlb \(workload.subcommand)` does not exist yet")
            return
        }
        let help = try await Shell.output(of: [binary, workload.subcommand, "--help"])
        #expect(help.status == 0, "\(help.stderr)")
        let text = help.stdout + help.stderr
        let args = try #require(WorkloadTests.container(WorkloadTests.object(workload))["args"]?.strings)
        for argument in args.dropFirst() {
            let flag = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            #expect(text.contains(flag), "`ironlb \(workload.subcommand)` does not accept \(flag)")
        }
    }
}
