import Foundation
import KubeModel
import NIOConcurrencyHelpers
import NIOCore

// What kube-controller-manager and the kubelets do for the kinds the lab uses: Deployments
// create Pods (no ReplicaSets: docs/design/lab.md), a scheduler places them on Ready Nodes, a
// kubelet gives them an IP and readiness and ends their graceful deletion, and the EndpointSlice
// controller publishes the endpoints of every Service with a selector. Optional
// (`KubeSimServer.Configuration.workloads`): tests that write EndpointSlices by hand keep theirs.

/// How the simulated controllers and kubelets behave.
public struct SimWorkloadOptions: Sendable {
    /// From a Pod's start to its Ready condition (a readiness probe's first success).
    public var readyDelay: Duration = .seconds(1)
    /// From a Pod's deletion to its removal (the containers' graceful stop): meanwhile its
    /// endpoint is `serving` and `terminating`.
    public var terminationDelay: Duration = .seconds(2)
    /// Pod IPs come from here (IPv4).
    public var podCIDR = "10.244.0.0/16"
    /// How often the controllers reconcile.
    public var interval: Duration = .milliseconds(200)

    public init() {}
}

extension ResourceDescriptor {
    static let pods = ResourceDescriptor(group: "", version: "v1", plural: "pods", singular: "pod", kind: "Pod", namespaced: true, shortNames: ["po"])
}

/// The pure decisions of the simulated controllers, on JSON objects as stored.
enum SimWorkloadRules {
    static let managedBy = "endpointslice-controller.k8s.io"
    static let templateHashLabel = "pod-template-hash"

    /// A stable hash of a pod template (FNV-1a of its canonical JSON), as a label value.
    static func templateHash(_ template: JSONValue?) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (template ?? .null).serializedBytes() { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return safeEncode(hash, length: 10)
    }

