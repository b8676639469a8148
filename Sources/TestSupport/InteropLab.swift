import Foundation
import NetworkLab

/// A small cluster in network namespaces for end-to-end tests and benchmarks: a bridge ("lan"),
/// a control namespace (KubeSim and the controller at 192.0.2.100), a router namespace, and node
/// namespaces added on demand. Everything is stopped and deleted by `tearDown`.
public final class InteropLab: @unchecked Sendable {
    public let lan: NetworkNamespace
    public let ctl: NetworkNamespace
    public let rtr: NetworkNamespace
    public var nodes: [String: NetworkNamespace] = [:]
    public var processes: [String: ManagedProcess] = [:]
    public var frr: FRRRouter?
    public let directory: String
    public let ironlb: String
    /// The executable `startSpeaker` runs (default `ironlb`): bench-scale runs the production
    /// build's speaker (no `Lab` trait) beside the lab build's KubeSim and controller.
    public var speakerExecutable: String
    /// The executable the controller runs from (default `ironlb`): `scripts/link-order` runs the
    /// production build's controller to see which of its code the controller executes.
    public var controllerExecutable: String
    public var token = ""
    /// When set, the controller and the speakers run from this image as manifests/ironlb.yaml
    /// runs them (`startPod`): in-cluster configuration, so KubeSim serves HTTPS. KubeSim itself
    /// always runs from `ironlb` (the build beside the tests).
    public let image: ShippedImage?

    public init(ironlb: String, image: ShippedImage? = nil) throws {
        self.ironlb = ironlb
        self.speakerExecutable = ironlb
        self.controllerExecutable = ironlb
        self.image = image
        directory = NSTemporaryDirectory() + "ironlb-e2e-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        lan = try NetworkNamespace(prefix: "e2e-lan")
        ctl = try NetworkNamespace(prefix: "e2e-ctl")
        rtr = try NetworkNamespace(prefix: "e2e-rtr")
        try lan.addBridge()
        try attach(ctl, port: "p-ctl", address: "192.0.2.100/24")
        try attach(rtr, port: "p-rtr", address: "192.0.2.1/24")
    }

    public func attach(_ namespace: NetworkNamespace, port: String, address: String) throws {
        try lan.attach(namespace, port: port, address: address)
    }

    public func addNode(_ name: String, address: String) throws {
        let namespace = try NetworkNamespace(prefix: "e2e-\(name)")
        nodes[name] = namespace
        try attach(namespace, port: "p-\(name)", address: address + "/24")
    }

    public func start(_ key: String, _ argv: [String], in namespace: NetworkNamespace) throws {
        processes[key] = try ManagedProcess(argv, namespace: namespace, logDirectory: directory)
    }

