import TestSupport
import BGPSession
import BGPWire
import NetPrimitives
import Testing

@Suite struct StateMachineTests {
    func machine(_ configuration: BGPSessionConfiguration = Peer.configuration(), seed: UInt64 = 1) -> Machine {
        Machine(configuration: configuration, random: SeededRandom(seed: seed))
    }

    @Test func comesUpThroughEveryState() throws {
        var m = machine()
        let t0 = TestInstant.zero
        let start = m.start(now: t0)
        #expect(start.first?.isConnect == true)
        #expect(start.deadline(.connectRetry) == t0 + .seconds(30))
        #expect(m.sessionState == .connect)

        let up = m.connectionEstablished(now: t0 + .seconds(1), nextHops: Peer.nextHops)
        let sentOpen = try #require(up.sent.first)
        guard case .open(let open) = sentOpen else { throw Failure("no OPEN") }
        #expect(open.asn == 64512 && open.myAS == 64512 && open.holdTime == 90 && open.bgpIdentifier == Peer.localID)
        #expect(open.multiprotocolFamilies == [.ipv4Unicast, .ipv6Unicast])
        #expect(open.supportsFourOctetASN && open.supportsRouteRefresh && open.supportsExtendedMessages)
        #expect(open.gracefulRestart?.restartTime == 120)
        // RFC 4271 §8.2.2: a large hold time while waiting for the peer's OPEN.
        #expect(up.deadline(.hold) == t0 + .seconds(241))
        #expect(up.contains { if case .cancelTimer(.connectRetry) = $0 { return true } else { return false } })
        #expect(m.sessionState == .openSent)

        let confirm = m.messageReceived(.open(Peer.open()), now: t0 + .seconds(2))
        #expect(confirm.sent == [.keepalive])
        #expect(confirm.deadline(.keepalive) == t0 + .seconds(32))
        #expect(confirm.deadline(.hold) == t0 + .seconds(92))
        #expect(confirm.contains { if case .setCodecOptions(let o) = $0 { return o.fourOctetASN && o.extendedMessages } else { return false } })
        #expect(m.sessionState == .openConfirm)

        let established = m.messageReceived(.keepalive, now: t0 + .seconds(3))
        #expect(established.states == [.established])
        // No routes yet: only the End-of-RIB markers.
        #expect(established.updates == [.endOfRIB(.ipv4Unicast), .endOfRIB(.ipv6Unicast)])
        #expect(m.sessionState == .established)
    }

    @Test(arguments: [
        (UInt16(90), UInt16(180), UInt16(90), Duration.seconds(30)),
        (90, 3, 3, .seconds(1)),
        (3, 90, 3, .seconds(1)),
        (90, 0, 0, .zero),
        (0, 90, 0, .zero),
        (240, 240, 240, .seconds(80)),
        (10, 11, 10, .milliseconds(3333)),
    ])
    func holdTimeNegotiation(ours: UInt16, theirs: UInt16, negotiated: UInt16, keepalive: Duration) {
        var m = machine(Peer.configuration(holdTime: ours))
        _ = m.start(now: .zero)
        _ = m.connectionEstablished(now: .zero, nextHops: Peer.nextHops)
        let actions = m.messageReceived(.open(Peer.open(holdTime: theirs)), now: .zero)
        #expect(m.negotiated?.holdTime == negotiated)
        #expect(m.negotiated?.keepaliveInterval == keepalive)
        if negotiated == 0 {
            #expect(actions.deadline(.keepalive) == nil && actions.deadline(.hold) == nil)
            // With hold time 0 a silent peer is never timed out.
            _ = m.messageReceived(.keepalive, now: .zero)
            #expect(m.timerFired(.hold, now: .zero + .seconds(100_000)).isEmpty)
            #expect(m.sessionState == .established)
        } else {
            #expect(actions.deadline(.keepalive) == TestInstant.zero + keepalive)
            #expect(actions.deadline(.hold) == TestInstant.zero + .seconds(Int64(negotiated)))
        }
    }

    @Test func keepalivesFollowTheNegotiatedInterval() {
        var m = machine()
        _ = establish(&m)
        let tick = m.timerFired(.keepalive, now: .zero + .seconds(30))
        #expect(tick.sent == [.keepalive])
        #expect(tick.deadline(.keepalive) == .zero + .seconds(60))
    }

    @Test func holdTimerExpiresWithoutMessagesAndIsPushedBackByThem() {
        var m = machine()
        _ = establish(&m)
        // A message at t+50 moves the expiry to t+140; an early firing re-arms the timer.
        _ = m.messageReceived(.keepalive, now: .zero + .seconds(50))
        let early = m.timerFired(.hold, now: .zero + .seconds(90))
        #expect(early.deadline(.hold) == .zero + .seconds(140))
        #expect(early.sent.isEmpty && m.sessionState == .established)

        let expired = m.timerFired(.hold, now: .zero + .seconds(140))
        #expect(expired.notifications == [.holdTimerExpired])
        #expect(expired.closes)
        #expect(expired.states == [.active])
        #expect(m.sessionState == .active)
        #expect(expired.deadline(.connectRetry) != nil)
    }

