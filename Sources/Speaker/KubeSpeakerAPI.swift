#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
import KubeModel
import L2Ownership
import LBConfig
import LBCore
import Logging
import NetPrimitives
import ServiceLifecycle
import SpeakerCore
import Synchronization
import Announcements

/// The speaker's view of the API server: informers for Services, EndpointSlices, Nodes, the
/// config ConfigMap and the speaker Leases; writes to this node's Lease; Events. Run it as a
/// Service: its `run()` drives the informers that feed `changes()`.
public final class KubeSpeakerAPI: SpeakerAPI, Service, Sendable {
    public static let leasePrefix = SpeakerLeaseNames.liveness
    /// With probes, the speaker renews this Lease instead of its speaker Lease; only it watches it.
    public static let heartbeatPrefix = "ironlb-heartbeat-"
    /// `all` on speaker Leases (for people and tools; the speakers' watch does not need it).
    public static let watchLabel = "ironlb.io/watch"
    /// The holder's marker on its speaker Lease: `<probes|heartbeats>-<leaseTransitions>`
    /// (docs/design/layer2-leases.md, "Upgrades"). A 0.1.0 speaker's renewal drops it; its
    /// acquire keeps labels but counts a transition, which makes the marker stale.
    public static let protocolLabel = "ironlb.io/lease-protocol"
    /// Hex digits of the node name's hash on its heartbeat, one label each
    /// (`ironlb.io/hb-0` ...): see `heartbeatLabels`.
    static let heartbeatDigits = 6

    /// The labels of `node`'s heartbeat Lease: digit i of a stable hash of the name under
    /// `ironlb.io/hb-<i>` (node names may exceed a label value's 63 characters).
    public static func heartbeatLabels(_ node: String) -> [String: String] {
        var hash = StableHash()
        hash.add(node.utf8)
        let text = String(hash.finalized, radix: 16)
        let digits = Array(String(repeating: "0", count: max(0, 16 - text.count)) + text)
        var labels = ["app.kubernetes.io/name": "ironlb", "app.kubernetes.io/component": "speaker"]
        for index in 0..<heartbeatDigits { labels["ironlb.io/hb-\(index)"] = String(digits[index]) }
        return labels
    }

    /// The Lease watch of `node`'s speaker with heartbeats: every Lease without heartbeat labels
    /// (every speaker Lease, 0.1.0's unlabelled ones too) and of heartbeats only its own: each
    /// digit label, where present, must not differ from the node's (`notin` the other 15). One
    /// ordered stream, so its own heartbeat seen back proves the speaker Leases current. A hash
    /// collision only delivers another node's heartbeat, which the speaker ignores.
    public static func heartbeatSelector(_ node: String) -> String {
        let own = heartbeatLabels(node)
        let hex = Array("0123456789abcdef").map(String.init)
        return (0..<heartbeatDigits).map { index in
            let key = "ironlb.io/hb-\(index)"
            return "\(key) notin (\(hex.filter { $0 != own[key] }.joined(separator: ",")))"
        }.joined(separator: ",")
    }

    /// The marker of a Lease as the watch shows it: current only while its transition count is
    /// the one the holder wrote it with.
    static func marker(of lease: SpeakerLease) -> LeaseProtocol? {
        guard let value = lease.metadata.labels?[protocolLabel], let dash = value.lastIndex(of: "-"),
              let kind = LeaseProtocol(rawValue: String(value[..<dash])),
              Int32(value[value.index(after: dash)...]) == (lease.spec?.leaseTransitions ?? 0) else { return nil }
        return kind
    }

    private let client: KubeClient
    private let namespace: String
    private let configName: String
    private let loadBalancerClass: String?
    private let leaseDurationSeconds: Int32
    private let node: String
    /// The marker this speaker writes on its Lease (`NodeSpeaker.leaseProtocol`; nil without probes).
    private let leaseProtocol: LeaseProtocol?
    private let recorder: EventRecorder
    private let logger: Logger
    /// The latest input per object: an object that changes faster than the speaker decides
    /// is decided once with its newest state.
    let inputs = CoalescingQueue<String, SpeakerInput>(key: KubeSpeakerAPI.object(of:))
    /// Projections (SpeakerObjects.swift): only the fields the speaker reads are decoded and kept.
    private let services: Informer<SpeakerServiceObject>
    private let slices: Informer<SpeakerEndpointSlice>
    private let nodes: Informer<V1Node>
    private let configMaps: Informer<V1ConfigMap>
    private let leases: Informer<SpeakerLease>
    /// With `readsMetalLBResources`: the metallb.io objects, combined with the ConfigMap.
    private let metallb: MetalLBInformers?
    /// Where each Service's usable endpoints are, from the EndpointSlices.
    private let sliceIndex = Mutex(EndpointSliceIndex())

