import Foundation
import Testing
import TestSupport
@testable import IronLBCLI

@Suite struct ValidateCommandTests {
    let files: [String: String] = [
        "good.yaml": "address-pools: [{name: web, protocol: layer2, addresses: [198.51.100.0/28]}]\n",
        "bad.yaml": "address-pools:\n- name: web\n  protocol: layer2\n  addresses: [\"10.0.0.300/24\"]\n",
    ]

    func read(_ name: String) throws -> String {
        guard let text = files[name] else { throw CocoaError(.fileReadNoSuchFile) }
        return text
    }

    @Test func validFileSummarisesEachPool() async {
        let report = ConfigValidation.run(files: ["good.yaml"], format: .text, read: read)
        #expect(report.exitCode == 0)
        #expect(report.output == "good.yaml: valid\n  pool web: layer2, 16 addresses\n")
        #expect(report.diagnostics == "")
    }

    @Test func invalidFileListsErrorsWithPathsAndExitsOne() async {
        let report = ConfigValidation.run(files: ["good.yaml", "bad.yaml", "missing.yaml"], format: .text, read: read)
        #expect(report.exitCode == 1)
        #expect(report.output == "good.yaml: valid\n  pool web: layer2, 16 addresses\nbad.yaml: invalid (1 error)\nmissing.yaml: invalid (1 error)\n")
        #expect(report.diagnostics == """
            bad.yaml:4:15: error: address-pools[0].addresses[0]: "10.0.0.300/24" is not a CIDR or an address range: not an IPv4 address: octet greater than 255
            missing.yaml: error: cannot read: no such file

            """)
    }

    @Test func jsonOutputIsMachineReadable() async throws {
        let report = ConfigValidation.run(files: ["good.yaml", "bad.yaml"], format: .json, read: read)
        #expect(report.exitCode == 1)
        let object = try JSONSerialization.jsonObject(with: Data(report.output.utf8)) as? [String: Any]
        let results = try #require(object?["files"] as? [[String: Any]])
        #expect(results.count == 2)
        #expect(results[0]["valid"] as? Bool == true)
        #expect((results[0]["pools"] as? [[String: Any]])?.first?["addresses"] as? String == "16")
        #expect(results[1]["valid"] as? Bool == false)
        let error = try #require((results[1]["errors"] as? [[String: Any]])?.first)
        #expect(error["path"] as? String == "address-pools[0].addresses[0]")
        #expect(error["line"] as? Int == 4)
    }

    @Test func argumentValidation() async {
        #expect(throws: (any Error).self) { try ValidateCommand.parse([]) }
        #expect(throws: (any Error).self) { try ValidateCommand.parse(["-", "-"]) }
        #expect(throws: (any Error).self) { try ValidateCommand.parse(["a.yaml", "--output", "xml"]) }
        #expect((try? ValidateCommand.parse(["a.yaml", "-o", "json"]))?.output == .json)
    }

    /// The real binary: examples validate, stdin works, exit codes are right.
    @Test func binaryValidatesTheExamplesAndReadsStandardInput() async throws {
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let root = BuiltProducts.repositoryRoot.path
        let examples = try FileManager.default.contentsOfDirectory(atPath: "\(root)/examples").filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(examples.count >= 2)
        let ok = try await Shell.output(of: [ironlb, "config", "validate"] + examples.map { "\(root)/examples/\($0)" })
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.components(separatedBy: ": valid\n").count - 1 == examples.count)
        let piped = try await Shell.output(of: [ironlb, "config", "validate", "-"], input: files["bad.yaml"])
        #expect(piped.status == 1)
        #expect(piped.stderr.contains("<stdin>:4:15: error: address-pools[0].addresses[0]"))
    }
}
