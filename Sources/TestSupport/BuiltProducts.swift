import Foundation
import Testing

/// Executables built beside the running test bundle (`swift build --build-tests` builds them).
public enum BuiltProducts {
    /// The directory holding the test bundle and the package's executables.
    public static var directory: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // The bundle is a file (Linux) or a directory (.xctest on macOS); walk up to the build dir.
        while !url.path.isEmpty && url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("ironlb").path) {
            url = url.deletingLastPathComponent()
        }
        return url
    }

    /// The path of executable `name`, or nil when it was not built.
    public static func executable(_ name: String) -> String? {
        let path = directory.appendingPathComponent(name).path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// The path of executable `name`; when it was not built, records a test failure and
    /// returns nil (`guard let ironlb = BuiltProducts.require("ironlb") else { return }`).
    public static func require(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        guard let path = executable(name) else {
            Issue.record("the \(name) executable was not built beside the tests (run swift build --build-tests)", sourceLocation: sourceLocation)
            return nil
        }
        return path
    }

    /// The repository's root, found from this source file.
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
