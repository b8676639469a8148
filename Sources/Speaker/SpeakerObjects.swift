import KubeClient
import KubeModel
import NetPrimitives

// What the speaker keeps of the objects it watches: the fields it reads, decoded straight from
// the watch stream. A whole V1Service (ports, selectors, annotations, managed fields) cost
// kilobytes per Service in the informer's cache and its decoding most of the speaker's CPU at
// 10,000 Services (docs/design/scale.md).

/// A Service as the speaker reads it: type, class, traffic policy and ingress IPs.
struct SpeakerServiceObject: KubeResource, Hashable {
    static let resource = ResourceDescriptor.services
    /// The metadata it keeps (`ObjectIdentity`: 88 bytes instead of `ObjectMeta`'s 200).
    private var identity: ObjectIdentity
    var metadata: ObjectMeta {
        get { identity.metadata }
        set { identity = ObjectIdentity(newValue) }
    }
    var type: String?
    var loadBalancerClass: String?
    var externalTrafficPolicy: String?
    /// The addresses of `status.loadBalancer.ingress`, parsed as they are read: the view of the
    /// Service (and the plan's record of it) shares this array instead of parsing a copy, and no
    /// text of them is kept (an entry without an address, or with one that does not parse, is
    /// dropped, as the view drops it).
    private(set) var ips: [IPAddress] = []
    /// `ips` as text.
    var ingressIPs: [String] {
        get { ips.map(\.description) }
        set { ips = newValue.compactMap { IPAddress($0) } }
    }

    init(metadata: ObjectMeta, type: String? = nil, loadBalancerClass: String? = nil, externalTrafficPolicy: String? = nil, ingressIPs: [String] = []) {
        self.identity = ObjectIdentity(metadata)
        self.type = type
        self.loadBalancerClass = loadBalancerClass
        self.externalTrafficPolicy = externalTrafficPolicy
        self.ingressIPs = ingressIPs
    }

    /// What the speaker's informer keeps: this object with the storage of `cached`'s equal
    /// names and IPs. Each update is decoded anew (the controller's annotations change a
    /// Service as often as its status); the view of the Service the speaker's plan holds was
    /// built from an earlier one, and without this both copies stay (docs/design/scale.md,
    /// "Seventh pass").
    func sharingStorage(with cached: SpeakerServiceObject?) -> SpeakerServiceObject {
        guard let cached else { return self }
        var kept = self
        kept.identity.shareNames(with: cached.identity)
        if kept.ips == cached.ips { kept.ips = cached.ips }
        return kept
    }

    /// Whether the speaker's view of both is the same without building it: the same identity,
    /// type, class, traffic policy and ingress IPs.
    func sameView(as other: SpeakerServiceObject) -> Bool {
        identity.name == other.identity.name && identity.namespace == other.identity.namespace
            && identity.deletionTimestamp == other.identity.deletionTimestamp && type == other.type
            && loadBalancerClass == other.loadBalancerClass && externalTrafficPolicy == other.externalTrafficPolicy && ips == other.ips
    }

