import Foundation
import NetworkLab

/// A long-running child process (a router daemon, a speaker) owned by one test: output goes to
/// files, and `stop()` kills it by PID (never by name: other tests run the same programs).
public final class ManagedProcess: @unchecked Sendable {
    public let argv: [String]
    public let stdoutPath: String
    public let stderrPath: String
    private let process = Process()

    /// Starts `argv`, inside `namespace` when given.
    public init(_ argv: [String], namespace: NetworkNamespace? = nil, environment: [String: String] = [:], logDirectory: String = NSTemporaryDirectory()) throws {
        let full = (namespace.map { ["ip", "netns", "exec", $0.name] } ?? []) + argv
        self.argv = full
        let base = "\(logDirectory)/ironlb-proc-\(getpid())-\(UUID().uuidString.prefix(8))"
        stdoutPath = base + ".out"
        stderrPath = base + ".err"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: try Shell.resolve(full[0]))
        process.arguments = Array(full.dropFirst())
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardInput = FileHandle.nullDevice
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
        _ = poll(timeout: timeout, interval: 0.05) { !process.isRunning }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    /// Waits up to `timeout` seconds for the process to exit by itself.
    public func waitForExit(timeout: Double) -> Int32? {
        guard poll(timeout: timeout, interval: 0.05, { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
    }
}
