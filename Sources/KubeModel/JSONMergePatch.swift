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
        guard case .object(let patchMembers) = patch else { return patch }
        var result: [String: JSONValue]
        if case .object(let members) = target { result = members } else { result = [:] }
        for (key, value) in patchMembers {
            if case .null = value {
                result.removeValue(forKey: key)
            } else {
                result[key] = apply(value, to: result[key] ?? .null)
            }
        }
        return .object(result)
    }

    /// A merge patch that turns `original` into `modified` (nil when they are equal).
    /// Arrays are replaced whole; removed keys become `null`.
    public static func diff(from original: JSONValue, to modified: JSONValue) -> JSONValue? {
        guard case .object(let originalMembers) = original, case .object(let modifiedMembers) = modified else {
            return original == modified ? nil : modified
        }
        var patch: [String: JSONValue] = [:]
        for (key, originalValue) in originalMembers where modifiedMembers[key] == nil { _ = originalValue; patch[key] = .null }
        for (key, modifiedValue) in modifiedMembers {
            if let originalValue = originalMembers[key] {
                if originalValue == modifiedValue { continue }
                if case .object = originalValue, case .object = modifiedValue {
                    if let nested = diff(from: originalValue, to: modifiedValue) { patch[key] = nested }
                } else {
                    patch[key] = modifiedValue
                }
            } else {
                patch[key] = modifiedValue
            }
        }
        return patch.isEmpty ? nil : .object(patch)
    }
}
