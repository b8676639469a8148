import KubeModel
import KubeServerModel

/// Status bodies with the API server's reasons and messages (apimachinery `errors.go`).
enum SimErrors {
    static func details(_ r: ResourceDescriptor, _ name: String, kind: String? = nil) -> StatusDetails {
        StatusDetails(name: name, group: r.group.isEmpty ? nil : r.group, kind: kind ?? r.plural)
    }

    static func notFound(_ r: ResourceDescriptor, _ name: String) -> V1Status {
        V1Status(message: "\(r.qualifiedName) \"\(name)\" not found", reason: "NotFound", code: 404, details: details(r, name))
    }

    static func alreadyExists(_ r: ResourceDescriptor, _ name: String) -> V1Status {
        V1Status(message: "\(r.qualifiedName) \"\(name)\" already exists", reason: "AlreadyExists", code: 409, details: details(r, name))
    }

    static func conflict(_ r: ResourceDescriptor, _ name: String, _ why: String = "the object has been modified; please apply your changes to the latest version and try again") -> V1Status {
        V1Status(message: "Operation cannot be fulfilled on \(r.qualifiedName) \"\(name)\": \(why)", reason: "Conflict", code: 409, details: details(r, name))
    }

    static func invalid(_ r: ResourceDescriptor, _ name: String, _ causes: [StatusCause]) -> V1Status {
        let kind = r.group.isEmpty ? r.kind : "\(r.kind).\(r.group)"
        let list = causes.map { c in "\(c.field ?? ""): \(c.message ?? "")" }
        let joined = list.count == 1 ? list[0] : "[" + list.joined(separator: ", ") + "]"
        return V1Status(message: "\(kind) \"\(name)\" is invalid: \(joined)", reason: "Invalid", code: 422,
                        details: StatusDetails(name: name, group: r.group.isEmpty ? nil : r.group, kind: r.kind, causes: causes))
    }

    static func cause(_ field: String, _ reason: String, _ message: String) -> StatusCause {
        StatusCause(reason: reason, message: message, field: field)
    }

    static func required(_ field: String, _ detail: String = "") -> StatusCause {
        cause(field, "FieldValueRequired", "Required value" + (detail.isEmpty ? "" : ": " + detail))
    }

    static func invalidValue(_ field: String, _ value: String, _ detail: String) -> StatusCause {
        cause(field, "FieldValueInvalid", "Invalid value: \(value): \(detail)")
    }

    static func forbidden(_ field: String, _ detail: String) -> StatusCause {
        cause(field, "FieldValueForbidden", "Forbidden: \(detail)")
    }

    static func notSupported(_ field: String, _ value: String, _ allowed: [String]) -> StatusCause {
        cause(field, "FieldValueNotSupported", "Unsupported value: \(value): supported values: " + allowed.map { "\"\($0)\"" }.joined(separator: ", "))
    }

    static func badRequest(_ message: String) -> V1Status {
        V1Status(message: message, reason: "BadRequest", code: 400)
    }

    static func methodNotAllowed() -> V1Status {
        V1Status(message: "the server does not allow this method on the requested resource", reason: "MethodNotAllowed", code: 405)
    }

    /// Media types KubeSim decodes in PATCH bodies.
    static let patchMediaTypes = ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"]
    /// Media types KubeSim decodes in create/update bodies: JSON for every kind, protobuf for the
    /// kinds in `KubeProtobuf.supportedKinds` (a real server also takes YAML and protobuf for all
    /// built-in kinds; see docs/design/kubectl-protobuf.md).
    static let bodyMediaTypes = ["application/json", KubeProtobuf.mediaType]

    /// 415 for a protobuf body of a kind KubeSim has no protobuf table for, naming the kind and
    /// the way around it (kubectl's own generator output, applied as JSON).
    static func protobufKindNotDecoded(apiVersion: String, kind: String) -> V1Status {
        let kinds = KubeProtobuf.supportedKinds.map { "\($0.apiVersion) \($0.kind)" }.joined(separator: ", ")
        let what = kind.isEmpty ? "an object without a kind" : "\(apiVersion) \(kind)"
        return V1Status(message: "the body of the request was in an unknown format - accepted media types include: application/json"
                            + " (KubeSim decodes protobuf bodies only for \(kinds); this one holds \(what): send it as JSON,"
                            + " e.g. kubectl create ... --dry-run=client -o yaml | kubectl apply -f -)",
                         reason: "UnsupportedMediaType", code: 415)
    }

    /// 400 for a protobuf body that is not a well-formed object of its kind.
    static func protobufUndecodable(_ e: ProtobufDecodeError) -> V1Status {
        badRequest("error decoding protobuf request body: \(e)")
    }

    static func unsupportedMediaType(_ type: String, accepted: [String] = patchMediaTypes) -> V1Status {
        V1Status(message: "the body of the request was in an unknown format - accepted media types include: " + accepted.joined(separator: ", "),
                 reason: "UnsupportedMediaType", code: 415)
    }

    static func pathNotFound() -> V1Status {
        V1Status(message: "the server could not find the requested resource", reason: "NotFound", code: 404, details: StatusDetails())
    }

    static func expired(_ message: String) -> V1Status {
        V1Status(message: message, reason: "Expired", code: 410)
    }

    static func tooManyRequests(retryAfter: Int32) -> V1Status {
        V1Status(message: "Too many requests, please try again later.", reason: "TooManyRequests", code: 429,
                 details: StatusDetails(causes: [StatusCause(reason: "", message: "")], retryAfterSeconds: retryAfter))
    }

    static func internalError(_ message: String) -> V1Status {
        V1Status(message: "Internal error occurred: \(message)", reason: "InternalError", code: 500,
                 details: StatusDetails(causes: [StatusCause(message: message)]))
    }

    static func unauthorized() -> V1Status {
        V1Status(message: "Unauthorized", reason: "Unauthorized", code: 401)
    }

    static func tooLargeRV(_ rv: Int64, _ current: Int64) -> V1Status {
        V1Status(message: "Timeout: Too large resource version: \(rv), current: \(current)", reason: "Timeout", code: 504,
                 details: StatusDetails(causes: [StatusCause(reason: "ResourceVersionTooLarge", message: "Too large resource version")], retryAfterSeconds: 1))
    }

    /// The JSON body of a Status.
    static func json(_ s: V1Status) -> JSONValue {
        var o: [String: JSONValue] = ["kind": "Status", "apiVersion": "v1", "metadata": .object([:])]
        if let v = s.status { o["status"] = .string(v) }
        if let v = s.message { o["message"] = .string(v) }
        if let v = s.reason { o["reason"] = .string(v) }
        if let c = s.code { o["code"] = .int(Int64(c)) }
        if let d = s.details {
            var dd: [String: JSONValue] = [:]
            if let v = d.name { dd["name"] = .string(v) }
            if let v = d.group { dd["group"] = .string(v) }
            if let v = d.kind { dd["kind"] = .string(v) }
            if let v = d.uid { dd["uid"] = .string(v) }
            if let r = d.retryAfterSeconds { dd["retryAfterSeconds"] = .int(Int64(r)) }
            if let cs = d.causes {
                dd["causes"] = .array(cs.map { c in
                    var co: [String: JSONValue] = [:]
                    if let v = c.reason { co["reason"] = .string(v) }
                    if let v = c.message { co["message"] = .string(v) }
                    if let v = c.field { co["field"] = .string(v) }
                    return .object(co)
                })
            }
            o["details"] = .object(dd)
        }
        return .object(o)
    }
}
