// bench-kube: KubeClient list and watch throughput against KubeSim with 10,000 Services,
// compared with the official Python client (and kubectl for list) measured in the same run.
//   bench-kube [N]      run the benchmark (default 10000)
//   bench-kube serve [PORT]   run KubeSim in the foreground (manual testing)
import Foundation
import KubeClient
import KubeModel
import KubeSim
import NIOConcurrencyHelpers

struct Done: Error {}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

func runProcess(_ argv: [String]) -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = argv
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return (-1, "") }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

let args = CommandLine.arguments
if args.count > 1 && args[1] == "serve" {
    var cfg = KubeSimServer.Configuration()
    if args.count > 2, let p = Int(args[2]) { cfg.port = p }
    let sim = try KubeSimServer(configuration: cfg)
    try await sim.start()
    print(sim.kubeconfigPath)
    while true { try await Task.sleep(for: .seconds(3600)) }
}

let n = args.count > 1 ? Int(args[1]) ?? 10_000 : 10_000
var cfg = KubeSimServer.Configuration()
cfg.historyCapacity = n * 2 + 100
let sim = try KubeSimServer(configuration: cfg)
try await sim.start()
let client = try KubeClient(configuration: try KubeConfigLoader.load(paths: [sim.kubeconfigPath]))
_ = sim.request("POST", "/api/v1/namespaces", body: ["metadata": ["name": "bench"]])
let rv0 = sim.currentResourceVersion
let clock = ContinuousClock()

// Create N Services over HTTP, 8 in flight.
let createTime = try await clock.measure {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for w in 0..<8 {
            group.addTask {
                for i in stride(from: w, to: n, by: 8) {
                    let s = V1Service(metadata: ObjectMeta(name: "svc-\(i)", namespace: "bench", labels: ["app": "bench", "shard": "\(i % 16)"]),
                                      spec: ServiceSpec(type: "LoadBalancer", ports: [ServicePort(name: "http", port: 80, targetPort: .int(8080))]))
                    _ = try await client.create(s)
                }
            }
        }
        try await group.waitForAll()
    }
}
print(String(format: "create: %d Services in %.2f s (%.0f/s, 8 concurrent)", n, seconds(createTime), Double(n) / seconds(createTime)))

// LIST (500 per page, as client-go's pager).
var listed = 0
let listTime = try await clock.measure { listed = try await client.listAll(V1Service.self, namespace: "bench").items.count }
print(String(format: "swift list: %d items in %.3f s (%.0f items/s)", listed, seconds(listTime), Double(listed) / seconds(listTime)))

// WATCH from before the creations: the server replays N ADDED events.
nonisolated func watchEvents(_ client: KubeClient, _ rv: String, _ n: Int) async throws -> Int {
    // Counted on the watch's event loop.
    let seen = NIOLockedValueBox(0)
    do {
        try await client.watch(V1Service.self, namespace: "bench", resourceVersion: rv, timeoutSeconds: 120) { _ in
            let count = seen.withLockedValue { $0 += 1; return $0 }
            if count >= n { throw Done() }
        }
    } catch is Done {}
    return seen.withLockedValue { $0 }
}
var seen = 0
let watchTime = try await clock.measure { seen = try await watchEvents(client, rv0, n) }
print(String(format: "swift watch: %d events in %.3f s (%.0f events/s)", seen, seconds(watchTime), Double(seen) / seconds(watchTime)))

// Reference peers measured in the same run.
let bench = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("python_bench.py").path
let (rc, out) = runProcess(["python3", bench, sim.kubeconfigPath, String(n), rv0])
if rc == 0 {
    var pyList = 0.0, pyWatch = 0.0
    for line in out.split(separator: "\n") {
        let f = line.split(separator: " ")
        if f.first == "list", f.count > 1 { pyList = Double(f[1]) ?? 0 }
        if f.first == "watch", f.count > 1 { pyWatch = Double(f[1]) ?? 0 }
    }
    print(String(format: "python client list: %.3f s  -> swift is %.1fx faster", pyList, pyList / seconds(listTime)))
    print(String(format: "python client watch: %.3f s -> swift is %.1fx faster", pyWatch, pyWatch / seconds(watchTime)))
} else {
    print("python kubernetes client not available (pip install kubernetes): no reference ratio")
}
let kStart = ContinuousClock.now
let (krc, _) = runProcess(["kubectl", "--kubeconfig", sim.kubeconfigPath, "get", "svc", "-n", "bench", "-o", "json"])
let kTime = ContinuousClock.now - kStart
if krc == 0 {
    print(String(format: "kubectl get -o json (incl. process start): %.3f s -> swift list is %.1fx faster", seconds(kTime), seconds(kTime) / seconds(listTime)))
}
try await client.shutdown()
try await sim.stop()
