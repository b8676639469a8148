import Foundation
import TestSupport
import Testing

/// Runs scripts/chart-tool: Helm's own engine (helm-python-sdk) for render and lint, the
/// `jsonschema` package for schema checks. Helm has no Debian package; see docs/design/chart.md.
enum ChartTool {
    static let chart = Artifacts.url("charts/ironlb").path
    static let schema = Artifacts.url("charts/ironlb/values.schema.json").path
    static let values = Artifacts.url("charts/ironlb/values.yaml").path

    /// Whether python3 and the packages are here; under CI a missing one fails the test.
    static func available(sourceLocation: SourceLocation = #_sourceLocation) async -> Bool {
        await PythonModules.available(["helm_python", "jsonschema", "yaml"], packages: "helm-python-sdk, jsonschema, PyYAML", sourceLocation: sourceLocation)
    }

    static func run(_ arguments: [String]) async throws -> Shell.Output {
        try await Shell.output(of: ["python3", Artifacts.url("scripts/chart-tool").path] + arguments, timeout: 120)
    }

    /// Writes each override to a temporary YAML file (removed by the caller's `defer`).
    static func files(_ overrides: [String]) throws -> [String] {
        try overrides.map { text in
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("ironlb-values-\(UUID().uuidString).yaml")
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
    }

    static func remove(_ paths: [String]) {
        for path in paths { try? FileManager.default.removeItem(atPath: path) }
    }

    /// `helm template` with the given overrides; the rendered objects, or the tool's failure.
    static func render(_ overrides: [String] = [], name: String = "ironlb", namespace: String = "ironlb-system") async throws -> Result<[KubeObject], RenderFailure> {
        let paths = try files(overrides)
        defer { remove(paths) }
        let arguments = ["render", chart, "--name", name, "--namespace", namespace] + paths.flatMap { ["-f", $0] }
        let output = try await run(arguments)
        guard output.status == 0 else { return .failure(RenderFailure(output: output)) }
        return .success(try YAMLValue.documents(output.stdout).map(KubeObject.init))
    }

    struct RenderFailure: Error, CustomStringConvertible {
        let output: Shell.Output
        var description: String { "chart-tool render exited \(output.status): \(output.stderr)" }
    }

    static func validate(_ overrides: [String]) async throws -> Shell.Output {
        let paths = try files(overrides)
        defer { remove(paths) }
        return try await run(["validate-values", schema, values] + paths)
    }
}

/// Python modules some tests run through python3 (scripts/test-python-packages.txt lists them).
enum PythonModules {
    static func available(_ modules: [String], packages: String, sourceLocation: SourceLocation = #_sourceLocation) async -> Bool {
        guard Prerequisites.require(.command("python3"), sourceLocation: sourceLocation) else { return false }
        let probe = try? await Shell.output(of: ["python3", "-c", "import " + modules.joined(separator: ", ")])
        if probe?.status == 0 { return true }
        let reason = "missing the Python packages \(packages) (scripts/install-test-deps installs them)"
        if Prerequisites.isCI {
            Issue.record("CI=true and \(reason): \(probe?.stderr ?? "")", sourceLocation: sourceLocation)
        } else {
            print("SKIP: \(sourceLocation.fileID):\(sourceLocation.line): \(reason)")
        }
        return false
    }
}
