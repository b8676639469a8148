// bench-controller: 10,000 Services of type LoadBalancer created in a burst in KubeSim (HTTPS,
// in this process); the real `ironlb controller` process allocates. Prints the time from the
// first create until every Service shows its IP in status, and the controller's peak RSS
// (VmHWM), for two independent runs (fresh KubeSim, fresh controller) to show the variance.
//
//   swift build -c release --product ironlb && swift build -c release --product bench-controller
//   .build/release/bench-controller [--services 10000] [--runs 2]
//   IRONLB_CONTROLLER=$(scripts/build-release) .build/release/bench-controller    # the shipped controller
//
// No real peer (MetalLB's controller on a real API server) runs on this machine, so the figures
// are absolute; the output says so.
import Foundation
import KubeModel
import KubeSim

#if canImport(Glibc)
import Glibc
#endif

struct BenchError: Error, CustomStringConvertible {
    let description: String
}

/// Command line: `--services N`, `--runs N`.
func option(_ name: String, default value: Int) -> Int {
    let args = CommandLine.arguments
    guard let index = args.firstIndex(of: name), index + 1 < args.count, let parsed = Int(args[index + 1]), parsed > 0 else { return value }
    return parsed
}

/// The `ironlb` executable built beside this one, or the one `IRONLB_CONTROLLER` names (the
/// production build: scripts/build-release).
func ironlbPath() throws -> String {
    if let path = ProcessInfo.processInfo.environment["IRONLB_CONTROLLER"] {
        guard FileManager.default.isExecutableFile(atPath: path) else { throw BenchError(description: "IRONLB_CONTROLLER: \(path) is not an executable") }
        return path
    }
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let path = me.deletingLastPathComponent().appendingPathComponent("ironlb").path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw BenchError(description: "\(path) not found: build it too (swift build --product ironlb, same configuration)")
    }
    return path
}

func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A blocking HTTP/1.0 GET on loopback; (status, body) or nil.
func httpGet(port: Int, path: String) -> (Int, String)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let request = "GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    _ = request.withCString { send(fd, $0, strlen($0), 0) }
    var data = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = recv(fd, &buffer, buffer.count, 0)
        if count <= 0 { break }
        data += buffer[0..<count]
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let end = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "") else { return nil }
    return (status, String(text[end.upperBound...]))
}

/// kB from a /proc/PID/status line (VmHWM, VmRSS).
func procStatus(_ pid: Int32, _ field: String) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }
    return nil
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

@discardableResult
func call(_ sim: KubeSimServer, _ method: String, _ uri: String, _ body: JSONValue? = nil) throws -> JSONValue {
    let (status, answer) = sim.request(method, uri, body: body)
    guard (200..<300).contains(status) || status == 409 else { throw BenchError(description: "\(method) \(uri): \(status)") }
    return answer
}

struct RunResult {
    var createSeconds: Double
    var statusSeconds: Double
    var peakRSSKiB: Int
    var idleRSSKiB: Int
    var loadedRSSKiB: Int
    var readySeconds: Double
    /// KubeSim alone, in this process, without HTTP: the same status patches the controller sent.
    var simPatchSeconds: Double
}

