import Foundation
import KubeModel
import KubeSim
import Synchronization
import Testing
@testable import KubeClient

/// Issue 15, items 10-12: TLS names, credentials in errors, exec plugins.
@Suite struct CredentialHardeningTests {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "kubeclient-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// tls-server-name is the name verified in the server's certificate (it turned
    /// verification of the name off): the simulator's certificate names `kubernetes`, and
    /// 127.0.0.1 but not 127.0.0.2, where it listens here (an IP address in the certificate
    /// that matches the connected address would satisfy the verification by itself).
    @Test func tlsServerNameIsVerified() async throws {
        var configuration = KubeSimServer.Configuration()
        configuration.host = "127.0.0.2"
        // Not in the certificate: NIOSSL would accept an IP SAN equal to the connected address
        // whatever name it verifies, and this test is about the name.
        configuration.certificateNamesHost = false
        let sim = try KubeSimServer(configuration: configuration)
        try await sim.start()
        defer { Task { try? await sim.stop() } }
        var good = try KubeConfigLoader.load(paths: [sim.kubeconfigPath])
        good.tlsServerName = "kubernetes"
        let client = try KubeClient(configuration: good)
        #expect(try await client.list(V1Service.self, namespace: "default").items.count == 1)
        try await client.shutdown()

        var wrong = good
        wrong.tlsServerName = "wrong.example"
        let refused = try KubeClient(configuration: wrong)
        await #expect(throws: (any Error).self) { _ = try await refused.list(V1Service.self, namespace: "default") }
        try await refused.shutdown()
    }

    @Test(arguments: [
        ("https://127.0.0.1:6443", "kubernetes", "https://kubernetes:6443", ["kubernetes": "127.0.0.1"]),
        ("https://[::1]:6443/prefix", "kubernetes.default.svc", "https://kubernetes.default.svc:6443/prefix", ["kubernetes.default.svc": "::1"]),
        ("https://kubernetes:6443", "kubernetes", "https://kubernetes:6443", [:]),
    ])
    func tlsServerNameRoutesThroughTheServerAddress(server: String, name: String, url: String, override: [String: String]) {
        let route = KubeClient.route(server: server, tlsServerName: name)
        #expect(route.baseURL == url)
        #expect(route.dnsOverride == override)
    }

    /// A syntax error on a credential's line names the line, not its text.
    @Test(arguments: [
        "    token: sekrit-TOKEN-value: {oops\n",
        "    token: \"sekrit-TOKEN-value\n",
        "    token: [sekrit-TOKEN-value\n",
    ])
    func kubeconfigErrorsDoNotEchoCredentials(userLines: String) throws {
        let dir = try tempDir()
        let text = """
            apiVersion: v1
            kind: Config
            current-context: c
            contexts:
            - name: c
              context: {cluster: c, user: u}
            clusters:
            - name: c
              cluster: {server: "https://192.0.2.1:6443"}
            users:
            - name: u
              user:
            \(userLines)
            """
        try text.write(toFile: dir + "/kubeconfig", atomically: true, encoding: .utf8)
        do {
            _ = try KubeConfigLoader.load(paths: [dir + "/kubeconfig"])
            Issue.record("the kubeconfig was accepted")
        } catch let error as KubeConfigError {
            #expect(error.code == "kubeconfig_parse")
            #expect(!"\(error)".contains("sekrit"), "\(error)")
            #expect("\(error)".contains("line") || "\(error)".contains("users"), "\(error)")
        }
    }

    func plugin(_ dir: String, body: String) throws -> ExecConfig {
        let script = dir + "/plugin.sh"
        try "#!/bin/sh\n\(body)\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        return ExecConfig(apiVersion: "client.authentication.k8s.io/v1", command: script, args: [], env: [:], clusterServer: nil)
    }

    /// A plugin that never answers fails the request after the timeout.
    @Test func aHangingExecPluginTimesOut() async throws {
        let dir = try tempDir()
        let source = CredentialSource(.exec(try plugin(dir, body: "exec sleep 600")))
        await source.setExecTimeout(.milliseconds(500))
        do {
            _ = try await source.authorization()
            Issue.record("a hanging plugin produced a token")
        } catch let error as KubeConfigError {
            #expect(error.code == "exec_timeout")
        }
    }

