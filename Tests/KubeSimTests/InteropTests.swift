import Foundation
import KubeModel
import Testing
import TestSupport
@testable import KubeSim

/// Gate for prerequisites TestSupport cannot express (a Python module), with its rule:
/// missing under CI=true is a failure, otherwise a visible SKIP.
func require(_ what: String, _ ok: Bool) -> Bool {
    if ok { return true }
    if Prerequisites.isCI {
        Issue.record("prerequisite missing under CI: \(what)")
    } else {
        print("SKIP: \(what) not available")
    }
    return false
}

struct RunResult { var status: Int32; var output: String }

/// Runs a command with a timeout, capturing stdout+stderr.
func run(_ argv: [String], env: [String: String] = [:], timeout: Duration = .seconds(60)) throws -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = argv
    var e = ProcessInfo.processInfo.environment
    for (k, v) in env { e[k] = v }
    p.environment = e
    let outPath = NSTemporaryDirectory() + "kubesim-run-" + UUID().uuidString
    FileManager.default.createFile(atPath: outPath, contents: nil)
    let fh = FileHandle(forWritingAtPath: outPath)!
    p.standardOutput = fh
    p.standardError = fh
    try p.run()
    let deadline = ContinuousClock.now + timeout
    while p.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
    if p.isRunning { p.terminate(); p.waitUntilExit() }
    try fh.close()
    let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    try? FileManager.default.removeItem(atPath: outPath)
    return RunResult(status: p.terminationStatus, output: out)
}

func which(_ cmd: String) -> Bool {
    (try? run(["sh", "-c", "command -v \(cmd)"]).status) == 0
}

let interopDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Interop").path
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// One object of a multi-document manifest: `kind`, `metadata.name`, `metadata.namespace`.
struct ManifestObject: Equatable, CustomStringConvertible {
    var kind: String
    var name: String
    var namespace: String
    var description: String { "\(kind) \(namespace.isEmpty ? "" : namespace + "/")\(name)" }
}

/// Reads kind, name and namespace of each document in a plain multi-document YAML manifest
/// (top-level `kind:`, two-space indented `name:`/`namespace:` under `metadata:`), in order.
func manifestObjects(_ path: String) throws -> [ManifestObject] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var objects: [ManifestObject] = []
    for doc in text.components(separatedBy: "\n---") {
        var kind = "", name = "", namespace = ""
        var inMetadata = false
        for line in doc.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) where !line.hasPrefix("#") {
            if !line.hasPrefix(" ") { inMetadata = line.hasPrefix("metadata:") }
            if line.hasPrefix("kind: ") { kind = String(line.dropFirst(6)) }
            if inMetadata && line.hasPrefix("  name: ") { name = String(line.dropFirst(8)) }
            if inMetadata && line.hasPrefix("  namespace: ") { namespace = String(line.dropFirst(13)) }
        }
        if !kind.isEmpty { objects.append(ManifestObject(kind: kind, name: name, namespace: namespace)) }
    }
    return objects
}

/// KubeSim (HTTP/2 or not) and the environment kubectl needs for it: its kubeconfig, and a
/// fresh HOME so no cache or config of the machine's user leaks in.
func startSimForKubectl(http2: Bool) async throws -> (KubeSimServer, [String: String]) {
    var config = KubeSimServer.Configuration()
    config.http2 = http2
    let sim = try KubeSimServer(configuration: config)
    try await sim.start()
    let home = sim.directory + "/home"
    try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    return (sim, ["KUBECONFIG": sim.kubeconfigPath, "HOME": home])
}