    @Test func holdTimerRunsInOpenSent() {
        var m = machine()
        _ = m.start(now: .zero)
        _ = m.connectionEstablished(now: .zero, nextHops: Peer.nextHops)
        #expect(m.timerFired(.hold, now: .zero + .seconds(239)).deadline(.hold) == .zero + .seconds(240))
        let expired = m.timerFired(.hold, now: .zero + .seconds(240))
        #expect(expired.notifications == [.holdTimerExpired])
    }

    @Test(arguments: [
        // The peer's AS is wrong: the data is the AS it sent (4 octets with the capability).
        ("bad peer AS", Peer.open(asn: 65099), BGPNotification(code: .openMessage, subcode: 2, data: [0, 0, 0xFE, 0x4B])),
        ("bad peer AS, 2-octet", Peer.open(asn: 65099, fourOctet: false), BGPNotification(code: .openMessage, subcode: 2, data: [0xFE, 0x4B])),
        ("no common family", Peer.open(families: [BGPAddressFamily(afi: .ipv4, safi: .multicast)]),
         BGPNotification(code: .openMessage, subcode: 7, data: [1, 4, 0, 1, 0, 1, 1, 4, 0, 2, 0, 1])),
    ])
    func refusesABadOpen(name: String, open: BGPOpen, notification: BGPNotification) {
        var m = machine()
        _ = m.start(now: .zero)
        _ = m.connectionEstablished(now: .zero, nextHops: Peer.nextHops)
        let actions = m.messageReceived(.open(open), now: .zero)
        #expect(actions.notifications == [notification])
        #expect(actions.closes)
        #expect(m.sessionState == .active)
    }

    @Test func refusesItsOwnIdentifierOverIBGP() {
        var m = machine(Peer.configuration(localASN: 65001, peerASN: 65001))
        _ = m.start(now: .zero)
        _ = m.connectionEstablished(now: .zero, nextHops: Peer.nextHops)
        let actions = m.messageReceived(.open(Peer.open(asn: 65001, id: Peer.localID)), now: .zero)
        #expect(actions.notifications == [BGPNotification(code: .openMessage, subcode: 3, data: [192, 0, 2, 10])])
    }

    @Test func peerWithoutMultiprotocolCapabilitySpeaksIPv4() {
        var m = machine()
        _ = m.start(now: .zero)
        _ = m.connectionEstablished(now: .zero, nextHops: Peer.nextHops)
        _ = m.messageReceived(.open(Peer.open(families: [])), now: .zero)
        #expect(m.negotiated?.families == [.ipv4Unicast])
        #expect(m.messageReceived(.keepalive, now: .zero).updates == [.endOfRIB(.ipv4Unicast)])
    }

    @Test(arguments: [
        ("KEEPALIVE in OpenSent", 1, BGPMessage.keepalive, UInt8(1)),
        ("UPDATE in OpenSent", 1, .update(BGPUpdate()), 1),
        ("UPDATE in OpenConfirm", 2, .update(BGPUpdate()), 2),
        ("OPEN in OpenConfirm", 2, .open(Peer.open()), 2),
        ("OPEN in Established", 3, .open(Peer.open()), 3),
    ])
    func unexpectedMessagesAreFSMErrors(name: String, step: Int, message: BGPMessage, subcode: UInt8) {
        var m = machine()
        _ = m.start(now: .zero)
        _ = m.connectionEstablished(now: .zero, nextHops: Peer.nextHops)
        if step >= 2 { _ = m.messageReceived(.open(Peer.open()), now: .zero) }
        if step >= 3 { _ = m.messageReceived(.keepalive, now: .zero) }
        let actions = m.messageReceived(message, now: .zero)
        // RFC 6608 subcodes.
        #expect(actions.notifications == [BGPNotification(code: .finiteStateMachine, subcode: subcode)])
        #expect(actions.closes && m.sessionState == .active)
    }

    @Test func peerNotificationClosesWithoutAnswering() {
        var m = machine()
        _ = establish(&m)
        let cease = BGPNotification.cease(.administrativeShutdown, communication: "maintenance")
        let actions = m.messageReceived(.notification(cease), now: .zero)
        #expect(actions.notifications.isEmpty)
        #expect(actions.contains { if case .peerNotification(let n) = $0 { return n == cease } else { return false } })
        #expect(actions.closes && m.sessionState == .active)
    }

