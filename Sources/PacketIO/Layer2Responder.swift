import Foundation
import LinkWire
import NIOCore
import NetPrimitives
import Synchronization

/// The layer-2 data plane of a speaker: one packet socket and one reader thread per
/// interface that has something to answer, the responder's decision applied to every ARP
/// request and Neighbor Solicitation, solicited-node memberships for the IPv6 VIPs, and the
/// announcement frames. Its method shapes match the speaker's `Layer2DataPlane`.
///
/// Readers block in `recvfrom` on their own threads (packet sockets have no NIO channel);
/// everything they share sits behind one `Mutex`, and no lock is held while sending.
public final class Layer2Responder: Sendable {
    /// Counts since start, for metrics (`ironlb_layer2_*`).
    public struct Statistics: Hashable, Sendable {
        public var replies = 0
        public var drops: [DropReason: Int] = [:]
        public var errors = 0

        public init() {}
    }

    private struct State {
        var duties: [IPAddress: [String]] = [:]
        var interfaces: [InterfaceInfo] = []
        var plan: [IPAddress: Set<String>] = [:]
        var withoutSubnet: Set<IPAddress> = []
        var readers: [String: Reader] = [:]
        var joined: Set<IPv6Membership> = []
        var statistics = Statistics()
    }

    private struct IPv6Membership: Hashable {
        var vip: IPv6Address
        var interface: String
    }

    private let state = Mutex(State())
    private let memberships: Mutex<SolicitedNodeMemberships>
    private let excludedPatterns: [String]
    private let onDecision: (@Sendable (String, ResponderDecision) -> Void)?
    private let scan: @Sendable () throws(PacketIOError) -> [InterfaceInfo]

    /// `onDecision` sees every decision (for logs and tests; called on reader threads).
    public init(
        excludedPatterns: [String] = AnnounceInterfaces.defaultExcludedPatterns,
        onDecision: (@Sendable (String, ResponderDecision) -> Void)? = nil
    ) throws(PacketIOError) {
        memberships = Mutex(try SolicitedNodeMemberships())
        self.excludedPatterns = excludedPatterns
        self.onDecision = onDecision
        scan = { () throws(PacketIOError) in try InterfaceDiscovery.scan() }
    }

