import Foundation
import Testing
@testable import LBConfig

/// The fixture corpus: every `invalid/NAME.yaml` fails with exactly the lines in
/// `invalid/NAME.errors`; every `valid/NAME.yaml` parses and summarises to `valid/NAME.summary`.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/config")

    static func names(_ kind: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent(kind).path)) ?? []
        return files.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    }

    static func read(_ kind: String, _ name: String, _ ext: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent("\(kind)/\(name).\(ext)"), encoding: .utf8)
    }
}

@Suite struct FixtureTests {
    @Test func corpusIsLargeEnough() {
        #expect(Fixtures.names("invalid").count >= 40)
        #expect(Fixtures.names("valid").count >= 10)
    }

    @Test(arguments: Fixtures.names("invalid"))
    func invalidConfigFailsWithExactErrors(name: String) throws {
        let text = try Fixtures.read("invalid", name, "yaml")
        let expected = try Fixtures.read("invalid", name, "errors").split(separator: "\n").map(String.init)
        switch ConfigParser.parse(text) {
        case .success:
            Issue.record("\(name) parsed, but it should fail with \(expected)")
        case .failure(let errors):
            #expect(errors.errors.map(\.description) == expected, "\(name)")
            // Every error that names a path also carries a line for editors.
            for error in errors.errors where !error.path.isEmpty && !error.path.hasPrefix("data.") {
                #expect(error.line != nil || error.path.hasPrefix("peers[") || error.path.hasPrefix("address-pools["), "\(name): \(error) has no line")
            }
        }
    }

    @Test(arguments: Fixtures.names("valid"))
    func validConfigParsesToItsSummary(name: String) throws {
        let text = try Fixtures.read("valid", name, "yaml")
        let expected = try Fixtures.read("valid", name, "summary").split(separator: "\n").map(String.init)
        switch ConfigParser.parse(text) {
        case .failure(let errors):
            Issue.record("\(name) failed: \(errors)")
        case .success(let parsed):
            #expect(parsed.configuration.summaryLines == expected, "\(name)")
        }
    }
}
