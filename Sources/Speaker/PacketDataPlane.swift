import Foundation
import LinkWire
import Logging
import NIOCore
import NetPrimitives
import PacketIO
import Prometheus
import ServiceLifecycle
import Synchronization

/// Answers ARP and Neighbor Solicitations for the VIPs this node owns, over AF_PACKET sockets,
/// one per candidate interface, each read by its own thread (raw sockets block; a blocked
/// thread must not be one of Swift concurrency's few cooperative threads). Interfaces are
/// rescanned every few seconds, so new or renamed interfaces are picked up.
public final class PacketDataPlane: Layer2DataPlane, Service, Sendable {
    private struct State {
        /// The duties as given: VIP → configured interfaces (empty: the default choice).
        var duties: [IPAddress: [String]] = [:]
        /// VIP → the interfaces it is answered on, after selection.
        var owned: [IPAddress: Set<String>] = [:]
        var interfaces: [String: InterfaceInfo] = [:]
        var sockets: [String: PacketSocket] = [:]
        var memberships: [String: Set<IPv6Address>] = [:]
    }

    private let state = Mutex(State())
    private let stopping = Atomic<Bool>(false)
    private let logger: Logger
    private let metrics: Layer2Metrics
    private let excluded: [String]

    public init(registry: PrometheusCollectorRegistry, logger: Logger, excludedInterfaces: [String] = AnnounceInterfaces.defaultExcludedPatterns) {
        self.logger = logger
        self.metrics = Layer2Metrics(registry: registry)
        self.excluded = excludedInterfaces
    }

    public func answer(_ duties: [IPAddress: [String]]) {
        state.withLock { state in
            state.duties = duties
            Self.select(&state, excluded: excluded)
        }
    }

    public func announce(_ vips: [IPAddress]) {
        let plan: [(PacketSocket, [LinkFrame])] = state.withLock { state in
            vips.flatMap { vip -> [(PacketSocket, [LinkFrame])] in
                (state.owned[vip] ?? []).sorted().compactMap { name in
                    guard let socket = state.sockets[name], let info = state.interfaces[name] else { return nil }
                    return (socket, Announcement.frames(for: vip, mac: info.mac))
                }
            }
        }
        for (socket, frames) in plan {
            for frame in frames {
                do {
                    try socket.send(frame)
                    metrics.gratuitousSent.increment()
                } catch {
                    logger.warning("could not send an announcement", metadata: ["lb.interface": "\(socket.interfaceName)", "lb.error": "\(error)"])
                }
            }
        }
    }

    /// Which interfaces answer for each VIP, and the solicited-node groups they join.
    private static func select(_ state: inout State, excluded: [String]) {
        let infos = Array(state.interfaces.values)
        var owned: [IPAddress: Set<String>] = [:]
        for (vip, configured) in state.duties {
            owned[vip] = AnnounceInterfaces.select(for: vip, among: infos, configured: configured, excluding: excluded)
                .filter { state.sockets[$0] != nil }
        }
        state.owned = owned
    }

    public func run() async throws {
        for name in rescan() { startReader(name) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(5))
                    for name in self.rescan() { self.startReader(name) }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        stopping.store(true, ordering: .relaxed)
    }

    /// Refreshes the interface list; returns the names of interfaces that got a new socket.
    @discardableResult
    private func rescan() -> [String] {
        guard let scanned = try? InterfaceDiscovery.scan() else { return [] }
        var opened: [String] = []
        state.withLock { state in
            state.interfaces = Dictionary(scanned.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for info in scanned where info.isUp && !info.isLoopback && info.isBroadcastCapable && state.sockets[info.name] == nil {
                if excluded.contains(where: { AnnounceInterfaces.globMatches($0, info.name) }) { continue }
                do {
                    state.sockets[info.name] = try PacketSocket(interface: info.name)
                    opened.append(info.name)
                } catch {
                    logger.warning("cannot open a packet socket", metadata: ["lb.interface": "\(info.name)", "lb.error": "\(error)"])
                }
            }
            Self.select(&state, excluded: excluded)
        }
        if !opened.isEmpty { logger.info("layer 2 interfaces", metadata: ["lb.interfaces": .array(opened.map { .string($0) })]) }
        return opened
    }

    /// Reader threads end by themselves once `stopping` is set (within one read timeout).
    private func startReader(_ name: String) {
        let thread = Thread { [self] in read(name) }
        thread.name = "ironlb-l2-\(name)"
        thread.start()
    }

    private func read(_ name: String) {
        guard let socket = state.withLock({ $0.sockets[name] }) else { return }
        var memberships: SolicitedNodeMemberships?
        var joined: Set<IPv6Address> = []
        while !stopping.load(ordering: .relaxed) {
            let (owned, info) = state.withLock { ($0.owned, $0.interfaces[name]) }
            guard let info else { return }
            // Join the solicited-node groups of the IPv6 VIPs answered here (switches that snoop
            // MLD deliver Neighbor Solicitations only to members).
            let wanted = Set(owned.compactMap { vip, names -> IPv6Address? in
                guard names.contains(name), case .v6(let v6) = vip else { return nil }
                return v6
            })
            if wanted != joined {
                if memberships == nil { memberships = try? SolicitedNodeMemberships() }
                for vip in wanted.subtracting(joined) { try? memberships?.join(vip: vip, interfaceIndex: socket.interfaceIndex) }
                for vip in joined.subtracting(wanted) { try? memberships?.leave(vip: vip, interfaceIndex: socket.interfaceIndex) }
                joined = wanted
            }
            let received: (bytes: [UInt8], type: PacketType)?
            do {
                received = try socket.receive(timeoutMilliseconds: 200)
            } catch {
                logger.warning("packet socket read failed", metadata: ["lb.interface": "\(name)", "lb.error": "\(error)"])
                return
            }
            guard let (bytes, type) = received, type != .outgoing else { continue }
            metrics.requestsReceived.increment()
            let interface = ResponderInterface(name: name, mac: info.mac, addresses: info.addresses)
            switch Responder.decide(ByteBuffer(bytes: bytes), arrivedOn: interface, owned: owned) {
            case .reply(let frame):
                do {
                    try socket.send(frame)
                    metrics.responsesSent.increment()
                } catch {
                    logger.warning("could not send a reply", metadata: ["lb.interface": "\(name)", "lb.error": "\(error)"])
                }
            case .drop(let reason):
                metrics.dropped(reason)
            }
        }
    }
}

/// Layer 2 counters, as MetalLB names them.
struct Layer2Metrics: Sendable {
    let requestsReceived: Counter
    let responsesSent: Counter
    let gratuitousSent: Counter
    private let registry: PrometheusCollectorRegistry

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        requestsReceived = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "layer2", metricName: "requests_received", unitName: "",
            helpText: "ARP requests and Neighbor Solicitations received on the answering interfaces."))
        responsesSent = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "layer2", metricName: "responses_sent", unitName: "",
            helpText: "ARP replies and Neighbor Advertisements sent for owned VIPs."))
        gratuitousSent = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "layer2", metricName: "gratuitous_sent", unitName: "",
            helpText: "Gratuitous ARP and unsolicited Neighbor Advertisements sent on takeover."))
    }

    func dropped(_ reason: DropReason) {
        registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "ironlb", subsystem: "layer2", metricName: "dropped", unitName: "",
            helpText: "Frames received and not answered, by reason."), labels: [("reason", reason.rawValue)]).increment()
    }
}
