#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeModel
import NIOConcurrencyHelpers

/// Informers for MetalLB's configuration objects (metallb.io) in one namespace. `run` reports
/// every object, as JSON, once all six have listed and again on every change: the input of
/// `ConfigSources.sourceText` (docs/design/crd-config.md). The CRDs must be installed.
public final class MetalLBInformers: Sendable {
    private let pools: Informer<CustomObject<MetalLBKinds.IPAddressPool>>
    private let layer2: Informer<CustomObject<MetalLBKinds.L2Advertisement>>
    private let bgp: Informer<CustomObject<MetalLBKinds.BGPAdvertisement>>
    private let communities: Informer<CustomObject<MetalLBKinds.Community>>
    private let bfd: Informer<CustomObject<MetalLBKinds.BFDProfile>>
    private let peers: Informer<CustomObject<MetalLBKinds.BGPPeer>>
    private let synced = NIOLockedValueBox<Set<String>>([])

    public init(client: KubeClient, namespace: String) {
        pools = Informer(client: client, namespace: namespace)
        layer2 = Informer(client: client, namespace: namespace)
        bgp = Informer(client: client, namespace: namespace)
        communities = Informer(client: client, namespace: namespace)
        bfd = Informer(client: client, namespace: namespace)
        peers = Informer(client: client, namespace: namespace)
    }

    /// The objects now: by creation time, then kind, then name (the order pools are tried in).
    public var objects: [JSONValue] {
        let all: [(KubeTime?, String, String, JSONValue)] =
            pools.snapshot.values.map(Self.entry) + layer2.snapshot.values.map(Self.entry) + bgp.snapshot.values.map(Self.entry)
            + communities.snapshot.values.map(Self.entry) + bfd.snapshot.values.map(Self.entry) + peers.snapshot.values.map(Self.entry)
        return all.sorted { a, b in
            let (ta, tb) = (a.0?.seconds ?? 0, b.0?.seconds ?? 0)
            return (ta, a.1, a.2) < (tb, b.1, b.2)
        }.map(\.3)
    }

    /// What an Event about the configuration is regarding: the ConfigMap (`kind` "ConfigMap") or
    /// a metallb.io object, with its uid when `informers` hold it (controller and speakers alike).
    public static func reference(kind: String, namespace: String, name: String, in informers: MetalLBInformers?) -> ObjectReference {
        guard kind != "ConfigMap" else { return ObjectReference(kind: kind, namespace: namespace, name: name, apiVersion: "v1") }
        let uid = informers?.objects.first { $0.value(atPath: "kind")?.stringValue == kind && $0.value(atPath: "metadata.name")?.stringValue == name }?
            .value(atPath: "metadata.uid")?.stringValue
        return ObjectReference(kind: kind, namespace: namespace, name: name, uid: uid, apiVersion: kind == "BGPPeer" ? "metallb.io/v1beta2" : "metallb.io/v1beta1")
    }

    /// List items may come without `apiVersion` and `kind` (as the API server lists built-in
    /// kinds): the informer's resource says what they are.
    private static func entry<K>(_ object: CustomObject<K>) -> (KubeTime?, String, String, JSONValue) {
        var raw = object.raw
        if raw["apiVersion"] == nil { raw["apiVersion"] = .string(K.resource.apiVersion) }
        if raw["kind"] == nil { raw["kind"] = .string(K.resource.kind) }
        return (object.metadata.creationTimestamp, K.resource.kind, object.metadata.name ?? "", raw)
    }

    /// Runs the informers; `changed` gets `objects` once all have listed, then after each change.
    public func run(changed: @escaping @Sendable ([JSONValue]) -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.pools.run() }
            group.addTask { await self.layer2.run() }
            group.addTask { await self.bgp.run() }
            group.addTask { await self.communities.run() }
            group.addTask { await self.bfd.run() }
            group.addTask { await self.peers.run() }
            group.addTask { await self.follow(self.pools, changed) }
            group.addTask { await self.follow(self.layer2, changed) }
            group.addTask { await self.follow(self.bgp, changed) }
            group.addTask { await self.follow(self.communities, changed) }
            group.addTask { await self.follow(self.bfd, changed) }
            group.addTask { await self.follow(self.peers, changed) }
        }
    }

    private func follow<K>(_ informer: Informer<CustomObject<K>>, _ changed: @Sendable ([JSONValue]) -> Void) async {
        for await event in informer.events {
            if case .synced = event { synced.withLockedValue { _ = $0.insert(K.resource.kind) } }
            if synced.withLockedValue({ $0.count == 6 }) { changed(objects) }
        }
    }
}
