import BFD
import BFDTransport
import BGPSession
import BGPTransport
import BGPWire
import Foundation
import NIOCore
import NIOPosix
import NetPrimitives
import TestSupport
import Testing

/// BGP and BFD events of one speaker session, in the order they happened.
final class SessionLog: @unchecked Sendable {
    enum Entry: Equatable {
        case bfd(BFDState, BFDDiagnostic)
        case bgp(BGPSessionState)
        case notification(BGPNotification)
    }

    private let lock = NSLock()
    private var entries: [Entry] = []

    func record(_ entry: Entry) { lock.withLock { entries.append(entry) } }
    var mark: Int { lock.withLock { entries.count } }
    func since(_ mark: Int) -> [Entry] { lock.withLock { Array(entries[min(mark, entries.count)...]) } }
    func contains(_ entry: Entry, since mark: Int = 0) -> Bool { since(mark).contains(entry) }
}

/// A router namespace (FRR: zebra, bgpd, bfdd) and a node namespace on a bridge in a third
/// ("switch") namespace, so that the node's link can be cut at the switch while the router's
/// interface stays up (no carrier loss for FRR to react to). The speaker's BGP and BFD event
/// loops run on threads inside the node namespace.
final class BFDLab: @unchecked Sendable {
    let switchNamespace: NetworkNamespace
    let routerNamespace: NetworkNamespace
    let node: NetworkNamespace
    let bgpGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let bfdGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    var frr: FRRRouter?
    var endpoint: BFDEndpoint?
    var peers: [BGPPeer] = []

    init() async throws {
        switchNamespace = try NetworkNamespace(prefix: "bfd-sw")
        routerNamespace = try NetworkNamespace(prefix: "bfd-rtr")
        node = try NetworkNamespace(prefix: "bfd-node")
        try switchNamespace.check(["ip", "link", "add", "br0", "type", "bridge"])
        try switchNamespace.check(["ip", "link", "set", "br0", "up"])
        for (namespace, port, last) in [(routerNamespace, "p-rtr", 1), (node, "p-node", 2)] {
            try switchNamespace.link(port, to: namespace, as: "eth0")
            try switchNamespace.check(["ip", "link", "set", port, "master", "br0"])
            try namespace.addAddress("192.0.2.\(last)/24", to: "eth0")
            try namespace.addAddress("2001:db8::\(last)/64", to: "eth0")
        }
        // A second speaker address, for a BGP session without BFD next to one with it.
        try node.addAddress("192.0.2.3/24", to: "eth0")
        let node = self.node
        try await bgpGroup.next().submit { try node.enterOnCurrentThread() }.get()
        try await bfdGroup.next().submit { try node.enterOnCurrentThread() }.get()
        endpoint = BFDEndpoint(eventLoop: bfdGroup.next())
        // FRR refuses IPv6 sessions until the link-local address is usable.
        for namespace in [routerNamespace, node] {
            _ = await poll(timeout: 60, interval: 0.1) {
                let text = (try? namespace.check(["ip", "-6", "addr", "show", "dev", "eth0", "scope", "link"])) ?? ""
                return text.contains("fe80::") && !text.contains("tentative")
            }
        }
    }

    /// FRR peering with the speaker over `addresses` (192.0.2.2, 2001:db8::2), `neighbor X bfd`
    /// with profile `fast`. BGP hold time 30 s: anything faster is BFD.
    static func frrConfig(neighbors: [String], withoutBFD plain: [String] = [], profile: (rx: Int, tx: Int, multiplier: Int) = (300, 300, 3),
                          multihop: Bool = false) -> String {
        var lines = ["frr defaults traditional", "hostname rtr", "!", "bfd", " profile fast",
                     "  receive-interval \(profile.rx)", "  transmit-interval \(profile.tx)", "  detect-multiplier \(profile.multiplier)",
                     " !", "!", "router bgp 65001", " bgp router-id 192.0.2.1", " no bgp ebgp-requires-policy", " no bgp network import-check"]
        for neighbor in neighbors {
            lines += [" neighbor \(neighbor) remote-as 64512", " neighbor \(neighbor) timers 10 30", " neighbor \(neighbor) timers connect 2",
                      " neighbor \(neighbor) bfd", " neighbor \(neighbor) bfd profile fast"]
            if multihop { lines.append(" neighbor \(neighbor) ebgp-multihop 2") }
        }
        for neighbor in plain {
            lines += [" neighbor \(neighbor) remote-as 64512", " neighbor \(neighbor) timers 3 9", " neighbor \(neighbor) timers connect 2"]
        }
        for family in ["ipv4", "ipv6"] {
            lines += [" !", " address-family \(family) unicast"]
            for neighbor in neighbors + plain { lines.append(neighbor.contains(":") == (family == "ipv6") ? "  neighbor \(neighbor) activate" : "  no neighbor \(neighbor) activate") }
            lines.append(" exit-address-family")
        }
        return (lines + ["!"]).joined(separator: "\n") + "\n"
    }