    /// A plugin whose own child keeps standard output open (the plugin is killed, its child
    /// is not) still fails after the timeout, without waiting for the child's end of the pipe.
    /// The test then kills that child by its PID.
    @Test func aPluginWhoseChildHoldsTheOutputOpenTimesOut() async throws {
        let dir = try tempDir()
        let source = CredentialSource(.exec(try plugin(dir, body: "sleep 3600 &\necho $! > \"\(dir)/child\"\nwait")))
        await source.setExecTimeout(.milliseconds(500))
        func child() -> Int32? {
            (try? String(contentsOfFile: dir + "/child", encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        defer { if let child = child() { kill(child, SIGKILL) } }
        let outcome = Task { () -> String in
            do {
                _ = try await source.authorization()
                return "a token"
            } catch let error as KubeConfigError {
                return error.code
            }
        }
        // Bounded, generously (a loaded machine can stall this process for a minute): a run
        // that waited for the child's end of the pipe would wait an hour.
        let deadline = ContinuousClock.now.advanced(by: .seconds(600))
        let result = await withTaskGroup(of: String?.self) { group in
            group.addTask { try? await outcome.value }
            group.addTask { try? await Task.sleep(until: deadline); return nil }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
        #expect(result == "exec_timeout")
        #expect(child() != nil, "the plugin never started its child")
    }

    /// While a plugin runs, the credential source (an actor) still answers: the plugin waits
    /// for a file the test creates only after the actor answered another call.
    @Test func anExecPluginDoesNotBlockTheActor() async throws {
        let dir = try tempDir()
        let config = try plugin(dir, body: """
            touch "\(dir)/started"
            i=0
            while [ ! -e "\(dir)/gate" ]; do i=$((i+1)); [ $i -gt 600 ] && exit 7; sleep 0.1; done
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"gated"}}'
            """)
        let source = CredentialSource(.exec(config))
        let authorization = Task { try await source.authorization() }
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: dir + "/started") { try await Task.sleep(for: .milliseconds(100)) }
        #expect(FileManager.default.fileExists(atPath: dir + "/started"))
        // The actor answers while the plugin runs; only then is the gate opened.
        #expect(await source.execRuns == 1)
        FileManager.default.createFile(atPath: dir + "/gate", contents: nil)
        #expect(try await authorization.value == "Bearer gated")
    }
}

/// Issue 15, item 8: the recorder's series map is bounded.
@Suite struct EventRecorderBoundsTests {
    static let reference = ObjectReference(kind: "Service", namespace: "default", name: "web", apiVersion: "v1")

    /// A controller's recorder against the fixture's KubeSim, on a wall clock the test moves.
    static func recorder(_ fixture: SimFixture, maximumSeries: Int, now: @escaping @Sendable () -> KubeTime) -> EventRecorder {
        EventRecorder(client: fixture.client, reportingController: "ironlb.io/controller", reportingInstance: "test", maximumSeries: maximumSeries, wallNow: now)
    }

    @Test func distinctNotesDoNotGrowTheSeriesMapWithoutBound() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        let now = Mutex(KubeTime(seconds: 1_800_000_000))
        let recorder = Self.recorder(f, maximumSeries: 8) { now.withLock { $0 } }
        for index in 0..<40 {
            try await recorder.record(regarding: Self.reference, type: "Normal", reason: "Note", action: "Allocate", note: "tenant text \(index)")
            now.withLock { $0 = KubeTime(epochNanoseconds: $0.epochNanoseconds + 1_000_000) }
        }
        #expect(await recorder.rememberedSeries == 8)
        // The newest series still aggregate.
        let repeated = try await recorder.record(regarding: Self.reference, type: "Normal", reason: "Note", action: "Allocate", note: "tenant text 39")
        #expect(repeated.series?.count == 2)
        // Past the series window everything older is forgotten.
        now.withLock { $0 = KubeTime(epochNanoseconds: $0.epochNanoseconds + 7 * 60 * 1_000_000_000) }
        try await recorder.record(regarding: Self.reference, type: "Normal", reason: "Note", action: "Allocate", note: "later")
        #expect(await recorder.rememberedSeries == 1)
    }

    /// A series whose Event is gone from the server starts again with a new Event; its old place
    /// in the eviction order is not counted twice.
    @Test func aSeriesStartedAgainIsRememberedOnce() async throws {
        let f = try await SimFixture.start()
        defer { Task { await f.stop() } }
        let now = Mutex(KubeTime(seconds: 1_800_000_000))
        let recorder = Self.recorder(f, maximumSeries: 2) { now.withLock { $0 } }
        func tick() { now.withLock { $0 = KubeTime(epochNanoseconds: $0.epochNanoseconds + 1_000_000) } }
        let first = try await recorder.record(regarding: Self.reference, type: "Normal", reason: "Note", action: "Allocate", note: "a")
        tick()
        try await f.client.delete(EventsV1Event.self, namespace: "default", name: first.metadata.name ?? "")
        let again = try await recorder.record(regarding: Self.reference, type: "Normal", reason: "Note", action: "Allocate", note: "a")
        #expect(again.metadata.name != first.metadata.name && again.series == nil)
        #expect(await recorder.rememberedSeries == 1)
        tick()
        try await recorder.record(regarding: Self.reference, type: "Normal", reason: "Note", action: "Allocate", note: "b")
        #expect(await recorder.rememberedSeries == 2)
        // "a" (started again) is still remembered: its repeat patches the new Event.
        let repeated = try await recorder.record(regarding: Self.reference, type: "Normal", reason: "Note", action: "Allocate", note: "a")
        #expect(repeated.metadata.name == again.metadata.name && repeated.series?.count == 2)
        tick()
        // A third series evicts the oldest, "a".
        try await recorder.record(regarding: Self.reference, type: "Normal", reason: "Note", action: "Allocate", note: "c")
        #expect(await recorder.rememberedSeries == 2)
        tick()
        let afresh = try await recorder.record(regarding: Self.reference, type: "Normal", reason: "Note", action: "Allocate", note: "a")
        #expect(afresh.series == nil && afresh.metadata.name != again.metadata.name)
    }
}
