import Foundation
import Testing
import TestSupport

/// What `ironlb lab --layer2` says when the machine lacks what it needs: exit non-zero, name what
/// is missing and what to run, create nothing.
@Suite struct LabCommandLayer2PrerequisiteTests {
    @Test func missingCommandsAreNamedWithWhatToInstall() async throws {
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let output = try await Shell.output(of: ["env", "PATH=/nonexistent", ironlb, "lab", "--layer2", "--namespace-prefix", "lab2none"], timeout: 30)
        #expect(output.status != 0)
        #expect(output.stderr.contains("the `ip` command (iproute2) on PATH: `apt-get install iproute2`"), "\(output.stderr)")
        #expect(output.stderr.contains("the `arping` command on PATH: `apt-get install arping`"), "\(output.stderr)")
        #expect(output.stderr.contains("Nothing was created."))
        #expect(!output.stdout.contains("starting"), "\(output.stdout)")
    }

    @Test func withoutRootItSaysToUseSudo() async throws {
        guard Prerequisites.require(.root, .command("setpriv")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        // As nobody: the same binary, no privileges (when nobody may run it from where it was built).
        let asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        guard (try? await Shell.output(of: asNobody + ["test", "-x", ironlb]))?.status == 0 else {
            print("SKIP: \(#fileID):\(#line): the user nobody cannot run \(ironlb)")
            return
        }
        let output = try await Shell.output(of: asNobody + [ironlb, "lab", "--layer2", "--namespace-prefix", "lab2none"], timeout: 30)
        #expect(output.status != 0)
        #expect(output.stderr.contains("root privileges"), "\(output.stderr)")
        #expect(output.stderr.contains("sudo .build/debug/ironlb lab --layer2"), "\(output.stderr)")
        #expect(!output.stdout.contains("starting"), "\(output.stdout)")
    }
}
