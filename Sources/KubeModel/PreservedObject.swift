/// A typed object together with the raw JSON it was decoded from, so a read-modify-write keeps
/// fields the Swift model does not know (newer API fields, other controllers' data).
///
/// Writing: `merged(current:)` computes the RFC 7386 diff between the typed value as read
/// (`baseline`, the typed value re-encoded) and the typed value now, and applies it to `raw`.
/// Only what the caller changed is touched; a field set to nil is removed. Lists the caller
/// changed are replaced whole (unknown fields inside changed list elements are lost).
public struct PreservedObject<Value: Sendable>: Sendable {
    public var value: Value
    public let raw: JSONValue
    public let baseline: JSONValue

    public init(value: Value, raw: JSONValue, baseline: JSONValue) {
        self.value = value
        self.raw = raw
        self.baseline = baseline
    }

    /// The JSON to send in a PUT, given the typed encoding of `value` now.
    public func merged(current: JSONValue) -> JSONValue {
        guard let patch = JSONMergePatch.diff(from: baseline, to: current) else { return raw }
        return JSONMergePatch.apply(patch, to: raw)
    }

    /// The merge patch to send in a PATCH, given the typed encoding of `value` now.
    public func mergePatch(current: JSONValue) -> JSONValue? {
        JSONMergePatch.diff(from: baseline, to: current)
    }
}
