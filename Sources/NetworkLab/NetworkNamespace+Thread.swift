import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension NetworkNamespace {
    /// Moves the calling thread (only it) into this namespace with setns(2): sockets it
    /// creates afterwards live there. Meant for a dedicated thread, such as a one-thread
    /// NIO event loop group that an in-process speaker then uses inside the namespace.
    public func enterOnCurrentThread() throws {
        try Self.enterOnCurrentThread(name)
    }

    /// Moves the calling thread into the namespace `ip netns` calls `name`.
    public static func enterOnCurrentThread(_ name: String) throws {
        #if canImport(Glibc)
        typealias SetNS = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(nil, "setns") else { throw NamespaceError(message: "setns(2) is not available") }
        let setns = unsafeBitCast(symbol, to: SetNS.self)
        let fd = open("/var/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NamespaceError(message: "cannot open the namespace \(name): errno \(errno)") }
        defer { close(fd) }
        let cloneNewNet: Int32 = 0x4000_0000   // CLONE_NEWNET, <linux/sched.h>
        guard setns(fd, cloneNewNet) == 0 else { throw NamespaceError(message: "cannot enter the namespace \(name): errno \(errno)") }
        #else
        throw NamespaceError(message: "network namespaces need Linux")
        #endif
    }
}

public struct NamespaceError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
