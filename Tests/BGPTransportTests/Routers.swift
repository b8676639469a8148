import Foundation
import TestSupport
import Testing

/// The address family the BGP session itself runs over. The router is at 192.0.2.1 /
/// 2001:db8::1, the speaker at 192.0.2.2 / 2001:db8::2; both families are activated either way.
enum SessionTransport: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case ipv4, ipv6

    var routerAddress: String { self == .ipv4 ? "192.0.2.1" : "2001:db8::1" }
    var speakerAddress: String { self == .ipv4 ? "192.0.2.2" : "2001:db8::2" }
    var testDescription: String { self == .ipv4 ? "over IPv4" : "over IPv6" }
}

/// How a test router is configured; the lab keeps it to start the same router again.
struct RouterSetup: Sendable {
    var speakerASN: UInt32 = 64512
    var routerASN: UInt32 = 65001
    var password: String?
    var transport: SessionTransport = .ipv4
}

/// A router daemon under test, in its own namespace, peering (passively) with the speaker.
protocol TestRouter: AnyObject, Sendable {
    static var name: String { get }
    static var commands: [String] { get }
    init(namespace: NetworkNamespace, setup: RouterSetup) throws
    /// The session with the speaker is Established, as the router sees it.
    var sessionUp: Bool { get }
    /// The router's view of a prefix as text (empty when it has no route), for assertions.
    func route(_ prefix: String) -> String
    /// The next hops of the router's paths for a prefix.
    func nextHops(_ prefix: String) -> Set<String>
    /// Resets the session from the router's side: it sends the speaker a Cease NOTIFICATION.
    func reset() throws
    /// Signals the router's daemon processes by PID (SIGSTOP freezes the router, SIGKILL
    /// makes the kernel close its sockets without a NOTIFICATION).
    func signal(_ signal: Int32)
    func stop()
}

extension TestRouter {
    func has(_ prefix: String) -> Bool { !route(prefix).isEmpty }
    func pause() { signal(SIGSTOP) }
    func resume() { signal(SIGCONT) }
}

enum RouterKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case frr, bird, gobgp

    var type: any TestRouter.Type {
        switch self {
        case .frr: return FRRTestRouter.self
        case .bird: return BIRDTestRouter.self
        case .gobgp: return GoBGPTestRouter.self
        }
    }

    var testDescription: String { type.name }

    /// How the router prints community 64512:100 and large community 64512:1:2.
    var community: String { self == .bird ? "(64512,100)" : "64512:100" }
    var largeCommunity: String { self == .bird ? "(64512, 1, 2)" : "64512:1:2" }
}

final class FRRTestRouter: TestRouter, @unchecked Sendable {
    static let name = "FRR"
    static let commands = ["/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "/usr/bin/vtysh"]
    let frr: FRRRouter
    private let speaker: String

    init(namespace: NetworkNamespace, setup: RouterSetup) throws {
        let speaker = setup.transport.speakerAddress
        self.speaker = speaker
        frr = try FRRRouter(namespace: namespace, config: """
        frr defaults traditional
        hostname rtr
        !
        router bgp \(setup.routerASN)
         bgp router-id 192.0.2.1
         no bgp ebgp-requires-policy
         neighbor \(speaker) remote-as \(setup.speakerASN)
         neighbor \(speaker) passive
         neighbor \(speaker) timers 3 9
        \(setup.password.map { " neighbor \(speaker) password \($0)" } ?? "")
         !
         address-family ipv4 unicast
          neighbor \(speaker) activate
         exit-address-family
         !
         address-family ipv6 unicast
          neighbor \(speaker) activate
         exit-address-family
        !
        """)
    }

    var sessionUp: Bool { frr.neighborState(speaker) == "Established" }

    func route(_ prefix: String) -> String {
        guard let path = frr.path(prefix, family: Self.family(prefix)) else { return "" }
        return "\(path)"
    }

    func nextHops(_ prefix: String) -> Set<String> { frr.nextHops(prefix, family: Self.family(prefix)) }

    /// `clear bgp`: a Cease/Administrative Reset.
    func reset() throws { _ = try frr.vtysh("clear bgp \(speaker)") }

    func signal(_ signal: Int32) { frr.signal(signal) }
    func stop() { frr.stop() }

    private static func family(_ prefix: String) -> String { prefix.contains(":") ? "ipv6" : "ipv4" }
}

/// A single-process router daemon (BIRD, GoBGP) in the router namespace: its private
/// directory holds the configuration, the control socket and the logs; it is started in
/// the foreground so that the PID signalled is the daemon's own.
final class RouterDaemon: @unchecked Sendable {
    let namespace: NetworkNamespace
    let directory: String
    private var process: ManagedProcess?

    /// Writes `config` to `directory/configFile`, starts `argv(directory)`, and waits (bounded)
    /// until `ready` holds.
    init(_ name: String, namespace: NetworkNamespace, configFile: String, config: String,
         argv: (String) -> [String], ready: (RouterDaemon) -> Bool) throws {
        self.namespace = namespace
        directory = NSTemporaryDirectory() + "ironlb-\(name)-\(namespace.name)"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try config.write(toFile: directory + "/" + configFile, atomically: true, encoding: .utf8)
        process = try ManagedProcess(argv(directory), namespace: namespace, logDirectory: directory)
        _ = pollBlocking(timeout: 60, interval: 0.1) { ready(self) }
    }

    /// Runs a control command in the router namespace; throws unless it exits 0.
    func run(_ argv: [String]) throws -> String { try namespace.check(argv) }

    /// A query for assertions: its output, or "" when it fails.
    func query(_ argv: [String]) -> String { (try? run(argv)) ?? "" }

