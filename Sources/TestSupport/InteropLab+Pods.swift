import Foundation

extension InteropLab {
    /// Starts `container` of manifests/ironlb.yaml from `image` as the kubelet would on `node`
    /// (whose address is `address`), in `namespace`: its arguments (plus `arguments`) and
    /// environment, the service account (KubeSim's token and CA) and
    /// KUBERNETES_SERVICE_HOST/PORT, its Secret volumes (waiting, bounded, until each Secret
    /// exists, as the kubelet does), and its security context.
    public func startPod(_ key: String, _ container: ManifestContainer, in namespace: NetworkNamespace, node: String, address: String,
                         arguments: [String] = []) throws {
        guard let image else { throw ImageError("startPod needs an InteropLab with an image") }
        let pod = directory + "/pod-\(key)"
        let serviceAccount = pod + "/serviceaccount"
        try FileManager.default.createDirectory(atPath: serviceAccount, withIntermediateDirectories: true)
        try token.write(toFile: serviceAccount + "/token", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: directory + "/kubesim/ca.crt", toPath: serviceAccount + "/ca.crt")
        try "ironlb-system".write(toFile: serviceAccount + "/namespace", atomically: true, encoding: .utf8)

        var mounts: [(host: String, container: String)] = []
        for (index, mount) in container.secretMounts.enumerated() {
            var data: [String: Any]?
            _ = pollBlocking(timeout: 60, interval: 0.5) {
                let secret = (try? self.api("GET", "/api/v1/namespaces/ironlb-system/secrets/\(mount.secret)"))?.json as? [String: Any]
                data = secret?["data"] as? [String: Any]
                return data != nil
            }
            guard let data else { throw LabError.notStarted("\(key): Secret \(mount.secret) for \(mount.path)") }
            let volume = pod + "/volume-\(index)"
            try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
            for case let (name, value as String) in data {
                guard let bytes = Data(base64Encoded: value) else { throw LabError.notStarted("\(key): Secret \(mount.secret) key \(name) is not base64") }
                try bytes.write(to: URL(fileURLWithPath: volume + "/" + name))
            }
            mounts.append((volume, mount.path))
        }
        try Shell.check(["chmod", "-R", "a+rX", pod])

        var environment = try container.resolvedEnvironment(namespace: "ironlb-system", node: node, hostIP: address)
        environment["KUBERNETES_SERVICE_HOST"] = "192.0.2.100"
        environment["KUBERNETES_SERVICE_PORT"] = "6443"
        let security = try container.security(imageUser: image.configuration["User"] as? String ?? "")
        let argv = try image.podCommand(arguments: container.resolvedArguments(environment) + arguments, security: security,
                                        environment: environment, serviceAccount: serviceAccount, mounts: mounts)
        try start(key, argv, in: namespace)
    }
}
