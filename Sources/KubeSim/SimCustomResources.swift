import Foundation
import KubeModel
import NIOConcurrencyHelpers

extension ResourceDescriptor {
    static let customResourceDefinitions = ResourceDescriptor(
        group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", singular: "customresourcedefinition",
        kind: "CustomResourceDefinition", namespaced: false, shortNames: ["crd", "crds"]
    )
}

/// CustomResourceDefinitions: a stored CRD (apiextensions.k8s.io/v1) makes each of its served
/// versions a resource of this server (routing, discovery, OpenAPI), with the CRD's structural
/// schema applied on every write: unknown fields pruned (unless `x-kubernetes-preserve-unknown-fields`),
/// defaults filled in, types, `required`, `enum`, `minimum`/`maximum` checked. Every version of
/// one CRD shares one storage (conversion strategy None: objects keep the apiVersion they were
/// written with). The status subresource exists where the version declares it.
enum SimCustomResources {
    /// One served version of a stored CRD.
    struct Served: Sendable {
        var type: SimResourceType
        var schema: JSONValue?
    }

    /// Behaviour of custom resources by qualified name and version, for `SimResources.type`, which
    /// has no store at hand. Registered when a CRD is stored; CRDs of the same name in several
    /// servers of one process are expected to agree (tests install the same manifests).
    private static let registry = NIOLockedValueBox<[String: SimResourceType]>([:])

    static func registeredType(_ r: ResourceDescriptor) -> SimResourceType? {
        registry.withLockedValue { $0[r.qualifiedName + "/" + r.version] }
    }

    /// The served versions of every stored CRD. Caller holds the store lock.
    static func served(_ store: SimStore) -> [Served] {
        store.list(WatchFilter(resource: .customResourceDefinitions, bookmarks: false)).flatMap(served(by:))
    }

    static func served(by definition: JSONValue) -> [Served] {
        guard let spec = definition["spec"], let group = spec["group"]?.stringValue,
              let plural = spec.value(atPath: "names.plural")?.stringValue, let kind = spec.value(atPath: "names.kind")?.stringValue
        else { return [] }
        let singular = spec.value(atPath: "names.singular")?.stringValue ?? kind.lowercased()
        let shortNames = spec.value(atPath: "names.shortNames")?.arrayValue?.compactMap(\.stringValue) ?? []
        let categories = spec.value(atPath: "names.categories")?.arrayValue?.compactMap(\.stringValue) ?? []
        let namespaced = spec["scope"]?.stringValue != "Cluster"
        var result: [Served] = []
        for version in spec["versions"]?.arrayValue ?? [] where version["served"]?.boolValue == true {
            guard let name = version["name"]?.stringValue else { continue }
            let descriptor = ResourceDescriptor(group: group, version: name, plural: plural, singular: singular, kind: kind, namespaced: namespaced, shortNames: shortNames)
            let type = SimResourceType(descriptor) {
                $0.hasStatus = version.value(atPath: "subresources.status") != nil
                $0.categories = categories
                $0.generation = .spec
            }
            result.append(Served(type: type, schema: version.value(atPath: "schema.openAPIV3Schema")))
        }
        return result
    }

    // MARK: Writes of CRDs

    /// Validates a CRD, sets its status (names accepted, established) and registers its types.
    static func prepareDefinition(_ object: JSONValue, name: String) throws(V1Status) -> JSONValue {
        let r = ResourceDescriptor.customResourceDefinitions
        var causes: [StatusCause] = []
        let spec = object["spec"]
        let group = spec?["group"]?.stringValue ?? ""
        let plural = spec?.value(atPath: "names.plural")?.stringValue ?? ""
        if group.isEmpty { causes.append(SimErrors.required("spec.group")) }
        if plural.isEmpty { causes.append(SimErrors.required("spec.names.plural")) }
        if spec?.value(atPath: "names.kind")?.stringValue?.isEmpty ?? true { causes.append(SimErrors.required("spec.names.kind")) }
        if !group.isEmpty, !plural.isEmpty, name != "\(plural).\(group)" {
            causes.append(SimErrors.invalidValue("metadata.name", "\"\(name)\"", "must be spec.names.plural+\".\"+spec.group"))
        }
        if !["Namespaced", "Cluster"].contains(spec?["scope"]?.stringValue ?? "") {
            causes.append(SimErrors.notSupported("spec.scope", "\"\(spec?["scope"]?.stringValue ?? "")\"", ["Cluster", "Namespaced"]))
        }
        let versions = spec?["versions"]?.arrayValue ?? []
        if versions.isEmpty { causes.append(SimErrors.required("spec.versions", "must have exactly one version marked as storage version")) }
        if versions.filter({ $0["storage"]?.boolValue == true }).count != 1 {
            causes.append(SimErrors.invalidValue("spec.versions", "", "must have exactly one version marked as storage version"))
        }
        for (index, version) in versions.enumerated() {
            guard let schema = version.value(atPath: "schema.openAPIV3Schema") else {
                causes.append(SimErrors.required("spec.versions[\(index)].schema.openAPIV3Schema", "schemas are required"))
                continue
            }
            for problem in structuralProblems(schema, path: "spec.versions[\(index)].schema.openAPIV3Schema") {
                causes.append(SimErrors.required(problem.path, problem.detail))
            }
        }
        guard causes.isEmpty else { throw SimErrors.invalid(r, name, causes) }
        var result = object
        let accepted: JSONValue = ["type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"]
        let established: JSONValue = ["type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"]
        result["status"] = [
            "conditions": [accepted, established],
            "acceptedNames": spec?["names"] ?? [:],
            "storedVersions": .array(versions.filter { $0["storage"]?.boolValue == true }.compactMap { $0["name"] }),
        ]
        let served = served(by: result)
        registry.withLockedValue { types in
            for entry in served { types[entry.type.descriptor.qualifiedName + "/" + entry.type.descriptor.version] = entry.type }
        }
        return result
    }

