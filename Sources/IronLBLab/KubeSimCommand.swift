import ArgumentParser
import Foundation
import KubeSim
import Logging

/// `ironlb kubesim`: the embedded Kubernetes API server, for tests and experiments.
public struct KubeSimCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "kubesim",
        abstract: "Run IronLB's embedded Kubernetes API server (KubeSim) on loopback.",
        discussion: "Prints the kubeconfig path; kubectl --kubeconfig PATH works against it. Ctrl-C stops it."
    )

    @Option(help: "Port to listen on (0 picks a free one).")
    public var port = 6443

    @Option(help: "Address to listen on.")
    public var host = "127.0.0.1"

    @Flag(help: "Serve plain HTTP instead of TLS.")
    public var insecure = false

    @Option(help: "Directory for the kubeconfig, CA and token files (default: a new temporary directory).")
    public var directory: String?

    @Flag(help: "Run workloads: Deployments create Pods, Pods get scheduled, an IP and readiness, Services with a selector get EndpointSlices (as kube-controller-manager and the kubelets do).")
    public var workloads = false

    public init() {}

    public func run() async throws {
        var configuration = KubeSimServer.Configuration()
        if workloads { configuration.workloads = SimWorkloadOptions() }
        configuration.host = host
        configuration.port = port
        configuration.tls = !insecure
        configuration.directory = directory
        let server = try KubeSimServer(configuration: configuration, logger: Logger(label: "ironlb.kubesim"))
        do {
            try await server.start()
        } catch {
            throw ValidationError("cannot listen on \(host):\(port): \(error) (is the port in use? try --port 0)")
        }
        let banner = """
            KubeSim listening on \(server.url)
            kubeconfig: \(server.kubeconfigPath)
            try: kubectl --kubeconfig \(server.kubeconfigPath) get services -A

            """
        try? FileHandle.standardOutput.write(contentsOf: Data(banner.utf8))
        let (signals, continuation) = AsyncStream<Int32>.makeStream()
        let sources = [SIGINT, SIGTERM].map { signo -> DispatchSourceSignal in
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo)
            source.setEventHandler { continuation.yield(signo) }
            source.resume()
            return source
        }
        for await _ in signals { break }
        sources.forEach { $0.cancel() }
        try await server.stop()
    }
}