    private enum Keys: String, CodingKey { case metadata, spec, status }
    private enum SpecKeys: String, CodingKey { case type, loadBalancerClass, externalTrafficPolicy }
    private enum StatusKeys: String, CodingKey { case loadBalancer }
    private enum LoadBalancerKeys: String, CodingKey { case ingress }
    private struct Ingress: Codable { var ip: String? }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        identity = ObjectIdentity(try container.projectionDecoder(forKey: .metadata).map { try ObjectMeta(identityFrom: $0) } ?? ObjectMeta())
        if let spec = try container.projectionDecoder(forKey: .spec) {
            let fields = try spec.container(keyedBy: SpecKeys.self)
            type = try fields.decodeIfPresent(String.self, forKey: .type)
            loadBalancerClass = try fields.decodeIfPresent(String.self, forKey: .loadBalancerClass)
            externalTrafficPolicy = try fields.decodeIfPresent(String.self, forKey: .externalTrafficPolicy)
        }
        if let status = try container.projectionDecoder(forKey: .status),
           let loadBalancer = try status.container(keyedBy: StatusKeys.self).projectionDecoder(forKey: .loadBalancer) {
            let ingress = try loadBalancer.container(keyedBy: LoadBalancerKeys.self).decodeIfPresent([Ingress].self, forKey: .ingress) ?? []
            ips = ingress.compactMap { $0.ip.flatMap { IPAddress($0) } }
        }
    }

    static var scanning: ((inout JSONScanner) throws(JSONParseError) -> Self)? { { (scanner) throws(JSONParseError) in try Self(scanning: &scanner) } }

    /// What `init(from:)` decodes, read by a scanner (the watch path: docs/design/scale.md,
    /// "Fourth pass"); the same value for every JSON text, the same errors for malformed ones.
    init(scanning scanner: inout JSONScanner) throws(JSONParseError) {
        var identity = ObjectIdentity(ObjectMeta())
        var type: String?, loadBalancerClass: String?, externalTrafficPolicy: String?
        var ips: [IPAddress] = []
        let present = try scanner.members { (scanner, key) throws(JSONParseError) in
            if key == "metadata" {
                identity = try ObjectIdentity(scanning: &scanner)
            } else if key == "spec" {
                (type, loadBalancerClass, externalTrafficPolicy) = (nil, nil, nil)
                try scanner.members { (scanner, key) throws(JSONParseError) in
                    if key == "type" {
                        type = try scanner.string()
                    } else if key == "loadBalancerClass" {
                        loadBalancerClass = try scanner.string()
                    } else if key == "externalTrafficPolicy" {
                        externalTrafficPolicy = try scanner.string()
                    } else {
                        try scanner.skip()
                    }
                }
            } else if key == "status" {
                ips = []
                try scanner.members { (scanner, key) throws(JSONParseError) in
                    guard key == "loadBalancer" else { return try scanner.skip() }
                    ips = []
                    try scanner.members { (scanner, key) throws(JSONParseError) in
                        guard key == "ingress" else { return try scanner.skip() }
                        ips = []
                        try scanner.elements { (scanner) throws(JSONParseError) in
                            var ip: String?
                            let object = try scanner.members { (scanner, key) throws(JSONParseError) in
                                if key == "ip" { ip = try scanner.string() } else { try scanner.skip() }
                            }
                            guard object else { throw scanner.error("type_mismatch") }
                            if let ip, let address = IPAddress(ip) { ips.append(address) }
                        }
                    }
                }
            } else {
                try scanner.skip()
            }
        }
        guard present else { throw scanner.error("type_mismatch") }
        self.identity = identity
        self.type = type
        self.loadBalancerClass = loadBalancerClass
        self.externalTrafficPolicy = externalTrafficPolicy
        self.ips = ips
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(metadata, forKey: .metadata)
        var spec = container.nestedContainer(keyedBy: SpecKeys.self, forKey: .spec)
        try spec.encodeIfPresent(type, forKey: .type)
        try spec.encodeIfPresent(loadBalancerClass, forKey: .loadBalancerClass)
        try spec.encodeIfPresent(externalTrafficPolicy, forKey: .externalTrafficPolicy)
        var status = container.nestedContainer(keyedBy: StatusKeys.self, forKey: .status)
        var loadBalancer = status.nestedContainer(keyedBy: LoadBalancerKeys.self, forKey: .loadBalancer)
        try loadBalancer.encode(ingressIPs.map { Ingress(ip: $0) }, forKey: .ingress)
    }
}

/// An EndpointSlice as the speaker reads it: its Service label and, per endpoint, the
/// conditions and the node.
struct SpeakerEndpointSlice: KubeResource, Hashable {
    static let resource = ResourceDescriptor.endpointSlices
    static let serviceLabel = "kubernetes.io/service-name"
    /// The metadata it keeps (`ObjectIdentity`: 96 bytes instead of `ObjectMeta`'s 200), without
    /// its labels: the one label it reads is `serviceName` (a dictionary of one label was a
    /// heap object per cached slice).
    private var identity: ObjectIdentity
    /// The `kubernetes.io/service-name` label.
    private(set) var serviceName: String?
    var metadata: ObjectMeta {
        get {
            var metadata = identity.metadata
            metadata.labels = serviceName.map { [Self.serviceLabel: $0] }
            return metadata
        }
        set {
            serviceName = newValue.labels?[Self.serviceLabel]
            identity = ObjectIdentity(newValue)
            identity.labels = nil
        }
    }
    var endpoints: [Endpoint] = []

    /// What the speaker's informer keeps of a slice: its identity and its Service label, with
    /// the storage of `cached`'s equal names (as `SpeakerServiceObject.sharingStorage`). The
    /// endpoints are read as the slice arrives and reduced into `EndpointSliceIndex`; a cached
    /// copy was an array per slice that nothing read (docs/design/scale.md, "Seventh pass").
    func withoutEndpoints(sharingWith cached: SpeakerEndpointSlice?) -> SpeakerEndpointSlice {
        var kept = self
        kept.endpoints = []
        if let cached {
            kept.identity.shareNames(with: cached.identity)
            if kept.serviceName == cached.serviceName { kept.serviceName = cached.serviceName }
        }
        return kept
    }