    /// An API request from inside the control namespace (the API server listens there).
    @discardableResult
    public func api(_ method: String, _ path: String, _ body: String? = nil, contentType: String = "application/json") throws -> (status: Int, json: Any?) {
        let server = image == nil ? ["http://192.0.2.100:6443\(path)"] : ["--cacert", directory + "/kubesim/ca.crt", "https://192.0.2.100:6443\(path)"]
        var argv = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-H", "Authorization: Bearer \(token)",
                    "-H", "Content-Type: \(contentType)"] + server
        if let body { argv += ["--data-binary", body] }
        let output = try ctl.run(argv, timeout: 30)
        let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "") ?? 0
        let text = lines.dropLast().joined(separator: "\n")
        return (status, try? JSONSerialization.jsonObject(with: Data(text.utf8)))
    }

    /// Starts KubeSim and the controller in the control namespace, with `config` as the
    /// configuration and `nodes` as Node objects. With `workloads`, KubeSim runs Deployments,
    /// Pods and EndpointSlices as a cluster's controllers and kubelets do.
    /// `definitions`: CustomResourceDefinitions (JSON) created before the controller starts, and
    /// `controllerArguments` added to its command line (`--metallb-resources`, for example).
    public func startControlPlane(
        config: String, nodes: [String], workloads: Bool = false, definitions: [String] = [], controllerArguments: [String] = []
    ) async throws {
        let simDirectory = directory + "/kubesim"
        try start("kubesim", [ironlb, "kubesim", "--host", "192.0.2.100", "--port", "6443", "--directory", simDirectory]
                  + (image == nil ? ["--insecure"] : []) + (workloads ? ["--workloads"] : []), in: ctl)
        guard await poll(timeout: 60, { FileManager.default.fileExists(atPath: simDirectory + "/token") }) else { throw LabError.notStarted("kubesim") }
        token = try String(contentsOfFile: simDirectory + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard await poll(timeout: 60, { ((try? self.api("GET", "/api/v1/namespaces"))?.status ?? 0) == 200 }) else { throw LabError.notStarted("kubesim API") }
        try api("POST", "/api/v1/namespaces", Self.json(["metadata": ["name": "ironlb-system"]]))
        try api("POST", "/api/v1/namespaces/ironlb-system/configmaps", Self.json(["metadata": ["name": "config"], "data": ["config": config]]))
        for node in nodes {
            try api("POST", "/api/v1/nodes", Self.json(["metadata": ["name": node, "labels": ["kubernetes.io/hostname": node]]]))
        }
        for definition in definitions { try api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", definition) }
        if image != nil {
            try startPod("controller", ManifestContainer.load("Deployment", "ironlb-controller"), in: ctl, node: "control", address: "192.0.2.100",
                               arguments: controllerArguments)
            return
        }
        // As installed: the controller creates the speakers' probe key Secret (`enableProbes`).
        try start("controller", [controllerExecutable, "controller", "--kubeconfig", kubeconfig, "--no-leader-elect", "--metrics-address", "192.0.2.100:7472",
                                 "--ml-secret-name", Self.probeKeySecret] + controllerArguments, in: ctl)
    }

    public var kubeconfig: String { directory + "/kubesim/kubeconfig" }

    /// Starts `ironlb speaker` for `node`; `arguments` are added (Lease timings, for example).
    public func startSpeaker(_ node: String, address: String, arguments: [String] = []) throws {
        if image != nil {
            try startPod(node, ManifestContainer.load("DaemonSet", "ironlb-speaker"), in: nodes[node]!, node: node, address: address, arguments: arguments)
            return
        }
        let probes = probeKeyFile.map { ["--probe-key-file", $0] } ?? []
        try start(node, [speakerExecutable, "speaker", "--kubeconfig", kubeconfig, "--node-name", node, "--metrics-address", "\(address):7473"] + probes + arguments, in: nodes[node]!)
    }

    /// The probe key file speakers get once `enableProbes` ran (the install's Secret).
    public private(set) var probeKeyFile: String?

    /// The Secret the controller creates with the speakers' probe key (`--ml-secret-name`).
    public static let probeKeySecret = "ironlb-memberlist"

    /// The probe key the controller put in its Secret (`secretkey`, decoded), or nil while the
    /// Secret does not exist.
    public func probeKey() -> [UInt8]? {
        let secret = (try? api("GET", "/api/v1/namespaces/ironlb-system/secrets/\(Self.probeKeySecret)"))?.json as? [String: Any]
        guard let text = (secret?["data"] as? [String: Any])?["secretkey"] as? String, let data = Data(base64Encoded: text) else { return nil }
        return [UInt8](data)
    }

    /// Turns on the speakers' failure detector: the key of the controller's Secret, written to
    /// a file for every speaker started after this (as the kubelet mounts the Secret), and each
    /// Node's InternalIP (the address its peers probe), as a kubelet reports it.
    public func enableProbes(nodeAddresses: [String: String]) async throws {
        guard await poll(timeout: 60, { self.probeKey() != nil }), let key = probeKey() else {
            throw LabError.notStarted("the controller's probe key Secret \(Self.probeKeySecret)")
        }
        let file = directory + "/probe-key"
        try Data(key).write(to: URL(fileURLWithPath: file))
        probeKeyFile = file
        for (node, address) in nodeAddresses.sorted(by: { $0.key < $1.key }) {
            let status = ["metadata": ["name": node], "status": ["addresses": [["type": "InternalIP", "address": address], ["type": "Hostname", "address": node]]]] as [String: Any]
            let (code, _) = try api("PATCH", "/api/v1/nodes/\(node)/status", Self.json(status), contentType: "application/merge-patch+json")
            guard code == 200 else { throw LabError.notStarted("Node \(node) status: HTTP \(code)") }
        }
    }

    /// An EndpointSlice `<service>-slice` for a Service in `default`: one ready endpoint per
    /// node, as the EndpointSlice controller writes for running pods (IronLB announces only
    /// Services with a usable endpoint).
    public static func endpointSlice(service: String, nodes: [String], ready: Bool = true) -> String {
        json([
            "metadata": ["name": "\(service)-slice", "labels": ["kubernetes.io/service-name": service]],
            "addressType": "IPv4",
            "endpoints": nodes.enumerated().map { index, node in
                ["addresses": ["10.244.0.\(10 + index)"], "nodeName": node, "conditions": ["ready": ready]] as [String: Any]
            },
            "ports": [["port": 8080, "protocol": "TCP"]],
        ])
    }

    /// Creates `endpointSlice(service:nodes:)`; returns the HTTP status (201).
    @discardableResult
    public func addEndpoints(_ service: String, nodes: [String]) throws -> Int {
        try api("POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", Self.endpointSlice(service: service, nodes: nodes)).status
    }

    /// A Deployment `name` in `default` whose pods carry `app: <name>`, optionally pinned to
    /// one node by `kubernetes.io/hostname`.
    public static func deployment(_ name: String, replicas: Int, node: String? = nil) -> String {
        var podSpec: [String: Any] = ["containers": [["name": "app", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53", "ports": [["containerPort": 8080]]]]]
        if let node { podSpec["nodeSelector"] = ["kubernetes.io/hostname": node] }
        return json([
            "metadata": ["name": name],
            "spec": ["replicas": replicas, "selector": ["matchLabels": ["app": name]],
                     "template": ["metadata": ["labels": ["app": name]], "spec": podSpec]],
        ])
    }

    /// `kubectl scale`: the Deployment's `scale` subresource; returns the HTTP status.
    @discardableResult
    public func scale(_ deployment: String, to replicas: Int) throws -> Int {
        try api("PATCH", "/apis/apps/v1/namespaces/default/deployments/\(deployment)/scale", Self.json(["spec": ["replicas": replicas]]),
                contentType: "application/merge-patch+json").status
    }

    /// The nodes of a Service's ready endpoints, as its EndpointSlices say.
    public func endpointNodes(_ service: String) -> [String] {
        let list = (try? api("GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io/service-name=\(service)"))?.json as? [String: Any]
        let endpoints = (list?["items"] as? [[String: Any]] ?? []).flatMap { $0["endpoints"] as? [[String: Any]] ?? [] }
        return endpoints.filter { (($0["conditions"] as? [String: Any])?["ready"] as? Bool) == true }.compactMap { $0["nodeName"] as? String }.sorted()
    }

    /// The messages of the Events about a Service in `default` with this reason.
    public func eventMessages(_ service: String, reason: String) -> [String] {
        let list = (try? api("GET", "/apis/events.k8s.io/v1/namespaces/default/events"))?.json as? [String: Any]
        return (list?["items"] as? [[String: Any]] ?? []).filter {
            ($0["regarding"] as? [String: Any])?["name"] as? String == service && $0["reason"] as? String == reason
        }.compactMap { $0["note"] as? String }
    }

    /// The first ingress IP of a Service, or nil.
    public func ingressIP(_ name: String) -> String? {
        let service = (try? api("GET", "/api/v1/namespaces/default/services/\(name)"))?.json as? [String: Any]
        let ingress = ((service?["status"] as? [String: Any])?["loadBalancer"] as? [String: Any])?["ingress"] as? [[String: Any]]
        return ingress?.first?["ip"] as? String
    }

    /// An annotation of a Service in `default`, or nil.
    public func annotation(_ service: String, _ key: String) -> String? {
        let object = (try? api("GET", "/api/v1/namespaces/default/services/\(service)"))?.json as? [String: Any]
        return ((object?["metadata"] as? [String: Any])?["annotations"] as? [String: Any])?[key] as? String
    }

    public static func json(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    public func dumpLogs() {
        for (name, process) in processes { print("--- \(name) stderr (tail)\n" + String(process.stderr.suffix(3000))) }
    }

    public func tearDown() {
        for process in processes.values { process.stop(signal: SIGKILL, timeout: 5) }
        frr?.stop()
        for namespace in nodes.values { namespace.destroy() }
        ctl.destroy()
        rtr.destroy()
        lan.destroy()
    }
}

public enum LabError: Error { case notStarted(String) }

extension ManagedProcess {
    /// The time of the first JSON log line (IronLB's `time` field) containing `text`, at or after
    /// `after` (log times have millisecond resolution); nil if none.
    public func logTime(_ text: String, after: Date = .distantPast) -> Date? {
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for line in stderr.split(separator: "\n") where line.contains(text) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let time = object["time"] as? String, let date = parser.date(from: time) else { continue }
            if date >= after.addingTimeInterval(-0.001) { return date }
        }
        return nil
    }
}
