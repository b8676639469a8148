// TestSupport: what integration tests share: gating on prerequisites (root, commands,
// network namespaces), network namespaces with veth links, managed child processes and
// bounded polling. Only test targets and benchmarks depend on it.
import Foundation
import NetworkLab
import Testing

/// Something an integration test needs from the machine.
public enum Prerequisite: Sendable, CustomStringConvertible {
    /// Running as root (network namespaces, raw sockets, daemons).
    case root
    /// An executable on `PATH` (or an absolute path).
    case command(String)
    /// `ip netns add` works here.
    case networkNamespaces

    public var description: String {
        switch self {
        case .root: return "root privileges"
        case .command(let name): return "the command \(name)"
        case .networkNamespaces: return "network namespaces (ip netns)"
        }
    }

    func isMet() -> Bool {
        switch self {
        case .root: return geteuid() == 0
        case .command(let name): return Shell.which(name) != nil
        case .networkNamespaces:
            guard geteuid() == 0, Shell.which("ip") != nil else { return false }
            let probe = "ironlb-probe-\(getpid())-\(ProbeCounter.next())"
            guard (try? Shell.run(["ip", "netns", "add", probe]))?.status == 0 else { return false }
            _ = try? Shell.run(["ip", "netns", "del", probe])
            return true
        }
    }
}

public enum Prerequisites {
    /// True when running under CI (`CI=true`): there a missing prerequisite is a failure.
    public static var isCI: Bool {
        let value = ProcessInfo.processInfo.environment["CI"]?.lowercased()
        return value == "true" || value == "1"
    }

    /// Returns true when every prerequisite is met. Otherwise, under CI, records a test
    /// failure naming what is missing; outside CI, prints a visible SKIP line. Use as
    /// `guard Prerequisites.require(.root, .command("arping")) else { return }`.
    public static func require(
        _ needs: Prerequisite...,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Bool {
        let missing = needs.filter { !$0.isMet() }
        guard !missing.isEmpty else { return true }
        let reason = "missing " + missing.map(\.description).joined(separator: ", ")
        if isCI {
            Issue.record("CI=true and a prerequisite is \(reason)", sourceLocation: sourceLocation)
        } else {
            print("SKIP: \(sourceLocation.fileID):\(sourceLocation.line): \(reason)")
        }
        return false
    }
}

/// Distinct names for concurrent namespace probes within one process.
enum ProbeCounter {
    private static let counter = Counter()
    static func next() -> Int { counter.next() }
}