    public init(
        client: KubeClient, namespace: String, configName: String, loadBalancerClass: String?, leaseDuration: Duration, node: String, logger: Logger,
        readsMetalLBResources: Bool = false, leaseProtocol: LeaseProtocol? = nil
    ) {
        self.node = node
        self.leaseProtocol = leaseProtocol
        let heartbeats = leaseProtocol == .heartbeats
        self.client = client
        self.namespace = namespace
        self.configName = configName
        self.loadBalancerClass = loadBalancerClass
        self.leaseDurationSeconds = Int32(max(1, leaseDuration.components.seconds))
        self.logger = logger
        recorder = EventRecorder(client: client, reportingController: "ironlb.io/speaker", reportingInstance: node)
        // Services, slices and nodes are handed over on their watches' event loops (`run()` below)
        // into `inputs`, which holds what the speaker has not taken yet as one entry per object.
        services = Informer<SpeakerServiceObject>(client: client, keeping: { $0.sharingStorage(with: $1) })
        slices = Informer<SpeakerEndpointSlice>(client: client, keeping: { $0.withoutEndpoints(sharingWith: $1) })
        nodes = Informer<V1Node>(client: client)
        configMaps = Informer<V1ConfigMap>(client: client, namespace: namespace, fieldSelector: "metadata.name=\(configName)")
        // With heartbeats, one watch for every speaker Lease and this node's heartbeat: one
        // ordered stream, so the own heartbeat seen back proves the speaker Leases current (not
        // coalesced then: merging an object's events would reorder them across objects).
        leases = Informer<SpeakerLease>(
            client: client, namespace: namespace,
            labelSelector: heartbeats ? Self.heartbeatSelector(node) : nil,
            coalescing: !heartbeats
        )
        metallb = readsMetalLBResources ? MetalLBInformers(client: client, namespace: namespace) : nil
    }

    public func changes() -> AsyncStream<SpeakerInput> { inputs.stream() }

    /// What waits, up to 256 inputs at a time: 10,000 Services arriving together are decided in
    /// batches (one hop to the speaker's actor and one push to each BGP session per batch).
    ///
    /// Services created one by one arrive a few milliseconds apart, and each alone would be a
    /// batch of one: a hop to the actor, a route push and a wake-up of each thread on the way
    /// per Service. So a batch smaller than the maximum waits `batchGathering` (20 ms) for what
    /// follows (docs/design/scale.md, "Fourth pass").
    public func changeBatches() -> AsyncStream<[SpeakerInput]> {
        let inputs = self.inputs
        let gathering = batchGathering
        let maximum = Self.batchMaximum
        return AsyncStream(unfolding: {
            guard var batch = await inputs.nextBatch(maximum: maximum) else { return nil }
            if gathering > .zero && batch.count < maximum {
                try? await Task.sleep(for: gathering)
                batch += inputs.waiting(maximum: maximum - batch.count)
            }
            return batch
        })
    }

    static let batchMaximum = 256
    /// How long a batch smaller than `batchMaximum` waits for more inputs.
    let batchGathering: Duration = .milliseconds(20)

    /// The object an input is about (the key its newer inputs replace it under).
    static func object(of input: SpeakerInput) -> String {
        switch input {
        case .serviceUpserted(let service): return "service/\(service.key)"
        case .serviceDeleted(let key): return "service/\(key)"
        case .endpoints(let key, _): return "endpoints/\(key)"
        case .nodeUpserted(let node): return "node/\(node.name)"
        case .nodeDeleted(let name): return "node/\(name)"
        case .config: return "config"
        case .lease(let node, _, _, _): return "lease/\(node)"
        case .heartbeat(let node, _): return "heartbeat/\(node)"
        case .leaseDeleted(let node): return "lease/\(node)"
        case .synced: return "synced"
        }
    }

