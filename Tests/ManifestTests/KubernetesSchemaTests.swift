import Foundation
import TestSupport
import Testing

/// Every object IronLB ships validates against Kubernetes' own OpenAPI schemas in strict mode
/// (unknown fields are errors), for the oldest supported Kubernetes (the chart's kubeVersion)
/// and the newest the `kubernetes-validate` package knows. This catches a misspelt field that the
/// API server would silently drop, which no structural test above would notice.
@Suite(.serialized) struct KubernetesSchemaTests {
    static let versions = ["1.26.0", "1.37.0"]

    static func validate(_ paths: [String], version: String) async throws -> Shell.Output {
        try await Shell.output(of: ["python3", "-m", "kubernetes_validate", "--strict", "--quiet", "-k", version] + paths, timeout: 120)
    }

    static func available() async -> Bool {
        await PythonModules.available(["kubernetes_validate"], packages: "kubernetes-validate")
    }

    @Test(arguments: versions)
    func manifestsAndExamplesValidate(version: String) async throws {
        guard await Self.available() else { return }
        let files = ["manifests/ironlb.yaml", "examples/layer2.yaml", "examples/bgp.yaml"].map { Artifacts.url($0).path }
        let output = try await Self.validate(files, version: version)
        #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    }

    /// The chart, rendered with defaults and with every optional part switched on.
    @Test(arguments: versions)
    func chartRendersValidate(version: String) async throws {
        guard await Self.available(), await ChartTool.available() else { return }
        let overrides = [
            "",
            """
            namespace: {create: true}
            imagePullSecrets: [{name: pull}]
            lbClass: example.com/ironlb
            config:
              inline:
                address-pools: [{name: default, protocol: layer2, addresses: [198.51.100.0/28]}]
            controller:
              tolerations: [{key: dedicated, operator: Equal, value: lb, effect: NoSchedule}]
            """,
        ]
        for override in overrides {
            let paths = try ChartTool.files(override.isEmpty ? [] : [override])
            defer { ChartTool.remove(paths) }
            let render = try await ChartTool.run(["render", ChartTool.chart] + paths.flatMap { ["-f", $0] })
            try #require(render.status == 0, "\(render.stderr)")
            let rendered = try ChartTool.files([render.stdout])
            defer { ChartTool.remove(rendered) }
            let output = try await Self.validate(rendered, version: version)
            #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
        }
    }

    /// The validator itself refuses a misspelt field (so a pass above means something).
    @Test func aMisspeltFieldIsRefused() async throws {
        guard await Self.available() else { return }
        let manifest = try Artifacts.text("manifests/ironlb.yaml")
            .replacingOccurrences(of: "readOnlyRootFilesystem: true", with: "readOnlyRootFileSystem: true")
        let paths = try ChartTool.files([manifest])
        defer { ChartTool.remove(paths) }
        let output = try await Self.validate(paths, version: Self.versions[1])
        #expect(output.status != 0)
        #expect((output.stdout + output.stderr).contains("readOnlyRootFileSystem"))
    }
}
