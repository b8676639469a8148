import Foundation
import TestSupport
import Testing

/// The fuzz package (fuzz/) is built apart from the main package, with -sanitize=fuzzer, so
/// nothing else notices when its manifest breaks. Its manifest must parse, every libFuzzer
/// target must hand over to libFuzzer through FuzzSupport, and fuzz/run.sh must know it.
@Suite struct FuzzPackageTests {
    struct Manifest: Decodable {
        struct Target: Decodable {
            let name: String
            let type: String
            let dependencies: [Dependency]
        }
        struct Dependency: Decodable {
            let byName: [String?]?
        }
        let targets: [Target]
    }

    @Test func everyFuzzTargetUsesFuzzSupportAndRunShKnowsIt() throws {
        let output = try Shell.check(["swift", "package", "--package-path", Artifacts.url("fuzz").path, "dump-package"])
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(output.utf8))
        let executables = manifest.targets.filter { $0.type == "executable" }
        #expect(executables.count >= 7)
        let runner = try Artifacts.text("fuzz/run.sh")
        for target in executables {
            let names = target.dependencies.compactMap { $0.byName?.first ?? nil }
            #expect(names.contains("FuzzSupport"), "\(target.name) does not use FuzzSupport")
            let source = try Artifacts.text("fuzz/Sources/\(target.name)/\(target.name).swift")
            #expect(source.contains("runLibFuzzer("), "\(target.name) has a libFuzzer hand-over of its own")
            #expect(!source.contains("LLVMFuzzerRunDriver"), "\(target.name) declares LLVMFuzzerRunDriver itself")
            #expect(runner.contains("product=\(target.name);"), "fuzz/run.sh cannot run \(target.name)")
        }
    }
}