    public func run() async throws {
        let inputs = self.inputs
        var informers: Set<String> = ["services", "endpointslices", "nodes", "configmaps", "leases"]
        if metallb != nil { informers.insert("metallb") }
        let barrier = SyncBarrier(informers)
        let markSynced: @Sendable (String) -> Void = { name in
            if barrier.markSynced(name) { inputs.yield(.synced) }
        }
        let namespace = self.namespace
        let configName = self.configName
        let client = self.client
        let sources = ConfigSourceFeed(
            readsObjects: metallb != nil,
            assemble: { value, objects, secrets in
                ConfigSources.sourceText(configValue: value, namespace: namespace, name: configName, objects: objects, secrets: secrets)
            },
            deliver: { inputs.yield(.config($0)) }
        )
        await withTaskGroup(of: Void.self) { group in
            // Services, slices and nodes: each event is translated on its watch's event loop and
            // queued in `inputs` (one entry per object: the queue coalesces what waits).
            group.addTask {
                await self.services.run { event in
                    switch event {
                    case .added(let service):
                        if let view = self.view(of: service) { inputs.yield(.serviceUpserted(view)) }
                    case .updated(let old, let service):
                        // Changes to fields the speaker does not read (the controller's annotations,
                        // other status) give the same view: nothing to decide.
                        guard !service.sameView(as: old) else { return }
                        if let view = self.view(of: service), view != self.view(of: old) { inputs.yield(.serviceUpserted(view)) }
                    case .deleted(let service):
                        if let namespace = service.metadata.namespace, let name = service.metadata.name {
                            inputs.yield(.serviceDeleted(ServiceKey(namespace: namespace, name: name)))
                        }
                    case .synced: markSynced("services")
                    }
                }
            }
            group.addTask {
                await self.slices.run { event in
                    switch event {
                    case .added(let slice): self.sliceChanged(slice, deleted: false)
                    case .updated(let old, let slice):
                        // A slice whose Service label went no longer counts for the Service it
                        // named (as MetalLB, which finds a Service's slices by that label).
                        if slice.serviceName == nil && old.serviceName != nil { self.sliceChanged(old, deleted: true) }
                        self.sliceChanged(slice, deleted: false)
                    case .deleted(let slice): self.sliceChanged(slice, deleted: true)
                    case .synced: markSynced("endpointslices")
                    }
                }
            }
            group.addTask {
                await self.nodes.run { event in
                    switch event {
                    case .added(let node), .updated(_, let node):
                        if let state = Self.state(of: node) { inputs.yield(.nodeUpserted(state)) }
                    case .deleted(let node):
                        if let name = node.metadata.name { inputs.yield(.nodeDeleted(name)) }
                    case .synced: markSynced("nodes")
                    }
                }
            }
            group.addTask { await self.configMaps.run() }
            group.addTask { await self.leases.run() }
            group.addTask {
                await self.configMaps.follow(name: self.configName, key: "config", value: { sources.configValue($0) }, synced: { markSynced("configmaps") })
            }
            if let metallb = self.metallb {
                // Each set of objects with the Secrets it names, in order; a newer set replaces one not yet read.
                let (sets, setContinuation) = AsyncStream.makeStream(of: [JSONValue].self, bufferingPolicy: .bufferingNewest(1))
                group.addTask { await metallb.run { setContinuation.yield($0) } }
                group.addTask {
                    for await objects in sets {
                        sources.objects(objects, secrets: await Self.passwordSecrets(named: objects, client: client, namespace: namespace))
                        markSynced("metallb")
                    }
                }
            }
            group.addTask {
                for await event in self.leases.events {
                    switch event {
                    case .added(let lease), .updated(_, let lease):
                        if let name = lease.metadata.name, name.hasPrefix(Self.heartbeatPrefix) {
                            inputs.yield(.heartbeat(node: String(name.dropFirst(Self.heartbeatPrefix.count)), resourceVersion: lease.metadata.resourceVersion ?? ""))
                            continue
                        }
                        guard let name = lease.metadata.name, name.hasPrefix(Self.leasePrefix) else { continue }
                        let node = String(name.dropFirst(Self.leasePrefix.count))
                        let held = !(lease.spec?.holderIdentity ?? "").isEmpty
                        inputs.yield(.lease(node: node, held: held, resourceVersion: lease.metadata.resourceVersion ?? "", marker: held ? Self.marker(of: lease) : nil))
                    case .deleted(let lease):
                        guard let name = lease.metadata.name, name.hasPrefix(Self.leasePrefix) else { continue }
                        inputs.yield(.leaseDeleted(node: String(name.dropFirst(Self.leasePrefix.count))))
                    case .synced: markSynced("leases")
                    }
                }
            }
            // The ServiceGroup stops this service last, after the daemon released its Lease.
            try? await gracefulShutdown()
            group.cancelAll()
        }
        inputs.finish()
    }

