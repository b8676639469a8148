import enum KubeModel.MetalLBKinds
import struct KubeModel.ResourceDescriptor
import Testing

/// The RBAC rules are exactly the least-privilege list of the install issue: one table per
/// role, and any extra group, resource, verb, resourceName or non-resource URL fails.
@Suite struct RBACTests {
    struct Permission: Hashable, Comparable, CustomStringConvertible {
        let group: String, resource: String, verb: String
        static func < (a: Permission, b: Permission) -> Bool { (a.group, a.resource, a.verb) < (b.group, b.resource, b.verb) }
        var description: String { "\(group.isEmpty ? "core" : group) \(resource) \(verb)" }
    }

    static func permissions(_ group: String, _ resources: [String], _ verbs: [String]) -> [Permission] {
        resources.flatMap { resource in verbs.map { Permission(group: group, resource: resource, verb: $0) } }
    }

    /// The metallb.io resources IronLB's informers list and watch (`--metallb-resources`).
    static let metallbResources = [
        "ipaddresspools", "l2advertisements", "bgpadvertisements", "communities", "bfdprofiles", "bgppeers",
    ]

    /// kind/name of the role → what it may do.
    static let expected: [String: Set<Permission>] = [
        "ClusterRole/ironlb-controller": Set(
            permissions("", ["services"], ["get", "list", "watch"])
            + permissions("", ["services/status"], ["patch"])
            + permissions("", ["events"], ["create", "patch"])
            + permissions("events.k8s.io", ["events"], ["create", "patch"])
            + permissions("", ["namespaces"], ["get", "list", "watch"])
        ),
        "Role/ironlb-controller": Set(
            permissions("", ["configmaps"], ["get", "list", "watch"])
            + permissions("metallb.io", metallbResources, ["get", "list", "watch"])
            + permissions("coordination.k8s.io", ["leases"], ["get", "list", "watch", "create", "update"])
            + permissions("", ["secrets"], ["create"])
        ),
        "ClusterRole/ironlb-speaker": Set(
            permissions("", ["services", "nodes"], ["get", "list", "watch"])
            + permissions("discovery.k8s.io", ["endpointslices"], ["get", "list", "watch"])
            + permissions("", ["events"], ["create", "patch"])
            + permissions("events.k8s.io", ["events"], ["create", "patch"])
        ),
        "Role/ironlb-speaker": Set(
            permissions("", ["configmaps"], ["get", "list", "watch"])
            + permissions("metallb.io", metallbResources, ["get", "list", "watch"])
            + permissions("coordination.k8s.io", ["leases"], ["get", "list", "watch", "create", "update", "patch", "delete"])
        ),
    ]

    /// The permissions a Role or ClusterRole grants; records an issue for anything that is not a
    /// plain group/resource/verb rule (wildcards, resourceNames, nonResourceURLs, aggregation).
    static func granted(by role: KubeObject) -> Set<Permission> {
        #expect(role.value["aggregationRule"] == nil, "\(role) must not aggregate other roles")
        var result: Set<Permission> = []
        for rule in role.value["rules"]?.list ?? [] {
            let keys = Set(rule.map?.keys.map { $0 } ?? [])
            #expect(keys == ["apiGroups", "resources", "verbs"], "\(role): rule has \(keys.sorted()), expected only apiGroups, resources, verbs")
            let groups = rule["apiGroups"]?.strings ?? [], resources = rule["resources"]?.strings ?? [], verbs = rule["verbs"]?.strings ?? []
            #expect(!groups.isEmpty && !resources.isEmpty && !verbs.isEmpty, "\(role): empty rule")
            for group in groups {
                for resource in resources {
                    for verb in verbs {
                        #expect(group != "*" && resource != "*" && verb != "*", "\(role): wildcard in \(group) \(resource) \(verb)")
                        result.insert(Permission(group: group, resource: resource, verb: verb))
                    }
                }
            }
        }
        return result
    }

    @Test(arguments: expected.keys.sorted())
    func roleGrantsExactlyTheListedPermissions(role id: String) async throws {
        let parts = id.split(separator: "/").map(String.init)
        let role = try Artifacts.manifests().one(parts[0], parts[1])
        let granted = Self.granted(by: role)
        let wanted = try #require(Self.expected[id])
        let extra = granted.subtracting(wanted).sorted(), missing = wanted.subtracting(granted).sorted()
        #expect(extra.isEmpty, "\(id) grants more than it needs: \(extra)")
        #expect(missing.isEmpty, "\(id) lacks: \(missing)")
    }

    @Test func everyRoleInTheManifestIsInTheTable() async throws {
        let roles = try Artifacts.manifests().filter { $0.kind == "Role" || $0.kind == "ClusterRole" }
        #expect(Set(roles.map { "\($0.kind!)/\($0.name!)" }) == Set(Self.expected.keys))
    }

