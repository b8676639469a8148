import Foundation
import Testing

/// The operator documentation keeps up with the code: every allocation failure reason, every
/// Event reason and every metric the sources define is documented, and every relative link in
/// the documentation leads to a file.
@Suite struct DocumentationTests {
    static func sources(under directory: String, suffix: String = ".swift") throws -> [(path: String, text: String)] {
        let root = Artifacts.url(directory)
        let paths = FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String } ?? []
        return try paths.filter { $0.hasSuffix(suffix) }.sorted().map {
            ("\(directory)/\($0)", try String(contentsOf: root.appendingPathComponent($0), encoding: .utf8))
        }
    }

    static func matches(_ pattern: String, in text: String) throws -> [[String]] {
        let regex = try NSRegularExpression(pattern: pattern)
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { match in
            (1..<match.numberOfRanges).compactMap { Range(match.range(at: $0), in: text).map { String(text[$0]) } }
        }
    }

    /// The reason codes of `AllocationError.reason`.
    static func allocationReasons() throws -> [String] {
        let text = try Artifacts.text("Sources/LBCore/AllocationError.swift")
        let body = try #require(text.range(of: "public var reason: String {").map { text[$0.upperBound...] })
        let end = try #require(body.range(of: "public var description"))
        return try matches(#"return "([A-Za-z]+)""#, in: String(body[..<end.lowerBound])).map { $0[0] }
    }

    @Test func everyAllocationFailureReasonIsExplained() throws {
        let reasons = try Self.allocationReasons()
        #expect(reasons.count >= 10, "parsed \(reasons)")
        let doc = try Artifacts.text("docs/troubleshooting.md")
        for reason in reasons { #expect(doc.contains("| `\(reason)` |"), "docs/troubleshooting.md has no row for \(reason)") }
    }

    @Test func everyEventReasonIsExplained() throws {
        var reasons: Set<String> = []
        // The processes that record Events (KubeSim's API Status reasons are not Events).
        let recorders = ["Sources/LBCore", "Sources/ControllerCore", "Sources/Controller", "Sources/SpeakerCore", "Sources/Speaker"]
        for (_, text) in try recorders.flatMap({ try Self.sources(under: $0) }) {
            // `.warning, "Reason"` in an Event, or `reason: "Reason"` passed to a helper that makes one.
            for match in try Self.matches(#"(?:\.(?:warning|normal), |reason: )"([A-Za-z]+)""#, in: text) { reasons.insert(match[0]) }
        }
        #expect(reasons.isSuperset(of: ["AllocationFailed", "IPAllocated", "InvalidConfig", "ConfigRejected"]), "parsed \(reasons.sorted())")
        let doc = try Artifacts.text("docs/troubleshooting.md")
        for reason in reasons.sorted() { #expect(doc.contains("`\(reason)`"), "docs/troubleshooting.md does not mention the Event \(reason)") }
    }

    @Test func everyMetricIsListed() throws {
        var names: Set<String> = []
        for (_, text) in try Self.sources(under: "Sources") {
            let pattern = #"namespace: "(\w+)", subsystem: "(\w*)", metricName: "(\w+)", unitName: "(\w*)""#
            for match in try Self.matches(pattern, in: text) {
                names.insert(match.filter { !$0.isEmpty }.joined(separator: "_"))
            }
        }
        #expect(names.contains("ironlb_allocator_addresses_in_use_total") && names.count >= 6, "parsed \(names.sorted())")
        let doc = try Artifacts.text("docs/metrics.md")
        for name in names.sorted() { #expect(doc.contains("| `\(name)` |"), "docs/metrics.md has no row for \(name)") }
    }

    /// Relative Markdown links in the README and docs/ name files that exist.
    @Test func relativeLinksResolve() throws {
        let documents = [("README.md", try Artifacts.text("README.md"))] + (try Self.sources(under: "docs", suffix: ".md"))
            + [("charts/ironlb/README.md", (try? Artifacts.text("charts/ironlb/README.md")) ?? "")]
        var checked = 0
        for (path, text) in documents {
            let base = Artifacts.url(path).deletingLastPathComponent()
            for match in try Self.matches(#"\]\(([^)#\s]+)(?:#[^)]*)?\)"#, in: text) where !match[0].contains("://") {
                checked += 1
                let target = base.appendingPathComponent(match[0]).standardizedFileURL.path
                #expect(FileManager.default.fileExists(atPath: target), "\(path) links to \(match[0]), which does not exist")
            }
        }
        #expect(checked > 0)
    }

    /// `docs/architecture.md` names every target of `Package.swift` (test targets aside), and no
    /// target that is gone.
    @Test func architectureMapMatchesThePackage() throws {
        let package = try Artifacts.text("Package.swift")
        let declared = Set(try Self.matches(#"\.(?:target|executableTarget)\(\s*name: "([A-Za-z0-9_-]+)""#, in: package).map { $0[0] })
        #expect(declared.count >= 20, "parsed \(declared.sorted())")
        let map = try Artifacts.text("docs/architecture.md")
        let targetsSection = try #require(map.range(of: "## Targets").map { String(map[$0.upperBound...]) })
        let table = targetsSection.components(separatedBy: "\n## ").first ?? targetsSection
        let named = Set(try Self.matches(#"`([A-Za-z0-9_-]+)`"#, in: table.components(separatedBy: "\n").filter { $0.hasPrefix("| `") }.map {
            $0.components(separatedBy: "|")[1]
        }.joined(separator: " ")).map { $0[0] })
        for target in declared.subtracting(named).sorted() { Issue.record("docs/architecture.md does not name the target \(target)") }
        for target in named.subtracting(declared).sorted() { Issue.record("docs/architecture.md names \(target), which Package.swift does not declare") }
    }
}
