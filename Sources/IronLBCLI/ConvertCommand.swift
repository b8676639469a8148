import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Observability
import LBConfig

/// `ironlb config convert --to crds|configmap FILE`: MetalLB's ConfigMap to its custom resources
/// (what MetalLB's `configmaptocrs` does), or custom resources back to a ConfigMap.
public struct ConvertCommand: AsyncParsableCommand {
    public enum Target: String, ExpressibleByArgument, CaseIterable, Sendable {
        case crds
        case configmap
    }

    public static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a ConfigMap to metallb.io objects, or metallb.io objects to a ConfigMap.",
        discussion: """
            Validates FILE as `config validate` does, then writes the configuration in the other form
            on standard output. What the target form cannot express is named on standard error, and
            the exit status is then 2 (the output is still written, without it). Use - for standard input.
            """
    )

    @Option(name: .long, help: "What to write: crds or configmap.")
    public var to: Target

    @Option(name: .long, help: "The namespace of the objects written.")
    public var namespace: String = ConfigParser.defaultNamespace

    @Argument(help: "The file to convert; - reads standard input.")
    public var file: String

    public init() {}

    public func run() async throws {
        let result = ConfigConversion.run(text: try ConfigValidation.readFile(file), to: to, namespace: namespace)
        StandardStream.output.write(result.output)
        if !result.diagnostics.isEmpty { StandardStream.error.write(result.diagnostics) }
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}

/// The work behind `config convert`, separate from the process so tests call it directly.
public enum ConfigConversion {
    public static func run(text: String, to target: ConvertCommand.Target, namespace: String) -> ConfigValidation.Report {
        switch ConfigParser.parse(text) {
        case .failure(let errors):
            let lines = errors.errors.map { error in "error: " + (error.line.map { "line \($0): " } ?? "") + error.description }
            return .init(output: "", diagnostics: lines.joined(separator: "\n") + "\n", exitCode: 1)
        case .success(let parsed):
            let written = target == .crds
                ? ConfigWriter.resources(parsed.configuration, namespace: namespace)
                : ConfigWriter.configMap(parsed.configuration, namespace: namespace)
            let notes = written.notExpressible.map { "not expressible: \($0)\n" }.joined()
            return .init(output: written.text, diagnostics: notes, exitCode: written.notExpressible.isEmpty ? 0 : 2)
        }
    }
}
