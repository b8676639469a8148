// KubeClient: the Kubernetes API client for the controller and the speakers.
//
// Overview: `KubeConfigLoader` reads kubeconfig files ($KUBECONFIG list, ~/.kube/config) and
// in-cluster service-account configuration into a `ClientConfiguration`. `CredentialSource`
// supplies bearer tokens (static, token file re-read every minute and after a 401, exec
// credential plugins cached until expiry). `KubeClient` is the REST transport on
// AsyncHTTPClient (Retry-After/429 handling, per-request timeouts, typed get/list/create/
// update/patch/delete, status patches, raw watch streams). `Informer` implements list+watch
// with bookmarks, re-watch, relist on 410 and deletes for vanished objects. `EventRecorder`
// writes events.k8s.io/v1 Events with series aggregation. `LeaderElector` drives KubeModel's
// `LeaderElectionStateMachine` against a Lease.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeModel
import YAML
import LeaderElection

/// Everything needed to reach an API server.
public struct ClientConfiguration: Sendable {
    public var server: String
    public var caPEM: [UInt8]?
    public var insecureSkipTLSVerify = false
    public var tlsServerName: String?
    public var clientCertificatePEM: [UInt8]?
    public var clientKeyPEM: [UInt8]?
    public var credentials: CredentialSource.Kind = .none
    public var namespace = "default"
    public var requestTimeout: Duration = .seconds(30)

    public init(server: String) { self.server = server }
}

/// A configuration problem with the path of the offending key.
public struct KubeConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var description: String { "\(code): \(message)" }
    init(_ code: String, _ message: String) { self.code = code; self.message = message }
}

/// kubeconfig v1 (clientcmd/api/v1 types), only the fields IronLB uses.
struct KubeConfigFile: Decodable {
    struct NamedCluster: Decodable { var name: String; var cluster: Cluster }
    struct Cluster: Decodable {
        var server: String?
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?
        var tlsServerName: String?
        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
            case tlsServerName = "tls-server-name"
        }
    }
    struct NamedUser: Decodable { var name: String; var user: User }
    struct User: Decodable {
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var token: String?
        var tokenFile: String?
        var exec: Exec?
        enum CodingKeys: String, CodingKey {
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case token, tokenFile, exec
        }
    }
    struct Exec: Decodable {
        var apiVersion: String?
        var command: String
        var args: [String]?
        var env: [EnvVar]?
        var provideClusterInfo: Bool?
        var interactiveMode: String?
    }
    struct EnvVar: Decodable { var name: String; var value: String }
    struct NamedContext: Decodable { var name: String; var context: Context }
    struct Context: Decodable { var cluster: String; var user: String?; var namespace: String? }

    var clusters: [NamedCluster]?
    var users: [NamedUser]?
    var contexts: [NamedContext]?
    var currentContext: String?
    enum CodingKeys: String, CodingKey {
        case clusters, users, contexts
        case currentContext = "current-context"
    }
}

public enum KubeConfigLoader {
    /// Loads the configuration clients use by default: $KUBECONFIG (":"-separated, first file
    /// to set a key wins), else ~/.kube/config, else in-cluster.
    public static func loadDefault(environment: [String: String] = ProcessInfo.processInfo.environment, context: String? = nil) throws -> ClientConfiguration {
        if let kc = environment["KUBECONFIG"], !kc.isEmpty {
            return try load(paths: kc.split(separator: ":").map(String.init), context: context, environment: environment)
        }
        let home = environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
        let def = home + "/.kube/config"
        if FileManager.default.fileExists(atPath: def) { return try load(paths: [def], context: context, environment: environment) }
        return try inCluster(environment: environment)
    }

