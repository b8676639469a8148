import ArgumentParser
import Controller
import Foundation
import KubeClient
import KubeModel
import KubeSim
import NetworkLab
import LBCore
import Logging
import NIOPosix
import Observability
import Prometheus
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
import ControllerCore
import Announcements
#endif

/// `ironlb lab --layer2`: the same cluster, but the three nodes live in network namespaces on a
/// bridge and answer ARP for a layer 2 pool; a client namespace `arping`s each Service IP.
/// KubeSim and the controller run in this process (in the host namespace, where the printed
/// kubeconfig works); each speaker is this same binary (`ironlb speaker`) started with
/// `ip netns exec` in its node namespace, reaching the API server through a relay on the
/// namespace's loopback (docs/design/lab.md).
extension LabCommand {
    static let layer2Pool = "192.0.2.240-192.0.2.250"

    static var layer2Config: String {
        "address-pools:\n- {name: lab, protocol: layer2, addresses: [\(layer2Pool)]}\n"
    }

    /// The speakers' Lease timings in the lab: a hand-off of 5 s instead of the default 12 s.
    static let speakerLeaseFlags = ["--lease-duration", "6s", "--renew-deadline", "4s", "--retry-period", "1s"]

    func runLayer2() async throws {
        let ip = Shell.which("ip", extra: []), arping = Shell.which("arping", extra: [])
        let missing = LabError.layer2Missing(isRoot: geteuid() == 0, ip: ip, arping: arping)
        guard missing.isEmpty, let ip, let arping else {
            throw LabError(code: "prerequisites", description: "ironlb lab --layer2 cannot start; it needs\n" + missing.map { "  - \($0)\n" }.joined() + "Nothing was created.")
        }
        // From here on SIGINT and SIGTERM stop the lab through its own clean-up, also mid-start.
        let signals = LabSignals()
        defer { signals.cancel() }
        let (directory, say) = try prepareLogging()
        let logger = Logger(label: "ironlb.lab")
        say("IronLB lab (layer 2): starting (logs: \(directory)/lab.log)")
        let sim = try await startAPIServer(directory: directory, say: say)

        let network = LabNetwork(prefix: namespacePrefix, nodes: Self.nodes, ip: ip)
        let relayGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let relay = NamespaceRelay(group: relayGroup)
        let children = LabChildren()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var clients: [KubeClient] = []
        var view: Layer2LabView?
        var failure: (any Error)?
        do {
            say("  network         namespaces \(network.namespaces.joined(separator: ", ")) on 192.0.2.0/24")
            try await network.setUp(interrupted: { signals.received })
            for node in network.nodes { try await relay.open(namespace: node.namespace, port: sim.port) }
            if signals.received { throw LabError.interrupted }
            let sources = try Self.seed(sim, config: Self.layer2Config, demos: LabWorkloads.layer2, metallbResources: metallbResources)
            say("  configuration   \(sources.joined(separator: ", "))")

            let clientConfiguration = try KubeConfigLoader.load(paths: [sim.kubeconfigPath])
            let client = try KubeClient(configuration: clientConfiguration, logger: Logger(label: "ironlb.kubeclient"))
            clients.append(client)
            let endpoints = LabPorts()
            var services = try controllerServices(client: client, endpoints: endpoints, logger: logger)
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            let speakers = network.nodes.map { node in
                LabSpeakerProcesses.Speaker(
                    node: node,
                    argv: [ip, "netns", "exec", node.namespace, executable, "speaker", "--kubeconfig", sim.kubeconfigPath,
                           "--node-name", node.name, "--metrics-address", "\(node.address):7473"] + Self.speakerLeaseFlags
                           + (metallbResources ? ["--metallb-resources"] : []),
                    logPath: "\(directory)/\(node.name).log")
            }
            services.append(.init(service: LabSpeakerProcesses(speakers: speakers, children: children, stopping: { signals.received }, say: say)))
            let shown = Layer2LabView(sim: sim, network: network, arping: arping, kubeconfig: sim.kubeconfigPath, endpoints: endpoints,
                                      once: once, timeout: timeout, say: say)
            view = shown
            services.append(.init(service: shown, successTerminationBehavior: .gracefullyShutdownGroup))
            services.append(.init(service: LabSignalWatcher(signals: signals), successTerminationBehavior: .gracefullyShutdownGroup))
            var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [], logger: logger)
            configuration.maximumGracefulShutdownDuration = .seconds(20)
            try await ServiceGroup(configuration: configuration).run()
        } catch {
            failure = error
        }

