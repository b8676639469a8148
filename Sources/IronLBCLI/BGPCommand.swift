import ArgumentParser
import BGPSession
import BGPTransport
import BGPWire
import Foundation
import Logging
import NIOCore
import NIOPosix
import NetPrimitives
import ServiceLifecycle

/// `ironlb bgp ...`: drive IronLB's BGP speaker by hand.
public struct BGPCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bgp",
        abstract: "Drive IronLB's BGP speaker by hand (interop debugging).",
        subcommands: [BGPAnnounceCommand.self]
    )

    public init() {}
}

/// `ironlb bgp announce --peer ... --prefix ...`: one peering advertising the given prefixes
/// until SIGINT/SIGTERM, then withdraw and Cease.
public struct BGPAnnounceCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "announce",
        abstract: "Peer with one router and advertise prefixes until interrupted.",
        discussion: """
            Example: ironlb bgp announce --peer 192.0.2.1 --peer-asn 65001 --local-asn 64512 \\
                       --source 192.0.2.2 --prefix 198.51.100.10/32 --community 64512:100
            On SIGINT or SIGTERM the routes are withdrawn and a Cease is sent.
            """
    )

    @Option(help: "The router's address.") public var peer: String
    @Option(help: "The router's TCP port.") public var peerPort: Int = 179
    @Option(help: "The router's AS number.") public var peerAsn: UInt32
    @Option(help: "This speaker's AS number.") public var localAsn: UInt32
    @Option(help: "Local address to connect from (the default NEXT_HOP of its family).") public var source: String?
    @Option(help: "BGP identifier (default: --source when it is IPv4).") public var routerId: String?
    @Option(help: "A prefix to advertise (repeatable).") public var prefix: [String] = []
    @Option(help: "A community ASN:VALUE (repeatable).") public var community: [String] = []
    @Option(help: "A large community GLOBAL:LOCAL1:LOCAL2 (repeatable).") public var largeCommunity: [String] = []
    @Option(help: "LOCAL_PREF, sent to iBGP peers only.") public var localPref: UInt32?
    @Option(help: "Proposed hold time in seconds (0 or at least 3).") public var holdTime: UInt16 = 90
    @Option(help: "TCP MD5 signature password.") public var password: String?
    @Option(help: "TTL for a multihop eBGP session.") public var ebgpMultihop: Int32?
    @Option(help: "IPv6 NEXT_HOP for IPv6 prefixes over an IPv4 session.") public var nextHopIpv6: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") public var logLevel: String = "info"

    public init() {}

    public func validate() throws {
        _ = try peerConfiguration()
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level \"\(logLevel)\" is not a log level") }
    }

    /// The peering these options describe; every error names its option.
    public func peerConfiguration() throws -> (BGPPeerConfiguration, [IPPrefix: BGPRouteAttributes]) {
        guard let peerAddress = IPAddress(peer) else { throw ValidationError("--peer \"\(peer)\" is not an IP address") }
        let sourceAddress = try source.map { text -> IPAddress in
            guard let address = IPAddress(text) else { throw ValidationError("--source \"\(text)\" is not an IP address") }
            return address
        }
        let identifier: IPv4Address
        if let routerId {
            guard let parsed = IPv4Address(routerId), parsed != .any else { throw ValidationError("--router-id \"\(routerId)\" is not a non-zero IPv4 address") }
            identifier = parsed
        } else if case .v4(let v4)? = sourceAddress {
            identifier = v4
        } else {
            throw ValidationError("--router-id is needed when --source is not an IPv4 address")
        }
        guard holdTime == 0 || holdTime >= 3 else { throw ValidationError("--hold-time must be 0 or at least 3") }
        let nextHop6 = try nextHopIpv6.map { text -> IPv6Address in
            guard let address = IPv6Address(text) else { throw ValidationError("--next-hop-ipv6 \"\(text)\" is not an IPv6 address") }
            return address
        }
        // One community reader for the command line and the configuration (BGPCommunityValue).
        let communities = try community.map { text -> BGPCommunity in
            guard case .standard(let community) = try? BGPCommunityValue(parsing: text) else {
                throw ValidationError("--community \"\(text)\" is not ASN:VALUE with 16-bit numbers")
            }
            return community
        }
        let largeCommunities = try largeCommunity.map { text -> BGPLargeCommunity in
            guard case .large(let community) = try? BGPCommunityValue(parsing: "large:" + text) else {
                throw ValidationError("--large-community \"\(text)\" is not GLOBAL:LOCAL1:LOCAL2 with 32-bit numbers")
            }
            return community
        }
        let attributes = BGPRouteAttributes(communities: communities, largeCommunities: largeCommunities, localPref: localPref)
        var routes: [IPPrefix: BGPRouteAttributes] = [:]
        for text in prefix {
            do {
                routes[try IPPrefix(parsing: text[...])] = attributes
            } catch {
                throw ValidationError("--prefix \"\(text)\": \(error)")
            }
        }
        let families: [BGPAddressFamily] = Set(routes.keys.map(\.family)).sorted().map { $0 == .ipv4 ? .ipv4Unicast : .ipv6Unicast }
        let session = BGPSessionConfiguration(localASN: localAsn, peerASN: peerAsn, routerID: identifier, holdTime: holdTime,
                                              families: families.isEmpty ? [.ipv4Unicast] : families)
        let configuration = BGPPeerConfiguration(session: session, peerAddress: peerAddress, peerPort: peerPort, sourceAddress: sourceAddress,
                                                 password: password, ebgpMultihop: ebgpMultihop, nextHopIPv6: nextHop6)
        return (configuration, routes)
    }

    public func run() async throws {
        let (configuration, routes) = try peerConfiguration()
        var logger = Logger(label: "ironlb.bgp")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let peer = BGPPeer(configuration: configuration, eventLoop: MultiThreadedEventLoopGroup.singleton.next(), logger: logger)
        peer.setDesiredRoutes(routes)
        let group = ServiceGroup(services: [peer], gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        try await group.run()
    }
}