    @Test func decodingErrorsSendTheirNotification() {
        var m = machine()
        _ = establish(&m)
        let error = BGPError(code: .updateMessage, subcode: 9, data: [0x80, 14, 0], reason: "malformed-mp-reach")
        let actions = m.decodingFailed(error, now: .zero)
        #expect(actions.notifications == [BGPNotification(code: 3, subcode: 9, data: [0x80, 14, 0])])
        #expect(actions.closes)
    }

    @Test func tcpCloseGoesToActiveAndReconnectsAfterTheBackoff() {
        var m = machine()
        _ = establish(&m)
        let closed = m.connectionClosed(now: .zero + .seconds(10))
        #expect(!closed.sent.contains { if case .notification = $0 { return true } else { return false } })
        let retryAt = try! #require(closed.deadline(.connectRetry))
        #expect(retryAt >= .zero + .seconds(10) + .milliseconds(500) && retryAt <= .zero + .seconds(11))
        // Early firing re-arms; on time it connects.
        #expect(m.timerFired(.connectRetry, now: .zero + .seconds(10)).deadline(.connectRetry) == retryAt)
        #expect(m.timerFired(.connectRetry, now: retryAt).first?.isConnect == true)
        #expect(m.sessionState == .connect)
    }

    @Test func connectTimeoutAbandonsTheAttempt() {
        var m = machine()
        _ = m.start(now: .zero)
        let timeout = m.timerFired(.connectRetry, now: .zero + .seconds(30))
        #expect(timeout.closes)
        #expect(m.sessionState == .active)
    }

    @Test func backoffGrowsWithJitterAndResetsOnceEstablished() {
        var m = machine(seed: 42)
        var now = TestInstant.zero
        var delays: [Duration] = []
        _ = m.start(now: now)
        for _ in 0..<10 {
            let failed = m.connectionClosed(now: now)
            let retryAt = failed.deadline(.connectRetry)!
            delays.append(now.duration(to: retryAt))
            now = retryAt
            _ = m.timerFired(.connectRetry, now: now)
        }
        let ceilings: [Duration] = [1, 2, 4, 8, 16, 32, 64, 120, 120, 120].map { .seconds($0) }
        for (delay, ceiling) in zip(delays, ceilings) {
            #expect(delay >= ceiling / 2 && delay <= ceiling, "\(delay) for ceiling \(ceiling)")
        }
        // Jitter: not all the capped delays are equal.
        #expect(Set(delays.suffix(3)).count > 1)
        #expect(m.failures == 10)

        _ = m.connectionEstablished(now: now, nextHops: Peer.nextHops)
        _ = m.messageReceived(.open(Peer.open()), now: now)
        _ = m.messageReceived(.keepalive, now: now)
        #expect(m.failures == 0)
        let after = m.connectionClosed(now: now)
        #expect(now.duration(to: after.deadline(.connectRetry)!) <= .seconds(1))
    }

    @Test func backoffCeilings() {
        let backoff = BGPBackoff(initial: .milliseconds(500), maximum: .seconds(60))
        #expect((0..<9).map { backoff.ceiling(failures: $0) } == [0.5, 1, 2, 4, 8, 16, 32, 60, 60].map { Duration.milliseconds(Int64($0 * 1000)) })
        #expect(backoff.ceiling(failures: 10_000) == .seconds(60))
    }

    @Test func stopWithdrawsThenCeasesAndStaysDown() throws {
        var m = machine()
        _ = establish(&m)
        _ = m.setDesiredRoutes([IPPrefix("198.51.100.1/32")!: BGPRouteAttributes(), IPPrefix("2001:db8:1::1/128")!: BGPRouteAttributes()])
        let stop = m.stop(now: .zero, communication: "IronLB speaker shutting down")
        let sent = stop.sent
        #expect(sent.count == 3)
        #expect(stop.updates.first?.withdrawnRoutes == [IPPrefix("198.51.100.1/32")!])
        #expect(stop.updates.last?.mpUnreach?.withdrawn == .prefixes([IPPrefix("2001:db8:1::1/128")!]))
        #expect(stop.notifications.first?.shutdownCommunication == "IronLB speaker shutting down")
        #expect(stop.notifications.first?.subcode == 2)
        #expect(stop.closes && m.sessionState == .idle)
        #expect(m.timerFired(.connectRetry, now: .zero + .seconds(1000)).isEmpty)
        #expect(m.start(now: .zero + .seconds(1000)).first?.isConnect == true)
    }

    @Test func staleTimersAreIgnored() {
        var m = machine()
        #expect(m.timerFired(.hold, now: .zero).isEmpty)
        #expect(m.timerFired(.keepalive, now: .zero).isEmpty)
        _ = m.start(now: .zero)
        #expect(m.timerFired(.keepalive, now: .zero).isEmpty)
        _ = establish(&m)
        #expect(m.timerFired(.connectRetry, now: .zero + .seconds(5)).isEmpty)
    }

