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

/// A router namespace and a node namespace joined by a veth pair, and a one-thread event
/// loop whose thread lives in the node namespace, where the speaker runs.
final class Lab: @unchecked Sendable {
    let routerNamespace: NetworkNamespace
    let node: NetworkNamespace
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    var router: (any TestRouter)?

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

    func startRouter(_ kind: RouterKind, speakerASN: UInt32 = 64512, routerASN: UInt32 = 65001, password: String? = nil) throws {
        router = try kind.type.init(namespace: routerNamespace, speakerASN: speakerASN, routerASN: routerASN, password: password)
    }

    func peer(localASN: UInt32 = 64512, peerASN: UInt32 = 65001, password: String? = nil) -> BGPPeer {
        let session = BGPSessionConfiguration(localASN: localASN, peerASN: peerASN, routerID: IPv4Address(192, 0, 2, 2), holdTime: 9,
                                              backoff: BGPBackoff(initial: .milliseconds(500), maximum: .seconds(4)))
        let configuration = BGPPeerConfiguration(session: session, peerAddress: IPAddress("192.0.2.1")!,
                                                 sourceAddress: IPAddress("192.0.2.2")!, password: password,
                                                 nextHopIPv6: IPv6Address("2001:db8::2")!)
        return BGPPeer(configuration: configuration, eventLoop: group.next())
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

    @Test(arguments: RouterKind.allCases)
    func ebgpAdvertisesAndWithdraws(kind: RouterKind) async throws {
        guard Self.prerequisites(kind) else { return }
        let lab = try await Lab()
        do {
            try lab.startRouter(kind)
            let router = try #require(lab.router)
            let peer = lab.peer()
            peer.setDesiredRoutes(Self.routes)
            peer.start()
            #expect(await eventually(timeout: 60, interval: 0.5) { router.sessionUp }, "\(kind.testDescription) never saw the session up")
            #expect(await eventually(timeout: 20, interval: 0.25) { router.has(Self.v4) && router.has(Self.v6) && router.has(Self.aggregate) })

            let v4 = router.route(Self.v4)
            #expect(v4.contains("64512"))
            #expect(v4.contains("192.0.2.2"))
            #expect(v4.contains(kind.community), "\(v4)")
            #expect(v4.contains(kind.largeCommunity), "\(v4)")
            // LOCAL_PREF is not sent over eBGP.
            #expect(!v4.contains("250"), "\(v4)")
            let v6 = router.route(Self.v6)
            #expect(v6.contains("2001:db8::2"), "\(v6)")
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

    @Test(arguments: RouterKind.allCases)
    func ibgpCarriesLocalPref(kind: RouterKind) async throws {
        guard Self.prerequisites(kind) else { return }
        let lab = try await Lab()
        do {
            try lab.startRouter(kind, speakerASN: 64512, routerASN: 64512)
            let router = try #require(lab.router)
            let peer = lab.peer(localASN: 64512, peerASN: 64512)
            peer.setDesiredRoutes(Self.routes)
            peer.start()
            #expect(await eventually(timeout: 60, interval: 0.5) { router.sessionUp })
            #expect(await eventually(timeout: 20, interval: 0.25) { router.has(Self.v4) })
            let v4 = router.route(Self.v4)
            #expect(v4.contains("250"), "LOCAL_PREF missing: \(v4)")
            #expect(v4.contains(kind.community))
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

    @Test func holdTimerExpiresWhenTheRouterFreezesAndTheSessionRecovers() async throws {
        guard Self.prerequisites(.frr) else { return }
        let lab = try await Lab()
        do {
            try lab.startRouter(.frr)
            let router = try #require(lab.router)
            let peer = lab.peer()
            peer.setDesiredRoutes(Self.routes)
            peer.start()
            #expect(await eventually(timeout: 60, interval: 0.5) { router.sessionUp })
            router.pause()
            // Hold time 9 s: the speaker gives up on the frozen router.
            #expect(await poll(timeout: 30, interval: 0.5) { (try? await peer.state().get()) != .established })
            router.resume()
            #expect(await eventually(timeout: 60, interval: 0.5) { router.sessionUp && router.has(Self.v4) })
            try await peer.stop().get()
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }

    @Test func routerRestartAndRouterResetAreSurvived() async throws {
        guard Self.prerequisites(.frr) else { return }
        let lab = try await Lab()
        do {
            try lab.startRouter(.frr)
            let peer = lab.peer()
            peer.setDesiredRoutes(Self.routes)
            peer.start()
            #expect(await eventually(timeout: 60, interval: 0.5) { lab.router!.sessionUp })

            // The router resets the session (a Cease NOTIFICATION): it comes back.
            let frr = try #require(lab.router as? FRRTestRouter)
            _ = try frr.frr.vtysh("clear bgp 192.0.2.2")
            #expect(await eventually(timeout: 60, interval: 0.5) { frr.sessionUp && frr.has(Self.v4) })

            // The router is killed and started again: session and routes come back.
            lab.router?.stop()
            try lab.startRouter(.frr)
            #expect(await eventually(timeout: 60, interval: 0.5) { lab.router!.sessionUp && lab.router!.has(Self.v4) })
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

/// A session over IPv6 transport (hop limit, IPv6 source) carrying both families.
@Suite(.serialized) struct IPv6TransportInteropTests {
    @Test func sessionOverIPv6CarriesBothFamilies() async throws {
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
             neighbor 2001:db8::2 remote-as 64512
             neighbor 2001:db8::2 passive
             neighbor 2001:db8::2 timers 3 9
             !
             address-family ipv4 unicast
              neighbor 2001:db8::2 activate
             exit-address-family
             !
             address-family ipv6 unicast
              neighbor 2001:db8::2 activate
             exit-address-family
            !
            """)
            defer { frr.stop() }
            let session = BGPSessionConfiguration(localASN: 64512, peerASN: 65001, routerID: IPv4Address(192, 0, 2, 2), holdTime: 9)
            let configuration = BGPPeerConfiguration(session: session, peerAddress: IPAddress("2001:db8::1")!,
                                                     sourceAddress: IPAddress("2001:db8::2")!, nextHopIPv4: IPv4Address(192, 0, 2, 2))
            let peer = BGPPeer(configuration: configuration, eventLoop: lab.group.next())
            peer.setDesiredRoutes(InteropTests.routes)
            peer.start()
            #expect(await eventually(timeout: 60, interval: 0.5) { frr.neighborState("2001:db8::2") == "Established" })
            #expect(await eventually(timeout: 20, interval: 0.25) {
                frr.path(InteropTests.v4, family: "ipv4") != nil && frr.path(InteropTests.v6, family: "ipv6") != nil
            })
            let v6 = frr.path(InteropTests.v6, family: "ipv6")
            #expect(((v6?["nexthops"] as? [[String: Any]])?.first?["ip"] as? String) == "2001:db8::2")
            let v4 = frr.path(InteropTests.v4, family: "ipv4")
            #expect(((v4?["nexthops"] as? [[String: Any]])?.first?["ip"] as? String) == "192.0.2.2")
            try await peer.stop().get()
            #expect(await eventually(timeout: 20, interval: 0.25) { frr.path(InteropTests.v6, family: "ipv6") == nil })
        } catch {
            Issue.record(error)
        }
        await lab.shutdown()
    }
}