    /// Kubernetes' `rand.SafeEncodeString` alphabet (no vowels, no confusable characters).
    static func safeEncode(_ value: UInt64, length: Int) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        var rest = value
        var out = ""
        for _ in 0..<length {
            out.append(alphabet[Int(rest % UInt64(alphabet.count))])
            rest /= UInt64(alphabet.count)
        }
        return out
    }

    static func labels(_ object: JSONValue, _ path: String = "metadata.labels") -> [String: String] {
        (object.value(atPath: path)?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }

    static func name(_ object: JSONValue) -> String { object.value(atPath: "metadata.name")?.stringValue ?? "" }
    static func namespace(_ object: JSONValue) -> String { object.value(atPath: "metadata.namespace")?.stringValue ?? "" }
    static func uid(_ object: JSONValue) -> String { object.value(atPath: "metadata.uid")?.stringValue ?? "" }
    static func isDeleting(_ object: JSONValue) -> Bool { object.value(atPath: "metadata.deletionTimestamp") != nil }

    /// The condition's status ("True", "False", "Unknown"), nil when absent.
    static func condition(_ object: JSONValue, _ type: String) -> String? {
        (object.value(atPath: "status.conditions")?.arrayValue ?? []).first { $0["type"]?.stringValue == type }?["status"]?.stringValue
    }

    static func isReady(pod: JSONValue) -> Bool { condition(pod, "Ready") == "True" }

    /// The uid of the object's controlling owner of `kind`.
    static func controller(_ object: JSONValue, kind: String) -> String? {
        (object.value(atPath: "metadata.ownerReferences")?.arrayValue ?? [])
            .first { $0["kind"]?.stringValue == kind && $0["controller"]?.boolValue == true }?["uid"]?.stringValue
    }

    /// A Node the scheduler may use: not cordoned, and Ready (a Node without a Ready condition,
    /// as tests create them by hand, counts as Ready).
    static func isSchedulable(node: JSONValue) -> Bool {
        guard node.value(atPath: "spec.unschedulable")?.boolValue != true else { return false }
        let ready = condition(node, "Ready")
        return ready == nil || ready == "True"
    }

    /// The scheduler's choice for a pod: a schedulable Node matching its `nodeSelector`, with
    /// the fewest pods of the same owner, then the fewest pods, then the first name.
    static func schedule(pod: JSONValue, nodes: [JSONValue], pods: [JSONValue]) -> String? {
        let selector = labels(pod, "spec.nodeSelector")
        let owner = controller(pod, kind: "Deployment")
        var best: (siblings: Int, total: Int, name: String)?
        for node in nodes where isSchedulable(node: node) {
            let nodeLabels = labels(node)
            guard selector.allSatisfy({ nodeLabels[$0.key] == $0.value }) else { continue }
            let nodeName = name(node)
            let here = pods.filter { $0.value(atPath: "spec.nodeName")?.stringValue == nodeName && !isDeleting($0) }
            let siblings = owner == nil ? 0 : here.filter { controller($0, kind: "Deployment") == owner }.count
            let candidate = (siblings, here.count, nodeName)
            if best == nil || candidate < best! { best = candidate }
        }
        return best?.name
    }

    /// What a Deployment's rolling update does next (maxSurge 1, maxUnavailable 0, one pod at a
    /// time once the template changed): pods to create, pods to delete.
    static func deploymentStep(replicas: Int, hash: String, pods: [JSONValue]) -> (create: Int, delete: [String]) {
        let live = pods.filter { !isDeleting($0) }
        let current = live.filter { labels($0)[templateHashLabel] == hash }
        let old = live.filter { labels($0)[templateHashLabel] != hash }
        let surge = old.isEmpty ? 0 : 1
        let create = max(0, min(replicas - current.count, replicas + surge - live.count))
        var delete: [String] = []
        // Extra pods of the current template: the not ready ones first, then by name.
        if current.count > replicas {
            let ordered = current.sorted { a, b in
                (isReady(pod: a) ? 1 : 0, name(a)) < (isReady(pod: b) ? 1 : 0, name(b))
            }
            delete += ordered.prefix(current.count - replicas).map(name)
        }
        // Old pods: the not ready ones at once; a ready one once the ready pods exceed `replicas`.
        let readyOld = old.filter(isReady(pod:))
        delete += old.filter { !isReady(pod: $0) }.map(name)
        let readyCurrent = min(current.filter(isReady(pod:)).count, replicas)
        if let first = readyOld.sorted(by: { name($0) < name($1) }).first, readyCurrent + readyOld.count > replicas {
            delete.append(name(first))
        }
        return (create, delete)
    }

    /// A Deployment's status from its pods (nil fields absent).
    static func deploymentStatus(_ deployment: JSONValue, hash: String, pods: [JSONValue]) -> [String: JSONValue] {
        let replicas = Int64(deployment.value(atPath: "spec.replicas")?.intValue ?? 1)
        let live = pods.filter { !isDeleting($0) }
        let updated = live.filter { labels($0)[templateHashLabel] == hash }
        let ready = Int64(live.filter(isReady(pod:)).count)
        let complete = Int64(updated.count) == replicas && Int64(live.count) == replicas && ready >= replicas
        var status: [String: JSONValue] = [
            "observedGeneration": deployment.value(atPath: "metadata.generation") ?? .int(1),
            "replicas": .int(Int64(live.count)), "updatedReplicas": .int(Int64(updated.count)),
            "readyReplicas": .int(ready), "availableReplicas": .int(ready),
            "unavailableReplicas": .int(max(0, replicas - ready)),
        ]
        for key in ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"] where status[key] == .int(0) {
            status[key] = nil    // zero counts are omitted, as the API server's JSON omits them
        }
        status["conditions"] = [
            ["type": "Available", "status": .string(ready >= replicas ? "True" : "False"),
             "reason": .string(ready >= replicas ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable"),
             "message": .string(ready >= replicas ? "Deployment has minimum availability." : "Deployment does not have minimum availability.")],
            ["type": "Progressing", "status": "True",
             "reason": .string(complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated"),
             "message": .string(complete ? "Deployment \"\(name(deployment))\" has successfully progressed." : "Deployment \"\(name(deployment))\" is progressing.")],
        ]
        return status
    }

    /// The ports of a Service's endpoints: each Service port's target port, resolved against
    /// the pod's container ports when named.
    static func endpointPorts(service: JSONValue, pod: JSONValue?) -> [JSONValue] {
        var ports: [JSONValue] = []
        for port in service.value(atPath: "spec.ports")?.arrayValue ?? [] {
            var number = port["targetPort"]?.intValue ?? port["port"]?.intValue
            if let named = port["targetPort"]?.stringValue {
                let containerPorts = (pod?.value(atPath: "spec.containers")?.arrayValue ?? []).flatMap { $0["ports"]?.arrayValue ?? [] }
                number = containerPorts.first { $0["name"]?.stringValue == named }?["containerPort"]?.intValue
                    ?? Int64(named)
            }
            guard let number else { continue }
            var entry: [String: JSONValue] = ["port": .int(number), "protocol": port["protocol"] ?? "TCP"]
            entry["name"] = port["name"] ?? .string("")
            ports.append(.object(entry))
        }
        return ports
    }

    /// The endpoints of a Service with a selector: every pod it selects that has an IP;
    /// terminating pods stay, not ready, serving while their Ready condition holds.
    static func endpoints(service: JSONValue, pods: [JSONValue]) -> [JSONValue] {
        let selector = labels(service, "spec.selector")
        guard !selector.isEmpty else { return [] }
        return pods.filter { pod in
            let podLabels = labels(pod)
            return namespace(pod) == namespace(service) && selector.allSatisfy { podLabels[$0.key] == $0.value }
                && pod.value(atPath: "status.podIP")?.stringValue != nil
        }.sorted { name($0) < name($1) }.map { pod in
            let terminating = isDeleting(pod)
            var endpoint: [String: JSONValue] = [
                "addresses": [pod.value(atPath: "status.podIP")!],
                "conditions": ["ready": .bool(isReady(pod: pod) && !terminating), "serving": .bool(isReady(pod: pod)), "terminating": .bool(terminating)],
                "targetRef": ["kind": "Pod", "namespace": .string(namespace(pod)), "name": .string(name(pod)), "uid": .string(uid(pod))],
            ]
            if let node = pod.value(atPath: "spec.nodeName") { endpoint["nodeName"] = node }
            return .object(endpoint)
        }
    }

    /// `kubectl get pods` columns (`-o wide` shows the priority 1 ones).
    static func podColumns(name: JSONValue, age: JSONValue) -> [JSONValue] {
        [name, SimTables.column("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic."),
         SimTables.column("Status", "string", "", "The aggregate status of the containers in this pod."),
         SimTables.column("Restarts", "string", "", "The number of times the containers in this pod have been restarted."), age,
         SimTables.column("IP", "string", "", "IP address allocated to the pod.", priority: 1),
         SimTables.column("Node", "string", "", "Name of the Node this pod is assigned to.", priority: 1),
         SimTables.column("Nominated Node", "string", "", "Name of the Node nominated by the scheduler.", priority: 1),
         SimTables.column("Readiness Gates", "string", "", "The readiness gates of this pod.", priority: 1)]
    }

    static func podCells(_ pod: JSONValue, name: JSONValue, age: JSONValue) -> [JSONValue] {
        let containers = pod.value(atPath: "spec.containers")?.arrayValue?.count ?? 0
        let ready = (pod.value(atPath: "status.containerStatuses")?.arrayValue ?? []).filter { $0["ready"]?.boolValue == true }.count
        let status = isDeleting(pod) ? "Terminating" : (pod.value(atPath: "status.phase")?.stringValue ?? "Pending")
        return [name, .string("\(ready)/\(containers)"), .string(status), "0", age,
                .string(pod.value(atPath: "status.podIP")?.stringValue ?? "<none>"), .string(pod.value(atPath: "spec.nodeName")?.stringValue ?? "<none>"),
                "<none>", "<none>"]
    }

    /// The name of the managed slice of a Service (generated once per Service uid).
    static func sliceName(service: JSONValue) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in uid(service).utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return "\(name(service))-\(safeEncode(hash, length: 5))"
    }
}

