import KubeModel
import KubeServerModel

/// The resources KubeSim serves and the registry behaviour that differs between them: one table
/// drives routing, discovery (legacy and aggregated), OpenAPI, field selectors, name validation,
/// status subresources, generation, create-on-PUT and namespace cleanup. Kind-specific defaulting
/// and validation stays in `SimStrategies.prepare`.
struct SimResourceType: Sendable {
    /// How `metadata.generation` is kept (apiserver registry strategies).
    enum Generation: Sendable {
        /// Not set (Services, ConfigMaps, RBAC, …).
        case none
        /// 1 on create, +1 when `spec` changes (DaemonSets).
        case spec
        /// 1 on create, +1 when `spec` or annotations change (Deployments: annotations are copied to ReplicaSets).
        case specAndAnnotations
    }

    /// The name validation the kind's registry applies.
    enum NameRule: Sendable {
        /// `[a-z]([-a-z0-9]*[a-z0-9])?`, ≤ 63 (Services).
        case dns1035Label
        /// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ≤ 63 (Namespaces).
        case dns1123Label
        /// Dot-separated DNS-1123 labels, ≤ 253 (most kinds).
        case dns1123Subdomain
        /// Anything but `.`, `..`, `/` and `%` (RBAC: `system:controller:x` is valid).
        case pathSegment
    }

    var descriptor: ResourceDescriptor
    /// A `status` subresource: create wipes status, main-resource writes keep the stored status,
    /// `/status` writes change only status.
    var hasStatus = false
    /// `/status` writes also persist labels, annotations and finalizers (Services).
    var statusWritesMetadata = false
    /// What create leaves in `status` (non-nil only with `hasStatus`); nil removes it.
    var initialStatus: JSONValue?
    var generation = Generation.none
    /// PUT to a missing name creates the object (Services, Leases).
    var createOnUpdate = false
    /// PUT without `metadata.resourceVersion` is 422 rather than an unconditional update.
    var updateRequiresResourceVersion = false
    var nameRule = NameRule.dns1123Subdomain
    /// Field selector labels beyond `metadata.name` and `metadata.namespace`.
    var fieldSelectors: Set<String> = []
    /// Discovery categories (`kubectl get all`).
    var categories: [String] = []
    /// Strategic-merge-patch merge keys beyond `StrategicMergePatch.defaultMergeKeys`.
    var mergeKeys: [String: String] = [:]
    /// A `scale` subresource (autoscaling/v1 Scale; `SimAPI.scale`).
    var hasScale = false

    init(_ descriptor: ResourceDescriptor, configure: (inout SimResourceType) -> Void = { _ in }) {
        self.descriptor = descriptor
        configure(&self)
    }
}

