import KubeModel

/// RFC 6901 JSON Pointer and RFC 6902 JSON Patch.
public enum JSONPatch {
    public static func parsePointer(_ s: String) throws(PatchError) -> [String] {
        if s.isEmpty { return [] }
        guard s.hasPrefix("/") else {
            throw PatchError(code: "bad_pointer", message: "JSON pointer must start with /: \(s)")
        }
        return s.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences("~1", "/").replacingOccurrences("~0", "~")
        }
    }

    /// Applies an RFC 6902 patch document (an array of operations).
    public static func apply(_ patch: JSONValue, to doc: JSONValue) throws(PatchError) -> JSONValue {
        guard case .array(let ops) = patch else {
            throw PatchError(code: "bad_patch", message: "json patch must be an array")
        }
        var cur = doc
        for op in ops {
            guard let name = op["op"]?.stringValue, let pathStr = op["path"]?.stringValue else {
                throw PatchError(code: "bad_patch", message: "json patch operation needs op and path")
            }
            let path = try parsePointer(pathStr)
            switch name {
            case "add":
                guard let v = op["value"] else { throw PatchError(code: "bad_patch", message: "add operation does not have a value") }
                cur = try add(cur, path, v)
            case "remove":
                cur = try remove(cur, path, pathStr)
            case "replace":
                guard let v = op["value"] else { throw PatchError(code: "bad_patch", message: "replace operation does not have a value") }
                _ = try get(cur, path, pathStr)
                cur = try remove(cur, path, pathStr)
                cur = try add(cur, path, v)
            case "move", "copy":
                guard let fromStr = op["from"]?.stringValue else { throw PatchError(code: "bad_patch", message: "\(name) operation does not have a from") }
                let from = try parsePointer(fromStr)
                let v = try get(cur, from, fromStr)
                if name == "move" { cur = try remove(cur, from, fromStr) }
                cur = try add(cur, path, v)
            case "test":
                let v = try get(cur, path, pathStr)
                guard v == (op["value"] ?? .null) else {
                    throw PatchError(code: "test_failed", message: "the server rejected our request due to an error in our request")
                }
            default:
                throw PatchError(code: "bad_patch", message: "Unexpected kind: \(name)")
            }
        }
        return cur
    }

    public static func get(_ doc: JSONValue, _ path: [String], _ raw: String) throws(PatchError) -> JSONValue {
        var cur = doc
        for p in path {
            switch cur {
            case .object(let o):
                guard let v = o[p] else { throw missing(raw) }
                cur = v
            case .array(let a):
                guard let i = Int(p), i >= 0, i < a.count else { throw missing(raw) }
                cur = a[i]
            default: throw missing(raw)
            }
        }
        return cur
    }

    static func missing(_ raw: String) -> PatchError {
        PatchError(code: "missing_path", message: "doc is missing path: \"\(raw)\": missing value")
    }

    static func add(_ doc: JSONValue, _ path: [String], _ value: JSONValue) throws(PatchError) -> JSONValue {
        guard let first = path.first else { return value }
        let rest = Array(path.dropFirst())
        switch doc {
        case .object(var o):
            if rest.isEmpty { o[first] = value } else {
                guard let child = o[first] else { throw missing("/" + path.joined(separator: "/")) }
                o[first] = try add(child, rest, value)
            }
            return .object(o)
        case .array(var a):
            if rest.isEmpty {
                if first == "-" { a.append(value) } else {
                    guard let i = Int(first), i >= 0, i <= a.count else { throw missing("/" + path.joined(separator: "/")) }
                    a.insert(value, at: i)
                }
            } else {
                guard let i = Int(first), i >= 0, i < a.count else { throw missing("/" + path.joined(separator: "/")) }
                a[i] = try add(a[i], rest, value)
            }
            return .array(a)
        default:
            throw missing("/" + path.joined(separator: "/"))
        }
    }

    static func remove(_ doc: JSONValue, _ path: [String], _ raw: String) throws(PatchError) -> JSONValue {
        guard let first = path.first else { throw missing(raw) }
        let rest = Array(path.dropFirst())
        switch doc {
        case .object(var o):
            guard let child = o[first] else { throw missing(raw) }
            if rest.isEmpty { o.removeValue(forKey: first) } else { o[first] = try remove(child, rest, raw) }
            return .object(o)
        case .array(var a):
            guard let i = Int(first), i >= 0, i < a.count else { throw missing(raw) }
            if rest.isEmpty { a.remove(at: i) } else { a[i] = try remove(a[i], rest, raw) }
            return .array(a)
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
        guard case .object(var p) = patch else { return patch }
        var t: [String: JSONValue]
        if case .object(let o) = target { t = o } else { t = [:] }
        if let directive = p["$patch"]?.stringValue {
            p.removeValue(forKey: "$patch")
            switch directive {
            case "replace": return .object(p.filter { !$0.key.hasPrefix("$") })
            case "delete": return .null
            case "merge": break
            default: throw PatchError(code: "bad_patch", message: "Unknown patch type: \(directive)")
            }
        }
        if let retain = p.removeValue(forKey: "$retainKeys")?.arrayValue {
            let keep = Set(retain.compactMap(\.stringValue))
            t = t.filter { keep.contains($0.key) }
        }
        var orders: [String: [JSONValue]] = [:]
        var deletes: [String: [JSONValue]] = [:]
        for (k, v) in p {
            if k.hasPrefix("$setElementOrder/") {
                orders[String(k.dropFirst("$setElementOrder/".count))] = v.arrayValue ?? []
                p.removeValue(forKey: k)
            } else if k.hasPrefix("$deleteFromPrimitiveList/") {
                deletes[String(k.dropFirst("$deleteFromPrimitiveList/".count))] = v.arrayValue ?? []
                p.removeValue(forKey: k)
            }
        }
        for (k, v) in p {
            let childPath = path.isEmpty ? k : path + "." + k
            if case .null = v { t.removeValue(forKey: k); continue }
            switch v {
            case .object:
                let merged = try mergeObject(v, t[k] ?? .null, path: childPath, keys: keys)
                if case .null = merged { t.removeValue(forKey: k) } else { t[k] = merged }
            case .array(let pa):
                if let mk = keys[childPath] {
                    t[k] = .array(try mergeList(pa, t[k]?.arrayValue ?? [], mergeKey: mk, path: childPath, keys: keys))
                } else {
                    t[k] = v
                }
            default:
                t[k] = v
            }
        }
        for (k, dels) in deletes {
            if var a = t[k]?.arrayValue { a.removeAll { dels.contains($0) }; t[k] = .array(a) }
        }
        for (k, order) in orders {
            guard let a = t[k]?.arrayValue else { continue }
            let mk = keys[path.isEmpty ? k : path + "." + k] ?? ""
            func key(_ e: JSONValue) -> JSONValue { mk.isEmpty ? e : (e[mk] ?? .null) }
            let orderKeys = order.map { mk.isEmpty ? $0 : ($0[mk] ?? .null) }
            var sorted: [JSONValue] = []
            for ok in orderKeys { sorted.append(contentsOf: a.filter { key($0) == ok }) }
            sorted.append(contentsOf: a.filter { e in !orderKeys.contains(key(e)) })
            t[k] = .array(sorted)
        }
        return .object(t)
    }

    static func mergeList(_ patch: [JSONValue], _ target: [JSONValue], mergeKey: String, path: String, keys: [String: String]) throws(PatchError) -> [JSONValue] {
        // `$patch: replace` as a list element replaces the whole list.
        if patch.contains(where: { $0["$patch"]?.stringValue == "replace" }) {
            return patch.filter { $0["$patch"] == nil }
        }
        var result = target
        if mergeKey.isEmpty {
            for e in patch where !result.contains(e) { result.append(e) }
            return result
        }
        for e in patch {
            let kv = e[mergeKey] ?? .null
            let idx = result.firstIndex { ($0[mergeKey] ?? .null) == kv }
            if e["$patch"]?.stringValue == "delete" {
                if let i = idx { result.remove(at: i) }
                continue
            }
            if let i = idx {
                result[i] = try mergeObject(e, result[i], path: path, keys: keys)
            } else {
                result.append(try mergeObject(e, .null, path: path, keys: keys))
            }
        }
        return result
    }
}
