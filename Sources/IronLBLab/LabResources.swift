import Foundation
import KubeModel
import LBConfig
import YAML

/// `ironlb lab --metallb-resources`: MetalLB's CRDs and the lab's configuration as metallb.io
/// objects, as API requests (path, body) for the embedded API server (docs/design/lab.md).
enum LabResources {
    static let kinds: [ResourceDescriptor] = [
        MetalLBKinds.IPAddressPool.resource, MetalLBKinds.L2Advertisement.resource, MetalLBKinds.BGPAdvertisement.resource,
        MetalLBKinds.Community.resource, MetalLBKinds.BFDProfile.resource, MetalLBKinds.BGPPeer.resource,
    ]

    /// The six CustomResourceDefinitions with MetalLB's group, kinds and versions. Their schema
    /// keeps every field: IronLB's parser, not the API server, judges the objects in the lab.
    static func definitions() -> [(String, JSONValue)] {
        kinds.map { kind in
            let schema: JSONValue = ["type": "object", "properties": [
                "spec": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
                "status": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
            ]]
            let definition: JSONValue = [
                "metadata": ["name": .string("\(kind.plural).\(kind.group)")],
                "spec": ["group": .string(kind.group), "scope": "Namespaced",
                         "names": ["kind": .string(kind.kind), "plural": .string(kind.plural), "singular": .string(kind.singular)],
                         "versions": [["name": .string(kind.version), "served": true, "storage": true, "schema": ["openAPIV3Schema": schema],
                                       "subresources": ["status": [:]]]]],
            ]
            return ("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", definition)
        }
    }

    /// The ConfigMap text's configuration as metallb.io objects in ironlb-system (what
    /// `ironlb config convert --to crds` writes), each with the path it is created at.
    static func objects(_ config: String) throws -> [(String, JSONValue)] {
        let configuration: Configuration
        switch ConfigParser.parseSource(config) {
        case .success(let parsed): configuration = parsed
        case .failure(let errors): throw LabResourcesError(message: "the lab's configuration: \(errors)")
        }
        let output = ConfigWriter.resources(configuration, namespace: "ironlb-system")
        guard output.notExpressible.isEmpty else { throw LabResourcesError(message: "not expressible as objects: \(output.notExpressible)") }
        return try YAML.composeAll(yaml: output.text).compactMap { document -> (String, JSONValue)? in
            guard case .mapping = document else { return nil }          // an empty document
            let object = try jsonValue(document)
            guard let kind = kinds.first(where: { $0.kind == object["kind"]?.stringValue }) else {
                throw LabResourcesError(message: "unexpected object \(object["kind"]?.stringValue ?? "?")")
            }
            return ("/apis/\(kind.group)/\(kind.version)/namespaces/ironlb-system/\(kind.plural)", object)
        }
    }
}

/// A YAML node as JSON: scalars by their resolved YAML 1.1 type.
private func jsonValue(_ node: Node) throws -> JSONValue {
    switch node {
    case .scalar(let scalar):
        switch node.tag.name {
        case .null: return .null
        case .bool: return .bool(node.bool ?? false)
        case .int:
            guard let value = node.int else { throw LabResourcesError(message: "bad integer \(scalar.string)") }
            return .int(Int64(value))
        case .float: return .double(node.float ?? .nan)
        default: return .string(scalar.string)
        }
    case .sequence(let sequence): return .array(try sequence.map(jsonValue))
    case .mapping(let mapping):
        var members: [String: JSONValue] = [:]
        for (key, value) in mapping {
            guard let name = key.string else { throw LabResourcesError(message: "a mapping key that is not a string") }
            members[name] = try jsonValue(value)
        }
        return .object(members)
    }
}

struct LabResourcesError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