extension ResourceDescriptor {
    static let serviceAccounts = ResourceDescriptor(group: "", version: "v1", plural: "serviceaccounts", singular: "serviceaccount", kind: "ServiceAccount", namespaced: true, shortNames: ["sa"])
    static let deployments = ResourceDescriptor(group: "apps", version: "v1", plural: "deployments", singular: "deployment", kind: "Deployment", namespaced: true, shortNames: ["deploy"])
    static let daemonSets = ResourceDescriptor(group: "apps", version: "v1", plural: "daemonsets", singular: "daemonset", kind: "DaemonSet", namespaced: true, shortNames: ["ds"])
    static let roles = ResourceDescriptor(group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", singular: "role", kind: "Role", namespaced: true)
    static let roleBindings = ResourceDescriptor(group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", singular: "rolebinding", kind: "RoleBinding", namespaced: true)
    static let clusterRoles = ResourceDescriptor(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", singular: "clusterrole", kind: "ClusterRole", namespaced: false)
    static let clusterRoleBindings = ResourceDescriptor(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", singular: "clusterrolebinding", kind: "ClusterRoleBinding", namespaced: false)
}

enum SimResources {
    /// Merge keys of the pod template's lists (`patchMergeKey` in k8s.io/api core/v1 types.go).
    static func podTemplateMergeKeys(_ prefix: String) -> [String: String] {
        [
            "\(prefix).containers": "name", "\(prefix).initContainers": "name", "\(prefix).ephemeralContainers": "name",
            "\(prefix).containers.ports": "containerPort", "\(prefix).initContainers.ports": "containerPort",
            "\(prefix).containers.env": "name", "\(prefix).initContainers.env": "name",
            "\(prefix).containers.volumeMounts": "mountPath", "\(prefix).initContainers.volumeMounts": "mountPath",
            "\(prefix).containers.volumeDevices": "devicePath", "\(prefix).initContainers.volumeDevices": "devicePath",
            "\(prefix).volumes": "name", "\(prefix).imagePullSecrets": "name", "\(prefix).hostAliases": "ip",
            "\(prefix).topologySpreadConstraints": "topologyKey", "\(prefix).schedulingGates": "name",
            "\(prefix).resourceClaims": "name",
        ]
    }

    /// Every served resource, in discovery order (groups appear in order of first use).
    static let all: [SimResourceType] = [
        SimResourceType(.services) {
            $0.hasStatus = true
            $0.statusWritesMetadata = true
            $0.createOnUpdate = true
            $0.nameRule = .dns1035Label
            $0.fieldSelectors = ["spec.clusterIP", "spec.type"]
            $0.categories = ["all"]
        },
        SimResourceType(.nodes) {
            $0.hasStatus = true
            $0.fieldSelectors = ["spec.unschedulable"]
        },
        SimResourceType(.namespaces) {
            $0.hasStatus = true
            $0.nameRule = .dns1123Label
            $0.fieldSelectors = ["status.phase"]
        },
        SimResourceType(.configMaps),
        SimResourceType(.secrets) { $0.fieldSelectors = ["type"] },
        SimResourceType(.serviceAccounts),
        SimResourceType(.coreEvents) {
            $0.fieldSelectors = ["involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "involvedObject.uid", "reason", "source", "type", "reportingComponent"]
        },
        SimResourceType(.endpointSlices) {
            $0.updateRequiresResourceVersion = true
            $0.fieldSelectors = ["addressType"]
        },
        SimResourceType(.leases) {
            $0.createOnUpdate = true
            $0.updateRequiresResourceVersion = true
        },
        SimResourceType(.events) {
            $0.updateRequiresResourceVersion = true
            $0.fieldSelectors = ["regarding.name", "regarding.kind", "regarding.namespace", "reason", "type", "reportingController"]
        },
        SimResourceType(.deployments) {
            $0.hasStatus = true
            $0.initialStatus = .object([:])
            $0.generation = .specAndAnnotations
            $0.categories = ["all"]
            $0.mergeKeys = podTemplateMergeKeys("spec.template.spec")
            $0.hasScale = true
        },
        SimResourceType(.daemonSets) {
            $0.hasStatus = true
            $0.initialStatus = ["currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0]
            $0.generation = .spec
            $0.categories = ["all"]
            $0.mergeKeys = podTemplateMergeKeys("spec.template.spec")
        },
        SimResourceType(.pods) {
            $0.hasStatus = true
            $0.fieldSelectors = ["spec.nodeName", "status.phase", "status.podIP"]
            $0.categories = ["all"]
            $0.mergeKeys = podTemplateMergeKeys("spec")
        },
        SimResourceType(.roles) { $0.nameRule = .pathSegment },
        SimResourceType(.roleBindings) { $0.nameRule = .pathSegment },
        SimResourceType(.clusterRoles) { $0.nameRule = .pathSegment },
        SimResourceType(.clusterRoleBindings) { $0.nameRule = .pathSegment },
        SimResourceType(.customResourceDefinitions) { $0.hasStatus = true },
    ]

    private static let byQualifiedName: [String: SimResourceType] =
        Dictionary(all.map { ($0.descriptor.qualifiedName, $0) }, uniquingKeysWith: { a, _ in a })

    /// The behaviour of a served resource. Every descriptor KubeSim routes to is in `all`.
    static func type(_ r: ResourceDescriptor) -> SimResourceType {
        guard let t = byQualifiedName[r.qualifiedName] ?? SimCustomResources.registeredType(r) else {
            preconditionFailure("resource \(r.qualifiedName) is not in SimResources.all")
        }
        return t
    }

    /// Served group versions in order of first appearance in `all` (core v1 first).
    static let groupVersions: [(group: String, version: String)] = {
        var seen = Set<String>()
        var out: [(group: String, version: String)] = []
        for t in all where seen.insert(t.descriptor.apiVersion).inserted {
            out.append((t.descriptor.group, t.descriptor.version))
        }
        return out
    }()

    static func resources(group: String, version: String, custom: [SimResourceType] = []) -> [SimResourceType] {
        (all + custom).filter { $0.descriptor.group == group && $0.descriptor.version == version }
    }

    /// `groupVersions` followed by those only custom resources serve.
    static func groupVersions(custom: [SimResourceType]) -> [(group: String, version: String)] {
        var out = groupVersions
        var seen = Set(out.map { "\($0.group)/\($0.version)" })
        for t in custom where seen.insert("\(t.descriptor.group)/\(t.descriptor.version)").inserted {
            out.append((t.descriptor.group, t.descriptor.version))
        }
        return out
    }

    static func mergeKeys(_ r: ResourceDescriptor) -> [String: String] {
        StrategicMergePatch.defaultMergeKeys.merging(type(r).mergeKeys) { _, extra in extra }
    }
}