/// Runs the simulated controllers against the server's API (in process, so every write is
/// validated and watched as a client's would be).
final class SimWorkloadControllers: @unchecked Sendable {
    private weak var server: KubeSimServer?
    private let options: SimWorkloadOptions
    private let lock = NIOLock()
    private var task: RepeatedTask?
    /// Pod uid → when the kubelet started it, and when its deletion began.
    private var started: [String: Date] = [:]
    private var terminating: [String: Date] = [:]
    private var nextAddress: UInt32 = 0
    private let base: UInt32
    private let size: UInt32

    init(server: KubeSimServer, options: SimWorkloadOptions) {
        self.server = server
        self.options = options
        let parts = options.podCIDR.split(separator: "/")
        let octets = parts.first.map { $0.split(separator: ".").compactMap { UInt32($0) } } ?? []
        let length = parts.count == 2 ? UInt32(parts[1]) ?? 16 : 16
        base = octets.count == 4 ? octets.reduce(0) { $0 << 8 | $1 } : (10 << 24 | 244 << 16)
        size = length >= 32 ? 1 : (1 << (32 - min(length, 31)))
        nextAddress = 10
    }

    func start(on loop: any EventLoop) {
        let interval = TimeAmount.nanoseconds(Int64(options.interval.components.seconds) * 1_000_000_000 + options.interval.components.attoseconds / 1_000_000_000)
        task = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in self?.reconcile() }
    }

    func stop() { task?.cancel() }

    private func seconds(_ duration: Duration) -> TimeInterval {
        TimeInterval(duration.components.seconds) + TimeInterval(duration.components.attoseconds) / 1e18
    }

    /// One pass of every controller.
    func reconcile() {
        guard let server else { return }
        lock.withLock {
            let now = Date()
            let list = { (r: ResourceDescriptor) in server.store.lock.withLock { server.store.list(WatchFilter(resource: r, namespace: nil, bookmarks: false)) } }
            let nodes = list(.nodes)
            var pods = list(.pods)
            deployments(server, list(.deployments), pods: pods, nodes: nodes)
            pods = list(.pods)
            kubelets(server, pods: pods, nodes: nodes, now: now)
            pods = list(.pods)
            endpointSlices(server, services: list(.services), pods: pods, slices: list(.endpointSlices))
        }
    }

    private func path(_ r: ResourceDescriptor, _ namespace: String, _ name: String? = nil) -> String {
        let root = r.group.isEmpty ? "/api/\(r.version)" : "/apis/\(r.group)/\(r.version)"
        return "\(root)/namespaces/\(namespace)/\(r.plural)" + (name.map { "/\($0)" } ?? "")
    }

    // MARK: Deployments

    private func deployments(_ server: KubeSimServer, _ deployments: [JSONValue], pods: [JSONValue], nodes: [JSONValue]) {
        let owners = Set(deployments.map(SimWorkloadRules.uid))
        var all = pods
        // Garbage collection: pods whose Deployment is gone.
        for pod in pods {
            if let owner = SimWorkloadRules.controller(pod, kind: "Deployment"), !owners.contains(owner), !SimWorkloadRules.isDeleting(pod) {
                server.request("DELETE", path(.pods, SimWorkloadRules.namespace(pod), SimWorkloadRules.name(pod)))
            }
        }
        for deployment in deployments where !SimWorkloadRules.isDeleting(deployment) {
            let namespace = SimWorkloadRules.namespace(deployment)
            let name = SimWorkloadRules.name(deployment)
            let uid = SimWorkloadRules.uid(deployment)
            let template = deployment.value(atPath: "spec.template")
            let hash = SimWorkloadRules.templateHash(template)
            let owned = all.filter { SimWorkloadRules.controller($0, kind: "Deployment") == uid }
            let replicas = Int(deployment.value(atPath: "spec.replicas")?.intValue ?? 1)
            let step = SimWorkloadRules.deploymentStep(replicas: replicas, hash: hash, pods: owned)
            for podName in step.delete { server.request("DELETE", path(.pods, namespace, podName)) }
            for _ in 0..<step.create {
                var pod: JSONValue = [
                    "metadata": [
                        "name": .string("\(name)-\(hash)-\(SimWorkloadRules.safeEncode(UInt64.random(in: 0...UInt64.max), length: 5))"),
                        "namespace": .string(namespace),
                        "labels": .object((template?.value(atPath: "metadata.labels")?.objectValue ?? [:]).merging([SimWorkloadRules.templateHashLabel: .string(hash)]) { _, new in new }),
                        "ownerReferences": [["apiVersion": "apps/v1", "kind": "Deployment", "name": .string(name), "uid": .string(uid), "controller": true, "blockOwnerDeletion": true]],
                    ],
                    "spec": template?["spec"] ?? [:],
                ]
                if let annotations = template?.value(atPath: "metadata.annotations") { pod.set(["metadata", "annotations"], annotations) }
                if let node = SimWorkloadRules.schedule(pod: pod, nodes: nodes, pods: all) { pod.set(["spec", "nodeName"], .string(node)) }
                let created = server.request("POST", path(.pods, namespace), body: pod)
                if created.status == 201 { all.append(created.body) }
            }
            let owner = all.filter { SimWorkloadRules.controller($0, kind: "Deployment") == uid && !step.delete.contains(SimWorkloadRules.name($0)) }
            var status = SimWorkloadRules.deploymentStatus(deployment, hash: hash, pods: owner)
            let old = deployment["status"]?.objectValue ?? [:]
            // Keep the conditions' times while they say the same.
            var conditions: [JSONValue] = []
            let stamp = JSONValue.string(KubeTime(seconds: Int64(Date().timeIntervalSince1970)).format())
            for var condition in status["conditions"]?.arrayValue ?? [] {
                let previous = (old["conditions"]?.arrayValue ?? []).first { $0["type"] == condition["type"] }
                let same = previous?["status"] == condition["status"] && previous?["reason"] == condition["reason"]
                condition["lastUpdateTime"] = same ? previous?["lastUpdateTime"] ?? stamp : stamp
                condition["lastTransitionTime"] = previous?["status"] == condition["status"] ? previous?["lastTransitionTime"] ?? stamp : stamp
                conditions.append(condition)
            }
            status["conditions"] = .array(conditions)
            if status != old {
                server.request("PATCH", path(.deployments, namespace, name) + "/status", body: ["status": .object(status.merging(
                    old.keys.filter { status[$0] == nil }.map { ($0, JSONValue.null) }) { new, _ in new })],
                    contentType: "application/merge-patch+json")
            }
        }
    }

    // MARK: Scheduler and kubelets

    private func kubelets(_ server: KubeSimServer, pods: [JSONValue], nodes: [JSONValue], now: Date) {
        let nodeNames = Set(nodes.map(SimWorkloadRules.name))
        var used = Set(pods.compactMap { $0.value(atPath: "status.podIP")?.stringValue })
        var live = Set<String>()
        for pod in pods {
            let uid = SimWorkloadRules.uid(pod)
            live.insert(uid)
            let namespace = SimWorkloadRules.namespace(pod)
            let name = SimWorkloadRules.name(pod)
            let podPath = path(.pods, namespace, name)
            guard let node = pod.value(atPath: "spec.nodeName")?.stringValue else {
                if SimWorkloadRules.isDeleting(pod) { server.request("DELETE", podPath + "?gracePeriodSeconds=0"); continue }
                if let chosen = SimWorkloadRules.schedule(pod: pod, nodes: nodes, pods: pods) {
                    server.request("PATCH", podPath, body: ["spec": ["nodeName": .string(chosen)]], contentType: "application/merge-patch+json")
                } else if SimWorkloadRules.condition(pod, "PodScheduled") != "False" {
                    server.request("PATCH", podPath + "/status", body: ["status": [
                        "phase": "Pending",
                        "conditions": [["type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                        "message": .string("0/\(nodes.count) nodes are available: no Ready, schedulable Node matches the pod's node selector.")]],
                    ]], contentType: "application/merge-patch+json")
                }
                continue
            }
            // Pod garbage collection: its Node is gone.
            if !nodeNames.contains(node) {
                server.request("DELETE", podPath + "?gracePeriodSeconds=0")
                continue
            }
            if SimWorkloadRules.isDeleting(pod) {
                let since = terminating[uid] ?? now
                terminating[uid] = since
                if now.timeIntervalSince(since) >= seconds(options.terminationDelay) {
                    server.request("DELETE", podPath + "?gracePeriodSeconds=0")
                }
                continue
            }
            let stamp = JSONValue.string(KubeTime(seconds: Int64(now.timeIntervalSince1970)).format())
            let containers = pod.value(atPath: "spec.containers")?.arrayValue ?? []
            func conditions(ready: Bool) -> JSONValue {
                .array(["PodScheduled", "Initialized", "ContainersReady", "Ready"].map { type in
                    ["type": .string(type), "status": .string(ready || type == "PodScheduled" || type == "Initialized" ? "True" : "False"), "lastTransitionTime": stamp]
                })
            }
            func statuses(ready: Bool) -> JSONValue {
                .array(containers.map { container in
                    ["name": container["name"] ?? "app", "image": container["image"] ?? "", "imageID": "", "ready": .bool(ready), "started": true,
                     "restartCount": 0, "state": ["running": ["startedAt": stamp]]]
                })
            }
            if pod.value(atPath: "status.podIP") == nil {
                guard let address = allocate(&used) else { continue }
                let hostIP = nodes.first { SimWorkloadRules.name($0) == node }
                    .flatMap { ($0.value(atPath: "status.addresses")?.arrayValue ?? []).first { $0["type"]?.stringValue == "InternalIP" }?["address"] }
                var status: [String: JSONValue] = [
                    "phase": "Running", "podIP": .string(address), "podIPs": [["ip": .string(address)]], "startTime": stamp, "qosClass": "BestEffort",
                    "conditions": conditions(ready: false), "containerStatuses": statuses(ready: false),
                ]
                if let hostIP { status["hostIP"] = hostIP; status["hostIPs"] = [["ip": hostIP]] }
                server.request("PATCH", podPath + "/status", body: ["status": .object(status)], contentType: "application/merge-patch+json")
                started[uid] = now
                continue
            }
            let since = started[uid] ?? now
            started[uid] = since
            if !SimWorkloadRules.isReady(pod: pod), now.timeIntervalSince(since) >= seconds(options.readyDelay) {
                server.request("PATCH", podPath + "/status", body: ["status": ["conditions": conditions(ready: true), "containerStatuses": statuses(ready: true)]],
                               contentType: "application/merge-patch+json")
            }
        }
        started = started.filter { live.contains($0.key) }
        terminating = terminating.filter { live.contains($0.key) }
    }

    /// The next free address of the pod CIDR.
    private func allocate(_ used: inout Set<String>) -> String? {
        for _ in 0..<size {
            let offset = nextAddress % size
            nextAddress = nextAddress &+ 1
            guard offset != 0, offset != size - 1 else { continue }
            let value = base &+ offset
            let text = "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
            if used.insert(text).inserted { return text }
        }
        return nil
    }

    // MARK: EndpointSlices

    private func endpointSlices(_ server: KubeSimServer, services: [JSONValue], pods: [JSONValue], slices: [JSONValue]) {
        let managed = slices.filter { SimWorkloadRules.labels($0)["endpointslice.kubernetes.io/managed-by"] == SimWorkloadRules.managedBy }
        var wanted = Set<String>()
        for service in services where !SimWorkloadRules.isDeleting(service) {
            guard !SimWorkloadRules.labels(service, "spec.selector").isEmpty, service.value(atPath: "spec.type")?.stringValue != "ExternalName" else { continue }
            let namespace = SimWorkloadRules.namespace(service)
            let serviceName = SimWorkloadRules.name(service)
            let endpoints = SimWorkloadRules.endpoints(service: service, pods: pods)
            let firstPod = pods.first { pod in endpoints.first?.value(atPath: "targetRef.uid")?.stringValue == SimWorkloadRules.uid(pod) }
            let ports = SimWorkloadRules.endpointPorts(service: service, pod: firstPod)
            let existing = managed.first { SimWorkloadRules.namespace($0) == namespace && SimWorkloadRules.labels($0)["kubernetes.io/service-name"] == serviceName }
            let name = existing.map(SimWorkloadRules.name) ?? SimWorkloadRules.sliceName(service: service)
            wanted.insert("\(namespace)/\(name)")
            var slice: JSONValue = [
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": [
                    "name": .string(name), "namespace": .string(namespace),
                    "labels": ["kubernetes.io/service-name": .string(serviceName), "endpointslice.kubernetes.io/managed-by": .string(SimWorkloadRules.managedBy)],
                    "ownerReferences": [["apiVersion": "v1", "kind": "Service", "name": .string(serviceName), "uid": .string(SimWorkloadRules.uid(service)),
                                         "controller": true, "blockOwnerDeletion": true]],
                ],
                "addressType": "IPv4", "endpoints": .array(endpoints), "ports": .array(ports),
            ]
            if let existing {
                guard existing["endpoints"] ?? .array([]) != slice["endpoints"] || existing["ports"] ?? .array([]) != slice["ports"] else { continue }
                slice.set(["metadata", "resourceVersion"], existing.value(atPath: "metadata.resourceVersion") ?? "")
                server.request("PUT", path(.endpointSlices, namespace, name), body: slice)
            } else {
                server.request("POST", path(.endpointSlices, namespace), body: slice)
            }
        }
        for slice in managed where !wanted.contains("\(SimWorkloadRules.namespace(slice))/\(SimWorkloadRules.name(slice))") {
            server.request("DELETE", path(.endpointSlices, SimWorkloadRules.namespace(slice), SimWorkloadRules.name(slice)))
        }
    }
}

