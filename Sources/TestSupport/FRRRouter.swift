import Foundation
import NetworkLab

/// FRR (zebra + bgpd) running in a namespace with its own sockets and config directory,
/// stopped by PID.
public final class FRRRouter: @unchecked Sendable {
    public let namespace: NetworkNamespace
    public let directory: String
    private var processes: [ManagedProcess] = []

    /// An FRR configuration for a router at 192.0.2.1 in `asn` that peers with the speakers at
    /// `neighbors` (AS `speakerASN`; the same AS makes iBGP), with 3/9 s timers, a 2 s connect
    /// retry, up to 8 ECMP paths and the given address families activated.
    public static func speakerPeering(asn: UInt32 = 65001, speakerASN: UInt32 = 64512, neighbors: [String],
                                      families: [String] = ["ipv4"]) -> String {
        var lines = ["frr defaults traditional", "hostname rtr", "!", "router bgp \(asn)", " bgp router-id 192.0.2.1"]
        if asn != speakerASN { lines.append(" no bgp ebgp-requires-policy") }
        lines.append(" no bgp network import-check")
        for neighbor in neighbors {
            lines += [" neighbor \(neighbor) remote-as \(speakerASN)", " neighbor \(neighbor) timers 3 9", " neighbor \(neighbor) timers connect 2"]
        }
        for family in families {
            lines += [" !", " address-family \(family) unicast", asn == speakerASN ? "  maximum-paths ibgp 8" : "  maximum-paths 8"]
            lines += neighbors.map { "  neighbor \($0) activate" }
            lines.append(" exit-address-family")
        }
        lines.append("!")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `daemons` after zebra: `bgpd`, and `bfdd` for `neighbor X bfd` and `bfd` blocks.
    public init(namespace: NetworkNamespace, config: String, daemons: [String] = ["bgpd"]) throws {
        self.namespace = namespace
        directory = NSTemporaryDirectory() + "ironlb-frr-\(namespace.name)"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try config.write(toFile: directory + "/frr.conf", atomically: true, encoding: .utf8)
        try "".write(toFile: directory + "/vtysh.conf", atomically: true, encoding: .utf8)
        try Shell.check(["chmod", "755", directory])
        try Shell.check(["chown", "-R", "frr:frr", directory])
        for daemon in ["zebra"] + daemons {
            processes.append(try ManagedProcess(["/usr/lib/frr/\(daemon)", "-f", directory + "/frr.conf",
                                                 "-i", directory + "/\(daemon).pid", "-z", directory + "/zserv.api",
                                                 "--vty_socket", directory, "-P", "0", "--log", "file:\(directory)/\(daemon).log"],
                                                namespace: namespace, logDirectory: directory))
            _ = pollBlocking(timeout: 60, interval: 0.1) { FileManager.default.fileExists(atPath: directory + "/\(daemon).vty") }
        }
    }

    public func vtysh(_ command: String) throws -> String {
        try namespace.check(["/usr/bin/vtysh", "--vty_socket", directory, "-c", command])
    }

    public func json(_ command: String) -> [String: Any]? {
        guard let text = try? vtysh(command), let data = text.data(using: .utf8) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// The best path FRR holds for `prefix`, or nil.
    public func path(_ prefix: String, family: String) -> [String: Any]? {
        guard let route = json("show bgp \(family) unicast \(prefix) json"),
              let paths = route["paths"] as? [[String: Any]] else { return nil }
        return paths.first
    }

    /// Every path FRR holds for `prefix` (several with ECMP), or [].
    public func paths(_ prefix: String, family: String) -> [[String: Any]] {
        guard let route = json("show bgp \(family) unicast \(prefix) json") else { return [] }
        return route["paths"] as? [[String: Any]] ?? []
    }

    /// The next-hop addresses of every path for `prefix`.
    public func nextHops(_ prefix: String, family: String) -> Set<String> {
        Set(paths(prefix, family: family).flatMap { ($0["nexthops"] as? [[String: Any]] ?? []).compactMap { $0["ip"] as? String } })
    }

    public func neighborState(_ address: String) -> String? {
        guard let neighbors = json("show bgp neighbors \(address) json"),
              let neighbor = neighbors[address] as? [String: Any] else { return nil }
        return neighbor["bgpState"] as? String
    }

    /// Sends `signal` to the daemons (SIGSTOP freezes the router for hold-timer tests).
    public func signal(_ signal: Int32) {
        for process in processes { process.signal(signal) }
    }

    public func stop() {
        for process in processes.reversed() { process.stop() }
        processes = []
    }

    deinit { stop() }
}
