import BGPSession
import BGPTransport
import BGPWire
import Foundation
import Logging
import ServiceLifecycle
import NIOCore
import NIOPosix
import NetPrimitives
import TestSupport
import Testing

/// `poll` for async tests: sleeps between probes instead of blocking the thread.
func eventually(timeout: Double, interval: Double, _ condition: @escaping () -> Bool) async -> Bool {
    await poll(timeout: timeout, interval: interval) { () async -> Bool in condition() }
}

/// What the speaker's peers reported (state changes, the router's NOTIFICATIONs), in order.
final class PeerEvents: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [BGPPeerEvent] = []

    func record(_ event: BGPPeerEvent) { lock.withLock { events.append(event) } }

    /// A position to read later events from.
    var mark: Int { lock.withLock { events.count } }

    func since(_ mark: Int) -> ArraySlice<BGPPeerEvent> { lock.withLock { events[min(mark, events.count)...] } }

    /// The NOTIFICATIONs the router sent since `mark`.
    func notifications(since mark: Int) -> [BGPNotification] {
        since(mark).compactMap { if case .peerNotification(let notification) = $0 { notification } else { nil } }
    }

    /// Whether the speaker gave up on the peer by its hold timer since `mark`.
    func sentHoldTimerExpired(since mark: Int) -> Bool {
        since(mark).contains { if case .notificationSent(let notification) = $0 { notification.code == BGPErrorCode.holdTimerExpired.rawValue } else { false } }
    }

    /// Whether a session reached Established since `mark`.
    func established(since mark: Int) -> Bool { since(mark).contains(.stateChanged(.established)) }
}

/// A router namespace and a node namespace joined by a veth pair, and a one-thread event
/// loop whose thread lives in the node namespace, where the speaker runs.
final class Lab: @unchecked Sendable {
    let routerNamespace: NetworkNamespace
    let node: NetworkNamespace
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let events = PeerEvents()
    var router: (any TestRouter)?
    private var started: (kind: RouterKind, setup: RouterSetup)?

    init() async throws {
        routerNamespace = try NetworkNamespace(prefix: "bgp")
        node = try NetworkNamespace(prefix: "bgp")
        try routerNamespace.link("eth0", to: node, as: "eth0")
        try routerNamespace.addAddress("192.0.2.1/24", to: "eth0")
        try routerNamespace.addAddress("2001:db8::1/64", to: "eth0")
        try node.addAddress("192.0.2.2/24", to: "eth0")
        try node.addAddress("2001:db8::2/64", to: "eth0")
        let node = self.node
        try await group.next().submit { try node.enterOnCurrentThread() }.get()
    }

    func startRouter(_ kind: RouterKind, speakerASN: UInt32 = 64512, routerASN: UInt32 = 65001, password: String? = nil,
                     transport: SessionTransport = .ipv4) throws {
        let setup = RouterSetup(speakerASN: speakerASN, routerASN: routerASN, password: password, transport: transport)
        if transport == .ipv6 {
            // FRR refuses an IPv6 session until its interface has a usable link-local address.
            for namespace in [routerNamespace, node] {
                _ = pollBlocking(timeout: 10, interval: 0.1) {
                    let text = (try? namespace.check(["ip", "-6", "addr", "show", "dev", "eth0", "scope", "link"])) ?? ""
                    return text.contains("fe80::") && !text.contains("tentative")
                }
            }
        }
        router = try kind.type.init(namespace: routerNamespace, setup: setup)
        started = (kind, setup)
    }

    /// Stops the router (if still running) and starts a new daemon with the same configuration.
    func restartRouter() throws {
        guard let started else { preconditionFailure("restartRouter() before startRouter()") }
        router?.stop()
        router = try started.kind.type.init(namespace: routerNamespace, setup: started.setup)
    }

