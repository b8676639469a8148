import Foundation
import Testing

/// Issue 16: the production binary links neither ICU nor FoundationInternationalization. On
/// Linux `import Foundation` brings both, so the targets `ironlb` links (the lab aside) import
/// FoundationEssentials, falling back to Foundation only where FoundationEssentials does not
/// exist (`#if canImport(FoundationEssentials) ... #else import Foundation #endif`), and none
/// imports Yams (which imports Foundation). The binary's symbols are the real proof
/// (scripts/binary-size); this scan says which file broke the rule.
@Suite struct ProductionImportsTests {
    /// The targets of the production binary.
    static let productionTargets = [
        "NetPrimitives", "YAML", "LBConfig", "LBCore", "ControllerCore", "Announcements", "KubeModel", "LeaderElection",
        "KubeClient", "Controller", "Speaker", "SpeakerCore", "BGPWire", "BGPSession", "BGPTransport", "BFD", "BFDTransport",
        "LinkWire", "L2Ownership", "PacketIO", "Observability", "IronLBCLI", "ironlb",
    ]

    /// IronLBCLI's lab files: `ironlb lab` and `ironlb kubesim`, which leave the production build.
    static func isLab(_ path: String) -> Bool {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return path.hasPrefix("Sources/IronLBCLI/") && (name.hasPrefix("Lab") || name == "KubeSimCommand.swift" || name == "NamespaceRelay.swift")
    }

    /// The lines of `text` that import Foundation (or ICU-bound modules, or Yams) other than as
    /// the fallback of `#if canImport(FoundationEssentials)`.
    static func violations(_ text: String) -> [String] {
        var found: [String] = []
        // The branch each open `#if` is in: true in the `#else` of `#if canImport(FoundationEssentials)`.
        var fallback: [Bool] = []
        var essentialsCondition: [Bool] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#if ") {
                essentialsCondition.append(line == "#if canImport(FoundationEssentials)")
                fallback.append(false)
            } else if line.hasPrefix("#else"), !fallback.isEmpty {
                fallback[fallback.count - 1] = essentialsCondition.last == true
            } else if line.hasPrefix("#elseif"), !fallback.isEmpty {
                fallback[fallback.count - 1] = false
            } else if line.hasPrefix("#endif"), !fallback.isEmpty {
                fallback.removeLast()
                essentialsCondition.removeLast()
            }
            let words = line.split(separator: " ").map(String.init)
            guard let importIndex = words.firstIndex(of: "import"), importIndex + 1 < words.count,
                  words[..<importIndex].allSatisfy({ $0.hasPrefix("@") || ["public", "internal", "package", "private", "fileprivate"].contains($0) })
            else { continue }
            let module = words[importIndex + 1].split(separator: ".").first.map(String.init) ?? ""
            switch module {
            case "Foundation" where fallback.last != true,
                 "FoundationInternationalization", "_FoundationICU", "FoundationNetworking", "FoundationXML", "Yams":
                found.append("line \(index + 1): \(line)")
            default:
                break
            }
        }
        return found
    }

    @Test func theScanFindsWhatItLooksFor() {
        #expect(Self.violations("import Foundation\n") == ["line 1: import Foundation"])
        #expect(Self.violations("@preconcurrency import Foundation\nimport Yams\n").count == 2)
        #expect(Self.violations("#if canImport(FoundationEssentials)\nimport FoundationEssentials\n#else\nimport Foundation\n#endif\n").isEmpty)
        #expect(Self.violations("#if canImport(FoundationEssentials)\nimport Foundation\n#endif\n").count == 1)
        #expect(Self.violations("#if os(Linux)\nimport Glibc\n#else\nimport Foundation\n#endif\n").count == 1)
        #expect(Self.violations("import FoundationEssentials\nimport Synchronization\n").isEmpty)
    }

    @Test func productionTargetsImportNoFoundationNorYams() throws {
        var scanned = 0
        for target in Self.productionTargets {
            let files = try DocumentationTests.sources(under: "Sources/\(target)")
            #expect(!files.isEmpty, "Sources/\(target) has no Swift files")
            for file in files where !Self.isLab(file.path) {
                scanned += 1
                for violation in Self.violations(file.text) { Issue.record("\(file.path) \(violation)") }
            }
        }
        #expect(scanned > 100, "scanned \(scanned) files")
    }
}
