import Foundation
import LBConfig
import Testing

/// manifests/crds.yaml and the chart's crds/: the metallb.io CustomResourceDefinitions declare
/// exactly the fields IronLB's reader knows, structurally, and the two copies are the same.
@Suite struct CRDManifestTests {
    @Test func chartAndManifestCarryTheSameDefinitions() throws {
        #expect(try Artifacts.text("manifests/crds.yaml") == Artifacts.text("charts/ironlb/crds/metallb.io.yaml"))
    }

    @Test func everyKindAndVersionIronLBReadsIsDefinedWithItsFields() throws {
        let definitions = try Artifacts.manifestsIn("manifests/crds.yaml")
        #expect(definitions.allSatisfy { $0.kind == "CustomResourceDefinition" && $0.apiVersion == "apiextensions.k8s.io/v1" })
        var declared: [String: [String]] = [:]
        for definition in definitions {
            let kind = try #require(definition.value.at("spec.names.kind")?.string)
            #expect(definition.value.at("spec.group")?.string == ResourceConfigParser.group)
            #expect(definition.name == "\(definition.value.at("spec.names.plural")?.string ?? "?").metallb.io")
            let versions = definition.value.at("spec.versions")?.list ?? []
            #expect(versions.filter { $0["storage"]?.bool == true }.count == 1, "\(kind): one storage version")
            for version in versions {
                let name = try #require(version["name"]?.string)
                let schema = try #require(version.at("schema.openAPIV3Schema"))
                let spec = try #require(schema.at("properties.spec"))
                #expect(spec["type"]?.string == "object")
                declared[kind == "BGPPeer" ? "BGPPeer/\(name)" : kind] = (spec.at("properties")?.map?.keys).map { $0.sorted() }
                #expect(Self.structuralProblems(schema, path: "\(kind)/\(name)").isEmpty, "\(Self.structuralProblems(schema, path: kind))")
            }
        }
        #expect(declared == ResourceConfigParser.specFields.mapValues { $0.sorted() })
    }

    /// A structural schema (apiextensions): every node has a type, objects give properties or
    /// additionalProperties (or preserve unknown fields), arrays give items.
    static func structuralProblems(_ schema: YAMLValue, path: String) -> [String] {
        if schema["x-kubernetes-preserve-unknown-fields"]?.bool == true { return [] }
        guard let type = schema["type"]?.string else { return ["\(path): no type"] }
        var problems: [String] = []
        switch type {
        case "object":
            if let properties = schema["properties"]?.map {
                for (name, property) in properties { problems += structuralProblems(property, path: "\(path).\(name)") }
            } else if let additional = schema["additionalProperties"] {
                problems += structuralProblems(additional, path: "\(path).*")
            } else if path.hasSuffix(".metadata") == false {
                problems.append("\(path): an object without properties")
            }
        case "array":
            guard let items = schema["items"] else { return ["\(path): an array without items"] }
            problems += structuralProblems(items, path: "\(path)[]")
        default: break
        }
        return problems
    }
}