    /// A speaker session to the router. The NEXT_HOP of the session's own family comes from the
    /// connection's local address; the other family's is configured (192.0.2.2, 2001:db8::2).
    func peer(localASN: UInt32 = 64512, peerASN: UInt32 = 65001, password: String? = nil, transport: SessionTransport = .ipv4) -> BGPPeer {
        let session = BGPSessionConfiguration(localASN: localASN, peerASN: peerASN, routerID: IPv4Address(192, 0, 2, 2), holdTime: 9,
                                              backoff: BGPBackoff(initial: .milliseconds(500), maximum: .seconds(4)))
        let configuration = BGPPeerConfiguration(session: session, peerAddress: IPAddress(transport.routerAddress)!,
                                                 sourceAddress: IPAddress(transport.speakerAddress)!, password: password,
                                                 nextHopIPv4: transport == .ipv6 ? IPv4Address(192, 0, 2, 2) : nil,
                                                 nextHopIPv6: transport == .ipv4 ? IPv6Address("2001:db8::2")! : nil)
        let events = self.events
        return BGPPeer(configuration: configuration, eventLoop: group.next()) { events.record($0) }
    }

    /// The local addresses (ADDRESS:PORT) of the speaker's established TCP connections to port 179.
    func speakerConnections() -> Set<String> {
        let text = (try? node.check(["ss", "-t", "-n", "-H", "state", "established", "(", "dport", "=", ":179", ")"])) ?? ""
        return Set(text.split(separator: "\n").compactMap { line in line.split(separator: " ").dropFirst(2).first.map(String.init) })
    }

    func shutdown() async {
        router?.stop()
        router = nil
        try? await group.shutdownGracefully()
        routerNamespace.destroy()
        node.destroy()
    }
}

/// IronLB's speaker against FRR, BIRD and GoBGP in network namespaces.
@Suite(.serialized) struct InteropTests {
    static let attributes = BGPRouteAttributes(communities: [BGPCommunity(asn: 64512, value: 100)],
                                               largeCommunities: [BGPLargeCommunity(64512, 1, 2)], localPref: 250)
    static let v4 = "198.51.100.10/32"
    static let v6 = "2001:db8:1::10/128"
    static let aggregate = "203.0.113.0/28"
    static var routes: [IPPrefix: BGPRouteAttributes] {
        [IPPrefix(v4)!: attributes, IPPrefix(v6)!: attributes, IPPrefix(aggregate)!: attributes]
    }

    static func prerequisites(_ kind: RouterKind) -> Bool {
        Prerequisites.require(.root, .networkNamespaces) && kind.type.commands.allSatisfy { Prerequisites.require(.command($0)) }
    }

