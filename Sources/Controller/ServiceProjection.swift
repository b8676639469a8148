import KubeModel

/// The fields of a Service the controller reads, decoded straight from list and watch
/// responses: the Service informer caches one of these per Service instead of a whole
/// `V1Service` (cluster IPs, node ports, target ports, session affinity, conditions,
/// managed fields ... that the controller never looks at). Writes still go through `V1Service`.
struct ServiceProjection: KubeResource {
    static var resource: ResourceDescriptor { V1Service.resource }

    struct Spec: Codable, Sendable {
        var type: String?
        var loadBalancerClass: String?
        var loadBalancerIP: String?
        var ipFamilies: [String]?
        var ipFamilyPolicy: String?
        var externalTrafficPolicy: String?
        var selector: [String: String]?
        var ports: [Port]?
    }

    struct Port: Codable, Sendable {
        var port: Int32
        var `protocol`: String?
    }

    struct Status: Codable, Sendable {
        var loadBalancer: LoadBalancer?
    }

    struct LoadBalancer: Codable, Sendable {
        var ingress: [Ingress]?
    }

    struct Ingress: Codable, Sendable {
        var ip: String?
    }

    /// The metadata it keeps: the identity and the annotations (an `ObjectMeta` held inline
    /// was 200 bytes per Service in the informer's hash table).
    private var identity: ObjectIdentity
    private var annotations: [String: String]?
    var metadata: ObjectMeta {
        get {
            var metadata = identity.metadata
            metadata.annotations = annotations
            return metadata
        }
        set {
            identity = ObjectIdentity(newValue)
            annotations = newValue.annotations
        }
    }
    var spec: Spec?
    var status: Status?

    private enum CodingKeys: String, CodingKey {
        case metadata, spec, status
    }

    init(metadata: ObjectMeta, spec: Spec? = nil, status: Status? = nil) {
        identity = ObjectIdentity(metadata)
        annotations = metadata.annotations
        self.spec = spec
        self.status = status
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(metadata, forKey: .metadata)
        try container.encodeIfPresent(spec, forKey: .spec)
        try container.encodeIfPresent(status, forKey: .status)
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let full = try container.decode(ObjectMeta.self, forKey: .metadata)
        // Only what the controller and its informer use (the informer: name, namespace,
        // resourceVersion; Events: uid).
        var metadata = ObjectMeta(name: full.name, namespace: full.namespace, labels: full.labels, annotations: full.annotations)
        metadata.uid = full.uid
        metadata.resourceVersion = full.resourceVersion
        metadata.deletionTimestamp = full.deletionTimestamp
        identity = ObjectIdentity(metadata)
        annotations = metadata.annotations
        spec = try container.decodeIfPresent(Spec.self, forKey: .spec)
        status = try container.decodeIfPresent(Status.self, forKey: .status)
    }
}
