import KubeModel

/// RFC 6901 JSON Pointer and RFC 6902 JSON Patch.
public enum JSONPatch {
    public static func parsePointer(_ pointer: String) throws(PatchError) -> [String] {
        if pointer.isEmpty { return [] }
        guard pointer.hasPrefix("/") else {
            throw PatchError(code: "bad_pointer", message: "JSON pointer must start with /: \(pointer)")
        }
        return pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences("~1", "/").replacingOccurrences("~0", "~")
        }
    }

    /// Applies an RFC 6902 patch document (an array of operations).
    public static func apply(_ patch: JSONValue, to doc: JSONValue) throws(PatchError) -> JSONValue {
        guard case .array(let operations) = patch else {
            throw PatchError(code: "bad_patch", message: "json patch must be an array")
        }
        var current = doc
        for operation in operations {
            guard let name = operation["op"]?.stringValue, let pathStr = operation["path"]?.stringValue else {
                throw PatchError(code: "bad_patch", message: "json patch operation needs op and path")
            }
            let path = try parsePointer(pathStr)
            switch name {
            case "add":
                guard let value = operation["value"] else { throw PatchError(code: "bad_patch", message: "add operation does not have a value") }
                current = try add(current, path, value)
            case "remove":
                current = try remove(current, path, pathStr)
            case "replace":
                guard let value = operation["value"] else { throw PatchError(code: "bad_patch", message: "replace operation does not have a value") }
                _ = try get(current, path, pathStr)
                current = try remove(current, path, pathStr)
                current = try add(current, path, value)
            case "move", "copy":
                guard let fromStr = operation["from"]?.stringValue else { throw PatchError(code: "bad_patch", message: "\(name) operation does not have a from") }
                let from = try parsePointer(fromStr)
                let value = try get(current, from, fromStr)
                if name == "move" { current = try remove(current, from, fromStr) }
                current = try add(current, path, value)
            case "test":
                let value = try get(current, path, pathStr)
                guard value == (operation["value"] ?? .null) else {
                    throw PatchError(code: "test_failed", message: "the server rejected our request due to an error in our request")
                }
            default:
                throw PatchError(code: "bad_patch", message: "Unexpected kind: \(name)")
            }
        }
        return current
    }

    public static func get(_ doc: JSONValue, _ path: [String], _ raw: String) throws(PatchError) -> JSONValue {
        var current = doc
        for token in path {
            switch current {
            case .object(let object):
                guard let child = object[token] else { throw missing(raw) }
                current = child
            case .array(let array):
                guard let index = Int(token), index >= 0, index < array.count else { throw missing(raw) }
                current = array[index]
            default: throw missing(raw)
            }
        }
        return current
    }

    static func missing(_ raw: String) -> PatchError {
        PatchError(code: "missing_path", message: "doc is missing path: \"\(raw)\": missing value")
    }

    static func add(_ doc: JSONValue, _ path: [String], _ value: JSONValue) throws(PatchError) -> JSONValue {
        guard let first = path.first else { return value }
        let rest = Array(path.dropFirst())
        switch doc {
        case .object(var object):
            if rest.isEmpty { object[first] = value } else {
                guard let child = object[first] else { throw missing("/" + path.joined(separator: "/")) }
                object[first] = try add(child, rest, value)
            }
            return .object(object)
        case .array(var array):
            if rest.isEmpty {
                if first == "-" { array.append(value) } else {
                    guard let index = Int(first), index >= 0, index <= array.count else { throw missing("/" + path.joined(separator: "/")) }
                    array.insert(value, at: index)
                }
            } else {
                guard let index = Int(first), index >= 0, index < array.count else { throw missing("/" + path.joined(separator: "/")) }
                array[index] = try add(array[index], rest, value)
            }
            return .array(array)
        default:
            throw missing("/" + path.joined(separator: "/"))
        }
    }

    static func remove(_ doc: JSONValue, _ path: [String], _ raw: String) throws(PatchError) -> JSONValue {
        guard let first = path.first else { throw missing(raw) }
        let rest = Array(path.dropFirst())
        switch doc {
        case .object(var object):
            guard let child = object[first] else { throw missing(raw) }
            if rest.isEmpty { object.removeValue(forKey: first) } else { object[first] = try remove(child, rest, raw) }
            return .object(object)
        case .array(var array):
            guard let index = Int(first), index >= 0, index < array.count else { throw missing(raw) }
            if rest.isEmpty { array.remove(at: index) } else { array[index] = try remove(array[index], rest, raw) }
            return .array(array)
        default:
            throw missing(raw)
        }
    }
}

/// Kubernetes strategic merge patch for built-in types: lists with `patchStrategy=merge` merge
/// by their `patchMergeKey`; other lists are replaced. Supports the directives `$patch`
/// (replace/delete/merge), `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and
/// `$retainKeys`.
public enum StrategicMergePatch {
    /// Merge keys of lists with patchStrategy=merge, by dotted path from the object root
    /// (array elements do not add a path component). Primitive lists merged as sets use "".
    public static let defaultMergeKeys: [String: String] = [
        "metadata.finalizers": "",
        "metadata.ownerReferences": "uid",
        "spec.ports": "port",
        "status.conditions": "type",
        "status.addresses": "type",
        "spec.taints": "key",
        "spec.template.spec.containers": "name",
        "spec.containers": "name",
        "spec.containers.ports": "containerPort",
        "spec.containers.env": "name",
        "spec.volumes": "name",
        "spec.podCIDRs": "",
        "spec.finalizers": "",
    ]

