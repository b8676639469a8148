import ArgumentParser
import BGPTransport
import Controller
import Foundation
import KubeClient
import KubeModel
import KubeSim
import LBCore
import Logging
import NIOCore
import NIOPosix
import NetPrimitives
import Observability
import Prometheus
import ServiceLifecycle
import Speaker
import Synchronization
import ControllerCore

/// `ironlb lab`: IronLB's main job on an embedded default, on one machine with no cluster.
public struct LabCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Run IronLB on this machine: an embedded API server, a controller, three simulated nodes and a BGP route collector.",
        discussion: """
            Everything runs on loopback and needs no root. The kubeconfig path is printed: use
            `kubectl --kubeconfig PATH create service loadbalancer demo --tcp=80` (or `apply -f
            examples/services/shop.yaml`) and watch the IP appear and the route arrive. Ctrl-C stops
            everything.

            With --layer2 (as root, with `ip` and `arping`), the nodes run in network namespaces on a
            bridge (192.0.2.0/24), Services get IPs from a layer 2 pool (192.0.2.240-192.0.2.250) and
            the view shows which node answers an `arping` from a client namespace. Ctrl-C or SIGTERM
            removes every namespace and stops every speaker.
            """
    )

    @Option(help: "Port of the embedded API server (0 picks a free one).")
    public var port = 0

    @Option(help: "Port of the BGP route collector on 127.0.0.1 (0 picks a free one).")
    public var collectorPort = 0

    @Option(help: "Directory for the kubeconfig, certificates and logs (default: a new temporary directory).")
    public var directory: String?

    @Flag(help: "Print the state once everything is allocated and announced, then exit (0 on success).")
    public var once = false

    @Option(help: "With --once: give up after this many seconds.")
    public var timeout: Int = 90

    @Flag(help: "Run the nodes in network namespaces on a bridge, with a layer 2 pool, and show which node answers `arping` for each Service IP (needs root, `ip` and `arping`).")
    public var layer2 = false

    @Option(help: "With --layer2: the start of the network namespaces' names (the lab's PID follows, so runs never collide).")
    public var namespacePrefix = "ironlb-lab"

    @Flag(help: "Configure the lab with MetalLB's metallb.io objects (IPAddressPool, BGPAdvertisement or L2Advertisement, BGPPeers) instead of the ConfigMap; the controller and the speakers run with --metallb-resources.")
    public var metallbResources = false

    public init() {}

    static let nodes = ["lab-node-1", "lab-node-2", "lab-node-3"]
    static let pool = "198.51.100.0/28"

    public func validate() throws {
        guard !namespacePrefix.isEmpty, namespacePrefix.count <= 32,
              namespacePrefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw ValidationError("--namespace-prefix must be 1 to 32 letters, digits, - or _")
        }
    }

    public func run() async throws {
        if layer2 { return try await runLayer2() }
        let (directory, say) = try prepareLogging()
        let logger = Logger(label: "ironlb.lab")

        say("IronLB lab: starting (logs: \(directory)/lab.log)")
        let sim = try await startAPIServer(directory: directory, say: say)

        // 2. The route collector the nodes peer with.
        let collector = BGPCollector(localASN: 65000, routerID: IPv4Address(127, 0, 0, 1))
        let bgpPort: Int
        do {
            bgpPort = try await collector.start(host: "127.0.0.1", port: collectorPort)
        } catch {
            try? await sim.stop()
            throw ValidationError("the route collector cannot listen on 127.0.0.1:\(collectorPort): \(error). Try --collector-port 0.")
        }
        say("  route collector 127.0.0.1:\(bgpPort) (AS 65000)")

        // 3. The cluster: configuration, nodes, two example Services.
        let sources = try Self.seed(sim, config: Self.bgpConfig(bgpPort: bgpPort), demos: LabWorkloads.bgp, metallbResources: metallbResources)
        say("  configuration   \(sources.joined(separator: ", "))")
        // One client per simulated process, as in a real cluster (each holds its own watches).
        let clientConfiguration = try KubeConfigLoader.load(paths: [sim.kubeconfigPath])
        var clients: [KubeClient] = []
        func makeClient() throws -> KubeClient {
            let client = try KubeClient(configuration: clientConfiguration, logger: Logger(label: "ironlb.kubeclient"))
            clients.append(client)
            return client
        }
        let client = try makeClient()

        // 4. The controller and one speaker per node, with their metrics endpoints.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let endpoints = LabPorts()
        services += try controllerServices(client: client, endpoints: endpoints, logger: logger)
        for (index, node) in Self.nodes.enumerated() {
            var nodeLogger = logger
            nodeLogger[metadataKey: "lb.node"] = "\(node)"
            let speaker = SpeakerProcess(client: try makeClient(), eventLoops: group, options: .init(
                node: node, readsMetalLBResources: metallbResources, routerID: IPv4Address(127, 0, 0, UInt8(11 + index)),
                metricsHost: "127.0.0.1", metricsPort: 0, onMetricsBound: { address in endpoints.set(node, address.port) }
            ), logger: nodeLogger)
            services += speaker.services
        }
        let view = LabView(sim: sim, collector: collector, kubeconfig: sim.kubeconfigPath, endpoints: endpoints, once: once, timeout: timeout, say: say)
        services.append(.init(service: view, successTerminationBehavior: .gracefullyShutdownGroup))
        var groupConfiguration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(20)
        let serviceGroup = ServiceGroup(configuration: groupConfiguration)
        try await serviceGroup.run()

        say("IronLB lab: stopping")
        await collector.stop()
        for client in clients { try? await client.shutdown() }
        try? await group.shutdownGracefully()
        try? await sim.stop()
        if once, !view.succeeded { throw ExitCode(1) }
    }

    /// The lab's controller (both lab modes): one replica, its metrics on 127.0.0.1.
    func controllerServices(client: KubeClient, endpoints: LabPorts, logger: Logger) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        try ControllerProcess(client: client, options: .init(
            settings: ControllerCore.Settings(readsMetalLBResources: metallbResources), identity: "lab-controller",
            metricsHost: "127.0.0.1", metricsPort: 0, onMetricsBound: { address in endpoints.set("controller", address.port) }
        ), logger: logger).services
    }

    /// The lab's directory (created) and JSON logs to `lab.log` there; returns a function that
    /// prints a line on standard output.
    func prepareLogging() throws -> (directory: String, say: @Sendable (String) -> Void) {
        let directory = self.directory ?? (NSTemporaryDirectory() + "ironlb-lab-\(getpid())")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let logPath = directory + "/lab.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let logFile = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        LoggingSystem.bootstrap { label in
            JSONLogHandler(label: label, level: .info) { line in try? logFile.write(contentsOf: Data((line + "\n").utf8)) }
        }
        return (directory, { line in try? FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8)) })
    }

    /// The embedded API server on 127.0.0.1 (TLS), its kubeconfig in `directory/kubesim`.
    func startAPIServer(directory: String, say: @Sendable (String) -> Void) async throws -> KubeSimServer {
        var simConfiguration = KubeSimServer.Configuration()
        simConfiguration.port = port
        simConfiguration.directory = directory + "/kubesim"
        simConfiguration.workloads = LabWorkloads.options
        let sim = try KubeSimServer(configuration: simConfiguration, logger: Logger(label: "ironlb.kubesim"))
        do {
            try await sim.start()
        } catch {
            throw ValidationError("the embedded API server cannot listen on 127.0.0.1:\(port): \(error). Is the port in use? Try --port 0.")
        }
        say("  API server      \(sim.url)")
        say("  kubeconfig      \(sim.kubeconfigPath)")
        return sim
    }

    /// The BGP lab's configuration: a pool from a documentation range; one peer entry per node,
    /// each from its own loopback address, all to the collector.
    static func bgpConfig(bgpPort: Int) -> String {
        var peers = ""
        for (index, node) in nodes.enumerated() {
            peers += "- {peer-address: 127.0.0.1, peer-port: \(bgpPort), peer-asn: 65000, my-asn: 64512, source-address: 127.0.0.\(11 + index), node-selectors: [{match-labels: {kubernetes.io/hostname: \(node)}}]}\n"
        }
        return "peers:\n\(peers)address-pools:\n- {name: lab, protocol: bgp, addresses: [\(pool)]}\n"
    }

    /// The lab's cluster: the ironlb-system namespace and the configuration `config` (the
    /// ConfigMap, or with `metallbResources` MetalLB's CRDs and the same configuration as
    /// metallb.io objects), three Nodes and the demo Services with their Deployments.
    /// Returns the configuration's objects (`ConfigMap/config`, or `IPAddressPool/lab`, ...).
    @discardableResult
    static func seed(_ sim: KubeSimServer, config: String, demos: [LabWorkloads.Demo], metallbResources: Bool = false) throws -> [String] {
        let configuration: [(String, JSONValue)] = metallbResources
            ? LabResources.definitions() + (try LabResources.objects(config))
            : [("/api/v1/namespaces/ironlb-system/configmaps", ["metadata": ["name": "config"], "data": ["config": .string(config)]])]
        let requests: [(String, JSONValue)] = [
            ("/api/v1/namespaces", ["metadata": ["name": "ironlb-system"]]),
        ] + configuration + nodes.map { node in
            ("/api/v1/nodes", ["metadata": ["name": .string(node), "labels": ["kubernetes.io/hostname": .string(node)]]])
        } + LabWorkloads.requests(demos)
        for (path, body) in requests {
            let (status, answer) = sim.request("POST", path, body: body)
            guard (200..<300).contains(status) || status == 409 else {
                throw ValidationError("could not create \(path): \(status) \(answer)")
            }
        }
        return configuration.compactMap { _, body in
            guard let name = body["metadata"]?["name"]?.stringValue, !name.contains(".") else { return nil }   // not the CRDs
            return "\(body["kind"]?.stringValue ?? "ConfigMap")/\(name)"
        }
    }
}

