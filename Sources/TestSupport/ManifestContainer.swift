import Foundation
import YAML

/// A container of `manifests/ironlb.yaml` as the kubelet would start it: its arguments,
/// environment (downward-API fields resolved, `$(VAR)` expanded as Kubernetes does), Secret
/// volume mounts and security context (the container's over the pod's, the image's user when
/// neither sets one).
public struct ManifestContainer {
    public let workload: String
    public let arguments: [String]
    /// `env` entries: a literal value, or a downward-API `fieldPath`.
    public let environment: [(name: String, value: String?, fieldPath: String?)]
    /// Secret volumes: mount path and Secret name.
    public let secretMounts: [(path: String, secret: String)]
    public let securityContext: [String: Any]
    public let podSecurityContext: [String: Any]

    /// The first container of the Deployment or DaemonSet `name` in the repository's manifest.
    public static func load(_ kind: String, _ name: String, manifest: String = BuiltProducts.repositoryRoot.appendingPathComponent("manifests/ironlb.yaml").path) throws -> ManifestContainer {
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
        for case let object as [String: Any] in try composeAll(yaml: text).map(Self.plain) {
            guard object["kind"] as? String == kind, (object["metadata"] as? [String: Any])?["name"] as? String == name,
                  let pod = ((object["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any],
                  let container = (pod["containers"] as? [[String: Any]])?.first else { continue }
            let volumes = pod["volumes"] as? [[String: Any]] ?? []
            let secrets = (container["volumeMounts"] as? [[String: Any]] ?? []).compactMap { mount -> (String, String)? in
                let volume = volumes.first { $0["name"] as? String == mount["name"] as? String }
                guard let path = mount["mountPath"] as? String, let secret = (volume?["secret"] as? [String: Any])?["secretName"] as? String else { return nil }
                return (path, secret)
            }
            let environment = (container["env"] as? [[String: Any]] ?? []).map { entry in
                (name: entry["name"] as? String ?? "", value: entry["value"] as? String,
                 fieldPath: ((entry["valueFrom"] as? [String: Any])?["fieldRef"] as? [String: Any])?["fieldPath"] as? String)
            }
            return ManifestContainer(workload: "\(kind)/\(name)", arguments: container["args"] as? [String] ?? [], environment: environment,
                                     secretMounts: secrets, securityContext: container["securityContext"] as? [String: Any] ?? [:],
                                     podSecurityContext: pod["securityContext"] as? [String: Any] ?? [:])
        }
        throw ImageError("\(manifest): no \(kind) \(name) with a container")
    }

    /// A YAML node as Foundation-style values (`[String: Any]`, `[Any]`, `String`, `Int`, `Bool`).
    static func plain(_ node: Node) -> Any {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.description) {
            case .int: return node.int ?? scalar.string
            case .bool: return node.bool ?? scalar.string
            case .null: return NSNull()
            default: return scalar.string
            }
        case .sequence(let sequence):
            return sequence.map(plain)
        case .mapping(let mapping):
            var result: [String: Any] = [:]
            for (key, value) in mapping { if let name = key.string { result[name] = plain(value) } }
            return result
        }
    }

    /// The environment of the container in `namespace` on `node` (whose address is `hostIP`).
    public func resolvedEnvironment(namespace: String, node: String, hostIP: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for entry in environment {
            if let value = entry.value {
                result[entry.name] = Self.expand(value, result)
            } else if let field = entry.fieldPath {
                switch field {
                case "metadata.namespace": result[entry.name] = namespace
                case "spec.nodeName": result[entry.name] = node
                case "status.hostIP", "status.podIP": result[entry.name] = hostIP
                default: throw ImageError("\(workload): env \(entry.name): fieldPath \(field) is not simulated")
                }
            }
        }
        return result
    }

    /// The arguments with `$(VAR)` replaced from `environment`.
    public func resolvedArguments(_ environment: [String: String]) -> [String] {
        arguments.map { Self.expand($0, environment) }
    }

    static func expand(_ text: String, _ environment: [String: String]) -> String {
        var result = text
        for (name, value) in environment { result = result.replacingOccurrences(of: "$(\(name))", with: value) }
        return result
    }

    /// The security the runtime applies. `imageUser` is the image config's `User` ("65532:65532").
    /// Throws on what the runtime model here does not cover (capabilities without `drop: [ALL]`).
    public func security(imageUser: String) throws -> PodSecurity {
        func value(_ key: String) -> Any? { securityContext[key] ?? podSecurityContext[key] }
        let parts = imageUser.split(separator: ":").map { Int($0) }
        guard let user = (value("runAsUser") as? Int) ?? parts.first ?? nil else { throw ImageError("\(workload): no user (image User \(imageUser))") }
        let group = (value("runAsGroup") as? Int) ?? (parts.count > 1 ? parts[1] : nil) ?? user
        if (value("runAsNonRoot") as? Bool) == true && user == 0 { throw ImageError("\(workload): runAsNonRoot with user 0: the kubelet refuses to start it") }
        let capabilities = securityContext["capabilities"] as? [String: Any] ?? [:]
        guard (capabilities["drop"] as? [String]) == ["ALL"] else { throw ImageError("\(workload): capabilities.drop is not [ALL]") }
        return PodSecurity(user: user, group: group, addedCapabilities: capabilities["add"] as? [String] ?? [],
                           readOnlyRootFilesystem: securityContext["readOnlyRootFilesystem"] as? Bool ?? false,
                           noNewPrivileges: (securityContext["allowPrivilegeEscalation"] as? Bool) == false)
    }
}