    deinit {
        let readers = state.withLock { $0.readers.values }
        for reader in readers { reader.stop() }
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// What is answered now: VIP → interface names.
    public var plan: [IPAddress: Set<String>] { state.withLock { $0.plan } }

    /// VIPs (of pools without `interfaces`) that no interface's subnet holds: answered on every
    /// candidate interface, which the speaker reports.
    public var vipsWithoutSubnet: Set<IPAddress> { state.withLock { $0.withoutSubnet } }

    /// The VIPs to answer for now, with their pool's interfaces (empty: the default choice).
    /// Opens and closes sockets and IPv6 memberships to match.
    public func answer(_ duties: [IPAddress: [String]]) {
        let interfaces = (try? scan()) ?? state.withLock { $0.interfaces }
        apply(duties: duties, interfaces: interfaces)
    }

    /// Sends the announcement frames (both gratuitous ARP forms, or an unsolicited NA) for
    /// these VIPs on every interface each is answered on.
    public func announce(_ vips: [IPAddress]) {
        let (plan, interfaces, readers) = state.withLock { ($0.plan, $0.interfaces, $0.readers) }
        for vip in vips {
            for (name, frame) in LinkAnnouncement.frames(for: vip, plan: plan, interfaces: interfaces) {
                do {
                    try readers[name]?.socket.send(frame)
                } catch {
                    state.withLock { $0.statistics.errors += 1 }
                }
            }
        }
    }

    /// Rescans the interfaces; where a MAC changed, an interface came up or appeared, the
    /// VIPs answered there are announced again. Call it periodically.
    public func rescan() {
        guard let interfaces = try? scan() else { return }
        let (old, duties) = state.withLock { ($0.interfaces, $0.duties) }
        let changes = InterfaceChange.between(old, interfaces)
        guard !changes.isEmpty else { return }
        apply(duties: duties, interfaces: interfaces)
        let again = Set(changes.filter(\.needsAnnouncement).map(\.interfaceName))
        let vips = state.withLock { state in state.plan.filter { !$0.value.isDisjoint(with: again) }.map(\.key) }
        announce(vips.sorted())
    }

    /// Stops every reader and leaves every group.
    public func stop() {
        apply(duties: [:], interfaces: state.withLock { $0.interfaces })
    }

    private func apply(duties: [IPAddress: [String]], interfaces: [InterfaceInfo]) {
        var plan: [IPAddress: Set<String>] = [:]
        var withoutSubnet: Set<IPAddress> = []
        for (vip, configured) in duties {
            let choice = AnnounceInterfaces.choose(for: vip, among: interfaces, configured: configured, excluding: excludedPatterns)
            if !choice.names.isEmpty { plan[vip] = choice.names }
            if choice.withoutSubnet { withoutSubnet.insert(vip) }
        }
        let needed = plan.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        let wantedGroups = Set(plan.flatMap { vip, names -> [IPv6Membership] in
            guard case .v6(let v6) = vip else { return [] }
            return names.map { IPv6Membership(vip: v6, interface: $0) }
        })
        let byName = Dictionary(interfaces.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

        // Open readers for new interfaces (and for those whose MAC changed) before taking the lock.
        let current = state.withLock { $0.readers }
        var opened: [String: Reader] = [:]
        var failed = 0
        for name in needed.sorted() {
            guard let info = byName[name] else { continue }
            if let reader = current[name], reader.interface.mac == info.mac { continue }
            do {
                opened[name] = try Reader(interface: ResponderInterface(name: name, mac: info.mac, addresses: info.addresses), owner: self)
            } catch {
                failed += 1
            }
        }
        let (retired, toJoin, toLeave) = state.withLock { state -> ([Reader], Set<IPv6Membership>, Set<IPv6Membership>) in
            var retired: [Reader] = []
            for (name, reader) in state.readers where !needed.contains(name) || opened[name] != nil {
                retired.append(reader)
                state.readers[name] = nil
            }
            state.readers.merge(opened) { _, new in new }
            state.duties = duties
            state.interfaces = interfaces
            state.withoutSubnet = withoutSubnet
            // Answer only where a socket is open (an interface may have vanished or refused).
            let readers = state.readers
            state.plan = plan.compactMapValues { names in
                let open = names.filter { readers[$0] != nil }
                return open.isEmpty ? nil : open
            }
            state.statistics.errors += failed
            let toJoin = wantedGroups.subtracting(state.joined), toLeave = state.joined.subtracting(wantedGroups)
            state.joined = wantedGroups
            return (retired, toJoin, toLeave)
        }
        for reader in retired { reader.stop() }
        for reader in opened.values { reader.start() }
        memberships.withLock { memberships in
            for group in toLeave {
                let index = if_nametoindex(group.interface)
                guard index != 0 else { continue }  // the interface is gone, and its groups with it
                try? memberships.leave(vip: group.vip, interfaceIndex: Int32(index))
            }
            for group in toJoin {
                let index = if_nametoindex(group.interface)
                guard index != 0 else { continue }
                do { try memberships.join(vip: group.vip, interfaceIndex: Int32(index)) } catch { state.withLock { $0.statistics.errors += 1 } }
            }
        }
    }

    fileprivate func handle(_ bytes: [UInt8], on interface: ResponderInterface, socket: PacketSocket) {
        let owned = state.withLock { $0.plan }
        let decision = Responder.decide(ByteBuffer(bytes: bytes), arrivedOn: interface, owned: owned)
        switch decision {
        case .reply(let reply):
            do {
                try socket.send(reply)
                state.withLock { $0.statistics.replies += 1 }
            } catch {
                state.withLock { $0.statistics.errors += 1 }
            }
        case .drop(let reason):
            state.withLock { $0.statistics.drops[reason, default: 0] += 1 }
        }
        onDecision?(interface.name, decision)
    }

    fileprivate func readFailed() {
        state.withLock { $0.statistics.errors += 1 }
    }
}

/// One interface's socket and the thread reading it.
private final class Reader: @unchecked Sendable {
    let interface: ResponderInterface
    let socket: PacketSocket
    private weak var owner: Layer2Responder?
    private let running = Atomic<Bool>(true)
    private let done = Mutex<Bool>(false)
    private var thread: Thread?

    init(interface: ResponderInterface, owner: Layer2Responder) throws(PacketIOError) {
        self.interface = interface
        socket = try PacketSocket(interface: interface.name)
        self.owner = owner
    }

    func start() {
        let thread = Thread { [self] in
            while running.load(ordering: .acquiring) {
                do {
                    guard let (bytes, type) = try socket.receive(timeoutMilliseconds: 200) else { continue }
                    if type == .outgoing { continue }
                    owner?.handle(bytes, on: interface, socket: socket)
                } catch {
                    owner?.readFailed()
                    Thread.sleep(forTimeInterval: 0.1)
                }
            }
            done.withLock { $0 = true }
        }
        thread.name = "ironlb-l2-\(interface.name)"
        self.thread = thread
        thread.start()
    }

    /// Asks the thread to finish; it does within one receive timeout. The socket closes when
    /// the last reference (the thread's) goes.
    func stop() {
        running.store(false, ordering: .releasing)
    }
}