@Suite(.serialized) struct InteropTests {
    @Test(arguments: [false, true])
    func kubectlCreateListWatchEditDelete(http2: Bool) async throws {
        guard Prerequisites.require(.command("kubectl")) else { return }
        let (sim, env) = try await startSimForKubectl(http2: http2)
        func kubectl(_ args: [String], timeout: Duration = .seconds(60)) throws -> RunResult {
            try run(["kubectl"] + args, env: env, timeout: timeout)
        }
        let apply = try kubectl(["apply", "-f", interopDir + "/kubectl-objects.yaml"])
        #expect(apply.status == 0, "\(apply.output)")
        #expect(apply.output.contains("configmap/ironlb-config created") && apply.output.contains("service/web created"))
        let again = try kubectl(["apply", "-f", interopDir + "/kubectl-objects.yaml"])
        #expect(again.output.contains("service/web unchanged"), "\(again.output)")
        let get = try kubectl(["get", "svc,cm", "-o", "name"])
        #expect(get.output.contains("service/web") && get.output.contains("configmap/ironlb-config") && get.output.contains("service/kubernetes"), "\(get.output)")
        let short = try kubectl(["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort} {.spec.ipFamilyPolicy}"])
        #expect(short.output.hasPrefix("10.96.") && short.output.hasSuffix("SingleStack"), "\(short.output)")

        // get -w prints a change made while it watches.
        let watchOut = sim.directory + "/watch.out"
        let w = Process()
        w.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        w.arguments = ["kubectl", "get", "svc", "web", "-w", "-o", "jsonpath={.metadata.name} {.metadata.labels.stage}{\"\\n\"}"]
        var wenv = ProcessInfo.processInfo.environment
        for (k, v) in env { wenv[k] = v }
        w.environment = wenv
        FileManager.default.createFile(atPath: watchOut, contents: nil)
        w.standardOutput = FileHandle(forWritingAtPath: watchOut)!
        w.standardError = FileHandle(forWritingAtPath: watchOut)!
        try w.run()
        var watching = false
        for _ in 0..<600 where !watching {
            try await Task.sleep(for: .milliseconds(50))
            watching = sim.activeWatchCount > 0
        }
        #expect(watching)
        let label = try kubectl(["label", "svc", "web", "stage=blue"])
        #expect(label.status == 0, "\(label.output)")
        var printed = ""
        for _ in 0..<600 {
            printed = (try? String(contentsOfFile: watchOut, encoding: .utf8)) ?? ""
            if printed.contains("web blue") { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        w.terminate()
        w.waitUntilExit()
        #expect(printed.contains("web blue"), "\(printed)")

        // edit (strategic merge patch) through a scripted editor.
        let editor = sim.directory + "/editor.sh"
        try "#!/bin/sh\nsed -i 's/app: web/app: web-v2/' \"$1\"\n".write(toFile: editor, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: editor)
        let edit = try run(["kubectl", "edit", "svc", "web"], env: env.merging(["EDITOR": editor]) { $1 }, timeout: .seconds(30))
        #expect(edit.output.contains("service/web edited"), "\(edit.output)")
        #expect(sim.request("GET", "/api/v1/namespaces/default/services/web").body.value(atPath: "spec.selector.app") == "web-v2")

        // status subresource patch, as a provider would.
        let st = try kubectl(["patch", "svc", "web", "--subresource=status", "--type=merge", "-p", #"{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.10"}]}}}"#])
        #expect(st.status == 0, "\(st.output)")
        let ing = try kubectl(["get", "svc", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip} {.status.loadBalancer.ingress[0].ipMode}"])
        #expect(ing.output == "203.0.113.10 VIP", "\(ing.output)")
        // Server-side printing: kubectl's default columns come from the Table the server returns.
        let table = try kubectl(["get", "svc", "web"])
        let row = table.output.split(separator: "\n").last.map { $0.split(separator: " ").map(String.init) } ?? []
        #expect(table.output.hasPrefix("NAME"), "\(table.output)")
        #expect(row.count == 6 && row[0] == "web" && row[1] == "LoadBalancer" && row[3] == "203.0.113.10" && row[4].hasPrefix("80:3"), "\(table.output)")

        let del = try kubectl(["delete", "-f", interopDir + "/kubectl-objects.yaml"])
        #expect(del.output.contains(#"service "web" deleted"#) && del.output.contains(#"configmap "ironlb-config" deleted"#), "\(del.output)")
        let gone = try kubectl(["get", "svc", "web"])
        #expect(gone.status != 0 && gone.output.contains(#"services "web" not found"#), "\(gone.output)")
        #expect((sim.http2RequestCount > 0) == http2)
        try await sim.stop()
    }

    /// Issue #8 acceptance: the install manifest applies cleanly (`--validate=false`), every
    /// object reads back with its kind, name and scope, a re-apply changes nothing, and
    /// `kubectl delete -f` removes it all (the namespace goes Terminating first, so its content
    /// is still there to delete, as on a real cluster).
    @Test func kubectlAppliesAndDeletesTheInstallManifest() async throws {
        guard Prerequisites.require(.command("kubectl")) else { return }
        let (sim, kubectl) = try await startedWithKubectl()
        let manifest = repositoryRoot + "/manifests/ironlb.yaml"
        let expected = try manifestObjects(manifest)
        #expect(Set(expected.map(\.kind)) == ["Namespace", "ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding", "Deployment", "DaemonSet"],
                "\(expected)")

        let apply = try kubectl(["apply", "--validate=false", "-f", manifest])
        #expect(apply.status == 0, "\(apply.output)")
        let created = apply.output.split(separator: "\n").filter { $0.hasSuffix(" created") }
        #expect(created.count == expected.count, "\(apply.output)")

        let get = try kubectl(["get", "-f", manifest, "-o", #"jsonpath={range .items[*]}{.kind} {.metadata.name} {.metadata.namespace}{"\n"}{end}"#])
        #expect(get.status == 0, "\(get.output)")
        let got = get.output.split(separator: "\n").map { line -> ManifestObject in
            let f = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            return ManifestObject(kind: f[0], name: f.count > 1 ? f[1] : "", namespace: f.count > 2 ? f[2] : "")
        }
        #expect(got == expected)
        // Server-owned fields on the workloads: generation 1, status present.
        let deploy = sim.request("GET", "/apis/apps/v1/namespaces/ironlb-system/deployments/ironlb-controller").body
        #expect(deploy.value(atPath: "metadata.generation") == 1 && deploy.value(atPath: "spec.replicas") == 2, "\(deploy)")
        #expect(deploy.value(atPath: "metadata.annotations")?.objectValue?["kubectl.kubernetes.io/last-applied-configuration"] != nil)

        let again = try kubectl(["apply", "--validate=false", "-f", manifest])
        #expect(again.status == 0, "\(again.output)")
        let unchanged = again.output.split(separator: "\n").filter { $0.hasSuffix(" unchanged") }
        #expect(unchanged.count == expected.count, "\(again.output)")
        #expect(sim.request("GET", "/apis/apps/v1/namespaces/ironlb-system/deployments/ironlb-controller").body == deploy)

        let del = try kubectl(["delete", "-f", manifest])
        #expect(del.status == 0, "\(del.output)")
        let deleted = del.output.split(separator: "\n").filter { $0.hasSuffix(" deleted") }
        #expect(deleted.count == expected.count, "\(del.output)")
        #expect(sim.request("GET", "/api/v1/namespaces/ironlb-system").status == 404)
        #expect(sim.request("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/ironlb-controller").status == 404)
        let left = try kubectl(["get", "-f", manifest, "--ignore-not-found", "-o", "name"])
        #expect(left.status == 0 && left.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(left.output)")
        try await sim.stop()
    }

    /// `kubectl create service …` (kubectl ≥ 1.32) posts the Service as protobuf
    /// (docs/design/kubectl-protobuf.md): KubeSim decodes it and answers JSON, which kubectl
    /// accepts; `kubectl get` then shows what was created. Over HTTP/1.1 and HTTP/2.
    @Test(arguments: [false, true])
    func kubectlCreateServiceSendsProtobuf(http2: Bool) async throws {
        guard Prerequisites.require(.command("kubectl")) else { return }
        let (sim, env) = try await startSimForKubectl(http2: http2)
        func kubectl(_ args: [String]) throws -> RunResult { try run(["kubectl"] + args, env: env) }

        // -v=8 logs the request headers: the body really is protobuf (kubectl ≥ 1.32).
        let create = try kubectl(["create", "service", "loadbalancer", "web", "--tcp=80", "-v=8"])
        #expect(create.status == 0 && create.output.contains("service/web created"), "\(create.output)")
        #expect(create.output.contains("Content-Type: application/vnd.kubernetes.protobuf"), "\(create.output)")
        let get = try kubectl(["get", "svc", "web", "-o", "json"])
        #expect(get.status == 0, "\(get.output)")
        let svc = try JSONValue.parse(get.output)
        #expect(svc.value(atPath: "spec.type") == "LoadBalancer", "\(get.output)")
        #expect(svc.value(atPath: "spec.ports")?.arrayValue?.first?["port"] == 80 && svc.value(atPath: "spec.ports")?.arrayValue?.first?["targetPort"] == 80)
        #expect(svc.value(atPath: "metadata.labels.app") == "web" && svc.value(atPath: "spec.selector.app") == "web")
        #expect(svc.value(atPath: "spec.clusterIP")?.stringValue?.hasPrefix("10.96.") == true)

        // The other generators.
        for (args, created) in [
            (["create", "service", "clusterip", "x", "--tcp=5678:8080"], "service/x created"),
            (["create", "service", "nodeport", "y", "--tcp=80", "--node-port=30080"], "service/y created"),
            (["create", "service", "externalname", "z", "--external-name", "example.org"], "service/z created"),
        ] {
            let r = try kubectl(args)
            #expect(r.status == 0 && r.output.contains(created), "\(r.output)")
        }
        let summary = try kubectl(["get", "svc", "x", "y", "z", "-o",
                                   #"jsonpath={range .items[*]}{.metadata.name} {.spec.type} {.spec.ports[0].port}:{.spec.ports[0].targetPort}:{.spec.ports[0].nodePort} {.spec.externalName}{"\n"}{end}"#])
        #expect(summary.output == "x ClusterIP 5678:8080: \ny NodePort 80:80:30080 \nz ExternalName :: example.org\n", "\(summary.output)")

        // Other kinds' protobuf bodies are decoded too (tables generated from k8s.io/api).
        let cm = try kubectl(["create", "configmap", "cm", "--from-literal=a=b"])
        #expect(cm.status == 0 && cm.output.contains("configmap/cm created"), "\(cm.output)")
        try await sim.stop()
    }

    /// The same generator run locally and applied as JSON: works for every kind.
    @Test func kubectlCreateServiceThroughApply() async throws {
        guard Prerequisites.require(.command("kubectl"), .command("sh")) else { return }
        let sim = try KubeSimServer()
        try await sim.start()
        let home = sim.directory + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let env = ["KUBECONFIG": sim.kubeconfigPath, "HOME": home]
        let piped = try run(["sh", "-c", "kubectl create service loadbalancer web --tcp=80 --dry-run=client -o yaml | kubectl apply -f -"], env: env)
        #expect(piped.status == 0 && piped.output.contains("service/web created"), "\(piped.output)")
        let svc = sim.request("GET", "/api/v1/namespaces/default/services/web").body
        #expect(svc.value(atPath: "spec.type") == "LoadBalancer" && svc.value(atPath: "spec.ports")?.arrayValue?.first?["port"] == 80, "\(svc)")
        let cm = try run(["sh", "-c", "kubectl create configmap cm --from-literal=a=b --dry-run=client -o yaml | kubectl apply -f -"], env: env)
        #expect(cm.status == 0 && sim.request("GET", "/api/v1/namespaces/default/configmaps/cm").body.value(atPath: "data.a") == "b", "\(cm.output)")
        try await sim.stop()
    }

    @Test func pythonKubernetesClientListsAndWatchesServices() async throws {
        guard require("python3 with the kubernetes package (pip install kubernetes)", (try? run(["python3", "-c", "import kubernetes"]).status) == 0) else { return }
        let sim = try KubeSimServer()
        try await sim.start()
        let r = try run(["python3", interopDir + "/python_client.py", sim.kubeconfigPath], timeout: .seconds(60))
        #expect(r.output.contains("LIST kubernetes"), "\(r.output)")
        #expect(r.output.contains("EVENT MODIFIED py-svc 203.0.113.7/VIP"), "\(r.output)")
        #expect(r.output.contains("DONE ADDED,MODIFIED,DELETED"), "\(r.output)")
        try await sim.stop()
    }
}