    public static func apply(_ patch: JSONValue, to target: JSONValue, mergeKeys: [String: String] = defaultMergeKeys) throws(PatchError) -> JSONValue {
        guard case .object = patch else {
            throw PatchError(code: "bad_patch", message: "strategic merge patch must be an object")
        }
        return try mergeObject(patch, target, path: "", keys: mergeKeys)
    }

    static func mergeObject(_ patch: JSONValue, _ target: JSONValue, path: String, keys: [String: String]) throws(PatchError) -> JSONValue {
        guard case .object(var patchFields) = patch else { return patch }
        var targetFields: [String: JSONValue]
        if case .object(let object) = target { targetFields = object } else { targetFields = [:] }
        if let directive = patchFields["$patch"]?.stringValue {
            patchFields.removeValue(forKey: "$patch")
            switch directive {
            case "replace": return .object(patchFields.filter { !$0.key.hasPrefix("$") })
            case "delete": return .null
            case "merge": break
            default: throw PatchError(code: "bad_patch", message: "Unknown patch type: \(directive)")
            }
        }
        if let retain = patchFields.removeValue(forKey: "$retainKeys")?.arrayValue {
            let keep = Set(retain.compactMap(\.stringValue))
            targetFields = targetFields.filter { keep.contains($0.key) }
        }
        var orders: [String: [JSONValue]] = [:]
        var deletes: [String: [JSONValue]] = [:]
        for (field, value) in patchFields {
            if field.hasPrefix("$setElementOrder/") {
                orders[String(field.dropFirst("$setElementOrder/".count))] = value.arrayValue ?? []
                patchFields.removeValue(forKey: field)
            } else if field.hasPrefix("$deleteFromPrimitiveList/") {
                deletes[String(field.dropFirst("$deleteFromPrimitiveList/".count))] = value.arrayValue ?? []
                patchFields.removeValue(forKey: field)
            }
        }
        for (field, value) in patchFields {
            let childPath = path.isEmpty ? field : path + "." + field
            if case .null = value { targetFields.removeValue(forKey: field); continue }
            switch value {
            case .object:
                let merged = try mergeObject(value, targetFields[field] ?? .null, path: childPath, keys: keys)
                if case .null = merged { targetFields.removeValue(forKey: field) } else { targetFields[field] = merged }
            case .array(let patchList):
                if let mergeKey = keys[childPath] {
                    targetFields[field] = .array(try mergeList(patchList, targetFields[field]?.arrayValue ?? [], mergeKey: mergeKey, path: childPath, keys: keys))
                } else {
                    targetFields[field] = value
                }
            default:
                targetFields[field] = value
            }
        }
        for (field, deleted) in deletes {
            if var list = targetFields[field]?.arrayValue { list.removeAll { deleted.contains($0) }; targetFields[field] = .array(list) }
        }
        for (field, order) in orders {
            guard let list = targetFields[field]?.arrayValue else { continue }
            let mergeKey = keys[path.isEmpty ? field : path + "." + field] ?? ""
            func key(_ element: JSONValue) -> JSONValue { mergeKey.isEmpty ? element : (element[mergeKey] ?? .null) }
            let orderKeys = order.map { mergeKey.isEmpty ? $0 : ($0[mergeKey] ?? .null) }
            var sorted: [JSONValue] = []
            for orderKey in orderKeys { sorted.append(contentsOf: list.filter { key($0) == orderKey }) }
            sorted.append(contentsOf: list.filter { element in !orderKeys.contains(key(element)) })
            targetFields[field] = .array(sorted)
        }
        return .object(targetFields)
    }

    static func mergeList(_ patch: [JSONValue], _ target: [JSONValue], mergeKey: String, path: String, keys: [String: String]) throws(PatchError) -> [JSONValue] {
        // `$patch: replace` as a list element replaces the whole list.
        if patch.contains(where: { $0["$patch"]?.stringValue == "replace" }) {
            return patch.filter { $0["$patch"] == nil }
        }
        var result = target
        if mergeKey.isEmpty {
            for element in patch where !result.contains(element) { result.append(element) }
            return result
        }
        for element in patch {
            let elementKey = element[mergeKey] ?? .null
            let existing = result.firstIndex { ($0[mergeKey] ?? .null) == elementKey }
            if element["$patch"]?.stringValue == "delete" {
                if let index = existing { result.remove(at: index) }
                continue
            }
            if let index = existing {
                result[index] = try mergeObject(element, result[index], path: path, keys: keys)
            } else {
                result.append(try mergeObject(element, .null, path: path, keys: keys))
            }
        }
        return result
    }
}
