import Foundation
import KubeModel

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
    private var cached: String?
    private var cachedAt: ContinuousClock.Instant?
    private var expiresAt: KubeTime?
    private let wallNow: @Sendable () -> KubeTime
    public private(set) var execRuns = 0
    public private(set) var fileReads = 0

    public init(_ kind: Kind, wallNow: @escaping @Sendable () -> KubeTime = { KubeTime(epochNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9)) }) {
        self.kind = kind
        self.wallNow = wallNow
    }

    public func setTokenFileRefresh(_ d: Duration) { tokenFileRefresh = d }

    /// The value for the Authorization header, or nil.
    public func authorization() throws -> String? {
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
            let t = String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            cached = t
            cachedAt = .now
            return "Bearer \(t)"
        case .exec(let e):
            if let c = cached, expiresAt.map({ wallNow() < $0 }) ?? true { return "Bearer \(c)" }
            let (token, expiry) = try runExec(e)
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

    private func runExec(_ e: ExecConfig) throws -> (String, KubeTime?) {
        execRuns += 1
        let p = Process()
        if e.command.contains("/") {
            p.executableURL = URL(fileURLWithPath: e.command)
            p.arguments = e.args
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [e.command] + e.args
        }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in e.env { env[k] = v }
        var spec: JSONValue = ["interactive": false]
        if let s = e.clusterServer { spec["cluster"] = ["server": .string(s)] }
        env["KUBERNETES_EXEC_INFO"] = JSONValue.object(["apiVersion": .string(e.apiVersion), "kind": "ExecCredential", "spec": spec]).serialized()
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw KubeConfigError("exec_failed", "exec plugin \(e.command): \(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw KubeConfigError("exec_failed", "exec plugin \(e.command) exited with \(p.terminationStatus)") }
        guard let v = try? JSONValue.parse(Array(data)), v["kind"]?.stringValue == "ExecCredential",
              let token = v.value(atPath: "status.token")?.stringValue, !token.isEmpty
        else { throw KubeConfigError("exec_bad_output", "exec plugin \(e.command): output is not an ExecCredential with status.token") }
        let expiry = v.value(atPath: "status.expirationTimestamp")?.stringValue.flatMap { try? KubeTime(rfc3339: $0) }
        return (token, expiry)
    }
}