    /// Over IPv4 and over IPv6 transport, both families: an IPv4 route carries NEXT_HOP
    /// 192.0.2.2 and an IPv6 one 2001:db8::2 whichever family the session runs over.
    @Test(arguments: RouterKind.allCases, SessionTransport.allCases)
    func ebgpAdvertisesAndWithdraws(kind: RouterKind, transport: SessionTransport) async throws {
        guard Self.prerequisites(kind) else { return }
        let lab = try await Lab()
        do {
            try lab.startRouter(kind, transport: transport)
            let router = try #require(lab.router)
            let peer = lab.peer(transport: transport)
            peer.setDesiredRoutes(Self.routes)
            peer.start()
            #expect(await eventually(timeout: 60, interval: 0.5) { router.sessionUp }, "\(kind.testDescription) never saw the session up")
            #expect(await eventually(timeout: 20, interval: 0.25) { router.has(Self.v4) && router.has(Self.v6) && router.has(Self.aggregate) })

            let v4 = router.route(Self.v4)
            #expect(v4.contains("64512"))
            #expect(router.nextHops(Self.v4) == ["192.0.2.2"], "\(v4)")
            #expect(v4.contains(kind.community), "\(v4)")
            #expect(v4.contains(kind.largeCommunity), "\(v4)")
            // LOCAL_PREF is not sent over eBGP.
            #expect(!v4.contains("250"), "\(v4)")
            let v6 = router.route(Self.v6)
            #expect(router.nextHops(Self.v6) == ["2001:db8::2"], "\(v6)")
            #expect(v6.contains(kind.community), "\(v6)")

            // Withdraw one: it disappears, the others stay, the session stays up.
            var remaining = Self.routes
            remaining[IPPrefix(Self.v4)!] = nil
            peer.setDesiredRoutes(remaining)
            #expect(await eventually(timeout: 20, interval: 0.25) { !router.has(Self.v4) })
            #expect(router.has(Self.v6) && router.has(Self.aggregate) && router.sessionUp)

            try await peer.stop(communication: "IronLB interop test done").get()
            #expect(await eventually(timeout: 20, interval: 0.25) { !router.sessionUp })
            #expect(await eventually(timeout: 20, interval: 0.25) { !router.has(Self.v6) })
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }

    @Test(arguments: RouterKind.allCases, SessionTransport.allCases)
    func ibgpCarriesLocalPref(kind: RouterKind, transport: SessionTransport) async throws {
        guard Self.prerequisites(kind) else { return }
        let lab = try await Lab()
        do {
            try lab.startRouter(kind, speakerASN: 64512, routerASN: 64512, transport: transport)
            let router = try #require(lab.router)
            let peer = lab.peer(localASN: 64512, peerASN: 64512, transport: transport)
            peer.setDesiredRoutes(Self.routes)
            peer.start()
            #expect(await eventually(timeout: 60, interval: 0.5) { router.sessionUp })
            #expect(await eventually(timeout: 20, interval: 0.25) { router.has(Self.v4) && router.has(Self.v6) })
            let v4 = router.route(Self.v4)
            #expect(v4.contains("250"), "LOCAL_PREF missing: \(v4)")
            #expect(v4.contains(kind.community))
            let v6 = router.route(Self.v6)
            #expect(v6.contains("250"), "LOCAL_PREF missing: \(v6)")
            try await peer.stop().get()
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }

    @Test(arguments: RouterKind.allCases)
    func md5SignedSessionAndWrongPasswordRefused(kind: RouterKind) async throws {
        guard Self.prerequisites(kind) else { return }
        let lab = try await Lab()
        do {
            try lab.startRouter(kind, password: "ironlb-secret")
            let router = try #require(lab.router)
            let wrong = lab.peer(password: "not-the-secret")
            wrong.start()
            // A wrong key: the router never hears a valid SYN.
            #expect(await !eventually(timeout: 8, interval: 0.5) { router.sessionUp })
            #expect(try await wrong.state().get() != .established)
            try await wrong.stop().get()

            let right = lab.peer(password: "ironlb-secret")
            right.setDesiredRoutes(Self.routes)
            right.start()
            #expect(await eventually(timeout: 60, interval: 0.5) { router.sessionUp })
            #expect(await eventually(timeout: 20, interval: 0.25) { router.has(Self.v4) })
            try await right.stop().get()
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }

    /// The router frozen by SIGSTOP keeps the TCP connection open but reads and sends
    /// nothing: only the speaker's hold timer (9 s) can end the session. Routes added while it
    /// sleeps fill the (deliberately small) TCP buffers, so the Hold Timer Expired NOTIFICATION
    /// cannot be written: the speaker must drop that connection all the same, not keep it for
    /// as long as the router sleeps. Thawed, the router gets a new session with the whole table.
    @Test(arguments: RouterKind.allCases)
    func holdTimerExpiresWhenTheRouterFreezesAndTheSessionRecovers(kind: RouterKind) async throws {
        guard Self.prerequisites(kind), Prerequisites.require(.command("ss")) else { return }
        let lab = try await Lab()
        do {
            // Per namespace, for sockets created from now on.
            try lab.routerNamespace.check(["sh", "-c", "echo 4096 4096 4096 > /proc/sys/net/ipv4/tcp_rmem"])
            try lab.node.check(["sh", "-c", "echo 4096 4096 4096 > /proc/sys/net/ipv4/tcp_wmem"])
            try lab.startRouter(kind)
            let router = try #require(lab.router)
            let peer = lab.peer()
            peer.setDesiredRoutes(Self.routes)
            peer.start()
            #expect(await eventually(timeout: 60, interval: 0.5) { router.sessionUp && router.has(Self.v4) })

            let frozen = lab.events.mark
            let connection = lab.speakerConnections()
            #expect(connection.count == 1, "\(connection)")
            router.pause()
            var table = Self.routes
            for n in 1...20000 { table[IPPrefix("2001:db8:2::\(String(n, radix: 16))/128")!] = Self.attributes }
            peer.setDesiredRoutes(table)
            #expect(await poll(timeout: 30, interval: 0.5) { (try? await peer.state().get()) != .established },
                    "the speaker never gave up on the frozen \(kind.testDescription)")
            #expect(lab.events.notifications(since: frozen).isEmpty)
            #expect(lab.events.sentHoldTimerExpired(since: frozen), "given up on, but not by the hold timer: \(lab.events.since(frozen))")
            #expect(await eventually(timeout: 20, interval: 0.5) { lab.speakerConnections().isDisjoint(with: connection) },
                    "the connection to the frozen router stayed open: \(connection)")
            router.resume()
            #expect(await eventually(timeout: 60, interval: 0.5) { lab.events.established(since: frozen) })
            #expect(await eventually(timeout: 30, interval: 0.5) {
                router.sessionUp && router.has(Self.v4) && router.has(Self.v6) && router.has("2001:db8:2::4e20/128")
            })
            try await peer.stop().get()
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }

