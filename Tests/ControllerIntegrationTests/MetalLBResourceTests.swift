import Foundation
import KubeModel
import LBCore
import Testing
import ControllerCore

extension ControllerAcceptance {
    /// Issue #14: the controller reads metallb.io objects beside the ConfigMap
    /// (`readsMetalLBResources`) with the ConfigMap's guarantees.
    @Suite struct MetalLBResourceTests {
        static let kinds: [(kind: String, plural: String, version: String)] = [
            ("IPAddressPool", "ipaddresspools", "v1beta1"), ("L2Advertisement", "l2advertisements", "v1beta1"),
            ("BGPAdvertisement", "bgpadvertisements", "v1beta1"), ("Community", "communities", "v1beta1"),
            ("BFDProfile", "bfdprofiles", "v1beta1"), ("BGPPeer", "bgppeers", "v1beta2"),
        ]

        /// The six CRDs, with schemas that keep every field (pruning is KubeSim's own test).
        static func installDefinitions(_ cluster: Cluster) throws {
            for (kind, plural, version) in kinds {
                let schema: JSONValue = ["type": "object", "properties": [
                    "spec": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
                    "status": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
                ]]
                let definition: JSONValue = [
                    "metadata": ["name": .string("\(plural).metallb.io")],
                    "spec": ["group": "metallb.io", "scope": "Namespaced",
                             "names": ["kind": .string(kind), "plural": .string(plural)],
                             "versions": [["name": .string(version), "served": true, "storage": true, "schema": ["openAPIV3Schema": schema],
                                           "subresources": ["status": [:]]]]],
                ]
                try cluster.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", definition)
            }
        }

        static func path(_ kind: String, _ name: String? = nil) -> String {
            let entry = kinds.first { $0.kind == kind }!
            return "/apis/metallb.io/\(entry.version)/namespaces/ironlb-system/\(entry.plural)" + (name.map { "/\($0)" } ?? "")
        }

        static func object(_ name: String, _ spec: JSONValue) -> JSONValue {
            ["metadata": ["name": .string(name)], "spec": spec]
        }

        static let configMap = """
            address-pools:
            - name: main
              protocol: layer2
              addresses: [198.51.100.0/26]
            - name: tenant
              protocol: layer2
              addresses: [203.0.113.0/28]
              service-allocation:
                namespaces: [tenant-a]
            """

        /// The same configuration as metallb.io objects.
        static func applyEquivalentObjects(_ cluster: Cluster) throws {
            try cluster.call("POST", path("IPAddressPool"), object("main", ["addresses": ["198.51.100.0/26"]]))
            try cluster.call("POST", path("IPAddressPool"), object("tenant", [
                "addresses": ["203.0.113.0/28"], "serviceAllocation": ["namespaces": ["tenant-a"]],
            ]))
            try cluster.call("POST", path("L2Advertisement"), object("layer2", [:]))
        }

        static func stale(_ controller: InProcessController) -> Double? { metricValue(in: controller.metrics, "ironlb_config_stale") }

        /// Migrating from the ConfigMap to the equivalent objects changes no IP: while both exist
        /// the names clash (reported, last good kept), and once the ConfigMap is gone the objects
        /// alone give the same configuration. Then an invalid object is refused with an Event on
        /// it, and serviceAllocation namespaces keep another namespace's Service out.
        @Test func migratingFromTheConfigMapChangesNoIP() async throws {
            try await withCluster { cluster in
                try Self.installDefinitions(cluster)
                try cluster.ensureNamespace("tenant-a")
                try cluster.ensureNamespace("tenant-b")
                try cluster.applyConfig(Self.configMap)
                let settings = ControllerCore.Settings(configNamespace: cluster.configNamespace, readsMetalLBResources: true)
                let controller = try InProcessController(cluster: cluster, settings: settings)
                for index in 0..<5 { try cluster.create(ServiceSpecification("web-\(index)")) }
                try cluster.create(ServiceSpecification("tenant-web", namespace: "tenant-a"))
                #expect(await cluster.awaitAllAllocated(Set((0..<5).map { "default/web-\($0)" } + ["tenant-a/tenant-web"])))
                let before = try cluster.loadBalancers().mapValues(\.ips)
                #expect(before["tenant-a/tenant-web"].map { $0.allSatisfy { ipInRange($0, "203.0.113.0", "203.0.113.15") } } == true, "\(before)")

                try Self.applyEquivalentObjects(cluster)
                let clash = await cluster.awaitEvent(reason: "InvalidConfig", about: "main", kind: "IPAddressPool", namespace: cluster.configNamespace)
                #expect(clash?.note.contains("also the ConfigMap's address-pools[0]") == true, "\(String(describing: clash))")
                #expect(await eventually { Self.stale(controller) == 1 })

                try cluster.deleteConfig()
                #expect(await eventually { Self.stale(controller) == 0 }, "the objects alone never loaded")
                try cluster.create(ServiceSpecification("after"))
                let after = await cluster.awaitIPs("after")
                #expect(after.count == 1 && ipInRange(after[0], "198.51.100.0", "198.51.100.63"), "\(after)")
                let now = try cluster.loadBalancers().mapValues(\.ips)
                #expect(now.filter { before[$0.key] != nil } == before, "migrating moved IPs")

                // An object IronLB refuses never replaces the last good configuration.
                try cluster.call("POST", Self.path("BGPPeer"), Self.object("router", [
                    "myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1", "vrf": "red",
                ]))
                let refused = await cluster.awaitEvent(reason: "InvalidConfig", about: "router", kind: "BGPPeer", namespace: cluster.configNamespace)
                #expect(refused?.note.contains("spec.vrf: is not supported") == true, "\(String(describing: refused))")
                #expect(await eventually { Self.stale(controller) == 1 })
                try cluster.call("DELETE", Self.path("BGPPeer", "router"))
                #expect(await eventually { Self.stale(controller) == 0 })

                // serviceAllocation.namespaces: the tenant pool (tried first: it has a
                // serviceAllocation) serves tenant-a, never tenant-b.
                try cluster.create(ServiceSpecification("second", namespace: "tenant-a"))
                let second = await cluster.awaitIPs("second", namespace: "tenant-a")
                #expect(second.count == 1 && ipInRange(second[0], "203.0.113.0", "203.0.113.15"), "\(second)")
                try cluster.create(ServiceSpecification("intruder", namespace: "tenant-b"))
                let intruder = await cluster.awaitIPs("intruder", namespace: "tenant-b")
                #expect(intruder.count == 1 && ipInRange(intruder[0], "198.51.100.0", "198.51.100.63"), "\(intruder)")
                #expect(try cluster.loadBalancers().mapValues(\.ips).filter { before[$0.key] != nil } == before)
                await controller.stop()
            }
        }
    }
}
