#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn` (Foundation's Process would link ICU): standard
/// input and error on /dev/null, standard output on a pipe the caller reads and closes. Used for
/// exec credential plugins.
struct ChildProcess {
    struct SpawnError: Error, CustomStringConvertible {
        var code: Int32
        var description: String { "cannot start: \(String(cString: strerror(code)))" }
    }

    let identifier: pid_t
    /// The read end of the child's standard output.
    let output: Int32

    /// Starts `arguments[0]` (a path) with `arguments` and exactly `environment`.
    init(arguments: [String], environment: [String: String]) throws(SpawnError) {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw SpawnError(code: errno) }
        _ = fcntl(pipeEnds[0], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, arguments[0], &actions, nil, argv, envp)
        close(pipeEnds[1])
        guard result == 0 else {
            close(pipeEnds[0])
            throw SpawnError(code: result)
        }
        identifier = child
        output = pipeEnds[0]
    }

    /// Waits for the child to end: its exit status, or the signal that ended it (as Process did).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(identifier, &status, 0) < 0 {
            guard errno == EINTR else { return -1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : signal
    }
}
