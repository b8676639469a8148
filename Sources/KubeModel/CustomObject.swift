/// A kind served by a CustomResourceDefinition, for `CustomObject`.
public protocol CustomResourceKind: Sendable {
    static var resource: ResourceDescriptor { get }
}

/// An object of a custom resource, kept whole as JSON (informers, caches) with its metadata typed.
public struct CustomObject<Kind: CustomResourceKind>: KubeResource, Equatable {
    public static var resource: ResourceDescriptor { Kind.resource }
    public var metadata: ObjectMeta
    public var raw: JSONValue

    private enum CodingKeys: String, CodingKey { case metadata }

    public init(from decoder: any Decoder) throws {
        raw = try decoder.singleValueContainer().decode(JSONValue.self)
        metadata = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(ObjectMeta.self, forKey: .metadata) ?? ObjectMeta()
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(raw)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.raw == rhs.raw }
}

/// MetalLB's configuration kinds (metallb.io), as IronLB reads them.
public enum MetalLBKinds {
    public enum IPAddressPool: CustomResourceKind {
        public static let resource = ResourceDescriptor(group: "metallb.io", version: "v1beta1", plural: "ipaddresspools", singular: "ipaddresspool", kind: "IPAddressPool", namespaced: true)
    }
    public enum L2Advertisement: CustomResourceKind {
        public static let resource = ResourceDescriptor(group: "metallb.io", version: "v1beta1", plural: "l2advertisements", singular: "l2advertisement", kind: "L2Advertisement", namespaced: true)
    }
    public enum BGPAdvertisement: CustomResourceKind {
        public static let resource = ResourceDescriptor(group: "metallb.io", version: "v1beta1", plural: "bgpadvertisements", singular: "bgpadvertisement", kind: "BGPAdvertisement", namespaced: true)
    }
    public enum Community: CustomResourceKind {
        public static let resource = ResourceDescriptor(group: "metallb.io", version: "v1beta1", plural: "communities", singular: "community", kind: "Community", namespaced: true)
    }
    public enum BFDProfile: CustomResourceKind {
        public static let resource = ResourceDescriptor(group: "metallb.io", version: "v1beta1", plural: "bfdprofiles", singular: "bfdprofile", kind: "BFDProfile", namespaced: true)
    }
    public enum BGPPeer: CustomResourceKind {
        public static let resource = ResourceDescriptor(group: "metallb.io", version: "v1beta2", plural: "bgppeers", singular: "bgppeer", kind: "BGPPeer", namespaced: true)
    }
}
