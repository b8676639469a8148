import CPacketShim
import Glibc
import LinkWire
import NetPrimitives

/// The host's interfaces from getifaddrs: name, MAC (from the AF_PACKET entry), addresses
/// with their prefix lengths, and the up/loopback/broadcast flags. Callers rescan
/// periodically (or on netlink notifications) and diff.
public enum InterfaceDiscovery {
    public static func scan() throws(PacketIOError) -> [InterfaceInfo] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { throw PacketIOError(.discoveryFailed) }
        defer { freeifaddrs(head) }
        var byName: [String: InterfaceInfo] = [:]
        var order: [String] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            cursor = entry.pointee.ifa_next
            let name = String(cString: entry.pointee.ifa_name)
            let flags = Int32(bitPattern: entry.pointee.ifa_flags)
            if byName[name] == nil {
                order.append(name)
                byName[name] = InterfaceInfo(
                    name: name, mac: .zero, addresses: [],
                    isUp: flags & Int32(IFF_UP) != 0,
                    isLoopback: flags & Int32(IFF_LOOPBACK) != 0,
                    isBroadcastCapable: flags & Int32(IFF_BROADCAST) != 0
                )
            }
            guard let address = entry.pointee.ifa_addr else { continue }
            switch Int32(address.pointee.sa_family) {
            case AF_PACKET:
                var bytes = [UInt8](repeating: 0, count: 6)
                if cps_link_address(address, &bytes) == 1 { byName[name]?.mac = MACAddress(bytes: bytes) ?? .zero }
            case AF_INET, AF_INET6:
                if let ip = ipAddress(address), let mask = entry.pointee.ifa_netmask.flatMap(ipAddress) {
                    let length = mask.bytes.reduce(0) { $0 + $1.nonzeroBitCount }
                    byName[name]?.addresses.append(IPPrefix(containing: ip, length: length))
                }
            default:
                break
            }
        }
        return order.compactMap { byName[$0] }
    }

    static func ipAddress(_ address: UnsafeMutablePointer<sockaddr>) -> IPAddress? {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                .v4(IPv4Address(rawValue: UInt32(bigEndian: sin.pointee.sin_addr.s_addr)))
            }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                let bytes = withUnsafeBytes(of: sin6.pointee.sin6_addr) { Array($0) }
                return IPv6Address(bytes: bytes).map(IPAddress.v6)
            }
        default:
            return nil
        }
    }
}