    /// The router ends the session three ways, and each time the session and the routes come
    /// back: a Cease NOTIFICATION (the router's own reset command); its connection aborted by
    /// the kernel while the daemon runs on (`ss -K`: a TCP RST, no NOTIFICATION); the daemon
    /// killed (SIGKILL: the kernel closes its socket, no NOTIFICATION), then a new one started.
    @Test(arguments: RouterKind.allCases)
    func routerResetCloseKillAndRestartAreSurvived(kind: RouterKind) async throws {
        guard Self.prerequisites(kind), Prerequisites.require(.command("ss")) else { return }
        let lab = try await Lab()
        do {
            try lab.startRouter(kind)
            let peer = lab.peer()
            peer.setDesiredRoutes(Self.routes)
            peer.start()
            #expect(await eventually(timeout: 60, interval: 0.5) { lab.router!.sessionUp && lab.router!.has(Self.v4) })

            let reset = lab.events.mark
            try lab.router!.reset()
            #expect(await eventually(timeout: 20, interval: 0.25) {
                lab.events.notifications(since: reset).contains {
                    $0.code == BGPErrorCode.cease.rawValue && $0.subcode == BGPErrorCode.CeaseSubcode.administrativeReset.rawValue
                }
            }, "no Cease/Administrative Reset from \(kind.testDescription): \(lab.events.since(reset))")
            #expect(await eventually(timeout: 60, interval: 0.5) { lab.events.established(since: reset) })
            #expect(await eventually(timeout: 30, interval: 0.5) { lab.router!.sessionUp && lab.router!.has(Self.v4) && lab.router!.has(Self.v6) })

            let aborted = lab.events.mark
            let sockets = try lab.routerNamespace.check(["ss", "-K", "-t", "-n", "state", "established", "(", "sport", "=", ":179", ")"])
            #expect(sockets.contains("192.0.2.1:179"), "ss -K closed no BGP connection: \(sockets)")
            // Noticed from the reset connection, not by the hold timer expiring.
            #expect(await poll(timeout: 60, interval: 0.1) { (try? await peer.state().get()) != .established })
            #expect(lab.events.notifications(since: aborted).isEmpty)
            #expect(!lab.events.sentHoldTimerExpired(since: aborted), "\(lab.events.since(aborted))")
            #expect(await eventually(timeout: 60, interval: 0.5) { lab.events.established(since: aborted) })
            #expect(await eventually(timeout: 30, interval: 0.5) { lab.router!.sessionUp && lab.router!.has(Self.v4) && lab.router!.has(Self.v6) })

            let killed = lab.events.mark
            lab.router!.signal(SIGKILL)
            // Noticed from the closed connection, not by the hold timer expiring.
            #expect(await poll(timeout: 60, interval: 0.1) { (try? await peer.state().get()) != .established })
            #expect(lab.events.notifications(since: killed).isEmpty)
            #expect(!lab.events.sentHoldTimerExpired(since: killed), "\(lab.events.since(killed))")
            try lab.restartRouter()
            #expect(await eventually(timeout: 60, interval: 0.5) { lab.router!.sessionUp && lab.router!.has(Self.v4) && lab.router!.has(Self.v6) })
            #expect(lab.events.established(since: killed))
            try await peer.stop().get()
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }
}

