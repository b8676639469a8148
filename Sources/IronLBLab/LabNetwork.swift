import Foundation
import NetworkLab
import Synchronization

/// The network of `ironlb lab --layer2`: a bridge namespace, one namespace per simulated node and
/// a client namespace, each joined to the bridge by a veth pair, on the documentation link
/// 192.0.2.0/24. Every namespace carries the lab's PID in its name; `tearDown` deletes the ones
/// created so far (also after a failed or interrupted set-up).
final class LabNetwork: Sendable {
    /// One namespace on the bridge: a node or the client.
    struct Member: Sendable {
        let name: String
        let namespace: String
        let address: String
        let mac: String
        /// The bridge's end of the veth pair (the member's end is `eth0`).
        let port: String
    }

    let lan: String
    let nodes: [Member]
    let client: Member
    let ip: String
    private let created = Mutex<[NetworkNamespace]>([])

    /// The names only; nothing is created before `setUp`.
    init(prefix: String, nodes names: [String], ip: String) {
        let base = "\(prefix)-\(getpid())"
        lan = base + "-lan"
        nodes = names.enumerated().map { index, name in
            Member(name: name, namespace: "\(base)-node\(index + 1)", address: "192.0.2.\(11 + index)",
                   mac: String(format: "02:00:00:00:00:%02x", 0x11 + index), port: "p-node\(index + 1)")
        }
        client = Member(name: "client", namespace: base + "-client", address: "192.0.2.50", mac: "02:00:00:00:00:50", port: "p-client")
        self.ip = ip
    }

    var namespaces: [String] { [lan] + nodes.map(\.namespace) + [client.namespace] }

    /// The node whose interface has this MAC.
    func node(withMAC mac: String) -> String? { nodes.first { $0.mac == mac.lowercased() }?.name }

    /// Creates the namespaces, the bridge and the links. `interrupted` is asked between steps;
    /// when it says so, set-up stops with `LabError.interrupted` (call `tearDown` after any error).
    func setUp(interrupted: @Sendable () -> Bool) async throws {
        do {
            let bridge = try addNamespace(lan)
            try bridge.addBridge()
            for member in nodes + [client] {
                if interrupted() { throw LabError.interrupted }
                try bridge.attach(try addNamespace(member.namespace), port: member.port, address: member.address + "/24", mac: member.mac)
            }
        } catch let failure as Shell.Failure {
            throw LabError(code: "network", description: "\(failure.command.joined(separator: " ")) failed: \(failure.output.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        if interrupted() { throw LabError.interrupted }
    }

    private func addNamespace(_ name: String) throws -> NetworkNamespace {
        let namespace = try NetworkNamespace(named: name)
        created.withLock { $0.append(namespace) }
        return namespace
    }

    /// Deletes every namespace created (deleting the bridge namespace removes the veth pairs).
    /// Kill the processes inside first: a namespace lives on while a process or socket holds it.
    /// Returns the names deleted.
    @discardableResult
    func tearDown() -> [String] {
        let namespaces = created.withLock { namespaces in
            defer { namespaces.removeAll() }
            return namespaces
        }
        for namespace in namespaces.reversed() { namespace.destroy() }
        return namespaces.map(\.name)
    }
}

/// Why the lab stopped early: a code (fit for a log label) and what to do about it.
struct LabError: Error, CustomStringConvertible {
    let code: String
    let description: String

    static let interrupted = LabError(code: "interrupted", description: "interrupted while starting; everything created so far was removed")

    /// What `--layer2` needs from the machine and is missing, each with what to run; empty when
    /// everything is there.
    static func layer2Missing(isRoot: Bool, ip: String?, arping: String?) -> [String] {
        var missing: [String] = []
        if !isRoot {
            missing.append("root privileges: --layer2 creates network namespaces, a bridge and veth links, and the speakers open packet sockets. Run it with sudo, e.g. `swift build && sudo .build/debug/ironlb lab --layer2` (or `ironlb lab` without --layer2, which needs no root)")
        }
        if ip == nil { missing.append("the `ip` command (iproute2) on PATH: `apt-get install iproute2`") }
        if arping == nil { missing.append("the `arping` command on PATH: `apt-get install arping` (or iputils-arping)") }
        return missing
    }
}