/// Shows the lab: each Service, its IP, the nodes announcing it, the collector's table and the
/// metrics endpoints. With `once`, returns when everything is allocated and announced.
final class LabView: Service, Sendable {
    let sim: KubeSimServer
    let collector: BGPCollector
    let kubeconfig: String
    let endpoints: LabPorts
    let once: Bool
    let timeout: Int
    let say: @Sendable (String) -> Void
    private let done = Atomic<Bool>(false)

    init(sim: KubeSimServer, collector: BGPCollector, kubeconfig: String, endpoints: LabPorts, once: Bool, timeout: Int, say: @escaping @Sendable (String) -> Void) {
        self.sim = sim
        self.collector = collector
        self.kubeconfig = kubeconfig
        self.endpoints = endpoints
        self.once = once
        self.timeout = timeout
        self.say = say
    }

    var succeeded: Bool { done.load(ordering: .relaxed) }

    /// (namespace/name, IP) for every LoadBalancer Service, sorted.
    func services() -> [(String, String?)] {
        let (_, list) = sim.request("GET", "/api/v1/services")
        let items = list["items"]?.arrayValue ?? []
        return items.compactMap { item -> (String, String?)? in
            guard item["spec"]?["type"]?.stringValue == "LoadBalancer",
                  let namespace = item["metadata"]?["namespace"]?.stringValue, let name = item["metadata"]?["name"]?.stringValue else { return nil }
            let ip = item["status"]?["loadBalancer"]?["ingress"]?.arrayValue?.first?["ip"]?.stringValue
            return ("\(namespace)/\(name)", ip)
        }.sorted { $0.0 < $1.0 }
    }