/// `BGPPeer` as a ServiceLifecycle service: graceful shutdown withdraws and sends a Cease.
@Suite(.serialized) struct ServiceInteropTests {
    @Test func gracefulShutdownWithdrawsAndCeases() async throws {
        guard InteropTests.prerequisites(.frr) else { return }
        let lab = try await Lab()
        do {
            try lab.startRouter(.frr)
            let router = try #require(lab.router as? FRRTestRouter)
            let peer = lab.peer()
            peer.setDesiredRoutes(InteropTests.routes)
            let services = ServiceGroup(services: [peer], gracefulShutdownSignals: [], cancellationSignals: [],
                                        logger: Logger(label: "ironlb.test"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await services.run() }
                #expect(await eventually(timeout: 60, interval: 0.5) { router.sessionUp && router.has(InteropTests.v4) })
                await services.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            #expect(await eventually(timeout: 20, interval: 0.25) { !router.sessionUp && !router.has(InteropTests.v4) })
            let neighbor = router.frr.json("show bgp neighbors 192.0.2.2 json")?["192.0.2.2"] as? [String: Any]
            #expect("\(neighbor ?? [:])".contains("IronLB speaker shutting down"), "FRR did not record the shutdown communication")
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }
}

/// Graceful restart (RFC 4724) against FRR: the routes survive the speaker's restart.
@Suite(.serialized) struct GracefulRestartInteropTests {
    @Test func routesStayStaleAtTheRouterAcrossARestart() async throws {
        guard InteropTests.prerequisites(.frr) else { return }
        let lab = try await Lab()
        do {
            let frr = try FRRRouter(namespace: lab.routerNamespace, config: """
            frr defaults traditional
            hostname rtr
            !
            router bgp 65001
             bgp router-id 192.0.2.1
             no bgp ebgp-requires-policy
             bgp graceful-restart
             neighbor 192.0.2.2 remote-as 64512
             neighbor 192.0.2.2 passive
             neighbor 192.0.2.2 timers 3 9
            !
            """)
            defer { frr.stop() }
            func peer(restarting: Bool) -> BGPPeer {
                let session = BGPSessionConfiguration(localASN: 64512, peerASN: 65001, routerID: IPv4Address(192, 0, 2, 2), holdTime: 9,
                                                      families: [.ipv4Unicast], gracefulRestartTime: 120, restarting: restarting)
                let configuration = BGPPeerConfiguration(session: session, peerAddress: IPAddress("192.0.2.1")!,
                                                         sourceAddress: IPAddress("192.0.2.2")!, shutdownMode: .gracefulRestart)
                return BGPPeer(configuration: configuration, eventLoop: lab.group.next())
            }
            let route = [IPPrefix(InteropTests.v4)!: InteropTests.attributes]
            let first = peer(restarting: false)
            first.setDesiredRoutes(route)
            first.start()
            #expect(await eventually(timeout: 60, interval: 0.5) { frr.neighborState("192.0.2.2") == "Established" && frr.path(InteropTests.v4, family: "ipv4") != nil })

            try await first.stop(mode: .gracefulRestart).get()
            #expect(await eventually(timeout: 20, interval: 0.25) { frr.neighborState("192.0.2.2") != "Established" })
            // The router keeps the route, marked stale, while the speaker is away.
            let stale = frr.path(InteropTests.v4, family: "ipv4")
            #expect(stale != nil, "FRR dropped the route instead of keeping it stale")
            #expect(stale?["stale"] as? Bool == true, "\(stale ?? [:])")

            let second = peer(restarting: true)
            second.setDesiredRoutes(route)
            second.start()
            #expect(await eventually(timeout: 60, interval: 0.5) {
                frr.neighborState("192.0.2.2") == "Established" && frr.path(InteropTests.v4, family: "ipv4")?["stale"] == nil
            })
            try await second.stop().get()
            #expect(await eventually(timeout: 20, interval: 0.25) { frr.path(InteropTests.v4, family: "ipv4") == nil })
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }
}
