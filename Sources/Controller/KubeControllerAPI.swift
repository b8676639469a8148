#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
import KubeModel
import LBConfig
import LBCore
import Logging
import NIOConcurrencyHelpers
import NetPrimitives
import ServiceLifecycle
import Synchronization
import ControllerCore
import Announcements

/// The controller's view of a real (or embedded) API server: informers for Services (all
/// namespaces), the config ConfigMap, Namespaces and the Leases in IronLB's namespace (speaker
/// liveness and announcement reports); status merge patches; events.k8s.io Events.
/// Run it as a Service: its `run()` drives the informers that feed `changes()`.
public final class KubeControllerAPI: ControllerAPI, Service, Sendable {
    private let client: KubeClient
    private let settings: ControllerCore.Settings
    private let recorder: EventRecorder
    private let logger: Logger
    /// The latest input per object: an object that changes faster than the controller
    /// decides is decided once with its newest state.
    let inputs = CoalescingQueue<String, ControllerInput>(key: KubeControllerAPI.object(of:))
    /// Services as the controller reads them (a projection, not whole objects: issue 18).
    private let services: Informer<ServiceProjection>
    private let configMaps: Informer<V1ConfigMap>
    private let namespaces: Informer<V1Namespace>
    private let leases: Informer<V1Lease>
    /// With `settings.readsMetalLBResources`: the metallb.io objects, combined with the ConfigMap.
    private let metallb: MetalLBInformers?

    public init(client: KubeClient, settings: ControllerCore.Settings, instance: String, logger: Logger) {
        self.client = client
        self.settings = settings
        self.logger = logger
        recorder = EventRecorder(client: client, reportingController: "ironlb.io/controller", reportingInstance: instance)
        services = Informer<ServiceProjection>(client: client)
        configMaps = Informer<V1ConfigMap>(client: client, namespace: settings.configNamespace, fieldSelector: "metadata.name=\(settings.configName)")
        namespaces = Informer<V1Namespace>(client: client)
        leases = Informer<V1Lease>(client: client, namespace: settings.configNamespace)
        metallb = settings.readsMetalLBResources ? MetalLBInformers(client: client, namespace: settings.configNamespace) : nil
    }

    public func changes() -> AsyncStream<ControllerInput> { inputs.stream() }

