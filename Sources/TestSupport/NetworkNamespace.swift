import Foundation

/// A network namespace created for one test, deleted by `destroy()` (call it in a `defer`).
/// Names carry the creating process's PID so parallel runs never collide.
public final class NetworkNamespace: @unchecked Sendable {
    public let name: String

    private static let counter = Counter()

    public init(prefix: String) throws {
        let serial = Self.counter.next()
        name = "\(prefix)-\(getpid())-\(serial)"
        try Shell.check(["ip", "netns", "add", name])
        try Shell.check(["ip", "-n", name, "link", "set", "lo", "up"])
    }

    /// `ip netns exec NAME argv...` to completion.
    @discardableResult
    public func run(_ argv: [String], timeout: Double = 60) throws -> Shell.Output {
        try Shell.run(["ip", "netns", "exec", name] + argv, timeout: timeout)
    }

    /// Like `run`, but throws unless the command exits 0.
    @discardableResult
    public func check(_ argv: [String], timeout: Double = 60) throws -> String {
        try Shell.check(["ip", "netns", "exec", name] + argv, timeout: timeout)
    }

    /// Adds an address (IPv6 with `nodad` so it is usable at once) to an interface.
    public func addAddress(_ cidr: String, to interface: String) throws {
        var argv = ["ip", "-n", name, "addr", "add", cidr, "dev", interface]
        if cidr.contains(":") { argv.append("nodad") }
        try Shell.check(argv)
    }

    /// Creates a veth pair with `localName` here and `peerName` in `peer`, both up.
    public func link(_ localName: String, to peer: NetworkNamespace, as peerName: String) throws {
        let tmp = "v\(getpid() % 100000)\(Self.counter.next())"
        try Shell.check(["ip", "link", "add", tmp, "type", "veth", "peer", "name", tmp + "p"])
        try Shell.check(["ip", "link", "set", tmp, "netns", name])
        try Shell.check(["ip", "link", "set", tmp + "p", "netns", peer.name])
        try Shell.check(["ip", "-n", name, "link", "set", tmp, "name", localName])
        try Shell.check(["ip", "-n", peer.name, "link", "set", tmp + "p", "name", peerName])
        try Shell.check(["ip", "-n", name, "link", "set", localName, "up"])
        try Shell.check(["ip", "-n", peer.name, "link", "set", peerName, "up"])
    }

    public func destroy() {
        _ = try? Shell.run(["ip", "netns", "del", name])
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.lock(); defer { lock.unlock() }
        value += 1
        return value
    }
}