    // MARK: Translation

    /// The BGP password Secrets the BGPPeers name (`spec.passwordSecret.name`), read one by one by
    /// name (the speaker may `get` Secrets, not list or watch them), as JSON. A Secret that
    /// cannot be read is left out: the configuration then names it as missing and is refused.
    static func passwordSecrets(named objects: [JSONValue], client: KubeClient, namespace: String) async -> [String] {
        let names = Set(objects.filter { $0["kind"]?.stringValue == "BGPPeer" }.compactMap { $0.value(atPath: "spec.passwordSecret.name")?.stringValue })
        var secrets: [String] = []
        let encoder = JSONEncoder()
        for name in names.sorted() where !name.isEmpty {
            guard let secret = try? await client.get(V1Secret.self, namespace: namespace, name: name),
                  let data = try? encoder.encode(secret) else { continue }
            secrets.append(String(decoding: data, as: UTF8.self))
        }
        return secrets
    }

    private func view(of service: SpeakerServiceObject) -> SpeakerService? {
        guard let namespace = service.metadata.namespace, let name = service.metadata.name else { return nil }
        let isOurs = service.type == "LoadBalancer" && service.metadata.deletionTimestamp == nil
            && service.loadBalancerClass == loadBalancerClass
        return SpeakerService(
            key: ServiceKey(namespace: namespace, name: name), isOurs: isOurs, ips: service.ips,
            localTrafficPolicy: service.externalTrafficPolicy == "Local"
        )
    }

    private func sliceChanged(_ slice: SpeakerEndpointSlice, deleted: Bool) {
        guard let namespace = slice.metadata.namespace, let name = slice.metadata.name,
              let serviceName = slice.serviceName else { return }
        let service = ServiceKey(namespace: namespace, name: serviceName)
        // Ready, or serving while terminating (a rollout keeps the route until old pods go).
        let usable = ServiceEndpoints.reduce(slice.endpoints.map { endpoint in
            let conditions = endpoint.conditions ?? EndpointConditions()
            return (ServiceEndpoints.isUsable(ready: conditions.ready, serving: conditions.serving, terminating: conditions.terminating), endpoint.nodeName)
        })
        let changed = sliceIndex.withLock { $0.set(slice: "\(namespace)/\(name)", service: service, endpoints: deleted ? nil : usable) }
        for (key, endpoints) in changed { inputs.yield(.endpoints(key, endpoints)) }
    }

    static func state(of node: V1Node) -> NodeState? {
        guard let name = node.metadata.name else { return nil }
        let unavailable = node.status?.conditions?.contains { $0.type == "NetworkUnavailable" && $0.status == "True" } ?? false
        let addresses = (node.status?.addresses ?? []).filter { $0.type == "InternalIP" }.compactMap { IPAddress($0.address) }
        return NodeState(name: name, labels: node.metadata.labels ?? [:], networkUnavailable: unavailable, addresses: addresses)
    }

    // MARK: Writes