    @Test func receivedRoutesAreDiscarded() {
        var m = machine()
        _ = establish(&m)
        let before = m.ribOut.advertised
        for i in 0..<1000 {
            let update = BGPUpdate(attributes: [BGPPathAttribute(.origin(.igp)), BGPPathAttribute(.asPath(.sequence([65001]))),
                                                BGPPathAttribute(.nextHop(Peer.peerID))],
                                   nlri: [IPPrefix(containing: .v4(IPv4Address(rawValue: 0x0A00_0000 | UInt32(i) << 8)), length: 24)])
            #expect(m.messageReceived(.update(update), now: .zero).isEmpty)
        }
        #expect(m.ribOut.advertised == before)
        #expect(m.sessionState == .established)
    }

    @Test(arguments: [
        // (local ID, remote ID, local ASN, remote ASN, existing established, new from peer, survivor)
        ("192.0.2.10", "192.0.2.1", UInt32(64512), UInt32(65001), false, true, BGPCollision.Survivor.existing),
        ("192.0.2.10", "192.0.2.1", 64512, 65001, false, false, .new),
        ("192.0.2.1", "192.0.2.10", 64512, 65001, false, true, .new),
        ("192.0.2.1", "192.0.2.10", 64512, 65001, false, false, .existing),
        ("192.0.2.1", "192.0.2.1", 64512, 65001, false, true, .new),
        ("192.0.2.1", "192.0.2.1", 65001, 64512, false, true, .existing),
        ("192.0.2.1", "192.0.2.10", 64512, 65001, true, true, .existing),
    ])
    func collisionResolution(local: String, remote: String, localASN: UInt32, remoteASN: UInt32,
                             established: Bool, fromPeer: Bool, survivor: BGPCollision.Survivor) {
        #expect(BGPCollision.resolve(localID: IPv4Address(local)!, localASN: localASN, remoteID: IPv4Address(remote)!,
                                     remoteASN: remoteASN, existingIsEstablished: established, newIsInitiatedByPeer: fromPeer) == survivor)
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite struct GracefulRestartTests {
    func established(gracefulRestart: UInt16?, peerGR: Bool) -> Machine {
        var configuration = Peer.configuration()
        configuration.gracefulRestartTime = gracefulRestart
        var m = Machine(configuration: configuration, random: SeededRandom(seed: 9))
        var open = Peer.open()
        if peerGR {
            open.parameters.append(.capabilities([.gracefulRestart(BGPGracefulRestart(restartTime: 120, families: [.init(family: .ipv4Unicast)]))]))
        }
        _ = establish(&m, open: open)
        _ = m.setDesiredRoutes([IPPrefix("198.51.100.1/32")!: BGPRouteAttributes()])
        return m
    }

    @Test func keepsRoutesWhenBothSidesNegotiatedIt() {
        var m = established(gracefulRestart: 120, peerGR: true)
        let stop = m.stop(now: .zero, communication: "restart", mode: .gracefulRestart)
        // No withdrawal, no NOTIFICATION: a bare close leaves the routes stale at the peer.
        #expect(stop.sent.isEmpty)
        #expect(stop.closes && m.sessionState == .idle)
    }

    @Test(arguments: [(UInt16?.none, true), (UInt16?(120), false)])
    func withdrawsWhenNotNegotiated(ours: UInt16?, peerGR: Bool) {
        var m = established(gracefulRestart: ours, peerGR: peerGR)
        let stop = m.stop(now: .zero, communication: "bye", mode: .gracefulRestart)
        #expect(stop.updates.first?.withdrawnRoutes == [IPPrefix("198.51.100.1/32")!])
        #expect(stop.notifications.first?.shutdownCommunication == "bye")
    }

    @Test func restartingSpeakerSetsTheRestartStateBit() {
        var configuration = Peer.configuration()
        configuration.restarting = true
        #expect(configuration.open.gracefulRestart?.flags == 0x8)
        configuration.restarting = false
        #expect(configuration.open.gracefulRestart?.flags == 0)
    }
}

@Suite struct BFDDownTests {
    @Test func bfdDownCeasesWithSubcodeTenAndReconnects() {
        var m = Machine(configuration: Peer.configuration(), random: SeededRandom(seed: 4))
        _ = establish(&m)
        let down = m.bfdDown(now: .zero + .seconds(10))
        #expect(down.notifications == [BGPNotification(code: .cease, subcode: 10)])
        #expect(down.closes)
        #expect(down.states == [.active])
        #expect(down.deadline(.connectRetry) != nil)
        // Nothing to tear down while waiting or idle.
        #expect(m.bfdDown(now: .zero + .seconds(11)).isEmpty)
        var idle = Machine(configuration: Peer.configuration(), random: SeededRandom(seed: 4))
        #expect(idle.bfdDown(now: .zero).isEmpty)
    }
}
