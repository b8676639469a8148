import NetPrimitives

/// The annotations a Service uses to steer allocation, read under `ironlb.io/` and under
/// MetalLB's two spellings (`metallb.io/`, `metallb.universe.tf/`).
public struct ServiceAnnotations: Equatable, Sendable {
    public static let prefix = "ironlb.io/"
    public static let foreignPrefixes = ["metallb.io/", "metallb.universe.tf/"]

    public static let addressPool = "address-pool"
    public static let loadBalancerIPs = "loadBalancerIPs"
    public static let allowSharedIP = "allow-shared-ip"
    /// Written by the controller: the pool the Service's IPs came from.
    public static let allocatedFromPool = "ip-allocated-from-pool"

    public var addressPool: String?
    public var requestedIPs: [IPAddress] = []
    public var sharingKey: String?
    /// One line per MetalLB spelling in use, naming the IronLB spelling.
    public var warnings: [String] = []

    public struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
        public let annotation: String
        public let message: String
        public var description: String { "annotation \(annotation): \(message)" }
    }

    public init() {}

    /// Reads the annotations (and `spec.loadBalancerIP`, which they may not contradict).
    public static func parse(_ annotations: [String: String], loadBalancerIP: String? = nil) -> Result<ServiceAnnotations, Problem> {
        var result = ServiceAnnotations()
        func value(_ name: String) -> Result<String?, Problem> {
            var found: (key: String, value: String)?
            for prefix in [prefix] + foreignPrefixes {
                guard let value = annotations[prefix + name] else { continue }
                if let found, found.value != value {
                    return .failure(Problem(annotation: prefix + name, message: "\"\(value)\" contradicts \(found.key)=\"\(found.value)\""))
                }
                if prefix != Self.prefix {
                    result.warnings.append("annotation \(prefix + name) is MetalLB's spelling; use \(Self.prefix + name)")
                }
                if found == nil { found = (prefix + name, value) }
            }
            return .success(found?.value)
        }
        do {
            if let pool = try value(addressPool).get() {
                let trimmed = pool.trimmingSpaces
                guard !trimmed.isEmpty else { return .failure(Problem(annotation: prefix + addressPool, message: "is empty")) }
                result.addressPool = trimmed
            }
            if let key = try value(allowSharedIP).get() {
                let trimmed = key.trimmingSpaces
                guard !trimmed.isEmpty else { return .failure(Problem(annotation: prefix + allowSharedIP, message: "is empty")) }
                result.sharingKey = trimmed
            }
            if let list = try value(loadBalancerIPs).get() {
                for item in list.split(separator: ",", omittingEmptySubsequences: false) {
                    let text = String(item).trimmingSpaces
                    guard let ip = IPAddress(text) else {
                        return .failure(Problem(annotation: prefix + loadBalancerIPs, message: "\"\(text)\" is not an IP address"))
                    }
                    result.requestedIPs.append(ip)
                }
                if let loadBalancerIP, !loadBalancerIP.isEmpty {
                    return .failure(Problem(annotation: prefix + loadBalancerIPs, message: "and spec.loadBalancerIP are both set; keep only the annotation"))
                }
            } else if let loadBalancerIP, !loadBalancerIP.isEmpty {
                guard let ip = IPAddress(loadBalancerIP.trimmingSpaces) else {
                    return .failure(Problem(annotation: "spec.loadBalancerIP", message: "\"\(loadBalancerIP)\" is not an IP address"))
                }
                result.requestedIPs = [ip]
            }
        } catch {
            return .failure(error)
        }
        return .success(result)
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while let c = text.first, c == " " || c == "\t" { text = text.dropFirst() }
        while let c = text.last, c == " " || c == "\t" { text = text.dropLast() }
        return String(text)
    }
}
