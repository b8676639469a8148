import Foundation
import Testing
@testable import IronLBCLI

/// `config validate` on metallb.io objects and `config convert` both ways (issue #14).
@Suite struct ConvertCommandTests {
    static let objects = """
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {name: web, namespace: metallb-system}
        spec:
          addresses: [198.51.100.0/28]
        ---
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata: {name: web, namespace: metallb-system}
        spec:
          ipAddressPools: [web]
        ---
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {name: reserved, namespace: metallb-system}
        spec:
          addresses: [198.51.100.16/28]
          autoAssign: false

        """

    @Test func validateReadsMultiDocumentObjectsWithLines() {
        let report = ConfigValidation.run(files: ["objects.yaml"], format: .text) { _ in Self.objects }
        #expect(report.exitCode == 0, "\(report.diagnostics)")
        #expect(report.output == "objects.yaml: valid\n  pool web: layer2, 16 addresses\n  pool reserved: unannounced, 16 addresses, auto-assign off\n")
        let bad = Self.objects.replacingOccurrences(of: "198.51.100.16/28", with: "198.51.100.8/29")
        let refused = ConfigValidation.run(files: ["objects.yaml"], format: .text) { _ in bad }
        #expect(refused.exitCode == 1)
        #expect(refused.diagnostics == "objects.yaml: error: IPAddressPool/reserved spec.addresses[0]: 198.51.100.8/29 overlaps 198.51.100.0/28 at IPAddressPool/web spec.addresses[0]\n")
    }

    @Test func objectsToConfigMapNamesWhatItCannotSay() {
        let result = ConfigConversion.run(text: Self.objects, to: .configmap, namespace: "ironlb-system")
        #expect(result.exitCode == 2)
        #expect(result.diagnostics == "not expressible: IPAddressPool/reserved has no L2Advertisement or BGPAdvertisement: a ConfigMap pool is announced by layer2 or bgp; it is left out\n")
        #expect(result.output.contains("kind: ConfigMap") && result.output.contains("name: web"))
        let back = ConfigValidation.run(files: ["cm.yaml"], format: .text) { _ in result.output }
        #expect(back.output == "cm.yaml: valid\n  pool web: layer2, 16 addresses\n")
    }

    @Test func configMapToObjectsAndBackIsExact() {
        let configMap = "address-pools: [{name: web, protocol: bgp, addresses: [198.51.100.0/28], bgp-advertisements: [{aggregation-length: 28, localpref: 100}]}]\npeers: [{peer-address: 192.0.2.1, peer-asn: 64501, my-asn: 64500, password: s3cret}]\n"
        let objects = ConfigConversion.run(text: configMap, to: .crds, namespace: "metallb-system")
        #expect(objects.exitCode == 0 && objects.diagnostics.isEmpty)
        #expect(objects.output.contains("apiVersion: metallb.io/v1beta2\nkind: BGPPeer"))
        #expect(objects.output.contains("  namespace: metallb-system"))
        let configMapAgain = ConfigConversion.run(text: objects.output, to: .configmap, namespace: "ironlb-system")
        #expect(configMapAgain.exitCode == 0)
        let summaries = [configMap, objects.output, configMapAgain.output].map { text in
            ConfigValidation.run(files: ["f"], format: .text) { _ in text }.output
        }
        #expect(summaries[0] == "f: valid\n  pool web: bgp, 16 addresses\n  1 BGP peer: 192.0.2.1 AS64501\n")
        #expect(Set(summaries).count == 1, "\(summaries)")
    }

    @Test func invalidInputIsNotConverted() {
        let result = ConfigConversion.run(text: "address-pools: [{name: web}]\n", to: .crds, namespace: "ironlb-system")
        #expect(result.exitCode == 1 && result.output.isEmpty)
        #expect(result.diagnostics.contains("address-pools[0].protocol: is required"))
    }
}
