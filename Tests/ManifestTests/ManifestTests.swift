import Foundation
import Testing

/// manifests/ironlb.yaml: the objects, their permissions and their security settings.
@Suite struct ManifestTests {
    /// Every object the manifest must hold, with its apiVersion; nothing else.
    static let inventory: [(kind: String, name: String, apiVersion: String, namespaced: Bool)] = [
        ("Namespace", "ironlb-system", "v1", false),
        ("ServiceAccount", "ironlb-controller", "v1", true),
        ("ServiceAccount", "ironlb-speaker", "v1", true),
        ("ClusterRole", "ironlb-controller", "rbac.authorization.k8s.io/v1", false),
        ("ClusterRole", "ironlb-speaker", "rbac.authorization.k8s.io/v1", false),
        ("Role", "ironlb-controller", "rbac.authorization.k8s.io/v1", true),
        ("Role", "ironlb-speaker", "rbac.authorization.k8s.io/v1", true),
        ("ClusterRoleBinding", "ironlb-controller", "rbac.authorization.k8s.io/v1", false),
        ("ClusterRoleBinding", "ironlb-speaker", "rbac.authorization.k8s.io/v1", false),
        ("RoleBinding", "ironlb-controller", "rbac.authorization.k8s.io/v1", true),
        ("RoleBinding", "ironlb-speaker", "rbac.authorization.k8s.io/v1", true),
        ("Deployment", "ironlb-controller", "apps/v1", true),
        ("DaemonSet", "ironlb-speaker", "apps/v1", true),
    ]

    @Test func holdsExactlyTheExpectedObjects() throws {
        let objects = try Artifacts.manifests()
        let found = objects.map { "\($0.kind ?? "?")/\($0.name ?? "?")" }.sorted()
        let expected = Self.inventory.map { "\($0.kind)/\($0.name)" }.sorted()
        #expect(found == expected)
        #expect(Set(objects.map(\.key)).count == objects.count, "duplicate objects")
    }

    @Test(arguments: inventory.map { $0.kind + "/" + $0.name })
    func apiVersionAndNamespace(object id: String) throws {
        let entry = try #require(Self.inventory.first { $0.kind + "/" + $0.name == id })
        let object = try Artifacts.manifests().one(entry.kind, entry.name)
        #expect(object.apiVersion == entry.apiVersion)
        if entry.namespaced {
            #expect(object.namespace == "ironlb-system")
        } else {
            #expect(object.value.at("metadata.namespace") == nil, "\(id) is cluster-scoped and must have no namespace")
        }
        #expect(object.value.at("metadata.labels")?["app.kubernetes.io/name"]?.string == "ironlb")
    }

    @Test func theNamespaceAllowsTheSpeakerAndNothingLooser() throws {
        let namespace = try Artifacts.manifests().one("Namespace", "ironlb-system")
        let labels = try #require(namespace.value.at("metadata.labels"))
        // hostNetwork, host ports and NET_RAW are all outside `baseline`: only `privileged` admits the speaker.
        for mode in ["enforce", "audit", "warn"] {
            #expect(labels["pod-security.kubernetes.io/\(mode)"]?.string == "privileged", "mode \(mode)")
        }
    }

    @Test func workloadsUseImageAndServiceAccountsThatExist() throws {
        let objects = try Artifacts.manifests()
        for (kind, name) in [("Deployment", "ironlb-controller"), ("DaemonSet", "ironlb-speaker")] {
            let workload = try objects.one(kind, name)
            #expect(workload.podSpec?["serviceAccountName"]?.string == name)
            #expect(objects.contains { $0.kind == "ServiceAccount" && $0.name == name && $0.namespace == "ironlb-system" })
            #expect(workload.containers.count == 1)
            #expect(workload.containers.first?["image"]?.string == "ghcr.io/ironlb/ironlb:0.1.0")
            // The selector selects the pod template, and nothing broader than the component.
            let selector = try #require(workload.value.at("spec.selector.matchLabels")?.map)
            let podLabels = try #require(workload.value.at("spec.template.metadata.labels")?.map)
            #expect(selector["app.kubernetes.io/component"]?.string == name.replacingOccurrences(of: "ironlb-", with: ""))
            for (key, value) in selector { #expect(podLabels[key] == value, "pod template lacks selector label \(key)") }
        }
    }

    /// The image the manifests and the chart name is the one scripts/build-image makes: its
    /// repository, tagged with the version the binary reports (IronLBVersion.current).
    @Test func imageIsTheOneBuildImageTagsWithTheVersion() throws {
        let source = try Artifacts.text("Sources/IronLBCLI/IronLBCommand.swift")
        let match = try #require(source.firstMatch(of: /static let current = "([^"]+)"/), "IronLBVersion.current")
        let version = String(match.1)
        let buildImage = try Artifacts.text("scripts/build-image")
        let repository = try #require(buildImage.firstMatch(of: /IRONLB_IMAGE_REPOSITORY:-([^}]+)\}/), "build-image's default repository").1
        let objects = try Artifacts.manifests()
        for (kind, name) in [("Deployment", "ironlb-controller"), ("DaemonSet", "ironlb-speaker")] {
            #expect(try objects.one(kind, name).containers.first?["image"]?.string == "\(repository):\(version)")
        }
        let values = try Artifacts.text("charts/ironlb/values.yaml")
        #expect(values.contains("  repository: \(repository)\n"))
        #expect(try Artifacts.text("charts/ironlb/Chart.yaml").contains("appVersion: \"\(version)\"\n"), "the chart's tag defaults to appVersion")
    }
}