        say("IronLB lab: stopping")
        children.killAll()
        await relay.close()
        let removed = network.tearDown()
        say("IronLB lab: removed \(removed.isEmpty ? "no namespaces" : "the namespaces " + removed.joined(separator: ", "))")
        for client in clients { try? await client.shutdown() }
        try? await group.shutdownGracefully()
        try? await relayGroup.shutdownGracefully()
        try? await sim.stop()
        if let failure, (failure as? LabError)?.code != LabError.interrupted.code { throw failure }
        if once, view?.succeeded != true { throw ExitCode(1) }
    }
}

/// SIGINT and SIGTERM for the layer 2 lab: ignored by default so that the lab's own clean-up
/// always runs (namespaces and child processes outlive a killed parent), observed instead.
final class LabSignals: @unchecked Sendable {
    private final class Flag: Sendable { let value = Atomic<Bool>(false) }
    private let flag = Flag()
    private let stream: AsyncStream<Int32>
    private let sources: [DispatchSourceSignal]

    init() {
        let (stream, continuation) = AsyncStream<Int32>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.stream = stream
        let flag = self.flag
        sources = [SIGINT, SIGTERM].map { signo in
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler {
                flag.value.store(true, ordering: .relaxed)
                continuation.yield(signo)
            }
            source.resume()
            return source
        }
    }

    var received: Bool { flag.value.load(ordering: .relaxed) }

    /// Returns once a signal arrived (one caller only: the signal watcher).
    func wait() async {
        if received { return }
        for await _ in stream { return }
    }

    func cancel() {
        sources.forEach { $0.cancel() }
    }
}

/// Ends the lab's service group gracefully when SIGINT or SIGTERM arrives.
struct LabSignalWatcher: Service {
    let signals: LabSignals
    func run() async throws {
        await cancelWhenGracefulShutdown { await signals.wait() }
    }
}

/// The lab's child processes by PID: signalled only while running, killed at the end.
final class LabChildren: Sendable {
    private let processes = Mutex<[Int32: ManagedProcess]>([:])

    func add(_ process: ManagedProcess) { processes.withLock { $0[process.pid] = process } }

    func signal(_ pid: Int32, _ signal: Int32) {
        processes.withLock { processes in processes[pid]?.signal(signal) }
    }

    /// SIGKILLs every child still running and waits for it.
    func killAll() {
        let all = processes.withLock { processes in
            defer { processes.removeAll() }
            return Array(processes.values)
        }
        for process in all where process.isRunning { process.stop(signal: SIGKILL) }
    }
}

/// The nodes' speakers: `ironlb speaker` in each node's namespace, output to a log file per
/// node. A graceful shutdown sends every speaker SIGTERM at once (each releases its Lease and
/// stops answering; one at a time, the VIPs would hop from node to node on the way out);
/// cancellation sends SIGKILL. A speaker that exits by itself ends the lab with an error.
struct LabSpeakerProcesses: Service {
    struct Speaker: Sendable {
        let node: LabNetwork.Member
        let argv: [String]
        let logPath: String
    }

    let speakers: [Speaker]
    let children: LabChildren
    /// True once the lab was asked to stop (Ctrl-C in a terminal also reaches the speakers
    /// directly, and one may exit before the group's shutdown reaches this service).
    let stopping: @Sendable () -> Bool
    let say: @Sendable (String) -> Void

