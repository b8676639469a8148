#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KubeModel
import Subprocess

/// Supplies the `Authorization` header: a static token, a token file re-read at least every
/// minute and after a 401 (client-go `transport/token_source.go`), or an exec credential plugin
/// whose result is cached until its expiration or a 401.
public actor CredentialSource {
    public enum Kind: Sendable, Hashable {
        case none
        case token(String)
        case tokenFile(String)
        case exec(ExecConfig)
    }

    public let kind: Kind
    /// How long a token read from a file is used before re-reading it.
    public var tokenFileRefresh: Duration = .seconds(60)
    /// How long an exec credential plugin may run before it is killed and the request fails.
    public var execTimeout: Duration = .seconds(60)
    private var cached: String?
    private var cachedAt: ContinuousClock.Instant?
    private var expiresAt: KubeTime?
    private let wallNow: @Sendable () -> KubeTime
    public private(set) var execRuns = 0
    public private(set) var fileReads = 0
    private var execRun: Task<(String, KubeTime?), Error>?

    public init(_ kind: Kind, wallNow: @escaping @Sendable () -> KubeTime = { KubeTime(epochNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9)) }) {
        self.kind = kind
        self.wallNow = wallNow
    }

    public func setTokenFileRefresh(_ d: Duration) { tokenFileRefresh = d }
    public func setExecTimeout(_ d: Duration) { execTimeout = d }

    /// The value for the Authorization header, or nil.
    public func authorization() async throws -> String? {
        switch kind {
        case .none: return nil
        case .token(let t): return "Bearer \(t)"
        case .tokenFile(let path):
            if let c = cached, let at = cachedAt, ContinuousClock.now - at < tokenFileRefresh { return "Bearer \(c)" }
            guard let d = FileManager.default.contents(atPath: path) else {
                if let c = cached { return "Bearer \(c)" }  // keep the last good token
                throw KubeConfigError("token_file_unreadable", "cannot read token file \(path)")
            }
            fileReads += 1
            let t = String(decoding: d, as: UTF8.self).trimmingWhitespace()
            cached = t
            cachedAt = .now
            return "Bearer \(t)"
        case .exec(let e):
            if let c = cached, expiresAt.map({ wallNow() < $0 }) ?? true { return "Bearer \(c)" }
            // Concurrent requests share one plugin run; the actor stays free while it runs.
            let run: Task<(String, KubeTime?), Error>
            if let running = execRun {
                run = running
            } else {
                execRuns += 1
                run = Task { [timeout = execTimeout] in try await ExecPlugin.run(e, timeout: timeout) }
                execRun = run
            }
            defer { if execRun == run { execRun = nil } }
            let (token, expiry) = try await run.value
            cached = token
            expiresAt = expiry
            return "Bearer \(token)"
        }
    }

    /// Called after a 401: forget cached tokens so the next request re-reads or re-runs.
    public func invalidate() {
        switch kind {
        case .none, .token: break
        case .tokenFile, .exec:
            cached = nil
            cachedAt = nil
            expiresAt = nil
        }
    }
}

/// Runs an exec credential plugin with swift-subprocess: exactly the environment built here,
/// standard input and error on /dev/null, standard output collected up to `maximumOutput`;
/// killed after `timeout`.
enum ExecPlugin {
    /// An ExecCredential is small; more than this is not one.
    static let maximumOutput = 1 << 20

    private enum Outcome {
        case finished(output: [UInt8], status: TerminationStatus)
        case timedOut
    }

    static func run(_ e: ExecConfig, timeout: Duration) async throws -> (String, KubeTime?) {
        let arguments = e.command.contains("/") ? [e.command] + e.args : ["/usr/bin/env", e.command] + e.args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in e.env { env[k] = v }
        var spec: JSONValue = ["interactive": false]
        if let s = e.clusterServer { spec["cluster"] = ["server": .string(s)] }
        env["KUBERNETES_EXEC_INFO"] = JSONValue.object(["apiVersion": .string(e.apiVersion), "kind": "ExecCredential", "spec": spec]).serialized()
        let environment = env.map { Array("\($0.key)=\($0.value)\0".utf8) }
        // Whichever ends first: the plugin, or the deadline (cancelling the run kills the plugin;
        // a plugin that hangs, or whose children keep the pipe open, cannot hold the request).
        let outcome = try await withThrowingTaskGroup(of: Outcome.self) { group in
            group.addTask {
                let result: ExecutionResult<Void, BytesOutput, DiscardedOutput>
                do {
                    result = try await Subprocess.run(
                        .path(.init(arguments[0])),
                        arguments: Arguments(Array(arguments.dropFirst())),
                        environment: .custom(environment),
                        input: .none,
                        output: .bytes(limit: maximumOutput),
                        error: .discarded
                    )
                } catch let error as SubprocessError where error.code == .outputLimitExceeded {
                    throw KubeConfigError("exec_bad_output", "exec plugin \(e.command): output is larger than \(maximumOutput) bytes")
                } catch is CancellationError {
                    return .timedOut
                } catch {
                    if Task.isCancelled { return .timedOut }
                    throw KubeConfigError("exec_failed", "exec plugin \(e.command): cannot start: \(error)")
                }
                return .finished(output: result.standardOutput, status: result.terminationStatus)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return .timedOut
            }
            defer { group.cancelAll() }
            return try await group.next() ?? .timedOut
        }
        guard case .finished(let data, let termination) = outcome else {
            throw KubeConfigError("exec_timeout", "exec plugin \(e.command) did not finish within \(timeout)")
        }
        // The exit status, or the signal that ended the plugin.
        let status: Int32
        switch termination {
        case .exited(let code): status = code
        case .signaled(let signal): status = signal
        }
        guard status == 0 else { throw KubeConfigError("exec_failed", "exec plugin \(e.command) exited with \(status)") }
        guard let v = try? JSONValue.parse(data), v["kind"]?.stringValue == "ExecCredential",
              let token = v.value(atPath: "status.token")?.stringValue, !token.isEmpty
        else { throw KubeConfigError("exec_bad_output", "exec plugin \(e.command): output is not an ExecCredential with status.token") }
        let expiry = v.value(atPath: "status.expirationTimestamp")?.stringValue.flatMap { try? KubeTime(rfc3339: $0) }
        return (token, expiry)
    }
}