    public func run() async throws {
        let inputs = self.inputs
        let barrier = SyncBarrier(metallb == nil ? ["services", "configmaps", "namespaces", "leases"] : ["services", "configmaps", "namespaces", "leases", "metallb"])
        let markSynced: @Sendable (String) -> Void = { name in
            if barrier.markSynced(name) { inputs.yield(.synced) }
        }
        let configName = settings.configName
        let namespace = settings.configNamespace
        let sources = ConfigSourceFeed(
            readsObjects: metallb != nil,
            // The controller needs no BGP passwords: a Secret it does not read is only a warning.
            assemble: { value, objects, _ in ConfigSources.sourceText(configValue: value, namespace: namespace, name: configName, objects: objects) },
            deliver: { inputs.yield(.config($0)) }
        )
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.configMaps.run() }
            group.addTask { await self.namespaces.run() }
            group.addTask { await self.leases.run() }
            group.addTask {
                for await event in self.leases.events {
                    switch event {
                    case .added(let lease), .updated(_, let lease):
                        if let input = Self.input(of: lease, deleted: false) { inputs.yield(input) }
                    case .deleted(let lease):
                        if let input = Self.input(of: lease, deleted: true) { inputs.yield(input) }
                    case .synced:
                        markSynced("leases")
                    }
                }
            }
            // Services are translated on their watch's event loop and queued in `inputs` (one
            // entry per Service: the queue coalesces what waits), not buffered in a stream first.
            group.addTask {
                await self.services.run { event in
                    switch event {
                    case .added(let service), .updated(_, let service):
                        if let state = Self.state(of: service) {
                            inputs.yield(.serviceUpserted(state))
                        }
                    case .deleted(let service):
                        if let key = Self.key(of: service.metadata) {
                            inputs.yield(.serviceDeleted(key))
                        }
                    case .synced:
                        markSynced("services")
                    }
                }
            }
            group.addTask {
                await self.configMaps.follow(name: configName, key: "config", value: { sources.configValue($0) }, synced: { markSynced("configmaps") })
            }
            if let metallb = self.metallb {
                group.addTask {
                    await metallb.run { objects in
                        sources.objects(objects)
                        markSynced("metallb")
                    }
                }
            }
            group.addTask {
                for await event in self.namespaces.events {
                    switch event {
                    case .added(let namespace), .updated(_, let namespace):
                        if let name = namespace.metadata.name { inputs.yield(.namespace(name, labels: namespace.metadata.labels ?? [:])) }
                    case .deleted(let namespace):
                        if let name = namespace.metadata.name { inputs.yield(.namespace(name, labels: nil)) }
                    case .synced:
                        markSynced("namespaces")
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        inputs.finish()
    }

    /// The object an input is about (the key its newer inputs replace it under).
    static func object(of input: ControllerInput) -> String {
        switch input {
        case .serviceUpserted(let state): return "service/\(state.key)"
        case .serviceDeleted(let key): return "service/\(key)"
        case .config: return "config"
        case .namespace(let name, _): return "namespace/\(name)"
        case .announcements(let node, _): return "announcements/\(node)"
        case .speakerLease(let node, _): return "lease/\(node)"
        case .synced: return "synced"
        }
    }

    // MARK: Writes

    public func writeStatus(_ service: ServiceKey, ips: [IPAddress], pool: String?) async -> WriteOutcome {
        var patch: JSONValue = [:]
        patch.set(["metadata", "annotations", "ironlb.io/ip-allocated-from-pool"], pool.map { .string($0) } ?? .null)
        if ips.isEmpty {
            patch.set(["status", "loadBalancer", "ingress"], .null)
        } else {
            patch.set(["status", "loadBalancer", "ingress"], .array(ips.map { ["ip": .string($0.description)] }))
        }
        return await patchStatus(service, patch)
    }

    public func writeAnnouncedBy(_ service: ServiceKey, _ value: String?) async -> WriteOutcome {
        var patch: JSONValue = [:]
        patch.set(["metadata", "annotations", AnnouncedByIndex.annotation], value.map { .string($0) } ?? .null)
        return await patchStatus(service, patch)
    }

    /// A merge patch of `services/{name}/status`, its failure mapped to the retry policy. The
    /// Service the server answers with is not decoded: the informer brings it anyway (decoding
    /// it was 7 % of the controller's CPU in a burst of 10,000 Services, docs/design/scale.md).
    private func patchStatus(_ service: ServiceKey, _ patch: JSONValue) async -> WriteOutcome {
        do {
            let path = ServiceProjection.resource.path(namespace: service.namespace, name: service.name, subresource: "status")
            let response = try await client.send(.PATCH, path, body: patch.serializedBytes(), contentType: PatchType.merge.rawValue)
            guard (200..<300).contains(response.status) else { throw KubeClient.apiError(response) }
            return .done
        } catch let error as KubeAPIError {
            if error.isNotFound { return .gone }
            logger.warning("status patch failed; will retry", metadata: ["lb.service": "\(service)", "lb.error": "\(error)"])
            return .retry(reason: "\(error.code) \(error.reason)", retryAfter: error.retryAfterSeconds.map(Double.init))
        } catch {
            logger.warning("status patch failed; will retry", metadata: ["lb.service": "\(service)", "lb.error": "\(error)"])
            return .retry(reason: "\(error)", retryAfter: nil)
        }
    }

    public func record(_ event: RecordedEvent) async {
        let regarding: ObjectReference
        let action: String
        switch event.object {
        case .service(let key):
            regarding = ObjectReference(kind: "Service", namespace: key.namespace, name: key.name, uid: services.get("\(key.namespace)/\(key.name)")?.metadata.uid, apiVersion: "v1")
            action = "Allocate"
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

    // MARK: Translation

    /// A speaker Lease (liveness) or a speaker's announcement report; nil for other Leases.
    static func input(of lease: V1Lease, deleted: Bool) -> ControllerInput? {
        guard let name = lease.metadata.name else { return nil }
        if name.hasPrefix(SpeakerLeaseNames.report) {
            let node = String(name.dropFirst(SpeakerLeaseNames.report.count))
            let text = deleted ? nil : lease.metadata.annotations?[AnnouncementReport.annotation]
            return .announcements(node: node, text.flatMap(AnnouncementReport.decode))
        }
        if name.hasPrefix(SpeakerLeaseNames.liveness) {
            let held = !deleted && !(lease.spec?.holderIdentity ?? "").isEmpty
            return .speakerLease(node: String(name.dropFirst(SpeakerLeaseNames.liveness.count)), held: held)
        }
        return nil
    }

    static func key(of metadata: ObjectMeta) -> ServiceKey? {
        guard let namespace = metadata.namespace, let name = metadata.name else { return nil }
        return ServiceKey(namespace: namespace, name: name)
    }

    /// The controller's view of a Service object.
    static func state(of service: ServiceProjection) -> ServiceState? {
        guard let key = key(of: service.metadata) else { return nil }
        let spec = service.spec
        let families = (spec?.ipFamilies ?? []).compactMap(IPFamily.init(rawValue:))
        let ports = (spec?.ports ?? []).map { TransportPort(Int($0.port), TransportProtocol(rawValue: $0.protocol ?? "TCP") ?? .tcp) }
        return ServiceState(
            key: key,
            uid: service.metadata.uid ?? "",
            isLoadBalancer: spec?.type == "LoadBalancer",
            loadBalancerClass: spec?.loadBalancerClass,
            isDeleting: service.metadata.deletionTimestamp != nil,
            annotations: service.metadata.annotations ?? [:],
            labels: service.metadata.labels ?? [:],
            loadBalancerIP: spec?.loadBalancerIP,
            ipFamilies: families.isEmpty ? [.ipv4] : families,
            ipFamilyPolicy: spec?.ipFamilyPolicy.flatMap(IPFamilyPolicy.init(rawValue:)) ?? .singleStack,
            externalTrafficPolicyLocal: spec?.externalTrafficPolicy == "Local",
            selector: spec?.selector ?? [:],
            ports: Set(ports),
            ingressIPs: (service.status?.loadBalancer?.ingress ?? []).compactMap(\.ip)
        )
    }
}

/// Leadership from a Lease election.
public struct LeaseLeadership: LeadershipSource {
    let elector: LeaderElector

    public init(elector: LeaderElector) { self.elector = elector }

    public func leadership() -> AsyncStream<Bool> { elector.leadership }
}