extension SimAPI {
    /// The pod registry's graceful deletion: a scheduled pod is marked (`deletionTimestamp`,
    /// `deletionGracePeriodSeconds`) and the kubelet removes it once its containers stopped;
    /// `gracePeriodSeconds=0`, or a pod on no node, goes at once. Nil: delete now. Caller holds
    /// the lock.
    func gracefulPodDeletion(_ req: SimRequest, _ old: JSONValue, namespace: String, name: String) -> JSONValue? {
        guard gracefulPods, old.value(atPath: "spec.nodeName") != nil else { return nil }
        var grace: Int64 = 30
        if let text = req.query["gracePeriodSeconds"], let value = Int64(text) { grace = value }
        if !req.body.isEmpty, let options = try? JSONValue.parse(req.body), let value = options["gracePeriodSeconds"]?.intValue { grace = value }
        guard grace > 0 else { return nil }
        guard old.value(atPath: "metadata.deletionTimestamp") == nil else { return old }
        var pod = old
        let rv = store.nextRV()
        pod.set(["metadata", "resourceVersion"], .string(String(rv)))
        pod.set(["metadata", "deletionTimestamp"], .string(KubeTime(seconds: Int64(store.now().timeIntervalSince1970) + grace).format()))
        pod.set(["metadata", "deletionGracePeriodSeconds"], .int(grace))
        store.put(.pods, namespace, name, pod, rv: rv)
        return pod
    }