    func startRouter(neighbors: [String], withoutBFD plain: [String] = [], profile: (rx: Int, tx: Int, multiplier: Int) = (300, 300, 3),
                     multihop: Bool = false) throws {
        frr = try FRRRouter(namespace: routerNamespace,
                            config: Self.frrConfig(neighbors: neighbors, withoutBFD: plain, profile: profile, multihop: multihop),
                            daemons: ["bgpd", "bfdd"])
    }

    /// A BGP session and its BFD session to the router at `routerAddress`, coupled as the
    /// speaker couples them: BFD Down after Up tears BGP down (Cease, BFD Down).
    func speaker(routerAddress: String, localAddress: String, bfd: BFDPeerConfiguration?, routes: [IPPrefix: BGPRouteAttributes],
                 log: SessionLog) async throws -> BGPPeer {
        let session = BGPSessionConfiguration(localASN: 64512, peerASN: 65001, routerID: IPv4Address(192, 0, 2, 2), holdTime: 30,
                                              backoff: BGPBackoff(initial: .milliseconds(500), maximum: .seconds(2)))
        let configuration = BGPPeerConfiguration(session: session, peerAddress: IPAddress(routerAddress)!, sourceAddress: IPAddress(localAddress)!,
                                                 ebgpMultihop: bfd?.multihop == true ? 255 : nil,
                                                 nextHopIPv4: IPv4Address(192, 0, 2, 2), nextHopIPv6: IPv6Address("2001:db8::2")!)
        let peer = BGPPeer(configuration: configuration, eventLoop: bgpGroup.next()) { event in
            switch event {
            case .stateChanged(let state): log.record(.bgp(state))
            case .peerNotification(let notification): log.record(.notification(notification))
            case .updatesSent, .outboundBufferExceeded, .notificationSent: break
            }
        }
        peers.append(peer)
        peer.setDesiredRoutes(routes)
        peer.start()
        guard let bfd else { return peer }
        try await endpoint!.addSession(bfd) { change in
            log.record(.bfd(change.to, change.diagnostic))
            switch change.clientAction {
            case .tearDown: peer.bfdDown(holding: true)
            case .resume: peer.start()
            case nil: break
            }
        }.get()
        return peer
    }

    /// FRR with `neighbor 192.0.2.2 bfd` (300 ms × 3) and the speaker's sessions to it with the
    /// same profile, advertising `route`.
    func startIPv4Session(route: String, withoutBFD plain: [String] = []) async throws -> SessionLog {
        try startRouter(neighbors: ["192.0.2.2"], withoutBFD: plain)
        let log = SessionLog()
        let bfd = BFDPeerConfiguration(peerAddress: IPAddress("192.0.2.1")!, localAddress: IPAddress("192.0.2.2")!)
        _ = try await speaker(routerAddress: "192.0.2.1", localAddress: "192.0.2.2", bfd: bfd,
                              routes: [IPPrefix(route)!: BGPRouteAttributes()], log: log)
        return log
    }

    /// FRR's view of its BFD session to `peer` (`show bfd peers json`).
    func frrBFDPeer(_ peer: String) -> [String: Any]? {
        guard let text = try? frr?.vtysh("show bfd peers json"), let data = text.data(using: .utf8),
              let peers = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else { return nil }
        return peers.first { $0["peer"] as? String == peer }
    }

    var bird: ManagedProcess?
    var birdDirectory: String { NSTemporaryDirectory() + "ironlb-bird-\(routerNamespace.name)" }

