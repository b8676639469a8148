import Foundation
import KubeModel
import KubeSim
import Testing
@testable import KubeClient

@Suite struct AuthTests {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "kubeclient-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func tokenFileRotationAfter401() async throws {
        let sim = try KubeSimServer()
        try await sim.start()
        defer { Task { try? await sim.stop() } }
        let dir = try tempDir()
        let tokenPath = dir + "/token"
        try "old-token\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
        sim.setTokens(["old-token"])
        try sim.kubeconfig(user: .tokenFile(tokenPath)).write(toFile: dir + "/kubeconfig", atomically: true, encoding: .utf8)
        let client = try KubeClient(configuration: try KubeConfigLoader.load(paths: [dir + "/kubeconfig"]))
        defer { Task { try? await client.shutdown() } }
        _ = try await client.list(V1Service.self, namespace: "default")
        // Rotate: the kubelet swaps the file; the server stops accepting the old token.
        try "new-token\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
        sim.setTokens(["new-token"])
        let l = try await client.list(V1Service.self, namespace: "default")
        #expect(l.items.count == 1)
        #expect(await client.credentials.fileReads == 2)
        // And periodic re-read: with a zero refresh interval every request re-reads.
        await client.credentials.setTokenFileRefresh(.zero)
        _ = try await client.list(V1Service.self, namespace: "default")
        #expect(await client.credentials.fileReads == 3)
    }

    @Test(arguments: [false, true])
    func clientCertificateAuth(http2: Bool) async throws {
        var config = KubeSimServer.Configuration()
        config.http2 = http2
        let sim = try KubeSimServer(configuration: config)
        try await sim.start()
        defer { Task { try? await sim.stop() } }
        let dir = try tempDir()
        let (cert, key) = try sim.certificates.issueClientCertificate(user: "ironlb-controller", groups: ["system:masters"])
        try sim.kubeconfig(user: .clientCertificate(certificatePEM: cert, keyPEM: key)).write(toFile: dir + "/kubeconfig", atomically: true, encoding: .utf8)
        let conf = try KubeConfigLoader.load(paths: [dir + "/kubeconfig"])
        #expect(conf.credentials == .none && conf.clientCertificatePEM != nil)
        let client = try KubeClient(configuration: conf)
        defer { Task { try? await client.shutdown() } }
        let l = try await client.list(V1Namespace.self, namespace: nil)
        #expect(l.items.count == 4)
        #expect((sim.http2RequestCount > 0) == http2)
    }

    @Test func execPluginCredentials() async throws {
        let sim = try KubeSimServer()
        try await sim.start()
        defer { Task { try? await sim.stop() } }
        let dir = try tempDir()
        let script = dir + "/fake-plugin.sh"
        try """
            #!/bin/sh
            # A fake client-go credential plugin: checks its input, prints an ExecCredential.
            echo "$KUBERNETES_EXEC_INFO" | grep -q '"kind":"ExecCredential"' || exit 3
            echo run >> "\(dir)/runs"
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2999-01-01T00:00:00Z"}}' "$PLUGIN_TOKEN"
            """.write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        try sim.kubeconfig(user: .exec(command: script, args: [], env: ["PLUGIN_TOKEN": sim.token])).write(toFile: dir + "/kubeconfig", atomically: true, encoding: .utf8)
        let client = try KubeClient(configuration: try KubeConfigLoader.load(paths: [dir + "/kubeconfig"]))
        defer { Task { try? await client.shutdown() } }
        _ = try await client.list(V1Service.self, namespace: "default")
        _ = try await client.list(V1Service.self, namespace: "default")
        #expect(await client.credentials.execRuns == 1)
        // A 401 re-runs the plugin.
        sim.injectError(status: 401, count: 1)
        _ = try await client.list(V1Service.self, namespace: "default")
        #expect(await client.credentials.execRuns == 2)
    }

    @Test func kubeconfigMergingContextsAndCAFile() async throws {
        let sim = try KubeSimServer()
        try await sim.start()
        defer { Task { try? await sim.stop() } }
        let dir = try tempDir()
        try sim.caCertificatePEM.write(toFile: dir + "/ca.pem", atomically: true, encoding: .utf8)
        let first = """
            apiVersion: v1
            kind: Config
            current-context: sim
            contexts:
            - name: sim
              context: {cluster: c1, user: u1, namespace: kube-system}
            - name: other
              context: {cluster: c2, user: u1}
            clusters:
            - name: c1
              cluster: {server: "\(sim.url)", certificate-authority: ca.pem}
            """
        let second = """
            apiVersion: v1
            kind: Config
            current-context: ignored
            clusters:
            - name: c1
              cluster: {server: "https://192.0.2.1:1"}
            - name: c2
              cluster: {server: "https://192.0.2.2:6443", insecure-skip-tls-verify: true, tls-server-name: kubernetes}
            users:
            - name: u1
              user: {token: \(sim.token)}
            """
        try first.write(toFile: dir + "/a", atomically: true, encoding: .utf8)
        try second.write(toFile: dir + "/b", atomically: true, encoding: .utf8)
        let conf = try KubeConfigLoader.loadDefault(environment: ["KUBECONFIG": "\(dir)/a:\(dir)/missing:\(dir)/b", "HOME": dir])
        #expect(conf.server == sim.url && conf.namespace == "kube-system")
        let client = try KubeClient(configuration: conf)
        defer { Task { try? await client.shutdown() } }
        #expect(try await client.list(V1Service.self, namespace: "default").items.count == 1)
        let other = try KubeConfigLoader.load(paths: ["\(dir)/a", "\(dir)/b"], context: "other")
        #expect(other.insecureSkipTLSVerify && other.tlsServerName == "kubernetes" && other.server == "https://192.0.2.2:6443")
        #expect(throws: KubeConfigError.self) { try KubeConfigLoader.load(paths: ["\(dir)/a"], context: "nope") }
    }

    @Test func inClusterConfigBracketsIPv6AndReadsServiceAccount() async throws {
        let sim = try KubeSimServer()
        try await sim.start()
        defer { Task { try? await sim.stop() } }
        let root = try tempDir()
        try sim.caCertificatePEM.write(toFile: root + "/ca.crt", atomically: true, encoding: .utf8)
        try sim.token.write(toFile: root + "/token", atomically: true, encoding: .utf8)
        try "ironlb-system\n".write(toFile: root + "/namespace", atomically: true, encoding: .utf8)
        let v6 = try KubeConfigLoader.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "2001:db8::1", "KUBERNETES_SERVICE_PORT": "443"], root: root)
        #expect(v6.server == "https://[2001:db8::1]:443")
        #expect(v6.namespace == "ironlb-system")
        #expect(throws: KubeConfigError.self) { try KubeConfigLoader.inCluster(environment: [:], root: root) }
        let conf = try KubeConfigLoader.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": String(sim.port)], root: root)
        let client = try KubeClient(configuration: conf)
        defer { Task { try? await client.shutdown() } }
        #expect(try await client.list(V1Service.self, namespace: "default").items.count == 1)
    }
}
