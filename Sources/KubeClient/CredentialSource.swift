#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KubeModel
import NIOPosix

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

/// Runs an exec credential plugin on NIO's blocking thread pool (it blocks reading the
/// plugin's output), killing it after `timeout`.
enum ExecPlugin {
    static func run(_ e: ExecConfig, timeout: Duration) async throws -> (String, KubeTime?) {
        try await NIOThreadPool.singleton.runIfActive { try runBlocking(e, timeout: timeout) }
    }

    private static func runBlocking(_ e: ExecConfig, timeout: Duration) throws -> (String, KubeTime?) {
        let arguments = e.command.contains("/") ? [e.command] + e.args : ["/usr/bin/env", e.command] + e.args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in e.env { env[k] = v }
        var spec: JSONValue = ["interactive": false]
        if let s = e.clusterServer { spec["cluster"] = ["server": .string(s)] }
        env["KUBERNETES_EXEC_INFO"] = JSONValue.object(["apiVersion": .string(e.apiVersion), "kind": "ExecCredential", "spec": spec]).serialized()
        let child: ChildProcess
        do { child = try ChildProcess(arguments: arguments, environment: env) } catch {
            throw KubeConfigError("exec_failed", "exec plugin \(e.command): \(error)")
        }
        defer { close(child.output) }
        // Read until EOF or the deadline; then the plugin is killed (a plugin that hangs, or
        // whose children keep the pipe open, cannot hold the request forever).
        let (data, finished) = readOutput(child.output, until: ContinuousClock.now.advanced(by: timeout))
        if !finished {
            kill(child.identifier, SIGKILL)
            _ = child.wait()
            throw KubeConfigError("exec_timeout", "exec plugin \(e.command) did not finish within \(timeout)")
        }
        let status = child.wait()
        guard status == 0 else { throw KubeConfigError("exec_failed", "exec plugin \(e.command) exited with \(status)") }
        guard let v = try? JSONValue.parse(data), v["kind"]?.stringValue == "ExecCredential",
              let token = v.value(atPath: "status.token")?.stringValue, !token.isEmpty
        else { throw KubeConfigError("exec_bad_output", "exec plugin \(e.command): output is not an ExecCredential with status.token") }
        let expiry = v.value(atPath: "status.expirationTimestamp")?.stringValue.flatMap { try? KubeTime(rfc3339: $0) }
        return (token, expiry)
    }

    /// An ExecCredential is small; more than this is not one.
    static let maximumOutput = 1 << 20

    /// The bytes read from `descriptor` until EOF (true) or `deadline` (false).
    private static func readOutput(_ descriptor: Int32, until deadline: ContinuousClock.Instant) -> ([UInt8], Bool) {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while data.count <= maximumOutput {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return (data, false) }
            let milliseconds = remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&request, 1, Int32(min(milliseconds, 1000)))
            if ready < 0 && errno != EINTR { return (data, true) }
            guard ready > 0 else { continue }
            let count = read(descriptor, &chunk, chunk.count)
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return (data, true)
            }
            if count == 0 { return (data, true) }
            data += chunk[0..<count]
        }
        return (data, true)
    }
}
