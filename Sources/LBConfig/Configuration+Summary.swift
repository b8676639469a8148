import NetPrimitives

extension AddressPool {
    /// One line for people: `default: layer2, 11 addresses (198.51.100.240-198.51.100.250)`.
    public var summary: String {
        var parts = ["\(name): \(`protocol`.rawValue)"]
        let families = families.sorted()
        if families.count > 1 {
            parts.append("\(addressCount) addresses (" + families.map { "\(addressCount(family: $0)) \($0)" }.joined(separator: ", ") + ")")
        } else {
            parts.append("\(addressCount) \(addressCount == 1 ? "address" : "addresses")")
        }
        if !autoAssign { parts.append("auto-assign off") }
        if avoidBuggyIPs { parts.append("avoiding .0 and .255") }
        return parts.joined(separator: ", ")
    }
}

extension Configuration {
    /// One line per pool, then one line for the peers when there are any.
    public var summaryLines: [String] {
        var lines = pools.map { "pool \($0.summary)" }
        if !peers.isEmpty {
            lines.append("\(peers.count) BGP \(peers.count == 1 ? "peer" : "peers"): " + peers.map { "\($0.address) AS\($0.peerASN)" }.joined(separator: ", "))
        }
        for profile in bfdProfiles {
            let users = peers.filter { $0.bfdProfile == profile.name }.map { "\($0.address)" }
            var line = "BFD profile \(profile.name): receive \(profile.receiveInterval) ms, transmit \(profile.transmitInterval) ms, "
                + "multiplier \(profile.detectMultiplier)"
            if profile.passiveMode { line += ", passive" }
            line += users.isEmpty ? ", no peer uses it" : ", peers " + users.joined(separator: ", ")
            lines.append(line)
        }
        if pools.isEmpty { lines.append("no address pools: Services of type LoadBalancer will wait for an address") }
        return lines
    }
}
