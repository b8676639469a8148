import Foundation
import KubeClient
import LBCore
import Logging
import Prometheus
import ServiceLifecycle
import Testing
import TestSupport
import Controller
import ControllerCore

/// The controller in this process, as `ironlb controller --no-leader-elect` wires it: a
/// KubeClient from KubeSim's kubeconfig, KubeControllerAPI, ControllerService.
final class InProcessController: Sendable {
    let client: KubeClient
    let controller: ControllerService
    let registry: PrometheusCollectorRegistry
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    init(cluster: Cluster, settings: ControllerCore.Settings = .init(configNamespace: "ironlb-system"), instance: String = "in-process") throws {
        var logger = Logger(label: "ironlb.controller.test")
        logger.logLevel = .error
        client = try KubeClient(configuration: try KubeConfigLoader.load(paths: [cluster.kubeconfigPath]), logger: logger)
        registry = PrometheusCollectorRegistry()
        let api = KubeControllerAPI(client: client, settings: settings, instance: instance, logger: logger)
        controller = ControllerService(
            api: api, settings: settings, registry: registry, logger: logger,
            retryDelay: { attempt in .milliseconds(min(2_000, 100 << min(attempt, 5))) }
        )
        let group = ServiceGroup(configuration: .init(services: [.init(service: api), .init(service: controller)], logger: logger))
        self.group = group
        task = Task { try await group.run() }
    }

    var metrics: String { registry.emitToString() }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
        try? await client.shutdown()
    }
}

/// The real `ironlb controller` process. Killed by PID only.
final class ControllerProcess: @unchecked Sendable {
    let process: ManagedProcess
    let metricsPort: Int
    let identity: String

    /// Starts `ironlb controller` against the cluster; nil (with a recorded issue) when the
    /// binary was not built.
    init(cluster: Cluster, identity: String, leaderElect: Bool = false, extraArguments: [String] = []) throws {
        guard let binary = BuiltProducts.executable("ironlb") else {
            throw ClusterError(description: "the ironlb executable is not built next to the tests (swift build --build-tests builds it)")
        }
        self.identity = identity
        metricsPort = freePort()
        var argv = [
            binary, "controller", "--kubeconfig", cluster.kubeconfigPath,
            "--metrics-address", "127.0.0.1:\(metricsPort)", "--identity", identity, "--log-level", "info",
        ]
        if leaderElect {
            argv += ["--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "1s"]
        } else {
            argv.append("--no-leader-elect")
        }
        process = try ManagedProcess(argv + extraArguments)
    }

    var pid: Int32 { process.pid }
    var isRunning: Bool { process.isRunning }

    func http(_ path: String) -> HTTPProbe.Response? { try? HTTPProbe.get(port: metricsPort, path: path, timeout: 5) }

    var isReady: Bool { http("/readyz")?.status == 200 }

    /// The value of an unlabelled sample (or the first with `labels`), nil when absent or unreachable.
    func metric(_ name: String, labels: String? = nil) -> Double? {
        guard let body = http("/metrics")?.body else { return nil }
        return metricValue(in: body, name, labels: labels)
    }

    func kill() { process.stop(signal: SIGKILL, timeout: 30) }

    /// SIGTERM and wait; the exit status. For `defer` blocks, which cannot await; elsewhere
    /// `terminated()`.
    @discardableResult
    func terminate() -> Int32 { process.stop(signal: SIGTERM, timeout: 30) }

    /// SIGTERM and wait without holding a cooperative pool thread (the controller's last writes
    /// go to the test's in-process KubeSim); the exit status.
    @discardableResult
    func terminated() async -> Int32 { await process.stopped(signal: SIGTERM, timeout: 30) }

    /// The last lines of its log, for failure messages.
    var logTail: String { process.stderr.split(separator: "\n").suffix(15).joined(separator: "\n") }

    deinit { if process.isRunning { process.stop(signal: SIGKILL, timeout: 10) } }
}

/// A sample's value from Prometheus text: `name value` or `name{labels} value`.
func metricValue(in body: String, _ name: String, labels: String? = nil) -> Double? {
    for line in body.split(separator: "\n") where !line.hasPrefix("#") {
        let prefix = labels.map { "\(name){\($0)} " } ?? "\(name) "
        if line.hasPrefix(prefix) { return Double(line.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces)) }
    }
    return nil
}