    static func node(forPeer peer: String) -> String {
        guard let last = peer.split(separator: ".").last, let octet = Int(last), (11...13).contains(octet) else { return peer }
        return LabCommand.nodes[octet - 11]
    }

    func render() -> (text: String, complete: Bool) {
        let routes = collector.routes
        let services = services()
        let endpointNodes = LabWorkloads.endpointNodes(sim)
        var lines = ["", "Services (kubectl --kubeconfig \(kubeconfig) get svc -A)"]
        var complete = !services.isEmpty
        for (name, ip) in services {
            let announcers = ip.map { ip in routes.filter { $0.prefix.network.description == ip }.map { Self.node(forPeer: $0.peer) }.sorted() } ?? []
            let withEndpoints = endpointNodes[name] ?? []
            if ip == nil || withEndpoints.isEmpty || announcers.count < LabCommand.nodes.count { complete = false }
            lines.append("  \(name.padding(toLength: 24, withPad: " ", startingAt: 0)) \((ip ?? "<pending>").padding(toLength: 16, withPad: " ", startingAt: 0)) "
                         + "endpoints on: \((withEndpoints.isEmpty ? "-" : withEndpoints.joined(separator: ",")).padding(toLength: 24, withPad: " ", startingAt: 0)) "
                         + "announced by: \(announcers.isEmpty ? "-" : announcers.joined(separator: ", "))")
        }
        lines.append("Route collector (127.0.0.1, AS 65000): \(collector.sessions.count) BGP sessions, \(routes.count) routes")
        for route in routes { lines.append("  \(route.prefix.description.padding(toLength: 20, withPad: " ", startingAt: 0)) via \(route.nextHop) from \(Self.node(forPeer: route.peer))") }
        let ports = endpoints.all
        lines.append("Metrics: " + ports.sorted { $0.key < $1.key }.map { "\($0.key) http://127.0.0.1:\($0.value)/metrics" }.joined(separator: "  "))
        return (lines.joined(separator: "\n"), complete)
    }

