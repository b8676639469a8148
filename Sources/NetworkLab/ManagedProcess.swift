import Foundation

/// A long-running child process (a router daemon, a speaker) owned by one test or by the lab:
/// output goes to files, and `stop()` kills it by PID (never by name: other tests run the same
/// programs).
public final class ManagedProcess: @unchecked Sendable {
    public let argv: [String]
    public let stdoutPath: String
    public let stderrPath: String
    private let process = Process()

    /// Starts `argv`, inside `namespace` when given, its output in two new files in `logDirectory`.
    public convenience init(_ argv: [String], namespace: NetworkNamespace? = nil, environment: [String: String] = [:], logDirectory: String = NSTemporaryDirectory()) throws {
        let full = (namespace.map { ["ip", "netns", "exec", $0.name] } ?? []) + argv
        let base = "\(logDirectory)/ironlb-proc-\(getpid())-\(UUID().uuidString.prefix(8))"
        try self.init(full, environment: environment, stdoutPath: base + ".out", stderrPath: base + ".err", onExit: nil)
    }

    /// Starts `argv` with its standard output and error in the one file `logPath`; `onExit`
    /// gets its exit status when it ends.
    public convenience init(_ argv: [String], logPath: String, onExit: @escaping @Sendable (Int32) -> Void) throws {
        try self.init(argv, environment: [:], stdoutPath: logPath, stderrPath: logPath, onExit: onExit)
    }

    private init(_ argv: [String], environment: [String: String], stdoutPath: String, stderrPath: String, onExit: (@Sendable (Int32) -> Void)?) throws {
        self.argv = argv
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        if stderrPath != stdoutPath { _ = FileManager.default.createFile(atPath: stderrPath, contents: nil) }
        process.executableURL = URL(fileURLWithPath: try Shell.resolve(argv[0]))
        process.arguments = Array(argv.dropFirst())
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let output = FileHandle(forWritingAtPath: stdoutPath)
        process.standardOutput = output
        process.standardError = stderrPath == stdoutPath ? output : FileHandle(forWritingAtPath: stderrPath)
        process.standardInput = FileHandle.nullDevice
        if let onExit { process.terminationHandler = { onExit($0.terminationStatus) } }
        try Self.withUnblockedSignals { try process.run() }
    }

    /// The child inherits the spawning thread's signal mask, and the threads async tests run
    /// on (libdispatch workers, NIO event loops) block nearly every signal: a daemon that
    /// does not unblock them itself (BIRD, FRR) would never see `stop()`'s SIGTERM and be
    /// SIGKILLed after the timeout instead. Spawn with an empty mask.
    private static func withUnblockedSignals<T>(_ body: () throws -> T) rethrows -> T {
        var none = sigset_t(), saved = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        return try body()
    }

    public var pid: Int32 { process.processIdentifier }

    /// The names of the process's threads now (`/proc/<pid>/task/*/comm`); empty once it exited.
    public func threadNames() -> [String] {
        let tasks = "/proc/\(pid)/task"
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
        return ids.compactMap { id in
            (try? String(contentsOfFile: "\(tasks)/\(id)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
    public var isRunning: Bool { process.isRunning }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) {
        if process.isRunning { kill(pid, signal) }
    }

    /// Sends `signal`, waits up to `timeout` seconds, then SIGKILLs. Returns the exit status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Double = 10) -> Int32 {
        self.signal(signal)
        _ = pollBlocking(timeout: timeout, interval: 0.05) { !process.isRunning }
        return killed()
    }

    /// SIGKILLs the process if it still runs and reaps it (a SIGKILLed process exits at once);
    /// the exit status.
    private func killed() -> Int32 {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    /// `stop` for async code: the wait does not hold a cooperative pool thread (see `pollBlocking`).
    /// `stop` itself stays synchronous for `defer` blocks, which cannot await.
    @discardableResult
    public func stopped(signal: Int32 = SIGTERM, timeout: Double = 10) async -> Int32 {
        self.signal(signal)
        _ = await poll(timeout: timeout, interval: 0.05) { !process.isRunning }
        return killed()
    }

    /// Waits up to `timeout` seconds for the process to exit by itself.
    @available(*, noasync, message: "blocks a cooperative pool thread; await exited(timeout:)")
    public func waitForExit(timeout: Double) -> Int32? {
        guard pollBlocking(timeout: timeout, interval: 0.05, { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }

    /// Waits up to `timeout` seconds for the process to exit by itself, without holding a thread.
    public func exited(timeout: Double) async -> Int32? {
        guard await poll(timeout: timeout, interval: 0.05, { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
    }
}
