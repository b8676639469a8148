/// What a projection keeps of `metadata`: the identity `ObjectMeta(identityFrom:)` decodes.
/// `ObjectMeta` holds its 15 optional fields inline (about 200 bytes per cached object, and as
/// much again per hash table slot grown); this holds 88 bytes.
public struct ObjectIdentity: Hashable, Sendable {
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var deletionTimestamp: KubeTime?
    public var labels: [String: String]?

    public init(_ metadata: ObjectMeta) {
        name = metadata.name
        namespace = metadata.namespace
        uid = metadata.uid
        resourceVersion = metadata.resourceVersion
        deletionTimestamp = metadata.deletionTimestamp
        labels = metadata.labels
    }

    /// As `ObjectMeta` (the fields not kept are nil).
    public var metadata: ObjectMeta {
        var metadata = ObjectMeta(name: name, namespace: namespace, labels: labels)
        metadata.uid = uid
        metadata.resourceVersion = resourceVersion
        metadata.deletionTimestamp = deletionTimestamp
        return metadata
    }
}