    /// `deployments/{name}/scale` (autoscaling/v1 Scale): reads and writes `spec.replicas`.
    func scale(_ req: SimRequest, _ t: ResourceTarget) throws(V1Status) -> SimResponse {
        guard let name = t.name, let namespace = t.namespace else { throw SimErrors.methodNotAllowed() }
        let deploymentPath = "/apis/apps/v1/namespaces/\(namespace)/deployments/\(name)"
        func scaleObject(_ deployment: JSONValue) -> JSONValue {
            let selector = SimWorkloadRules.labels(deployment, "spec.selector.matchLabels").sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            return [
                "kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": [
                    "name": .string(name), "namespace": .string(namespace),
                    "uid": deployment.value(atPath: "metadata.uid") ?? "", "resourceVersion": deployment.value(atPath: "metadata.resourceVersion") ?? "",
                    "creationTimestamp": deployment.value(atPath: "metadata.creationTimestamp") ?? .null,
                ],
                "spec": ["replicas": deployment.value(atPath: "spec.replicas") ?? .int(1)],
                "status": ["replicas": deployment.value(atPath: "status.replicas") ?? .int(0), "selector": .string(selector)],
            ]
        }
        let current: JSONValue = try locked { () throws(V1Status) -> JSONValue in
            guard let deployment = store.get(.deployments, namespace, name) else { throw SimErrors.notFound(.deployments, name) }
            return deployment
        }
        switch req.method {
        case "GET":
            return ok(scaleObject(current))
        case "PUT", "PATCH":
            let body: JSONValue
            do { body = try JSONValue.parse(req.body) } catch { throw SimErrors.badRequest("the request body is not JSON: \(error)") }
            var replicas: Int64?
            if let operations = body.arrayValue {          // JSON patch
                replicas = operations.first { $0["path"]?.stringValue == "/spec/replicas" }?["value"]?.intValue
            } else {
                replicas = body.value(atPath: "spec.replicas")?.intValue
            }
            guard let replicas else { throw SimErrors.badRequest("the Scale must set spec.replicas") }
            let update = SimRequest(method: "PATCH", uri: deploymentPath, headers: ["content-type": "application/merge-patch+json"],
                                    body: JSONValue.object(["spec": ["replicas": .int(replicas)]]).serializedBytes(), user: req.user)
            switch handle(update) {
            case .json(let code, let value, _) where code == 200: return ok(scaleObject(value))
            case let other: return other
            }
        default:
            throw SimErrors.methodNotAllowed()
        }
    }
}