    func run() async throws {
        var exits: [(Speaker, Int32, AsyncStream<Int32>)] = []
        for speaker in speakers {
            let (stream, continuation) = AsyncStream<Int32>.makeStream(bufferingPolicy: .bufferingNewest(1))
            let process = try ManagedProcess(speaker.argv, logPath: speaker.logPath, onExit: { continuation.yield($0) })
            children.add(process)
            exits.append((speaker, process.pid, stream))
            say("  speaker         \(speaker.node.name) pid \(process.pid) in \(speaker.node.namespace) (log: \(speaker.logPath))")
        }
        let children = self.children
        let pids = exits.map(\.1)
        let first: (Speaker, Int32)? = await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withTaskGroup(of: (Speaker, Int32).self) { group in
                    for (speaker, _, stream) in exits {
                        group.addTask {
                            for await status in stream { return (speaker, status) }
                            return (speaker, -1)
                        }
                    }
                    // The first exit: the end of the lab when it was asked for, a failure if not.
                    guard let first = await group.next() else { return nil }
                    if !Task.isShuttingDownGracefully && !Task.isCancelled && !stopping() {
                        group.cancelAll()
                        return first
                    }
                    await group.waitForAll()
                    return nil
                }
            } onGracefulShutdown: {
                for pid in pids { children.signal(pid, SIGTERM) }
            }
        } onCancel: {
            for pid in pids { children.signal(pid, SIGKILL) }
        }
        if let (speaker, status) = first {
            throw LabError(code: "speaker-exited", description: "the speaker of \(speaker.node.name) exited with status \(status); see \(speaker.logPath)")
        }
    }
}

/// Shows the layer 2 lab: each Service, its IP, the node the controller reports in
/// `ironlb.io/announced-by`, and the MACs that answered an `arping` from the client namespace.
/// With `once`, returns when every Service has an IP answered by exactly one node's MAC.
final class Layer2LabView: Service, Sendable {
    struct Row: Sendable, Equatable {
        let name: String
        let ip: String?
        let announcedBy: String?
        /// Distinct MACs that answered, lower case, sorted.
        let answers: [String]
        /// Nodes with a ready (or serving, terminating) pod of the Service.
        var endpointNodes: [String] = []
    }

    let sim: KubeSimServer
    let network: LabNetwork
    let arping: String
    let kubeconfig: String
    let endpoints: LabPorts
    let once: Bool
    let timeout: Int
    let say: @Sendable (String) -> Void
    private let done = Atomic<Bool>(false)

    init(sim: KubeSimServer, network: LabNetwork, arping: String, kubeconfig: String, endpoints: LabPorts, once: Bool, timeout: Int,
         say: @escaping @Sendable (String) -> Void) {
        self.sim = sim
        self.network = network
        self.arping = arping
        self.kubeconfig = kubeconfig
        self.endpoints = endpoints
        self.once = once
        self.timeout = timeout
        self.say = say
    }

    var succeeded: Bool { done.load(ordering: .relaxed) }