    /// BIRD 2 with `protocol bfd` (300 ms × 3) and a BGP session with `bfd on` to `speaker`.
    func startBIRD(speaker: String, router: String) throws {
        let directory = birdDirectory
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let family = speaker.contains(":") ? "ipv6" : "ipv4"
        try """
        router id 192.0.2.1;
        protocol device {}
        protocol bfd {
            interface "eth0" { min rx interval 300 ms; min tx interval 300 ms; multiplier 3; };
        }
        protocol bgp ironlb {
            local \(router) as 65001;
            neighbor \(speaker) as 64512;
            hold time 30;
            connect retry time 2;
            error wait time 1, 10;
            bfd on;
            \(family) { import all; export none; };
        }
        """.write(toFile: directory + "/bird.conf", atomically: true, encoding: .utf8)
        bird = try ManagedProcess(["/usr/sbin/bird", "-f", "-c", directory + "/bird.conf", "-s", directory + "/bird.ctl"],
                                  namespace: routerNamespace, logDirectory: directory)
        _ = pollBlocking(timeout: 60, interval: 0.1) { FileManager.default.fileExists(atPath: directory + "/bird.ctl") }
    }

    func birdc(_ args: [String]) -> String {
        (try? routerNamespace.check(["/usr/sbin/birdc", "-s", birdDirectory + "/bird.ctl"] + args)) ?? ""
    }

    /// BIRD's line for `peer` in `show bfd sessions`: address, interface, state, since, interval, timeout.
    func birdBFDSession(_ peer: String) -> [String]? {
        birdc(["show", "bfd", "sessions"]).split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            .first { $0.first == peer }
    }

    func frrNeighbor(_ address: String) -> [String: Any]? {
        frr?.json("show bgp neighbors \(address) json")?[address] as? [String: Any]
    }

    func hasRoute(_ prefix: String) -> Bool {
        frr?.path(prefix, family: prefix.contains(":") ? "ipv6" : "ipv4") != nil
    }

    /// Cuts (or restores) the node's port on the switch: the router's own link stays up.
    func cutNode(_ cut: Bool) throws {
        try switchNamespace.check(["ip", "link", "set", "p-node", cut ? "down" : "up"])
    }

    func shutdown() async {
        for peer in peers { try? await peer.stop(communication: "test done").get() }
        bird?.stop()
        await endpoint?.shutdown()
        frr?.stop()
        try? await bgpGroup.shutdownGracefully()
        try? await bfdGroup.shutdownGracefully()
        routerNamespace.destroy()
        node.destroy()
        switchNamespace.destroy()
    }
}

/// IronLB's BFD against FRR's bfdd: RFC 5881 single hop over IPv4 and IPv6, the profile's
/// parameters as FRR reports them, a Poll Sequence without a flap, and BFD tearing BGP down.
@Suite(.serialized) struct BFDInteropTests {
    static func prerequisites() -> Bool {
        Prerequisites.require(.root, .networkNamespaces) && ["/usr/lib/frr/bfdd", "/usr/lib/frr/bgpd", "/usr/bin/vtysh"].allSatisfy { Prerequisites.require(.command($0)) }
    }

    static let attributes = BGPRouteAttributes()

    @Test(arguments: ["192.0.2", "2001:db8:"])
    func sessionsComeUpWithTheProfilesParametersAndChangeThemWithoutAFlap(prefix: String) async throws {
        guard Self.prerequisites() else { return }
        let lab = try await BFDLab()
        do {
            let v6 = prefix.contains(":")
            let router = v6 ? "2001:db8::1" : "192.0.2.1"
            let speakerAddress = v6 ? "2001:db8::2" : "192.0.2.2"
            let route = v6 ? "2001:db8:5::10/128" : "198.51.100.10/32"
            try lab.startRouter(neighbors: [speakerAddress])
            let log = SessionLog()
            // Ours: 200 ms RX, 250 ms TX, multiplier 4; FRR's profile: 300/300/3.
            var bfd = BFDPeerConfiguration(peerAddress: IPAddress(router)!, localAddress: IPAddress(speakerAddress)!,
                                           desiredMinTxInterval: 250_000, requiredMinRxInterval: 200_000, detectMultiplier: 4)
            _ = try await lab.speaker(routerAddress: router, localAddress: speakerAddress, bfd: bfd,
                                      routes: [IPPrefix(route)!: Self.attributes], log: log)
            #expect(await poll(timeout: 60, interval: 0.25) { lab.frrBFDPeer(speakerAddress)?["status"] as? String == "up" })
            #expect(await poll(timeout: 30, interval: 0.25) { log.contains(.bfd(.up, .none)) })
            #expect(await poll(timeout: 60, interval: 0.5) { lab.hasRoute(route) })
            // FRR reads our profile; we read FRR's (both after the Poll Sequence that follows Up).
            #expect(await poll(timeout: 20, interval: 0.25) {
                let frr = lab.frrBFDPeer(speakerAddress)
                return frr?["remote-receive-interval"] as? Int == 200 && frr?["remote-transmit-interval"] as? Int == 250
                    && frr?["remote-detect-multiplier"] as? Int == 4
            }, "\(lab.frrBFDPeer(speakerAddress) ?? [:])")
            let status = try await lab.endpoint!.status(peer: IPAddress(router)!).get()
            // Transmit: max(our 250, FRR's 300 RX) ms; detection: FRR's 3 × max(our 200 RX, FRR's 300 TX) ms.
            #expect(status?.state == .up && status?.transmitInterval == 300_000 && status?.detectionTime == 900_000)

