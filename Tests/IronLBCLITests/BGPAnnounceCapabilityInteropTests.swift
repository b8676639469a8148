import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The BGP client opens its TCP connection with only the capabilities the speaker's pod keeps
/// (UID 0, `CAP_NET_RAW`, no_new_privs): no socket option it sets may need more. It once set
/// `.socketOption(.tcp_nodelay)`, i.e. setsockopt(SOL_SOCKET, SO_DEBUG), which needs
/// CAP_NET_ADMIN: root never noticed, the image's speaker never connected (EACCES).
@Suite(.serialized) struct BGPAnnounceCapabilityInteropTests {
    @Test func connectsWithOnlyTheSpeakersCapabilities() throws {
        guard Prerequisites.require(.root, .command("capsh")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }

        // A TCP listener on loopback, on a port the kernel picks.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && listen(listener, 4) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))

        // UID 0 with CAP_NET_RAW only in every set, no_new_privs: the manifest's speaker.
        let last = Int(try String(contentsOfFile: "/proc/sys/kernel/cap_last_cap", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 40
        let dropped = (0...last).filter { $0 != 13 }.map(String.init).joined(separator: ",")
        let capsh = Shell.which("capsh") ?? "/usr/sbin/capsh"
        let speaker = try ManagedProcess([capsh, "--drop=" + dropped, "--inh=", "--uid=0", "--no-new-privs", "--shell=" + ironlb, "--",
                                          "bgp", "announce", "--peer", "127.0.0.1", "--peer-port", "\(port)", "--peer-asn", "65001",
                                          "--local-asn", "64512", "--router-id", "192.0.2.2", "--prefix", "198.51.100.10/32"])
        defer { _ = speaker.stop() }

        var accepted: Int32 = -1
        let connected = pollBlocking(timeout: 30, interval: 0.1) {
            accepted = accept(listener, nil, nil)
            return accepted >= 0
        }
        if accepted >= 0 { close(accepted) }
        #expect(connected, "no connection from `ironlb bgp announce` with CAP_NET_RAW only: \(speaker.stderr)")
    }
}
