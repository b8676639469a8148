// PacketIO: the layer-2 edge. AF_PACKET sockets bound per interface with a BPF filter that
// lets only ARP and ICMPv6 Neighbor Solicitations through (CPacketShim), IPv6 solicited-node
// group memberships (reference-counted, reported with MLD by the kernel), and interface
// discovery with getifaddrs. The decisions are LinkWire's; this module only moves bytes.
import CPacketShim
import Glibc
import LinkWire
import NetPrimitives

/// A failed system call, with its errno. `code` is fit for a metric label.
public struct PacketIOError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        case noSuchInterface
        case openFailed
        case sendFailed
        case receiveFailed
        case membershipFailed
        case discoveryFailed
    }

    public var code: Code
    public var errno: Int32
    public var detail: String

    public init(_ code: Code, errno: Int32 = Glibc.errno, detail: String = "") {
        self.code = code
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        "\(code.rawValue)\(detail.isEmpty ? "" : " \(detail)"): \(String(cString: strerror(errno)))"
    }
}

/// How the kernel classified a received frame (sll_pkttype).
public enum PacketType: Int32, Sendable {
    case host = 0, broadcast = 1, multicast = 2, otherHost = 3, outgoing = 4
}

/// One AF_PACKET socket bound to one interface. Not thread-safe: one owner reads and writes.
public final class PacketSocket {
    public let interfaceName: String
    public let interfaceIndex: Int32
    private let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 2048)
    private var receiveTimeout: Int32 = 0

    public init(interface name: String) throws(PacketIOError) {
        let index = if_nametoindex(name)
        guard index != 0 else { throw PacketIOError(.noSuchInterface, detail: name) }
        interfaceName = name
        interfaceIndex = Int32(index)
        let fd = cps_open(Int32(index))
        guard fd >= 0 else { throw PacketIOError(.openFailed, detail: name) }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Waits up to `timeoutMilliseconds` (> 0) for a frame; nil on timeout. Frames this
    /// host sent itself are returned too, typed `.outgoing`. One blocking recvfrom per frame.
    public func receive(timeoutMilliseconds: Int32) throws(PacketIOError) -> (bytes: [UInt8], type: PacketType)? {
        if timeoutMilliseconds != receiveTimeout {
            guard cps_set_receive_timeout(fd, max(1, timeoutMilliseconds)) == 0 else { throw PacketIOError(.receiveFailed, detail: interfaceName) }
            receiveTimeout = timeoutMilliseconds
        }
        var type: Int32 = 0
        let n = buffer.withUnsafeMutableBufferPointer { cps_receive(fd, $0.baseAddress, $0.count, &type, 1) }
        if n < 0 { throw PacketIOError(.receiveFailed, detail: interfaceName) }
        if n == 0 { return nil }
        return (Array(buffer[0..<n]), PacketType(rawValue: type) ?? .otherHost)
    }

    public func send(_ frame: [UInt8]) throws(PacketIOError) {
        let n = frame.withUnsafeBufferPointer { cps_send(fd, interfaceIndex, $0.baseAddress, $0.count) }
        guard n == frame.count else { throw PacketIOError(.sendFailed, detail: interfaceName) }
    }

    public func send(_ frame: LinkFrame) throws(PacketIOError) {
        try send(frame.bytes)
    }
}

/// Counts users of each key: `add` reports the first, `remove` the last. Solicited-node
/// groups are shared by VIPs with the same low 24 bits, and joined once.
public struct MembershipCounter<Key: Hashable>: Sendable where Key: Sendable {
    private var counts: [Key: Int] = [:]

    public init() {}

    /// True when `key` had no user before (join now).
    public mutating func add(_ key: Key) -> Bool {
        counts[key, default: 0] += 1
        return counts[key] == 1
    }

    /// True when `key` has no user left (leave now). Removing an absent key is a no-op.
    public mutating func remove(_ key: Key) -> Bool {
        guard let count = counts[key] else { return false }
        if count == 1 {
            counts[key] = nil
            return true
        }
        counts[key] = count - 1
        return false
    }

    public var keys: Set<Key> { Set(counts.keys) }
}

/// The IPv6 solicited-node groups this speaker listens to, per interface. Joining through
/// an AF_INET6 socket makes the kernel send MLD reports, so that switches doing MLD
/// snooping forward Neighbor Solicitations for the VIPs to this port.
public final class SolicitedNodeMemberships {
    private struct Key: Hashable, Sendable {
        var interfaceIndex: Int32
        var group: IPv6Address
    }

    private let fd: Int32
    private var counter = MembershipCounter<Key>()

    public init() throws(PacketIOError) {
        let fd = cps_open_ipv6_membership_socket()
        guard fd >= 0 else { throw PacketIOError(.openFailed, detail: "ipv6 membership socket") }
        self.fd = fd
    }

    deinit { close(fd) }

    public func join(vip: IPv6Address, interfaceIndex: Int32) throws(PacketIOError) {
        let key = Key(interfaceIndex: interfaceIndex, group: vip.solicitedNodeMulticast)
        guard counter.add(key) else { return }
        try set(key, join: true)
    }

    public func leave(vip: IPv6Address, interfaceIndex: Int32) throws(PacketIOError) {
        let key = Key(interfaceIndex: interfaceIndex, group: vip.solicitedNodeMulticast)
        guard counter.remove(key) else { return }
        try set(key, join: false)
    }

    private func set(_ key: Key, join: Bool) throws(PacketIOError) {
        let group = key.group.bytes
        let result = group.withUnsafeBufferPointer { cps_ipv6_group(fd, key.interfaceIndex, $0.baseAddress, join ? 1 : 0) }
        guard result == 0 else { throw PacketIOError(.membershipFailed, detail: "\(key.group)") }
    }
}