    /// Loads and merges kubeconfig files (first definition of a name wins, first current-context wins).
    public static func load(paths: [String], context: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ClientConfiguration {
        var clusters: [String: (KubeConfigFile.Cluster, String)] = [:]
        var users: [String: (KubeConfigFile.User, String)] = [:]
        var contexts: [String: KubeConfigFile.Context] = [:]
        var current: String?
        var any = false
        for path in paths where !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            any = true
            let dir = Self.directory(of: path)
            let file: KubeConfigFile
            do { file = try YAMLDecoder().decode(KubeConfigFile.self, from: text) } catch {
                throw KubeConfigError("kubeconfig_parse", "\(path): \(describe(error))")
            }
            for c in file.clusters ?? [] where clusters[c.name] == nil { clusters[c.name] = (c.cluster, dir) }
            for u in file.users ?? [] where users[u.name] == nil { users[u.name] = (u.user, dir) }
            for c in file.contexts ?? [] where contexts[c.name] == nil { contexts[c.name] = c.context }
            if current == nil, let cc = file.currentContext, !cc.isEmpty { current = cc }
        }
        guard any else { throw KubeConfigError("kubeconfig_missing", "no kubeconfig file found in \(paths)") }
        guard let ctxName = context ?? current else { throw KubeConfigError("kubeconfig_no_context", "current-context is not set") }
        guard let ctx = contexts[ctxName] else { throw KubeConfigError("kubeconfig_no_context", "contexts.\(ctxName): not found") }
        guard let (cluster, cdir) = clusters[ctx.cluster] else { throw KubeConfigError("kubeconfig_no_cluster", "clusters.\(ctx.cluster): not found") }
        guard let server = cluster.server, !server.isEmpty else { throw KubeConfigError("kubeconfig_no_server", "clusters.\(ctx.cluster).cluster.server: missing") }
        var cfg = ClientConfiguration(server: server)
        cfg.namespace = ctx.namespace ?? "default"
        cfg.tlsServerName = cluster.tlsServerName
        cfg.insecureSkipTLSVerify = cluster.insecureSkipTLSVerify ?? false
        if let d = cluster.certificateAuthorityData {
            guard let b = Base64.decode(d) else { throw KubeConfigError("kubeconfig_bad_base64", "clusters.\(ctx.cluster).cluster.certificate-authority-data") }
            cfg.caPEM = b
        } else if let p = cluster.certificateAuthority {
            cfg.caPEM = try readFile(resolve(p, cdir), "clusters.\(ctx.cluster).cluster.certificate-authority")
        }
        if cfg.insecureSkipTLSVerify && cfg.caPEM != nil {
            throw KubeConfigError("kubeconfig_insecure_with_ca", "clusters.\(ctx.cluster): specifying a root certificates file with the insecure flag is not allowed")
        }
        if let userName = ctx.user, let (user, udir) = users[userName] {
            let path = "users.\(userName).user"
            if let d = user.clientCertificateData { cfg.clientCertificatePEM = Base64.decode(d) } else if let p = user.clientCertificate {
                cfg.clientCertificatePEM = try readFile(resolve(p, udir), path + ".client-certificate")
            }
            if let d = user.clientKeyData { cfg.clientKeyPEM = Base64.decode(d) } else if let p = user.clientKey {
                cfg.clientKeyPEM = try readFile(resolve(p, udir), path + ".client-key")
            }
            if (cfg.clientCertificatePEM == nil) != (cfg.clientKeyPEM == nil) {
                throw KubeConfigError("kubeconfig_cert_without_key", "\(path): client-certificate and client-key must be given together")
            }
            if let tf = user.tokenFile, !tf.isEmpty {
                cfg.credentials = .tokenFile(resolve(tf, udir))
            } else if let t = user.token, !t.isEmpty {
                cfg.credentials = .token(t)
            } else if let e = user.exec {
                if e.apiVersion == "client.authentication.k8s.io/v1" && e.interactiveMode == nil {
                    throw KubeConfigError("kubeconfig_exec_interactive_mode", "\(path).exec.interactiveMode: required for client.authentication.k8s.io/v1")
                }
                var env: [String: String] = [:]
                for v in e.env ?? [] { env[v.name] = v.value }
                let command = e.command.contains("/") ? resolve(e.command, udir) : e.command
                cfg.credentials = .exec(ExecConfig(apiVersion: e.apiVersion ?? "client.authentication.k8s.io/v1", command: command, args: e.args ?? [], env: env,
                                                   clusterServer: (e.provideClusterInfo ?? false) ? server : nil))
            }
        }
        return cfg
    }

