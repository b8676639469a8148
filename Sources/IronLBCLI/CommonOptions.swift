import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LBConfig
import Logging

/// Options every long-running subcommand shares, each with an environment fallback.
public struct CommonOptions: ParsableArguments, Sendable {
    @Option(help: "Path of a kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config).")
    public var kubeconfig: String?

    @Option(help: "Namespace of the configuration ConfigMap [env: IRONLB_CONFIG_NAMESPACE].")
    public var configNamespace: String = Environment.value("IRONLB_CONFIG_NAMESPACE") ?? "ironlb-system"

    @Option(help: "Name of the configuration ConfigMap [env: IRONLB_CONFIG_NAME].")
    public var configName: String = Environment.value("IRONLB_CONFIG_NAME") ?? "config"

    @Option(name: .customLong("lb-class"), help: "Handle only Services of this loadBalancerClass; without it, only Services without a class [env: IRONLB_LB_CLASS].")
    public var lbClassOption: String?

    /// The class from the flag, else from the environment.
    public var lbClass: String? { lbClassOption ?? Environment.value("IRONLB_LB_CLASS") }

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical [env: IRONLB_LOG_LEVEL].")
    public var logLevel: String = Environment.value("IRONLB_LOG_LEVEL") ?? "info"

    public init() {}

    public func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level \"\(logLevel)\" is not one of trace, debug, info, notice, warning, error, critical")
        }
        guard !configNamespace.isEmpty, !configName.isEmpty else { throw ValidationError("--config-namespace and --config-name must not be empty") }
        if let lbClassOption, lbClassOption.isEmpty { throw ValidationError("--lb-class must not be empty when given") }
    }

    public var level: Logger.Level { Logger.Level(rawValue: logLevel) ?? .info }
}

enum Environment {
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}

/// `host:port` for a listening address.
struct ListenAddress: ExpressibleByArgument, Sendable, CustomStringConvertible {
    let host: String
    let port: Int

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(argument[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Go-style durations on the command line (`15s`, `500ms`, `1m30s`), as the config file spells them.
struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    let duration: Duration
    let text: String

    init?(argument: String) {
        guard let nanoseconds = try? GoDuration.parse(argument), nanoseconds > 0 else { return nil }
        duration = .nanoseconds(Int64(nanoseconds))
        text = argument
    }

    var description: String { text }
}