    func signal(_ signal: Int32) { process?.signal(signal) }

    func stop() {
        process?.stop()
        process = nil
    }

    deinit { stop() }
}

/// A test router run by a `RouterDaemon`: signals and stop go to that process.
protocol DaemonTestRouter: TestRouter {
    var daemon: RouterDaemon { get }
}

extension DaemonTestRouter {
    func signal(_ signal: Int32) { daemon.signal(signal) }
    func stop() { daemon.stop() }
}

final class BIRDTestRouter: DaemonTestRouter, @unchecked Sendable {
    static let name = "BIRD"
    static let commands = ["/usr/sbin/bird", "/usr/sbin/birdc"]
    let daemon: RouterDaemon

    init(namespace: NetworkNamespace, setup: RouterSetup) throws {
        daemon = try RouterDaemon("bird", namespace: namespace, configFile: "bird.conf", config: """
        router id 192.0.2.1;
        protocol device {}
        protocol bgp ironlb {
            local \(setup.transport.routerAddress) as \(setup.routerASN);
            neighbor \(setup.transport.speakerAddress) as \(setup.speakerASN);
            passive on;
            hold time 9;
            error wait time 1, 10;
            \(setup.password.map { "password \"\($0)\";" } ?? "")
            ipv4 { import all; export none; };
            ipv6 { import all; export none; };
        }
        """, argv: { ["/usr/sbin/bird", "-f", "-c", $0 + "/bird.conf", "-s", $0 + "/bird.ctl"] },
        ready: { FileManager.default.fileExists(atPath: $0.directory + "/bird.ctl") })
    }

    private var birdcArgv: [String] { ["/usr/sbin/birdc", "-s", daemon.directory + "/bird.ctl"] }
    private func birdc(_ args: [String]) -> String { daemon.query(birdcArgv + args) }

    var sessionUp: Bool { birdc(["show", "protocols", "ironlb"]).contains("Established") }

    func route(_ prefix: String) -> String {
        let text = birdc(["show", "route", "for", prefix, "table", prefix.contains(":") ? "master6" : "master4", "all"])
        return text.contains(prefix) ? text : ""
    }

    /// From the `BGP.next_hop: GLOBAL [LINK-LOCAL]` lines.
    func nextHops(_ prefix: String) -> Set<String> {
        let lines = route(prefix).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        return Set(lines.filter { $0.hasPrefix("BGP.next_hop:") }.flatMap { $0.split(separator: " ").dropFirst().map(String.init) })
    }

    /// `restart`: the protocol goes down with a Cease/Administrative Reset and comes back.
    func reset() throws { _ = try daemon.run(birdcArgv + ["restart", "ironlb"]) }
}

final class GoBGPTestRouter: DaemonTestRouter, @unchecked Sendable {
    static let name = "GoBGP"
    static let commands = ["/usr/bin/gobgpd", "/usr/bin/gobgp"]
    static let api = ["-u", "127.0.0.1", "-p", "50051"]
    let daemon: RouterDaemon
    private let speaker: String

    init(namespace: NetworkNamespace, setup: RouterSetup) throws {
        speaker = setup.transport.speakerAddress
        daemon = try RouterDaemon("gobgp", namespace: namespace, configFile: "gobgp.toml", config: """
        [global.config]
          as = \(setup.routerASN)
          router-id = "192.0.2.1"
          port = 179
        [[neighbors]]
          [neighbors.config]
            neighbor-address = "\(speaker)"
            peer-as = \(setup.speakerASN)
            \(setup.password.map { "auth-password = \"\($0)\"" } ?? "")
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
        """, argv: { ["/usr/bin/gobgpd", "-f", $0 + "/gobgp.toml", "-p", "-l", "info", "--api-hosts", "127.0.0.1:50051", "--pprof-disable"] },
        ready: { !$0.query(["/usr/bin/gobgp"] + Self.api + ["global"]).isEmpty })
    }

    private func gobgp(_ args: [String]) -> String { daemon.query(["/usr/bin/gobgp"] + Self.api + args) }

    var sessionUp: Bool {
        // "BGP state = established" or "BGP state = BGP_FSM_ESTABLISHED", depending on the version.
        gobgp(["neighbor", speaker]).split(separator: "\n")
            .contains { $0.contains("BGP state") && $0.lowercased().contains("established") }
    }

    func route(_ prefix: String) -> String {
        let text = gobgp(["global", "rib", "-a", prefix.contains(":") ? "ipv6" : "ipv4", prefix])
        return text.contains(prefix) ? text : ""
    }

    /// From the JSON RIB: NEXT_HOP (type 3) or MP_REACH_NLRI's next hop (type 14).
    func nextHops(_ prefix: String) -> Set<String> {
        let text = gobgp(["global", "rib", "-a", prefix.contains(":") ? "ipv6" : "ipv4", prefix, "-j"])
        guard let rib = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
              let paths = rib[prefix] as? [[String: Any]] else { return [] }
        return Set(paths.flatMap { ($0["attrs"] as? [[String: Any]] ?? []).compactMap { $0["nexthop"] as? String } })
    }

    /// `neighbor ADDRESS reset`: a Cease/Administrative Reset. For 30 s afterwards GoBGP
    /// accepts the speaker's reconnects and closes them at once (gobgpd 3.10 ignores
    /// `idle-hold-time-after-reset` in its configuration file): the speaker's backoff must
    /// ride that out.
    func reset() throws { _ = try daemon.run(["/usr/bin/gobgp"] + Self.api + ["neighbor", speaker, "reset"]) }
}
