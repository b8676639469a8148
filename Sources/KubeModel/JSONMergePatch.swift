/// An error applying a patch; `code` is a short label, `message` follows the API server's wording.
public struct PatchError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: String
    public var message: String
    public init(code: String, message: String) { self.code = code; self.message = message }
    public var description: String { message }
}

/// RFC 7386 JSON Merge Patch.
public enum JSONMergePatch {
    /// Applies `patch` to `target` (RFC 7386 §2).
    public static func apply(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        guard case .object(let p) = patch else { return patch }
        var t: [String: JSONValue]
        if case .object(let o) = target { t = o } else { t = [:] }
        for (k, v) in p {
            if case .null = v {
                t.removeValue(forKey: k)
            } else {
                t[k] = apply(v, to: t[k] ?? .null)
            }
        }
        return .object(t)
    }

    /// A merge patch that turns `original` into `modified` (nil when they are equal).
    /// Arrays are replaced whole; removed keys become `null`.
    public static func diff(from original: JSONValue, to modified: JSONValue) -> JSONValue? {
        guard case .object(let o) = original, case .object(let m) = modified else {
            return original == modified ? nil : modified
        }
        var patch: [String: JSONValue] = [:]
        for (k, ov) in o where m[k] == nil { _ = ov; patch[k] = .null }
        for (k, mv) in m {
            if let ov = o[k] {
                if ov == mv { continue }
                if case .object = ov, case .object = mv {
                    if let d = diff(from: ov, to: mv) { patch[k] = d }
                } else {
                    patch[k] = mv
                }
            } else {
                patch[k] = mv
            }
        }
        return patch.isEmpty ? nil : .object(patch)
    }
}
