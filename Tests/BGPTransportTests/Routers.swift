import Foundation
import TestSupport

/// A router daemon under test, in its own namespace at 192.0.2.1 / 2001:db8::1, AS 65001
/// (or the AS given), peering with the speaker at 192.0.2.2.
protocol TestRouter: AnyObject, Sendable {
    static var name: String { get }
    static var commands: [String] { get }
    init(namespace: NetworkNamespace, speakerASN: UInt32, routerASN: UInt32, password: String?) throws
    /// The session with the speaker is Established, as the router sees it.
    var sessionUp: Bool { get }
    /// The router's view of a prefix as text (empty when it has no route), for assertions.
    func route(_ prefix: String) -> String
    func pause()
    func resume()
    func stop()
}

extension TestRouter {
    func has(_ prefix: String) -> Bool { !route(prefix).isEmpty }
}

final class FRRTestRouter: TestRouter, @unchecked Sendable {
    static let name = "FRR"
    static let commands = ["/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "/usr/bin/vtysh"]
    let frr: FRRRouter
    private let namespace: NetworkNamespace

    init(namespace: NetworkNamespace, speakerASN: UInt32, routerASN: UInt32, password: String?) throws {
        self.namespace = namespace
        frr = try FRRRouter(namespace: namespace, config: """
        frr defaults traditional
        hostname rtr
        !
        router bgp \(routerASN)
         bgp router-id 192.0.2.1
         no bgp ebgp-requires-policy
         neighbor 192.0.2.2 remote-as \(speakerASN)
         neighbor 192.0.2.2 passive
         neighbor 192.0.2.2 timers 3 9
        \(password.map { " neighbor 192.0.2.2 password \($0)" } ?? "")
         !
         address-family ipv4 unicast
          neighbor 192.0.2.2 activate
         exit-address-family
         !
         address-family ipv6 unicast
          neighbor 192.0.2.2 activate
         exit-address-family
        !
        """)
    }

    var sessionUp: Bool { frr.neighborState("192.0.2.2") == "Established" }

    func route(_ prefix: String) -> String {
        let family = prefix.contains(":") ? "ipv6" : "ipv4"
        guard let path = frr.path(prefix, family: family) else { return "" }
        return "\(path)"
    }

    func pause() { frr.signal(SIGSTOP) }
    func resume() { frr.signal(SIGCONT) }
    func stop() { frr.stop() }
}

final class BIRDTestRouter: TestRouter, @unchecked Sendable {
    static let name = "BIRD"
    static let commands = ["/usr/sbin/bird", "/usr/sbin/birdc"]
    private let namespace: NetworkNamespace
    private let directory: String
    private var process: ManagedProcess?

    init(namespace: NetworkNamespace, speakerASN: UInt32, routerASN: UInt32, password: String?) throws {
        self.namespace = namespace
        directory = NSTemporaryDirectory() + "ironlb-bird-\(namespace.name)"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
        router id 192.0.2.1;
        protocol device {}
        protocol bgp ironlb {
            local 192.0.2.1 as \(routerASN);
            neighbor 192.0.2.2 as \(speakerASN);
            passive on;
            hold time 9;
            error wait time 1, 10;
            \(password.map { "password \"\($0)\";" } ?? "")
            ipv4 { import all; export none; };
            ipv6 { import all; export none; };
        }
        """.write(toFile: directory + "/bird.conf", atomically: true, encoding: .utf8)
        // -f: foreground, so that the PID is BIRD's own.
        process = try ManagedProcess(["/usr/sbin/bird", "-f", "-c", directory + "/bird.conf", "-s", directory + "/bird.ctl"],
                                     namespace: namespace, logDirectory: directory)
        _ = poll(timeout: 10, interval: 0.1) { FileManager.default.fileExists(atPath: self.directory + "/bird.ctl") }
    }

    private func birdc(_ args: [String]) -> String {
        (try? Shell.run(["/usr/sbin/birdc", "-s", directory + "/bird.ctl"] + args).stdout) ?? ""
    }

    var sessionUp: Bool { birdc(["show", "protocols", "ironlb"]).contains("Established") }

    func route(_ prefix: String) -> String {
        let table = prefix.contains(":") ? "master6" : "master4"
        let text = birdc(["show", "route", "for", prefix, "table", table, "all"])
        return text.contains(prefix) ? text : ""
    }

    func pause() { process?.signal(SIGSTOP) }
    func resume() { process?.signal(SIGCONT) }
    func stop() {
        process?.stop()
        process = nil
    }

    deinit { stop() }
}

final class GoBGPTestRouter: TestRouter, @unchecked Sendable {
    static let name = "GoBGP"
    static let commands = ["/usr/bin/gobgpd", "/usr/bin/gobgp"]
    private let namespace: NetworkNamespace
    private let directory: String
    private var process: ManagedProcess?

    init(namespace: NetworkNamespace, speakerASN: UInt32, routerASN: UInt32, password: String?) throws {
        self.namespace = namespace
        directory = NSTemporaryDirectory() + "ironlb-gobgp-\(namespace.name)"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
        [global.config]
          as = \(routerASN)
          router-id = "192.0.2.1"
          port = 179
        [[neighbors]]
          [neighbors.config]
            neighbor-address = "192.0.2.2"
            peer-as = \(speakerASN)
            \(password.map { "auth-password = \"\($0)\"" } ?? "")
          [neighbors.timers.config]
            hold-time = 9
            keepalive-interval = 3
          [neighbors.transport.config]
            passive-mode = true
          [[neighbors.afi-safis]]
            [neighbors.afi-safis.config]
              afi-safi-name = "ipv4-unicast"
          [[neighbors.afi-safis]]
            [neighbors.afi-safis.config]
              afi-safi-name = "ipv6-unicast"
        """.write(toFile: directory + "/gobgp.toml", atomically: true, encoding: .utf8)
        process = try ManagedProcess(["/usr/bin/gobgpd", "-f", directory + "/gobgp.toml", "-p", "-l", "info",
                                      "--api-hosts", "127.0.0.1:50051", "--pprof-disable"],
                                     namespace: namespace, logDirectory: directory)
        _ = poll(timeout: 10, interval: 0.2) { (try? namespace.run(["/usr/bin/gobgp", "global"]))?.status == 0 }
    }

    private func gobgp(_ args: [String]) -> String {
        (try? namespace.run(["/usr/bin/gobgp", "-u", "127.0.0.1", "-p", "50051"] + args).stdout) ?? ""
    }

    var sessionUp: Bool {
        // "BGP state = established" or "BGP state = BGP_FSM_ESTABLISHED", depending on the version.
        gobgp(["neighbor", "192.0.2.2"]).split(separator: "\n")
            .contains { $0.contains("BGP state") && $0.lowercased().contains("established") }
    }

    func route(_ prefix: String) -> String {
        let family = prefix.contains(":") ? "ipv6" : "ipv4"
        let text = gobgp(["global", "rib", "-a", family, prefix])
        return text.contains(prefix) ? text : ""
    }

    func pause() { process?.signal(SIGSTOP) }
    func resume() { process?.signal(SIGCONT) }
    func stop() {
        process?.stop()
        process = nil
    }

    deinit { stop() }
}
