import KubeModel

/// Decoding only part of an object (a projection): a process that watches thousands of objects
/// keeps, and builds, only the fields it reads. JSON it does not ask for is skipped by the
/// decoder, never turned into Swift values (docs/design/scale.md).
extension ObjectMeta {
    /// The identity of an object from its `metadata` decoder: name, namespace, uid,
    /// resourceVersion, deletionTimestamp, and of its labels only `labels` (annotations,
    /// managed fields, owner references and the rest are skipped).
    public init(identityFrom decoder: any Decoder, labels wanted: Set<String> = []) throws {
        let container = try decoder.container(keyedBy: IdentityKeys.self)
        self.init(name: try container.decodeIfPresent(String.self, forKey: .name),
                  namespace: try container.decodeIfPresent(String.self, forKey: .namespace))
        uid = try container.decodeIfPresent(String.self, forKey: .uid)
        resourceVersion = try container.decodeIfPresent(String.self, forKey: .resourceVersion)
        deletionTimestamp = try container.decodeIfPresent(KubeTime.self, forKey: .deletionTimestamp)
        if !wanted.isEmpty, let all = try container.decodeIfPresent([String: String].self, forKey: .labels) {
            let kept = all.filter { wanted.contains($0.key) }
            labels = kept.isEmpty ? nil : kept
        }
    }

    private enum IdentityKeys: String, CodingKey { case name, namespace, uid, resourceVersion, deletionTimestamp, labels }
}

extension KeyedDecodingContainer {
    /// The decoder of `key`'s value, nil when the key is absent or null.
    public func projectionDecoder(forKey key: Key) throws -> (any Decoder)? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try superDecoder(forKey: key)
    }
}
