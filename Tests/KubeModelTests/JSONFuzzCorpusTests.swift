import Foundation
import Testing
@testable import KubeModel

/// The Kubernetes JSON fuzzer's kept corpus (docs/fuzzing.md), replayed through its checks.
@Suite struct JSONFuzzCorpusTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz/corpus/kube-json")

    @Test func corpusReplaysCleanly() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).sorted()
        #expect(files.count >= 10)
        var parsed = 0
        for file in files {
            let bytes = Array(try Data(contentsOf: Self.directory.appendingPathComponent(file)))
            #expect(JSONFuzzCheck.violation(bytes) == nil, "\(file)")
            if (try? JSONValue.parse(bytes)) != nil { parsed += 1 }
        }
        // The corpus reaches both outcomes.
        #expect(parsed > 0 && parsed < files.count)
    }

    @Test func fixturesPassTheFuzzChecks() throws {
        for name in ["endpointslice.json", "lease.json", "service-lb.json", "watch-stream.txt"] {
            #expect(JSONFuzzCheck.violation(try fixture(name)) == nil, "\(name)")
        }
    }
}