    /// Where a schema is not structural: a node without `type` (outside
    /// `x-kubernetes-preserve-unknown-fields` and `x-kubernetes-int-or-string`).
    static func structuralProblems(_ schema: JSONValue, path: String) -> [(path: String, detail: String)] {
        if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true || schema["x-kubernetes-int-or-string"]?.boolValue == true { return [] }
        guard schema["type"]?.stringValue != nil else { return [(path + ".type", "must not be empty for specified object fields")] }
        var problems: [(path: String, detail: String)] = []
        for (key, property) in schema["properties"]?.objectValue ?? [:] {
            problems += structuralProblems(property, path: "\(path).properties[\(key)]")
        }
        if let items = schema["items"] { problems += structuralProblems(items, path: "\(path).items") }
        if let additional = schema["additionalProperties"], additional.objectValue != nil {
            problems += structuralProblems(additional, path: "\(path).additionalProperties")
        }
        return problems
    }

    // MARK: Writes of custom resources

    /// Prunes, defaults and validates a custom resource against its version's schema. Caller holds the lock.
    static func prepare(_ object: JSONValue, _ r: ResourceDescriptor, store: SimStore, name: String) throws(V1Status) -> JSONValue {
        guard let definition = store.get(.customResourceDefinitions, "", r.qualifiedName),
              let schema = served(by: definition).first(where: { $0.type.descriptor.version == r.version })?.schema
        else { return object }
        var result = object
        for key in Array((result.objectValue ?? [:]).keys) where !["apiVersion", "kind", "metadata"].contains(key) {
            guard let property = schema.value(atPath: "properties")?[key] else {
                if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue != true { result[key] = nil }
                continue
            }
            result[key] = pruneAndDefault(result[key] ?? .null, property)
        }
        var causes: [StatusCause] = []
        validate(result, schema, path: "", causes: &causes, root: true)
        guard causes.isEmpty else { throw SimErrors.invalid(r, name, causes) }
        return result
    }

    static func pruneAndDefault(_ value: JSONValue, _ schema: JSONValue) -> JSONValue {
        if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true, schema["properties"] == nil { return value }
        switch value {
        case .object(var fields):
            if let properties = schema["properties"]?.objectValue {
                for key in Array(fields.keys) {
                    if let property = properties[key] {
                        fields[key] = pruneAndDefault(fields[key] ?? .null, property)
                    } else if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue != true {
                        fields[key] = nil
                    }
                }
                for (key, property) in properties where fields[key] == nil {
                    if let value = property["default"] { fields[key] = value }
                }
            } else if let additional = schema["additionalProperties"], additional.objectValue != nil {
                for key in Array(fields.keys) { fields[key] = pruneAndDefault(fields[key] ?? .null, additional) }
            }
            return .object(fields)
        case .array(let items):
            guard let itemSchema = schema["items"] else { return value }
            return .array(items.map { pruneAndDefault($0, itemSchema) })
        default:
            return value
        }
    }

    private static func validate(_ value: JSONValue, _ schema: JSONValue, path: String, causes: inout [StatusCause], root: Bool = false) {
        let field = path.isEmpty ? "<root>" : path
        if case .null = value, schema["nullable"]?.boolValue != true, !root {
            causes.append(SimErrors.invalidValue(field, "\"null\"", "\(field) in body must be of type \(schema["type"]?.stringValue ?? "object"): \"null\""))
            return
        }
        if let type = schema["type"]?.stringValue, !root, let actual = typeName(value), !(type == "number" && actual == "integer"), type != actual {
            causes.append(SimErrors.invalidValue(field, "\"\(actual)\"", "\(field) in body must be of type \(type): \"\(actual)\""))
            return
        }
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
            causes.append(SimErrors.notSupported(field, value.stringValue.map { "\"\($0)\"" } ?? "\(value)", allowed.compactMap(\.stringValue)))
        }
        if let number = value.intValue {
            if let minimum = schema["minimum"]?.intValue, number < minimum {
                causes.append(SimErrors.invalidValue(field, "\(number)", "\(field) in body should be greater than or equal to \(minimum)"))
            }
            if let maximum = schema["maximum"]?.intValue, number > maximum {
                causes.append(SimErrors.invalidValue(field, "\(number)", "\(field) in body should be less than or equal to \(maximum)"))
            }
        }
        switch value {
        case .object(let fields):
            for key in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where fields[key] == nil {
                causes.append(SimErrors.required(path.isEmpty ? key : "\(path).\(key)"))
            }
            let properties = schema["properties"]?.objectValue ?? [:]
            for (key, child) in fields.sorted(by: { $0.key < $1.key }) {
                if root && ["apiVersion", "kind", "metadata"].contains(key) { continue }
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                if let property = properties[key] {
                    validate(child, property, path: childPath, causes: &causes)
                } else if let additional = schema["additionalProperties"], additional.objectValue != nil {
                    validate(child, additional, path: childPath, causes: &causes)
                }
            }
        case .array(let items):
            guard let itemSchema = schema["items"] else { return }
            for (index, item) in items.enumerated() { validate(item, itemSchema, path: "\(path)[\(index)]", causes: &causes) }
        default:
            break
        }
    }

    private static func typeName(_ value: JSONValue) -> String? {
        switch value {
        case .object: return "object"
        case .array: return "array"
        case .string: return "string"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "number"
        case .null: return nil
        }
    }
}
