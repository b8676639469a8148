import Foundation

/// Runs short commands to completion, for test set-up and queries.
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

    /// Runs `argv` and waits (bounded by `timeout` seconds, then the process is killed).
    @discardableResult
    public static func run(_ argv: [String], input: String? = nil, timeout: Double = 60) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try resolve(argv[0]))
        process.arguments = Array(argv.dropFirst())
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        let inPipe = Pipe()
        process.standardInput = inPipe
        try process.run()
        if let input { try? inPipe.fileHandleForWriting.write(contentsOf: Data(input.utf8)) }
        try? inPipe.fileHandleForWriting.close()
        // Drain both pipes concurrently so a chatty child never blocks on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter()
        DispatchQueue.global().async { outData = outPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = errPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(2_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        group.wait()
        return Output(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self)
        )
    }

    /// `run` on a thread of its own, for async tests. Swift's cooperative pool has one thread per
    /// core (two here); a test that waits for a process on one of them (python validating
    /// manifests, a chart render: tens of seconds on a loaded machine) holds it, and two such
    /// tests at once stop every other test's tasks, whose deadlines then pass for nothing.
    public static func output(of argv: [String], input: String? = nil, timeout: Double = 60) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try run(argv, input: input, timeout: timeout) }) }.start()
        }
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

    public static func which(_ name: String) -> String? {
        if name.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        // `.map(String.init)`: without it the literal below makes `split` produce [[Character]].
        for dir in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/lib/frr"] {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static func resolve(_ name: String) throws -> String {
        guard let path = which(name) else {
            throw Failure(command: [name], output: Output(status: 127, stdout: "", stderr: "\(name): not found"))
        }
        return path
    }
}

/// Polls `condition` every `interval` seconds until it holds or `timeout` seconds pass.
/// Returns whether it held. Bounded in time and in count.
public func poll(timeout: Double, interval: Double = 0.1, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    var attempts = 0
    let maxAttempts = Int(timeout / max(interval, 0.001)) + 2
    while attempts < maxAttempts {
        if try condition() { return true }
        attempts += 1
        if Date() >= deadline { break }
        usleep(UInt32(interval * 1_000_000))
    }
    return try condition()
}

/// The async form of `poll`, for tests that await.
public func poll(timeout: Double, interval: Double = 0.1, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    var attempts = 0
    let maxAttempts = Int(timeout / max(interval, 0.001)) + 2
    while attempts < maxAttempts {
        if try await condition() { return true }
        attempts += 1
        if Date() >= deadline { break }
        try? await Task.sleep(nanoseconds: UInt64(interval * 1_000_000_000))
    }
    return try await condition()
}