            // A parameter change runs a Poll Sequence: FRR sees the new values, nobody goes Down.
            let mark = log.mark
            let frrUpBefore = lab.frrBFDPeer(speakerAddress)?["id"] as? Int
            bfd.desiredMinTxInterval = 400_000
            bfd.requiredMinRxInterval = 350_000
            lab.endpoint!.updateSession(bfd)
            #expect(await poll(timeout: 20, interval: 0.25) {
                let frr = lab.frrBFDPeer(speakerAddress)
                return frr?["remote-receive-interval"] as? Int == 350 && frr?["remote-transmit-interval"] as? Int == 400
            }, "\(lab.frrBFDPeer(speakerAddress) ?? [:])")
            let after = try await lab.endpoint!.status(peer: IPAddress(router)!).get()
            #expect(after?.transmitInterval == 400_000 && after?.detectionTime == 3 * 350_000)
            #expect(log.since(mark).isEmpty, "\(log.since(mark))")
            #expect(lab.frrBFDPeer(speakerAddress)?["status"] as? String == "up")
            #expect(lab.frrBFDPeer(speakerAddress)?["id"] as? Int == frrUpBefore)
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }

    /// BIRD's `protocol bfd` with `bfd on` in its BGP session: Up over IPv4 and IPv6, with the
    /// interval and timeout BIRD derives from our profile (`birdc show bfd sessions`).
    @Test(arguments: ["192.0.2", "2001:db8:"])
    func birdSessionsComeUpWithTheNegotiatedParameters(prefix: String) async throws {
        guard Self.prerequisites(), Prerequisites.require(.command("/usr/sbin/bird"), .command("/usr/sbin/birdc")) else { return }
        let lab = try await BFDLab()
        do {
            let v6 = prefix.contains(":")
            let router = v6 ? "2001:db8::1" : "192.0.2.1"
            let speakerAddress = v6 ? "2001:db8::2" : "192.0.2.2"
            try lab.startBIRD(speaker: speakerAddress, router: router)
            let log = SessionLog()
            let bfd = BFDPeerConfiguration(peerAddress: IPAddress(router)!, localAddress: IPAddress(speakerAddress)!,
                                           desiredMinTxInterval: 250_000, requiredMinRxInterval: 200_000, detectMultiplier: 4)
            _ = try await lab.speaker(routerAddress: router, localAddress: speakerAddress, bfd: bfd,
                                      routes: [IPPrefix(v6 ? "2001:db8:5::20/128" : "198.51.100.21/32")!: Self.attributes], log: log)
            #expect(await poll(timeout: 60, interval: 0.5) { log.contains(.bgp(.established)) && log.contains(.bfd(.up, .none)) }, "\(log.since(0))")
            // BIRD sends every max(its 300, our 200) ms and times out after 4 × max(its 300, our 250) ms.
            let negotiated = await poll(timeout: 20, interval: 0.25) {
                let session = lab.birdBFDSession(speakerAddress)
                return session?.contains("Up") == true && session?.contains("0.300") == true && session?.contains("1.200") == true
            }
            #expect(negotiated, "\(lab.birdc(["show", "bfd", "sessions"]))")
            let status = try await lab.endpoint!.status(peer: IPAddress(router)!).get()
            #expect(status?.state == .up && status?.transmitInterval == 300_000 && status?.detectionTime == 900_000)
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }

    /// RFC 5881 §5: a single-hop packet must arrive with TTL 255. First an Init packet naming
    /// our discriminator arrives with TTL 254, then a Down packet with TTL 255, in that order on
    /// the same path. Had the first been accepted, the session would have gone Up and then Down;
    /// dropped (by the kernel filter), the session only hears the Down packet and goes to Init.
    @Test func singleHopPacketsWithATTLBelow255AreIgnored() async throws {
        guard Self.prerequisites(), Prerequisites.require(.command("/usr/bin/python3")) else { return }
        let lab = try await BFDLab()
        do {
            let log = SessionLog()
            let router = IPAddress("192.0.2.1")!
            try await lab.endpoint!.addSession(BFDPeerConfiguration(peerAddress: router, localAddress: IPAddress("192.0.2.2")!)) {
                log.record(.bfd($0.to, $0.diagnostic))
            }.get()
            let started = try await lab.endpoint!.status(peer: router).get()
            let local = try #require(started).localDiscriminator
            let yours = String(format: "%08x", local)
            // Version 1, multiplier 3, length 24, My Discriminator 0x01020304, 500 ms intervals.
            let initPacket = "2080031801020304" + yours + "0007a1200007a12000000000"
            let downPacket = "2040031801020304000000000007a1200007a12000000000"
            let script = """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("192.0.2.1", 49152))
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 254)
            s.sendto(bytes.fromhex("\(initPacket)"), ("192.0.2.2", 3784))
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
            s.sendto(bytes.fromhex("\(downPacket)"), ("192.0.2.2", 3784))
            """
            _ = try lab.routerNamespace.check(["/usr/bin/python3", "-c", script])
            #expect(await poll(timeout: 20, interval: 0.05) { !log.since(0).isEmpty })
            #expect(log.since(0).first == .bfd(.initializing, .none), "\(log.since(0))")
            let heard = try await lab.endpoint!.status(peer: router).get()
            #expect(heard?.remoteDiscriminator == 0x0102_0304)
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }

    /// RFC 5883 multihop, as for an `ebgp-multihop` peer: FRR runs a multihop session (UDP 4784,
    /// minimum TTL 254 by default) and so do we.
    @Test func multihopSessionWithFRR() async throws {
        guard Self.prerequisites() else { return }
        let lab = try await BFDLab()
        do {
            try lab.startRouter(neighbors: ["192.0.2.2"], multihop: true)
            let log = SessionLog()
            let bfd = BFDPeerConfiguration(peerAddress: IPAddress("192.0.2.1")!, localAddress: IPAddress("192.0.2.2")!, multihop: true,
                                           minimumTTL: 254, desiredMinTxInterval: 250_000, requiredMinRxInterval: 200_000, detectMultiplier: 4)
            _ = try await lab.speaker(routerAddress: "192.0.2.1", localAddress: "192.0.2.2", bfd: bfd,
                                      routes: [IPPrefix("198.51.100.40/32")!: Self.attributes], log: log)
            let up = await poll(timeout: 60, interval: 0.25) {
                let peer = lab.frrBFDPeer("192.0.2.2")
                return peer?["status"] as? String == "up" && peer?["multihop"] as? Bool == true
                    && peer?["remote-receive-interval"] as? Int == 200 && peer?["remote-detect-multiplier"] as? Int == 4
            }
            #expect(up, "\(lab.frrBFDPeer("192.0.2.2") ?? [:])")
            let status = try await lab.endpoint!.status(peer: IPAddress("192.0.2.1")!, multihop: true).get()
            #expect(status?.state == .up)
            #expect(log.contains(.bfd(.up, .none)))
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }

    /// Router's view: the node's link is cut at the switch. FRR's bfdd declares the session
    /// Down, bgpd drops the neighbor for that reason and the route leaves FRR's RIB while the
    /// route of a second session from the same node without BFD (hold time 9 s) is still there;
    /// that one goes only at hold-time expiry. Restoring the link brings everything back.
    @Test func routerDropsTheRouteWhenTheNodesLinkIsCut() async throws {
        guard Self.prerequisites() else { return }
        let lab = try await BFDLab()
        do {
            _ = try await lab.startIPv4Session(route: "198.51.100.20/32", withoutBFD: ["192.0.2.3"])
            _ = try await lab.speaker(routerAddress: "192.0.2.1", localAddress: "192.0.2.3", bfd: nil,
                                      routes: [IPPrefix("198.51.100.22/32")!: Self.attributes], log: SessionLog())
            #expect(await poll(timeout: 60, interval: 0.5) {
                lab.hasRoute("198.51.100.20/32") && lab.hasRoute("198.51.100.22/32") && lab.frrBFDPeer("192.0.2.2")?["status"] as? String == "up"
            })
            try lab.cutNode(true)
            let cutAt = Date()
            #expect(await poll(timeout: 30, interval: 0.05) { !lab.hasRoute("198.51.100.20/32") })
            let gone = Date().timeIntervalSince(cutAt)
            // The order of events: the BFD-covered route is gone, the other one still there.
            #expect(lab.hasRoute("198.51.100.22/32"))
            let neighbor = lab.frrNeighbor("192.0.2.2")
            // The reason FRR gives, not a timing: BFD, not the hold timer.
            #expect((neighbor?["lastResetDueTo"] as? String ?? "").contains("BFD"), "\(neighbor ?? [:])")
            #expect(lab.frrBFDPeer("192.0.2.2")?["status"] as? String == "down")
            #expect(await poll(timeout: 60, interval: 0.05) { !lab.hasRoute("198.51.100.22/32") })
            let plainGone = Date().timeIntervalSince(cutAt)
            let plainReason = lab.frrNeighbor("192.0.2.3")?["lastResetDueTo"] as? String ?? ""
            #expect(!plainReason.contains("BFD"), "\(plainReason)")
            print("after the cut, FRR's RIB lost the route: with BFD (300 ms × 3) \(Int(gone * 1000)) ms; without BFD (hold 9 s) \(Int(plainGone * 1000)) ms (\(plainReason))")
            try lab.cutNode(false)
            #expect(await poll(timeout: 60, interval: 0.5) { lab.hasRoute("198.51.100.20/32") && lab.frrBFDPeer("192.0.2.2")?["status"] as? String == "up" })
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }

    /// Speaker's view: the router freezes (SIGSTOP). The speaker's BFD session goes Down on its
    /// detection timer and the BGP session is torn down right after it, not at hold-time
    /// expiry, and held down; when the router thaws BFD comes Up first, then BGP.
    @Test func speakerTearsBGPDownWhenTheRouterFreezesAndRecovers() async throws {
        guard Self.prerequisites() else { return }
        let lab = try await BFDLab()
        do {
            let log = try await lab.startIPv4Session(route: "198.51.100.30/32")
            #expect(await poll(timeout: 60, interval: 0.5) { log.contains(.bgp(.established)) && log.contains(.bfd(.up, .none)) })
            let mark = log.mark
            lab.frr?.signal(SIGSTOP)
            #expect(await poll(timeout: 30, interval: 0.05) { log.contains(.bgp(.active), since: mark) })
            // The order of events: BFD detection first, then BGP leaves Established.
            let events = log.since(mark)
            #expect(events.first == .bfd(.down, .controlDetectionTimeExpired), "\(events)")
            #expect(events.dropFirst().first == .bgp(.active), "\(events)")
            // Marked before the thaw: under load BFD can come Up before this task runs again.
            let thawed = log.mark
            lab.frr?.signal(SIGCONT)
            #expect(await poll(timeout: 60, interval: 0.5) { log.contains(.bgp(.established), since: thawed) && log.contains(.bfd(.up, .none), since: thawed) },
                    "\(log.since(thawed))")
            #expect(await poll(timeout: 30, interval: 0.5) { lab.hasRoute("198.51.100.30/32") })
            let after = log.since(thawed)
            let bfdUp = after.firstIndex(of: .bfd(.up, .none)) ?? after.count
            let bgpUp = after.firstIndex(of: .bgp(.established)) ?? -1
            #expect(bfdUp < bgpUp, "\(after)")
            // Held while BFD was Down: no BGP connection attempt between the teardown and BFD Up.
            #expect(!after.prefix(bfdUp).contains(.bgp(.connect)), "\(after)")
            print("FRR's last reset: \(lab.frrNeighbor("192.0.2.2")?["lastResetDueTo"] ?? "?"); events: \(log.since(mark))")
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }
}
