import Foundation

/// Runs short commands (`ip`, `arping`, `curl`, ...) to completion, for the lab's network and
/// for test set-up and queries. Output goes to files, never to a pipe another child (a daemon
/// the command starts) could inherit and keep open.
public enum Shell {
    public struct Output: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public let command: [String]
        public let output: Output
        public var description: String {
            "\(command.joined(separator: " ")) exited \(output.status): \(output.stderr)\(output.stdout)"
        }
    }

    /// Where `which` looks after PATH: the sbin directories and FRR's daemons.
    public static let extraDirectories = ["/usr/sbin", "/sbin", "/usr/lib/frr"]

    /// Runs `argv` and waits (bounded by `timeout` seconds, then the process is killed).
    @discardableResult
    public static func run(_ argv: [String], input: String? = nil, timeout: Double = 60) throws -> Output {
        let (process, files) = try prepare(argv, input: input)
        do { try process.run() } catch {
            _ = finish(-1, files)
            throw error
        }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(2_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return finish(process.terminationStatus, files)
    }

    /// `run` on a thread of its own, for async callers. Swift's cooperative pool has one thread
    /// per core (two here); a caller that waits for a process on one of them (python validating
    /// manifests, a chart render: tens of seconds on a loaded machine) holds it, and two such
    /// waits at once stop every other task, whose deadlines then pass for nothing.
    public static func output(of argv: [String], input: String? = nil, timeout: Double = 60) async throws -> Output {
        try await offCooperativePool { try run(argv, input: input, timeout: timeout) }
    }

    /// `check` on a thread of its own (see `output(of:)`).
    @discardableResult
    public static func checkedOutput(of argv: [String], input: String? = nil, timeout: Double = 60) async throws -> String {
        let output = try await output(of: argv, input: input, timeout: timeout)
        guard output.status == 0 else { throw Failure(command: argv, output: output) }
        return output.stdout
    }

    /// Runs `argv` and throws unless it exits 0; returns its standard output.
    @discardableResult
    public static func check(_ argv: [String], input: String? = nil, timeout: Double = 60) throws -> String {
        let output = try run(argv, input: input, timeout: timeout)
        guard output.status == 0 else { throw Failure(command: argv, output: output) }
        return output.stdout
    }

    /// The path of `name`: itself when absolute, else the first executable in `path`'s
    /// directories, then in `extra`; nil when there is none.
    public static func which(
        _ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"], extra: [String] = extraDirectories
    ) -> String? {
        if name.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = path ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        // `.map(String.init)`: without it the literal below makes `split` produce [[Character]].
        for directory in path.split(separator: ":").map(String.init) + extra {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// `which(name)`, or a `Failure` with status 127.
    public static func resolve(_ name: String) throws -> String {
        guard let path = which(name) else {
            throw Failure(command: [name], output: Output(status: 127, stdout: "", stderr: "\(name): not found"))
        }
        return path
    }

    /// The files of one command, closed and removed by `finish`.
    private struct Files {
        let paths: [String]
        let handles: [FileHandle]
    }

    private static func prepare(_ argv: [String], input: String?) throws -> (Process, Files) {
        let base = NSTemporaryDirectory() + "ironlb-shell-\(getpid())-\(UUID().uuidString.prefix(8))"
        let out = base + ".out", err = base + ".err", inputPath = base + ".in"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        var paths = [out, err]
        var handles = [FileHandle(forWritingAtPath: out), FileHandle(forWritingAtPath: err)].compactMap { $0 }
        guard handles.count == 2 else {
            for handle in handles { try? handle.close() }
            for path in paths { try? FileManager.default.removeItem(atPath: path) }
            throw Failure(command: argv, output: Output(status: -1, stdout: "", stderr: "cannot write \(base).out/.err"))
        }
        let process = Process()
        let files: Files
        if let input {
            _ = FileManager.default.createFile(atPath: inputPath, contents: Data(input.utf8))
            paths.append(inputPath)
            if let reader = FileHandle(forReadingAtPath: inputPath) { handles.append(reader) }
            files = Files(paths: paths, handles: handles)
            process.standardInput = handles.count == 3 ? handles[2] : FileHandle.nullDevice
        } else {
            files = Files(paths: paths, handles: handles)
            process.standardInput = FileHandle.nullDevice
        }
        do {
            process.executableURL = URL(fileURLWithPath: try resolve(argv[0]))
        } catch {
            _ = finish(127, files)
            throw error
        }
        process.arguments = Array(argv.dropFirst())
        process.standardOutput = handles[0]
        process.standardError = handles[1]
        return (process, files)
    }

    private static func finish(_ status: Int32, _ files: Files) -> Output {
        // Closed here, not when the Process object goes away (it may outlive the call).
        for handle in files.handles { try? handle.close() }
        defer { for path in files.paths { try? FileManager.default.removeItem(atPath: path) } }
        func text(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
        return Output(status: status, stdout: text(files.paths[0]), stderr: text(files.paths[1]))
    }
}
