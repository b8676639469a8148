import Foundation
import TestSupport
import Testing

/// The code order of the production binary (docs/design/lean-binary.md, "Code order"):
/// scripts/link-order writes scripts/link-order.txt, scripts/build-release gives it to lld,
/// scripts/binary-size counts how much of it the binary still has and scripts/build-image fails
/// when too little does.
@Suite struct LinkOrderTests {
    /// The names of the committed file (comment lines left out).
    static func names() throws -> [String] {
        try Artifacts.text("scripts/link-order.txt").split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
    }

    @Test func buildReleaseGivesLldTheOrderAndTheProfileBuildAlignsFunctions() throws {
        let release = try Artifacts.text("scripts/build-release")
        for text in ["order=scripts/link-order.txt", "--symbol-ordering-file=$copy", "--no-warn-symbol-ordering",
                     #"IRONLB_LINK_PROFILE:-}" == 1"#, "-align-all-functions=12"] {
            #expect(release.contains(text), "build-release: \(text)")
        }
        // The profiling build is the one scripts/link-order runs.
        #expect(try Artifacts.text("scripts/link-order").contains(#"IRONLB_LINK_PROFILE="1""#))
        // The image build holds the binary to the order it was given.
        #expect(try Artifacts.text("scripts/build-image").contains("--link-order scripts/link-order.txt --min-matched "))
    }

    /// One symbol name a line, each once, as many as the header says scripts/link-order found.
    @Test func orderFileHoldsEachFunctionOnceAsTheHeaderCounts() throws {
        let names = try Self.names()
        #expect(names.count > 1000, "\(names.count) names")
        #expect(Set(names).count == names.count, "duplicates")
        for name in names where name.isEmpty || name.contains(where: \.isWhitespace) { Issue.record("not a symbol name: '\(name)'") }
        let header = try #require(try Artifacts.text("scripts/link-order.txt").split(separator: "\n").first.map(String.init))
        // "# scripts/link-order COUNT at REVISION: IDLE functions the speaker ran up to idle …, SERVICES
        // more it ran with Services, then CONTROLLER only the controller ran …". The counts are read
        // after the colon: a short revision may be all digits.
        let afterRevision = header.split(separator: ":", maxSplits: 1).dropFirst().first ?? ""
        let parts = afterRevision.split(whereSeparator: { $0 == " " || $0 == "," }).compactMap { Int($0) }
        #expect(parts.count == 3, "header: \(header)")
        guard parts.count == 3 else { return }
        #expect(parts.reduce(0, +) == names.count, "header: \(header)")
        // Each part is in C order (so a regenerated file differs only where the code did).
        guard parts.reduce(0, +) == names.count else { return }
        var start = 0
        for count in parts {
            let part = Array(names[start..<start + count])
            #expect(part == part.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }), "a part of \(count) names is not in C order")
            start += count
        }
    }

    /// binary-size counts the names of the file that are symbols of a binary (this test's own
    /// executable holds `main`), and fails below --min-matched.
    @Test func binarySizeCountsTheNamesFoundAndFailsBelowTheMinimum() async throws {
        let directory = NSTemporaryDirectory() + "ironlb-link-order-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let order = directory + "/order.txt"
        try "# a comment\nmain\nironlb_no_such_function_one\n\nironlb_no_such_function_two\n".write(toFile: order, atomically: true, encoding: .utf8)
        let executable = try #require(Bundle.main.executablePath ?? CommandLine.arguments.first)
        let script = Artifacts.url("scripts/binary-size").path
        let counted = try await Shell.output(of: [script, "--link-order", order, executable], timeout: 600)
        #expect(counted.stdout.contains("link order  1 of 3 names in \(order) are symbols of the binary (33 %)"), "\(counted.stdout)\(counted.stderr)")
        #expect(!counted.stdout.contains("link order matched below"))
        let held = try await Shell.output(of: [script, "--link-order", order, "--min-matched", "50", executable], timeout: 600)
        #expect(held.status == 1)
        #expect(held.stdout.contains("FAIL: 33 % of the link order's names found < 50 %"), "\(held.stdout)\(held.stderr)")
        #expect(held.stderr.contains("a link order matched below 50 %"))
        let alone = try await Shell.output(of: [script, "--min-matched", "50", executable])
        #expect(alone.status == 2 && alone.stderr.contains("--min-matched needs --link-order"))
    }
}