func run(services count: Int, index: Int, ironlb: String) async throws -> RunResult {
    var configuration = KubeSimServer.Configuration()
    configuration.historyCapacity = max(100_000, count * 4)
    let sim = try KubeSimServer(configuration: configuration)
    try await sim.start()
    try call(sim, "POST", "/api/v1/namespaces", ["metadata": ["name": "ironlb-system"]])
    try call(sim, "POST", "/api/v1/namespaces", ["metadata": ["name": "bench"]])
    try call(sim, "POST", "/api/v1/namespaces/ironlb-system/configmaps", [
        "metadata": ["name": "config"],
        "data": ["config": "address-pools:\n- name: bench\n  protocol: layer2\n  addresses: [2001:db8:100::/112]\n"],
    ])

    let port = freePort()
    let log = NSTemporaryDirectory() + "bench-controller-\(getpid())-\(index).log"
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ironlb)
    process.arguments = ["controller", "--kubeconfig", sim.kubeconfigPath, "--no-leader-elect",
                         "--metrics-address", "127.0.0.1:\(port)", "--identity", "bench-\(index)", "--log-level", "warning"]
    process.standardError = FileHandle(forWritingAtPath: log)
    process.standardOutput = FileHandle.nullDevice
    let started = ContinuousClock.now
    try process.run()
    defer {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    while httpGet(port: port, path: "/readyz")?.0 != 200 {
        guard process.isRunning, ContinuousClock.now - started < .seconds(120) else { throw BenchError(description: "controller not ready; log: \(log)") }
        try await Task.sleep(for: .milliseconds(20))
    }
    let readySeconds = seconds(ContinuousClock.now - started)
    // Idle: configuration loaded, no Service; settled for a second.
    try await Task.sleep(for: .seconds(1))
    let idle = procStatus(process.processIdentifier, "VmRSS") ?? 0

    // The burst: every Service as fast as the API takes them.
    let burstStart = ContinuousClock.now
    for number in 0..<count {
        try call(sim, "POST", "/api/v1/namespaces/bench/services", [
            "metadata": ["name": .string("svc-\(number)")],
            "spec": [
                "type": "LoadBalancer", "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv6"],
                "allocateLoadBalancerNodePorts": false,
                "selector": ["app": .string("svc-\(number)")],
                "ports": [["port": 80, "protocol": "TCP"]],
            ],
        ])
    }
    let createSeconds = seconds(ContinuousClock.now - burstStart)

    // Cheap polls first (status is written in the order Services were decided, so the last one
    // created is about the last written), then full lists, at most once a second: listing
    // thousands of Services holds KubeSim's lock and would slow the writes being measured.
    let deadline = ContinuousClock.now + .seconds(1800)
    while ContinuousClock.now < deadline {
        let (status, last) = sim.request("GET", "/api/v1/namespaces/bench/services/svc-\(count - 1)")
        if status == 200, !(last.value(atPath: "status.loadBalancer.ingress")?.arrayValue ?? []).isEmpty { break }
        guard process.isRunning else { throw BenchError(description: "controller exited; log: \(log)") }
        try await Task.sleep(for: .milliseconds(50))
    }
    var done = false
    while !done && ContinuousClock.now < deadline {
        let list = try call(sim, "GET", "/api/v1/namespaces/bench/services")
        let items = list["items"]?.arrayValue ?? []
        done = items.count == count && items.allSatisfy { !($0.value(atPath: "status.loadBalancer.ingress")?.arrayValue ?? []).isEmpty }
        if !done { try await Task.sleep(for: .seconds(1)) }
    }
    guard done else { throw BenchError(description: "not every Service got status within 30 minutes; log: \(log)") }
    let statusSeconds = seconds(ContinuousClock.now - burstStart)
    // Loaded: holding every Service, the burst over; settled for 3 seconds. The peak is read
    // after that: Events about the burst are still being recorded when the last status lands.
    try await Task.sleep(for: .seconds(3))
    let loaded = procStatus(process.processIdentifier, "VmRSS") ?? 0
    let peak = procStatus(process.processIdentifier, "VmHWM") ?? 0

    process.terminate()
    process.waitUntilExit()
    try? FileManager.default.removeItem(atPath: log)

    // KubeSim's own share: the same number of status merge patches straight into its API
    // (no HTTP, no TLS, no controller), timed here; the controller cannot be faster than this.
    let patchStart = ContinuousClock.now
    for number in 0..<count {
        let (status, _) = sim.request("PATCH", "/api/v1/namespaces/bench/services/svc-\(number)/status", body: [
            "metadata": ["annotations": ["ironlb.io/ip-allocated-from-pool": "bench"]],
            "status": ["loadBalancer": ["ingress": [["ip": .string("2001:db8:200::\(String(number, radix: 16))")]]]],
        ], contentType: "application/merge-patch+json")
        guard status == 200 else { throw BenchError(description: "in-process status patch: \(status)") }
    }
    let simPatchSeconds = seconds(ContinuousClock.now - patchStart)
    try await sim.stop()
    return RunResult(createSeconds: createSeconds, statusSeconds: statusSeconds, peakRSSKiB: peak, idleRSSKiB: idle, loadedRSSKiB: loaded,
                     readySeconds: readySeconds, simPatchSeconds: simPatchSeconds)
}

/// Prints at once (stdout to a file is block-buffered, and runs take minutes).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

let count = option("--services", default: 10_000)
let runs = option("--runs", default: 2)
#if DEBUG
let build = "debug build (use -c release for representative figures)"
#else
let build = "release build"
#endif
say("bench-controller: \(count) Services (IPv6 single-stack, one pool) created in a burst in KubeSim over HTTPS; \(build)")
say("no external peer: MetalLB's controller against a real API server is not available here, so these figures are absolute, not ratios")
let ironlb = try ironlbPath()
var results: [RunResult] = []
for index in 1...runs {
    let result = try await run(services: count, index: index, ironlb: ironlb)
    results.append(result)
    say(String(format: "run %d: all %d Services have status %.2f s after the first create (creating took %.2f s); controller peak RSS (VmHWM) %.1f MiB; ready %.2f s after start",
                 index, count, result.statusSeconds, result.createSeconds, Double(result.peakRSSKiB) / 1024, result.readySeconds))
    say(String(format: "run %d: controller RSS idle %.1f MiB, loaded (holding %d Services, 3 s after the burst) %.1f MiB, peak %.1f MiB",
                 index, Double(result.idleRSSKiB) / 1024, count, Double(result.loadedRSSKiB) / 1024, Double(result.peakRSSKiB) / 1024))
    say(String(format: "run %d: KubeSim alone (in-process, no HTTP): %d creates %.2f s + %d status patches %.2f s = %.2f s of the %.2f s",
                 index, count, result.createSeconds, count, result.simPatchSeconds, result.createSeconds + result.simPatchSeconds, result.statusSeconds))
}
if results.count > 1 {
    let times = results.map(\.statusSeconds)
    let spread = (times.max()! - times.min()!) / times.min()! * 100
    say(String(format: "time to status: min %.2f s, max %.2f s (spread %.0f%%)", times.min()!, times.max()!, spread))
}
