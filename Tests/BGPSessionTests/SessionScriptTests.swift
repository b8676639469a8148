import BGPSession
import Foundation
import Testing

/// The BGP session fuzz corpus (fuzz/corpus/bgp-session: hand-written scripts plus what
/// libFuzzer kept, docs/fuzzing.md) replayed through the fuzz target's checks on every run.
@Suite struct SessionScriptCorpusTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz/corpus/bgp-session")

    @Test func corpusReplaysCleanly() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).sorted()
        #expect(files.count >= 8)
        var states: Set<BGPSessionState> = []
        var updates = 0
        for file in files {
            let bytes = Array(try Data(contentsOf: Self.directory.appendingPathComponent(file)))
            let report = BGPSessionScript.run(bytes)
            #expect(report.problems.isEmpty, "\(file): \(report.problems)")
            states.formUnion(report.statesReached)
            updates += report.updatesSent
        }
        // The corpus exercises the whole machine, not only its refusals.
        #expect(states == [.idle, .connect, .active, .openSent, .openConfirm, .established])
        #expect(updates > 10)
    }
}
