import LBConfig
import LBCore

/// An Event IronLB records for the operator, on a Service or a configuration object: the
/// controller's (allocations, refused configurations) and the speakers' (`nodeAssigned`,
/// refused configurations) alike.
public struct RecordedEvent: Hashable, Sendable {
    public enum Object: Hashable, Sendable {
        case service(ServiceKey)
        case configMap(namespace: String, name: String)
        /// A metallb.io object (`IPAddressPool`, `BGPPeer`, ...) in the config namespace.
        case resource(kind: String, namespace: String, name: String)

        /// The configuration object (the ConfigMap or a metallb.io object) as kind, namespace
        /// and name; nil for a Service.
        public var configurationObject: (kind: String, namespace: String, name: String)? {
            switch self {
            case .service: return nil
            case .configMap(let namespace, let name): return ("ConfigMap", namespace, name)
            case .resource(let kind, let namespace, let name): return (kind, namespace, name)
            }
        }
    }

    public enum Kind: String, Hashable, Sendable {
        case normal = "Normal"
        case warning = "Warning"
    }

    public let object: Object
    public let kind: Kind
    public let reason: String
    public let message: String

    public init(_ object: Object, _ kind: Kind, _ reason: String, _ message: String) {
        self.object = object
        self.kind = kind
        self.reason = reason
        self.message = message
    }
}

extension RecordedEvent {
    /// The Warning about a refused configuration, from the controller and the speakers alike: on
    /// the metallb.io object the first error names, else on the ConfigMap.
    public static func configurationRefused(
        reason: String, headline: String, problems: [String], errors: ConfigErrors?, configNamespace: String, configName: String
    ) -> RecordedEvent {
        var object = Object.configMap(namespace: configNamespace, name: configName)
        if let path = errors?.errors.first?.path, let resource = ResourceName(errorPath: path) {
            object = .resource(kind: resource.kind, namespace: configNamespace, name: resource.name)
        }
        return RecordedEvent(object, .warning, reason, "\(headline): " + problems.joined(separator: "; "))
    }
}