    /// The MAC addresses in `arping` output (iputils: `[02:00:...]`, Habets: `from 02:00:...`).
    static func macs(inArpingOutput text: String) -> [String] {
        let pattern = try! NSRegularExpression(pattern: #"(?<![0-9A-Fa-f:])([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})(?![0-9A-Fa-f:])"#)
        let found = pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range(at: 1), in: text).map { text[$0].lowercased() }
        }
        return Array(Set(found)).sorted()
    }

    /// The node names in an `ironlb.io/announced-by` value (`node-a,node-b (layer2 eth0)`).
    static func announcers(_ annotation: String?) -> [String] {
        guard let annotation else { return [] }
        let nodes = annotation.split(separator: " ", maxSplits: 1).first ?? ""
        return nodes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func rows() async -> [Row] {
        let (_, list) = sim.request("GET", "/api/v1/services")
        let services: [(String, String?, String?)] = (list["items"]?.arrayValue ?? []).compactMap { item -> (String, String?, String?)? in
            guard item["spec"]?["type"]?.stringValue == "LoadBalancer",
                  let namespace = item["metadata"]?["namespace"]?.stringValue, let name = item["metadata"]?["name"]?.stringValue else { return nil }
            let ip = item["status"]?["loadBalancer"]?["ingress"]?.arrayValue?.first?["ip"]?.stringValue
            return ("\(namespace)/\(name)", ip, item["metadata"]?["annotations"]?[AnnouncedByIndex.annotation]?.stringValue)
        }.sorted { $0.0 < $1.0 }
        let endpointNodes = LabWorkloads.endpointNodes(sim)
        let arping = self.arping, ip = network.ip, client = network.client.namespace
        return await withTaskGroup(of: (Int, [String]).self) { group in
            for (index, service) in services.enumerated() {
                guard let address = service.1, !address.contains(":") else { continue }
                group.addTask {
                    let output = try? await Shell.output(of: [ip, "netns", "exec", client, arping, "-c", "1", "-w", "1", "-I", "eth0", address], timeout: 10)
                    return (index, Self.macs(inArpingOutput: output?.stdout ?? ""))
                }
            }
            var answers: [Int: [String]] = [:]
            for await (index, macs) in group { answers[index] = macs }
            return services.enumerated().map { index, service in
                Row(name: service.0, ip: service.1, announcedBy: service.2, answers: answers[index] ?? [], endpointNodes: endpointNodes[service.0] ?? [])
            }
        }
    }

    /// The text of the view, and whether every Service has an IP that exactly one node answers
    /// (the node `ironlb.io/announced-by` names).
    static func render(_ rows: [Row], network: LabNetwork, kubeconfig: String, metrics: [String: Int]) -> (text: String, complete: Bool) {
        var lines = ["", "Services (kubectl --kubeconfig \(kubeconfig) get svc -A)"]
        var complete = !rows.isEmpty
        for row in rows {
            let answered = row.answers.map { mac in "\(mac) (\(network.node(withMAC: mac) ?? "not a lab node"))" }
            let owner = row.answers.count == 1 ? network.node(withMAC: row.answers[0]) : nil
            if row.ip == nil || owner == nil || !announcers(row.announcedBy).contains(owner!) { complete = false }
            lines.append("  \(row.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \((row.ip ?? "<pending>").padding(toLength: 16, withPad: " ", startingAt: 0)) "
                         + "endpoints on: \((row.endpointNodes.isEmpty ? "-" : row.endpointNodes.joined(separator: ",")).padding(toLength: 24, withPad: " ", startingAt: 0)) "
                         + "announced by: \((row.announcedBy ?? "-").padding(toLength: 28, withPad: " ", startingAt: 0)) "
                         + "arping: \(answered.isEmpty ? "no answer" : answered.joined(separator: ", "))")
        }
        lines.append("Nodes (bridge br0 in \(network.lan), 192.0.2.0/24)")
        for node in network.nodes {
            lines.append("  \(node.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(node.address.padding(toLength: 12, withPad: " ", startingAt: 0)) \(node.mac)  netns \(node.namespace)  metrics http://\(node.address):7473/metrics")
        }
        let client = network.client
        lines.append("  \(client.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(client.address.padding(toLength: 12, withPad: " ", startingAt: 0)) \(client.mac)  netns \(client.namespace)  try: sudo ip netns exec \(client.namespace) arping -c 1 -I eth0 <IP>")
        lines.append("Metrics: " + metrics.sorted { $0.key < $1.key }.map { "\($0.key) http://127.0.0.1:\($0.value)/metrics" }.joined(separator: "  ")
                     + "  (nodes: sudo ip netns exec <netns> curl <metrics>)")
        return (lines.joined(separator: "\n"), complete)
    }

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await self.show() }
    }

    private func show() async throws {
        let completed = await runLabView(
            once: once, timeout: timeout, interval: .seconds(2),
            success: "IronLB lab: every Service has an IP and exactly one node answers ARP for it.",
            failure: "IronLB lab: not every Service was answered by exactly one node within \(timeout) s; see the logs.",
            say: say, render: { Self.render(await rows(), network: network, kubeconfig: kubeconfig, metrics: endpoints.all) }
        )
        if completed { done.store(true, ordering: .relaxed) }
    }
}