    @Test(arguments: ["ClusterRoleBinding/ironlb-controller", "ClusterRoleBinding/ironlb-speaker",
                      "RoleBinding/ironlb-controller", "RoleBinding/ironlb-speaker"])
    func bindingGivesItsRoleToItsOwnServiceAccountOnly(binding id: String) async throws {
        let parts = id.split(separator: "/").map(String.init)
        let binding = try Artifacts.manifests().one(parts[0], parts[1])
        let roleKind = parts[0] == "ClusterRoleBinding" ? "ClusterRole" : "Role"
        #expect(binding.value.at("roleRef.kind")?.string == roleKind)
        #expect(binding.value.at("roleRef.name")?.string == parts[1])
        #expect(binding.value.at("roleRef.apiGroup")?.string == "rbac.authorization.k8s.io")
        let subjects = try #require(binding.value["subjects"]?.list)
        #expect(subjects == [.map(["kind": .string("ServiceAccount"), "name": .string(parts[1]), "namespace": .string("ironlb-system")])])
    }

    /// What the code requests with --metallb-resources is granted: every resource of
    /// `MetalLBKinds` (the informers of both processes) at the version the CRDs serve, and, in the
    /// chart with `config.metallbResources`, `get` on Secrets for the speaker only (it reads the
    /// Secrets BGPPeers name one by one) and the flag on both processes.
    @Test func theMetalLBResourcesTheCodeReadsAreGranted() async throws {
        let requested: [ResourceDescriptor] = [
            MetalLBKinds.IPAddressPool.resource, MetalLBKinds.L2Advertisement.resource, MetalLBKinds.BGPAdvertisement.resource,
            MetalLBKinds.Community.resource, MetalLBKinds.BFDProfile.resource, MetalLBKinds.BGPPeer.resource,
        ]
        #expect(Set(requested.map(\.plural)) == Set(Self.metallbResources))
        let manifests = try Artifacts.manifests()
        for role in ["ironlb-controller", "ironlb-speaker"] {
            let granted = Self.granted(by: try manifests.one("Role", role))
            for resource in requested {
                for verb in ["get", "list", "watch"] {
                    #expect(granted.contains(Permission(group: resource.group, resource: resource.plural, verb: verb)), "Role/\(role) lacks \(resource.plural) \(verb)")
                }
            }
            // Without --metallb-resources no Role reads a Secret; the controller only creates the
            // speakers' probe key Secret (--ml-secret-name).
            let secretVerbs = Set(granted.filter { $0.resource == "secrets" }.map(\.verb))
            #expect(secretVerbs.isSubset(of: role == "ironlb-controller" ? ["create"] : []),
                    "Role/\(role) grants Secrets \(secretVerbs.sorted()) without --metallb-resources")
        }
        // The CRDs shipped serve each kind at the version the informers ask for.
        let definitions = try YAMLValue.documents(Artifacts.text("manifests/crds.yaml")).map(KubeObject.init)
        for resource in requested {
            let definition = try #require(definitions.first { $0.value.at("spec.names.plural")?.string == resource.plural }, "no CRD for \(resource.plural)")
            #expect(definition.value.at("spec.group")?.string == resource.group)
            let served = (definition.value.at("spec.versions")?.list ?? []).filter { $0["served"] == .bool(true) }.compactMap { $0["name"]?.string }
            #expect(served.contains(resource.version), "\(resource.plural): served \(served), informer asks for \(resource.version)")
        }

        guard await ChartTool.available() else { return }
        let rendered = try await ChartTool.render(["config:\n  metallbResources: true\n"]).get()
        let speaker = Self.granted(by: try rendered.one("Role", "ironlb-speaker"))
        #expect(speaker.filter { $0.resource == "secrets" } == [Permission(group: "", resource: "secrets", verb: "get")])
        #expect(speaker.subtracting(Self.expected["Role/ironlb-speaker"]!) == [Permission(group: "", resource: "secrets", verb: "get")])
        let controller = Self.granted(by: try rendered.one("Role", "ironlb-controller"))
        #expect(controller == Self.expected["Role/ironlb-controller"]!, "the controller needs no Secret")
        for (kind, name) in [("Deployment", "ironlb-controller"), ("DaemonSet", "ironlb-speaker")] {
            let args = try rendered.one(kind, name).containers.first?["args"]?.strings ?? []
            #expect(args.contains("--metallb-resources"), "\(kind) \(args)")
        }
        let off = try await ChartTool.render().get()
        for (kind, name) in [("Deployment", "ironlb-controller"), ("DaemonSet", "ironlb-speaker")] {
            #expect(!(try off.one(kind, name).containers.first?["args"]?.strings ?? []).contains("--metallb-resources"))
        }
    }

    /// The check itself catches an extra verb (a table test that could never fail proves nothing).
    @Test func anExtraVerbIsCaught() async throws {
        let yaml = """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: ironlb-speaker, namespace: ironlb-system}
        rules:
        - apiGroups: [""]
          resources: [configmaps]
          verbs: [get, list, watch, update]
        - apiGroups: [coordination.k8s.io]
          resources: [leases]
          verbs: [get, list, watch, create, update, delete]
        """
        let role = try KubeObject(#require(YAMLValue.documents(yaml).first))
        let extra = Self.granted(by: role).subtracting(Self.expected["Role/ironlb-speaker"]!)
        #expect(extra == [Permission(group: "", resource: "configmaps", verb: "update")])
    }
}
