import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Observability
import LBConfig

public enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text
    case json
}

/// `ironlb config validate FILE...`: parses and validates exactly as the controller does.
public struct ValidateCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Validate ConfigMaps, their `config` values, or MetalLB's metallb.io objects as the controller would.",
        discussion: """
            Prints every error with its path and exits 1, or one line per pool and exits 0.
            A file may be a whole ConfigMap manifest, just the value of its `config` key, or
            multi-document YAML of metallb.io objects (IPAddressPool, L2Advertisement,
            BGPAdvertisement, BGPPeer, Community, BFDProfile, and the Secrets they name),
            with or without a ConfigMap beside them.
            Use - to read standard input.
            """
    )

    @Argument(help: "Files to validate; - reads standard input.")
    public var files: [String]

    @Option(name: .shortAndLong, help: "Output format: text or json.")
    public var output: OutputFormat = .text

    public init() {}

    public func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one FILE (or - for standard input)") }
        if files.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input (-) can be read only once") }
    }

    public func run() async throws {
        let report = ConfigValidation.run(files: files, format: output, read: ConfigValidation.readFile)
        StandardStream.output.write(report.output)
        if !report.diagnostics.isEmpty { StandardStream.error.write(report.diagnostics) }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}

/// The work behind `config validate`, separate from the process so tests call it directly.
public enum ConfigValidation {
    public struct Report: Equatable, Sendable {
        public var output: String
        public var diagnostics: String
        public var exitCode: Int32
    }

    struct FileResult: Codable, Equatable {
        struct Pool: Codable, Equatable {
            let name: String
            let `protocol`: String
            let addresses: String
            let ipv4Addresses: String
            let ipv6Addresses: String
            let autoAssign: Bool
        }
        struct Problem: Codable, Equatable {
            let path: String
            let message: String
            let line: Int?
            let column: Int?
        }
        let file: String
        let valid: Bool
        let summary: [String]?
        let pools: [Pool]?
        let peers: Int?
        let warnings: [String]
        let errors: [Problem]?
    }

    public static func readFile(_ path: String) throws -> String {
        if path == "-" {
            return String(decoding: StandardStream.readInput(), as: UTF8.self)
        }
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    public static func run(files: [String], format: OutputFormat, read: (String) throws -> String) -> Report {
        var results: [FileResult] = []
        for file in files {
            let name = file == "-" ? "<stdin>" : file
            let text: String
            do {
                text = try read(file)
            } catch {
                results.append(FileResult(file: name, valid: false, summary: nil, pools: nil, peers: nil, warnings: [],
                                          errors: [.init(path: "", message: "cannot read: \(describe(error))", line: nil, column: nil)]))
                continue
            }
            switch ConfigParser.parse(text) {
            case .success(let parsed):
                let pools = parsed.configuration.pools.map { pool in
                    FileResult.Pool(
                        name: pool.name, protocol: pool.protocol.rawValue, addresses: "\(pool.addressCount)",
                        ipv4Addresses: "\(pool.addressCount(family: .ipv4))", ipv6Addresses: "\(pool.addressCount(family: .ipv6))",
                        autoAssign: pool.autoAssign
                    )
                }
                results.append(FileResult(file: name, valid: true, summary: parsed.configuration.summaryLines, pools: pools, peers: parsed.configuration.peers.count,
                                          warnings: parsed.warnings, errors: nil))
            case .failure(let errors):
                results.append(FileResult(file: name, valid: false, summary: nil, pools: nil, peers: nil, warnings: [],
                                          errors: errors.errors.map { .init(path: $0.path, message: $0.message, line: $0.line, column: $0.column) }))
            }
        }
        let exitCode: Int32 = results.allSatisfy(\.valid) ? 0 : 1
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = (try? encoder.encode(["files": results])) ?? Data()
            return Report(output: String(decoding: data, as: UTF8.self) + "\n", diagnostics: "", exitCode: exitCode)
        case .text:
            return text(results, exitCode: exitCode)
        }
    }

    private static func text(_ results: [FileResult], exitCode: Int32) -> Report {
        var output = ""
        var diagnostics = ""
        for result in results {
            if result.valid {
                output += "\(result.file): valid\n"
                for line in result.summary ?? [] { output += "  \(line)\n" }
                for warning in result.warnings { diagnostics += "\(result.file): warning: \(warning)\n" }
            } else {
                for error in result.errors ?? [] {
                    var location = result.file
                    if let line = error.line { location += ":\(line)" + (error.column.map { ":\($0)" } ?? "") }
                    let where_ = error.path.isEmpty ? "" : "\(error.path): "
                    diagnostics += "\(location): error: \(where_)\(error.message)\n"
                }
                let count = result.errors?.count ?? 0
                output += "\(result.file): invalid (\(count) \(count == 1 ? "error" : "errors"))\n"
            }
        }
        return Report(output: output, diagnostics: diagnostics, exitCode: exitCode)
    }

    private static func describe(_ error: Error) -> String {
        // Foundation's localizedDescription needs ICU; the reasons a read fails, in words.
        guard let error = error as? CocoaError else { return "\(error)" }
        switch error.code {
        case .fileReadNoSuchFile: return "no such file"
        case .fileReadNoPermission: return "permission denied"
        case .fileReadInapplicableStringEncoding, .fileReadCorruptFile: return "not UTF-8 text"
        default: return "error \(error.code.rawValue)"
        }
    }
}