    func run() async throws {
        // Ctrl-C (graceful shutdown) ends the view like any other part of the lab.
        try await cancelWhenGracefulShutdown { try await self.show() }
    }

    private func show() async throws {
        let completed = await runLabView(
            once: once, timeout: timeout, interval: .seconds(2),
            success: "IronLB lab: every Service has an IP and ready pods, and every node announces it.",
            failure: "IronLB lab: not everything was allocated and announced within \(timeout) s; see the logs.",
            say: say, render: { render() }
        )
        if completed { done.store(true, ordering: .relaxed) }
    }
}

/// The metrics ports of the lab's processes, as they bind.
final class LabPorts: Sendable {
    private let ports = Mutex<[String: Int]>([:])
    func set(_ name: String, _ port: Int?) { ports.withLock { $0[name] = port } }
    var all: [String: Int] { ports.withLock { $0 } }
}

/// The lab's view loop, for both lab modes: prints the state whenever it changes (looking every
/// `interval`); with `once`, prints it and `success` as soon as it is complete and returns true,
/// or prints it and `failure` after `timeout` seconds and returns false.
func runLabView(
    once: Bool, timeout: Int, interval: Duration, success: String, failure: String,
    say: (String) -> Void, render: () async -> (text: String, complete: Bool)
) async -> Bool {
    let started = ContinuousClock.now
    var last = ""
    while !Task.isCancelled {
        let (text, complete) = await render()
        if once {
            if complete {
                say(text)
                say(success)
                return true
            }
            if ContinuousClock.now - started > .seconds(timeout) {
                say(text)
                say(failure)
                return false
            }
        } else if text != last {
            say(text)
            last = text
        }
        if (try? await Task.sleep(for: once ? .milliseconds(500) : interval)) == nil { break }
    }
    return false
}
