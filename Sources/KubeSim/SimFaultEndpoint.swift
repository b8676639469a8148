import KubeModel

/// The fault-injection HTTP API under `/kubesim/faults/` (authenticated like the rest), for
/// out-of-process users of `ironlb kubesim`:
///   POST close-watches | expire-watches | send-bookmarks | clear
///   POST error {"status":429,"count":1,"method":"GET","pathContains":"/services","watch":false,"retryAfterSeconds":1}
///   POST latency {"milliseconds":200}          POST split {"sizes":[1,7,300]}
///   POST unreachable {"milliseconds":3000}     POST compact {"keep":0}
extension KubeSimServer {
    func handleFault(method: String, path: String, body: [UInt8]) -> (Int, JSONValue) {
        guard method == "POST" else { return (405, SimErrors.json(SimErrors.methodNotAllowed())) }
        let action = String(path.dropFirst("/kubesim/faults/".count))
        let args = (try? JSONValue.parse(body)) ?? .object([:])
        func int(_ k: String) -> Int? { args[k]?.intValue.map { Int($0) } }
        switch action {
        case "close-watches": closeWatches()
        case "expire-watches": expireWatches()
        case "send-bookmarks": sendBookmarks()
        case "clear": clearFaults()
        case "error":
            guard let status = int("status") else { return (400, SimErrors.json(SimErrors.badRequest("status is required"))) }
            injectError(status: status, count: int("count") ?? 1, method: args["method"]?.stringValue, pathContains: args["pathContains"]?.stringValue,
                        watch: args["watch"]?.boolValue, retryAfterSeconds: int("retryAfterSeconds"))
        case "latency": setLatency(.milliseconds(int("milliseconds") ?? 0))
        case "split": splitWatchWrites(args["sizes"]?.arrayValue?.compactMap { $0.intValue.map { Int($0) } } ?? [])
        case "unreachable": makeUnreachable(for: .milliseconds(int("milliseconds") ?? 1000))
        case "compact": compactHistory(keep: int("keep") ?? 0)
        default: return (404, SimErrors.json(SimErrors.pathNotFound()))
        }
        return (200, ["status": "ok", "action": .string(action)])
    }
}
