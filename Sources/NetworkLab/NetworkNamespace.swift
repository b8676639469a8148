import Foundation

/// A network namespace (`ip netns`), deleted by `destroy()`. Names carry the creating process's
/// PID so parallel runs never collide.
public final class NetworkNamespace: @unchecked Sendable {
    public let name: String

    private static let counter = Counter()

    /// A new namespace named `prefix-PID-N`.
    public convenience init(prefix: String) throws {
        try self.init(named: "\(prefix)-\(getpid())-\(Self.counter.next())")
    }

    /// A new namespace with exactly this name, its loopback up.
    public init(named name: String) throws {
        self.name = name
        try Shell.check(["ip", "netns", "add", name])
        do {
            try Shell.check(["ip", "-n", name, "link", "set", "lo", "up"])
        } catch {
            destroy()
            throw error
        }
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

    /// Makes this namespace a LAN: a bridge `br0`, up.
    public func addBridge() throws {
        try check(["ip", "link", "add", "br0", "type", "bridge"])
        try check(["ip", "link", "set", "br0", "up"])
    }

    /// Joins `member` to this namespace's bridge (`addBridge`): a veth pair with `port` here on
    /// `br0` and `eth0` in `member`, with `address` (CIDR) and, when given, `mac`.
    public func attach(_ member: NetworkNamespace, port: String, address: String, mac: String? = nil) throws {
        try link(port, to: member, as: "eth0")
        try Shell.check(["ip", "-n", name, "link", "set", port, "master", "br0"])
        if let mac { try Shell.check(["ip", "-n", member.name, "link", "set", "eth0", "address", mac]) }
        try member.addAddress(address, to: "eth0")
    }

    public func destroy() {
        _ = try? Shell.run(["ip", "netns", "del", name])
    }
}

/// A counter shared by threads: the serial numbers in namespace and link names.
public final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    public init() {}

    public func next() -> Int {
        lock.lock(); defer { lock.unlock() }
        value += 1
        return value
    }
}
