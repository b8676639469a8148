import NetPrimitives

/// A network interface as discovery reports it.
public struct InterfaceInfo: Hashable, Sendable {
    public var name: String
    public var mac: MACAddress
    public var addresses: [IPPrefix]
    public var isUp: Bool
    public var isLoopback: Bool
    public var isBroadcastCapable: Bool

    public init(name: String, mac: MACAddress, addresses: [IPPrefix] = [], isUp: Bool = true, isLoopback: Bool = false, isBroadcastCapable: Bool = true) {
        self.name = name
        self.mac = mac
        self.addresses = addresses
        self.isUp = isUp
        self.isLoopback = isLoopback
        self.isBroadcastCapable = isBroadcastCapable
    }
}

/// Which interfaces a VIP is answered and announced on.
public enum AnnounceInterfaces {
    /// Interfaces that never face the network the VIPs live on: container and CNI plumbing
    /// and kube-proxy's IPVS dummy. Shell-style patterns (`*`, `?`).
    public static let defaultExcludedPatterns = ["veth*", "docker*", "cali*", "cni*", "flannel*", "kube-ipvs*", "lxc*", "tunl*", "vxlan*"]

    /// The pool's `interfaces` list when it names any (limited to interfaces that are up);
    /// otherwise the candidate interfaces whose subnet holds the VIP; otherwise every
    /// candidate. Candidates are up, broadcast-capable, not loopback, and match no pattern in
    /// `excluding`. Host routes (/32, /128) are not subnets: kube-proxy in IPVS mode puts
    /// every VIP on `kube-ipvs0` as a /32, which must not pull the answers there.
    public static func select(
        for vip: IPAddress,
        among interfaces: [InterfaceInfo],
        configured: [String] = [],
        excluding patterns: [String] = defaultExcludedPatterns
    ) -> Set<String> {
        choose(for: vip, among: interfaces, configured: configured, excluding: patterns).names
    }

    /// The interfaces `select` picks, and whether it fell back to every candidate because no
    /// interface's subnet holds the VIP (worth a warning: the VIP is answered where it may not
    /// belong, and a router on another segment will not send to it).
    public struct Choice: Hashable, Sendable {
        public var names: Set<String>
        public var withoutSubnet: Bool
    }

    public static func choose(
        for vip: IPAddress,
        among interfaces: [InterfaceInfo],
        configured: [String] = [],
        excluding patterns: [String] = defaultExcludedPatterns
    ) -> Choice {
        let up = interfaces.filter { $0.isUp }
        if !configured.isEmpty {
            let wanted = Set(configured)
            return Choice(names: Set(up.lazy.map(\.name).filter { wanted.contains($0) }), withoutSubnet: false)
        }
        let candidates = up.filter { info in
            info.isBroadcastCapable && !info.isLoopback && !patterns.contains { globMatches($0, info.name) }
        }
        let onLink = candidates.filter { info in
            info.addresses.contains { $0.contains(vip) && $0.length < $0.family.bitWidth }
        }
        return Choice(names: Set((onLink.isEmpty ? candidates : onLink).map(\.name)), withoutSubnet: onLink.isEmpty && !candidates.isEmpty)
    }

    /// Shell-style matching of a whole name: `*` any run of characters, `?` one character.
    public static func globMatches(_ pattern: String, _ name: String) -> Bool {
        let p = Array(pattern.unicodeScalars), n = Array(name.unicodeScalars)
        var pi = 0, ni = 0
        var star: Int? = nil, resume = 0
        while ni < n.count {
            if pi < p.count, p[pi] == "?" || p[pi] == n[ni] {
                pi += 1; ni += 1
            } else if pi < p.count, p[pi] == "*" {
                star = pi; resume = ni; pi += 1
            } else if let s = star {
                pi = s + 1; resume += 1; ni = resume
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
