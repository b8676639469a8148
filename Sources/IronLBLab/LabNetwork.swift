import Foundation
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
    private let created = Mutex<[String]>([])

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
        try await addNamespace(lan)
        try await run(["-n", lan, "link", "add", "br0", "type", "bridge"])
        try await run(["-n", lan, "link", "set", "br0", "up"])
        for member in nodes + [client] {
            if interrupted() { throw LabError.interrupted }
            try await addNamespace(member.namespace)
            try await run(["-n", lan, "link", "add", member.port, "type", "veth", "peer", "name", "eth0", "netns", member.namespace])
            try await run(["-n", lan, "link", "set", member.port, "master", "br0", "up"])
            try await run(["-n", member.namespace, "link", "set", "eth0", "address", member.mac])
            try await run(["-n", member.namespace, "addr", "add", member.address + "/24", "dev", "eth0"])
            try await run(["-n", member.namespace, "link", "set", "eth0", "up"])
        }
        if interrupted() { throw LabError.interrupted }
    }

    private func addNamespace(_ name: String) async throws {
        try await run(["netns", "add", name])
        created.withLock { $0.append(name) }
        try await run(["-n", name, "link", "set", "lo", "up"])
    }

    private func run(_ arguments: [String]) async throws {
        let output = try await LabShell.run([ip] + arguments)
        guard output.status == 0 else {
            throw LabError(code: "network", description: "ip \(arguments.joined(separator: " ")) failed: \(output.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// Deletes every namespace created (deleting the bridge namespace removes the veth pairs).
    /// Kill the processes inside first: a namespace lives on while a process or socket holds it.
    /// Returns the names deleted.
    @discardableResult
    func tearDown() -> [String] {
        let names = created.withLock { names in
            defer { names.removeAll() }
            return names
        }
        for name in names.reversed() { _ = LabShell.runSync([ip, "netns", "del", name]) }
        return names
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

/// Runs short commands (`ip`, `arping`) for the lab, output to files (never a pipe another child
/// could inherit and keep open).
enum LabShell {
    struct Output: Sendable {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The path of `name` on PATH, or nil.
    static func which(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        for directory in (path ?? "").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static func run(_ argv: [String]) async throws -> Output {
        let (process, files) = try prepare(argv)
        let status: Int32
        do {
            status = try await withCheckedThrowingContinuation { continuation in
                process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
                do { try process.run() } catch { continuation.resume(throwing: error) }
            }
        } catch {
            _ = finish(-1, files)
            throw error
        }
        return finish(status, files)
    }

    /// For tear-down paths that cannot await.
    static func runSync(_ argv: [String]) -> Output? {
        guard let (process, files) = try? prepare(argv) else { return nil }
        guard (try? process.run()) != nil else {
            _ = finish(-1, files)
            return nil
        }
        process.waitUntilExit()
        return finish(process.terminationStatus, files)
    }

    /// The output files of one command, closed and removed by `finish`.
    private struct Files {
        let out: String
        let err: String
        let handles: [FileHandle]
    }

    private static func prepare(_ argv: [String]) throws -> (Process, Files) {
        let base = NSTemporaryDirectory() + "ironlb-lab-cmd-\(getpid())-\(UUID().uuidString.prefix(8))"
        let out = base + ".out", err = base + ".err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        let handles = [FileHandle(forWritingAtPath: out), FileHandle(forWritingAtPath: err)].compactMap { $0 }
        guard handles.count == 2 else { throw LabError(code: "output", description: "cannot write \(base).out/.err") }
        process.standardOutput = handles[0]
        process.standardError = handles[1]
        process.standardInput = FileHandle.nullDevice
        return (process, Files(out: out, err: err, handles: handles))
    }

    private static func finish(_ status: Int32, _ files: Files) -> Output {
        // Closed here, not when the Process object goes away (it may outlive the call).
        for handle in files.handles { try? handle.close() }
        defer {
            try? FileManager.default.removeItem(atPath: files.out)
            try? FileManager.default.removeItem(atPath: files.err)
        }
        return Output(status: status, stdout: (try? String(contentsOfFile: files.out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: files.err, encoding: .utf8)) ?? "")
    }
}