    private func now() -> MicroTime { MicroTime(KubeTime(epochNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))) }

    /// Labels of a speaker Lease (every speaker watches it).
    static let speakerLeaseLabels = ["app.kubernetes.io/name": "ironlb", "app.kubernetes.io/component": "speaker", watchLabel: "all"]

    /// Labels of this node's speaker Lease as its holder writes them: with its marker for the
    /// Lease's transition count.
    private func holderLabels(transitions: Int32?) -> [String: String] {
        var labels = Self.speakerLeaseLabels
        if let leaseProtocol { labels[Self.protocolLabel] = "\(leaseProtocol.rawValue)-\(transitions ?? 0)" }
        return labels
    }

    public func leaseRequest(_ request: NodeLeaseStateMachine<ContinuousClock.Instant>.Request, node: String) async -> LeaseWriteOutcome {
        let name = Self.leasePrefix + node
        do {
            switch request {
            case .heartbeat:
                return .succeeded(resourceVersion: try await heartbeat(node: node))
            case .release where leaseProtocol == .heartbeats:
                // Read the speaker Lease, and clear it (compare-and-swap) if it is still this
                // node's (the version the machine knows may predate a heartbeat period).
                var lease = try await client.get(V1Lease.self, namespace: namespace, name: name)
                guard lease.spec?.holderIdentity == node else { return .succeeded(resourceVersion: lease.metadata.resourceVersion ?? "") }
                lease.spec?.holderIdentity = ""
                lease.spec?.renewTime = now()
                let updated = try await client.update(lease)
                return .succeeded(resourceVersion: updated.metadata.resourceVersion ?? "")
            case .acquire:
                do {
                    var lease = try await client.get(V1Lease.self, namespace: namespace, name: name)
                    var spec = lease.spec ?? LeaseSpec()
                    if spec.holderIdentity != node { spec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1; spec.acquireTime = now() }
                    spec.holderIdentity = node
                    spec.leaseDurationSeconds = leaseDurationSeconds
                    spec.renewTime = now()
                    lease.spec = spec
                    lease.metadata.labels = (lease.metadata.labels ?? [:]).merging(holderLabels(transitions: spec.leaseTransitions)) { _, new in new }
                    let updated = try await client.update(lease)
                    return .succeeded(resourceVersion: updated.metadata.resourceVersion ?? "")
                } catch let error as KubeAPIError where error.isNotFound {
                    let lease = V1Lease(
                        metadata: ObjectMeta(name: name, namespace: namespace, labels: holderLabels(transitions: 0)),
                        spec: LeaseSpec(holderIdentity: node, leaseDurationSeconds: leaseDurationSeconds, acquireTime: now(), renewTime: now(), leaseTransitions: 0)
                    )
                    let created = try await client.create(lease)
                    return .succeeded(resourceVersion: created.metadata.resourceVersion ?? "")
                }
            case .renew(let version):
                let updated = try await write(name: name, version: version, holder: true) { spec in
                    spec.holderIdentity = node
                    spec.renewTime = self.now()
                }
                return .succeeded(resourceVersion: updated)
            case .release(let version):
                let updated = try await write(name: name, version: version) { spec in
                    spec.holderIdentity = ""
                    spec.renewTime = self.now()
                }
                return .succeeded(resourceVersion: updated)
            case .read:
                let lease = try await client.get(V1Lease.self, namespace: namespace, name: name)
                return .read(heldBySelf: lease.spec?.holderIdentity == node, resourceVersion: lease.metadata.resourceVersion ?? "")
            }
        } catch let error as KubeAPIError where error.isConflict || error.isAlreadyExists {
            return .conflict
        } catch {
            logger.warning("Lease write failed", metadata: ["lb.lease": "\(name)", "lb.error": "\(error)"])
            return .failed
        }
    }

    /// Renews this node's heartbeat Lease (creating it the first time); its new version.
    private func heartbeat(node: String) async throws -> String {
        let name = Self.heartbeatPrefix + node
        let labels = Self.heartbeatLabels(node)
        let spec = LeaseSpec(holderIdentity: node, leaseDurationSeconds: leaseDurationSeconds, renewTime: now())
        // The informer's copy first (one request); on a conflict or a miss, read and retry once.
        if let cached = leases.get("\(namespace)/\(name)"), let version = cached.metadata.resourceVersion {
            var metadata = ObjectMeta(name: name, namespace: namespace, labels: labels)
            metadata.resourceVersion = version
            if let updated = try? await client.update(V1Lease(metadata: metadata, spec: spec)) { return updated.metadata.resourceVersion ?? "" }
        }
        do {
            var lease = try await client.get(V1Lease.self, namespace: namespace, name: name)
            lease.spec = spec
            lease.metadata.labels = labels
            return try await client.update(lease).metadata.resourceVersion ?? ""
        } catch let error as KubeAPIError where error.isNotFound {
            return try await client.create(V1Lease(metadata: ObjectMeta(name: name, namespace: namespace, labels: labels), spec: spec)).metadata.resourceVersion ?? ""
        }
    }

    /// A compare-and-swap update of the Lease at `version` (`holder`: by its holder, with its marker).
    private func write(name: String, version: String, holder: Bool = false, _ change: @Sendable (inout LeaseSpec) -> Void) async throws -> String {
        var spec = LeaseSpec(leaseDurationSeconds: leaseDurationSeconds)
        if let current = leases.get("\(namespace)/\(name)")?.spec { spec = current }
        change(&spec)
        spec.leaseDurationSeconds = leaseDurationSeconds
        var metadata = ObjectMeta(name: name, namespace: namespace, labels: holder ? holderLabels(transitions: spec.leaseTransitions) : Self.speakerLeaseLabels)
        metadata.resourceVersion = version
        let updated = try await client.update(V1Lease(metadata: metadata, spec: spec))
        return updated.metadata.resourceVersion ?? ""
    }

    public func breakLease(node: String, resourceVersion: String) async -> Bool {
        do {
            _ = try await write(name: Self.leasePrefix + node, version: resourceVersion) { spec in spec.holderIdentity = "" }
            logger.info("broke an expired speaker Lease", metadata: ["lb.node": "\(node)"])
            return true
        } catch {
            return false
        }
    }

    public func publishReport(_ report: [ServiceKey: String], node: String) async -> Bool {
        let name = SpeakerLeaseNames.report + node
        let (text, omitted) = AnnouncementReport.encode(report, byteLimit: AnnouncementReport.byteLimit)
        if omitted > 0 {
            logger.warning("the announcement report is too large for one Lease annotation; Services left out show no announced-by",
                           metadata: ["lb.lease": "\(name)", "lb.omitted": "\(omitted)"])
        }
        do {
            var patch: JSONValue = [:]
            patch.set(["metadata", "annotations", AnnouncementReport.annotation], .string(text))
            _ = try await client.patch(V1Lease.self, namespace: namespace, name: name, patch: patch, type: .merge)
            return true
        } catch let error as KubeAPIError where error.isNotFound {
            let lease = V1Lease(
                metadata: ObjectMeta(name: name, namespace: namespace, labels: ["app.kubernetes.io/name": "ironlb", "app.kubernetes.io/component": "speaker"],
                                     annotations: [AnnouncementReport.annotation: text]),
                spec: LeaseSpec(holderIdentity: node)
            )
            do {
                _ = try await client.create(lease)
                return true
            } catch {
                logger.warning("could not write the announcement report", metadata: ["lb.lease": "\(name)", "lb.error": "\(error)"])
                return false
            }
        } catch {
            logger.warning("could not write the announcement report", metadata: ["lb.lease": "\(name)", "lb.error": "\(error)"])
            return false
        }
    }

    public func record(_ event: RecordedEvent) async {
        let regarding: ObjectReference
        let action: String
        switch event.object {
        case .service(let key):
            let uid = services.get("\(key.namespace)/\(key.name)")?.metadata.uid
            regarding = ObjectReference(kind: "Service", namespace: key.namespace, name: key.name, uid: uid, apiVersion: "v1")
            action = "Announce"
        case .configMap, .resource:
            guard let object = event.object.configurationObject else { return }
            regarding = MetalLBInformers.reference(kind: object.kind, namespace: object.namespace, name: object.name, in: metallb)
            action = "LoadConfig"
        }
        do {
            try await recorder.post(regarding: regarding, type: event.kind.rawValue, reason: event.reason, action: action, note: String(event.message.prefix(1024)))
        } catch {
            logger.warning("could not record an Event", metadata: ["lb.reason": "\(event.reason)", "lb.error": "\(error)"])
        }
    }
}