    /// In-cluster configuration: `https://` + JoinHostPort($KUBERNETES_SERVICE_HOST, $KUBERNETES_SERVICE_PORT),
    /// the service-account token (re-read), `ca.crt` and `namespace` under `root`.
    public static func inCluster(environment: [String: String] = ProcessInfo.processInfo.environment,
                                 root: String = "/var/run/secrets/kubernetes.io/serviceaccount") throws -> ClientConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else { throw KubeConfigError("not_in_cluster", "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined") }
        var cfg = ClientConfiguration(server: "https://" + joinHostPort(host, port))
        cfg.caPEM = try readFile(root + "/ca.crt", "ca.crt")
        guard FileManager.default.fileExists(atPath: root + "/token") else { throw KubeConfigError("no_token", "\(root)/token: missing") }
        cfg.credentials = .tokenFile(root + "/token")
        if let ns = try? String(contentsOfFile: root + "/namespace", encoding: .utf8) {
            cfg.namespace = ns.trimmingWhitespace()
        }
        return cfg
    }

    /// Go's net.JoinHostPort: brackets hosts that contain a colon (IPv6 literals).
    public static func joinHostPort(_ host: String, _ port: String) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// A kubeconfig decoding error by position and kind only, never quoting the offending line,
    /// which can hold a token, a client key or a password.
    static func describe(_ error: Error) -> String {
        func position(_ mark: Mark) -> String { "line \(mark.line), column \(mark.column)" }
        func path(_ codingPath: [CodingKey]) -> String {
            codingPath.isEmpty ? "the document" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case let error as YAMLError:
            if let mark = error.mark { return "not valid YAML at \(position(mark)): \(error.problem)" }
            if error.stage == .reader { return "not readable YAML" + (error.offset.map { " at byte \($0)" } ?? "") + ": \(error.problem)" }
            return "not valid YAML"
        case let error as DecodingError:
            switch error {
            case .dataCorrupted(let context):
                if let underlying = context.underlyingError { return describe(underlying) }
                return "\(path(context.codingPath)): invalid value"
            case .keyNotFound(let key, let context):
                return "\(path(context.codingPath + [key])): missing"
            case .typeMismatch(let type, let context):
                return "\(path(context.codingPath)): expected \(type)"
            case .valueNotFound(let type, let context):
                return "\(path(context.codingPath)): expected \(type)"
            @unknown default:
                return "not a valid kubeconfig"
            }
        default:
            return "not a valid kubeconfig"
        }
    }

    /// The directory part of a path, as NSString's `deletingLastPathComponent`: "" for a bare
    /// name, "/" for a file at the root; trailing slashes ignored.
    static func directory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        if slash == trimmed.startIndex { return "/" }
        var directory = trimmed[..<slash]
        while directory.count > 1, directory.hasSuffix("/") { directory = directory.dropLast() }
        return String(directory)
    }

    static func resolve(_ p: String, _ dir: String) -> String {
        p.hasPrefix("/") || dir.isEmpty ? p : dir + "/" + p
    }

    static func readFile(_ path: String, _ key: String) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: path) else { throw KubeConfigError("kubeconfig_file_unreadable", "\(key): cannot read \(path)") }
        return Array(d)
    }
}

public struct ExecConfig: Sendable, Hashable {
    public var apiVersion: String
    public var command: String
    public var args: [String]
    public var env: [String: String]
    public var clusterServer: String?
}