    struct Endpoint: Codable, Hashable {
        var conditions: EndpointConditions?
        var nodeName: String?
    }

    init(metadata: ObjectMeta, endpoints: [Endpoint] = []) {
        self.identity = ObjectIdentity(ObjectMeta())
        self.endpoints = endpoints
        self.metadata = metadata
    }

    /// Its Service label moves from the identity's labels to `serviceName`.
    private init(identity: ObjectIdentity, endpoints: [Endpoint]) {
        self.identity = identity
        self.identity.labels = nil
        self.serviceName = identity.labels?[Self.serviceLabel]
        self.endpoints = endpoints
    }

    private enum Keys: String, CodingKey { case metadata, endpoints }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        identity = ObjectIdentity(ObjectMeta())
        metadata = try container.projectionDecoder(forKey: .metadata).map { try ObjectMeta(identityFrom: $0, labels: [Self.serviceLabel]) } ?? ObjectMeta()
        endpoints = try container.decodeIfPresent([Endpoint].self, forKey: .endpoints) ?? []
    }

    static var scanning: ((inout JSONScanner) throws(JSONParseError) -> Self)? { { (scanner) throws(JSONParseError) in try Self(scanning: &scanner) } }

    /// What `init(from:)` decodes, read by a scanner (as `SpeakerServiceObject`'s).
    init(scanning scanner: inout JSONScanner) throws(JSONParseError) {
        var identity = ObjectIdentity(ObjectMeta())
        var endpoints: [Endpoint] = []
        let present = try scanner.members { (scanner, key) throws(JSONParseError) in
            if key == "metadata" {
                identity = try ObjectIdentity(scanning: &scanner, labels: [Self.serviceLabel])
            } else if key == "endpoints" {
                endpoints = []
                try scanner.elements { (scanner) throws(JSONParseError) in
                    var endpoint = Endpoint()
                    let object = try scanner.members { (scanner, key) throws(JSONParseError) in
                        if key == "nodeName" {
                            endpoint.nodeName = try scanner.string()
                        } else if key == "conditions" {
                            var conditions = EndpointConditions()
                            let present = try scanner.members { (scanner, key) throws(JSONParseError) in
                                if key == "ready" {
                                    conditions.ready = try scanner.bool()
                                } else if key == "serving" {
                                    conditions.serving = try scanner.bool()
                                } else if key == "terminating" {
                                    conditions.terminating = try scanner.bool()
                                } else {
                                    try scanner.skip()
                                }
                            }
                            endpoint.conditions = present ? conditions : nil
                        } else {
                            try scanner.skip()
                        }
                    }
                    guard object else { throw scanner.error("type_mismatch") }
                    endpoints.append(endpoint)
                }
            } else {
                try scanner.skip()
            }
        }
        guard present else { throw scanner.error("type_mismatch") }
        self.init(identity: identity, endpoints: endpoints)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(metadata, forKey: .metadata)
        try container.encode(endpoints, forKey: .endpoints)
    }
}

/// A Lease as the speaker reads it: its spec (annotations, such as every node's announcement
/// report, are skipped).
struct SpeakerLease: KubeResource, Hashable {
    static let resource = ResourceDescriptor.leases
    /// The metadata it keeps (`ObjectIdentity`: 88 bytes instead of `ObjectMeta`'s 200).
    private var identity: ObjectIdentity
    var metadata: ObjectMeta {
        get { identity.metadata }
        set { identity = ObjectIdentity(newValue) }
    }
    var spec: LeaseSpec?

    init(metadata: ObjectMeta, spec: LeaseSpec? = nil) {
        self.identity = ObjectIdentity(metadata)
        self.spec = spec
    }

    private enum Keys: String, CodingKey { case metadata, spec }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        // The holder's marker (docs/design/layer2-leases.md, "Upgrades").
        identity = ObjectIdentity(try container.projectionDecoder(forKey: .metadata).map { try ObjectMeta(identityFrom: $0, labels: [KubeSpeakerAPI.protocolLabel]) } ?? ObjectMeta())
        spec = try container.decodeIfPresent(LeaseSpec.self, forKey: .spec)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(metadata, forKey: .metadata)
        try container.encodeIfPresent(spec, forKey: .spec)
    }
}
