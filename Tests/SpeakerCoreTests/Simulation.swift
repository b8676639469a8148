import L2Ownership
import LBCore
import NetPrimitives
import SpeakerCore
import TestSupport

/// A cluster of speakers (`NodeSpeaker`, the pure core the speaker process runs) around a simulated API server, driven by a seeded generator:
/// Lease writes are compare-and-swap on a resourceVersion, commit after a random latency and
/// answer after another (or the answer is lost); every change reaches every speaker's watch
/// in order after a random lag; speakers crash (SIGKILL), stop (SIGTERM), restart, and lose
/// the API (partition: requests fail, the watch stalls) or only their watch (a stuck
/// informer: writes succeed, nothing arrives). With `probing`, the speakers also run the
/// failure detector over a simulated LAN (latency, loss) with its own faults: probes lost one
/// way, asymmetric partitions between two nodes, a blocked probe port, a frozen process
/// (SIGSTOP, then SIGCONT), and clocks that run at different rates. After every event the
/// simulation checks that no VIP is answered by two running speakers (a frozen one cannot
/// answer), except in the one window the design note admits: a live speaker whose Lease a
/// probe verdict broke, until it learns of it (counted in `admittedOverlaps`).
struct Simulation {
    typealias Lease = NodeLeaseStateMachine<ManualInstant>
    typealias Core = NodeSpeaker<ManualInstant>

    struct Parameters {
        var nodes = 4
        var vips = 8
        var timings = LeaseTimings.default
        var maxRequestLatency: Duration = .milliseconds(400)
        var maxWatchLag: Duration = .milliseconds(800)
        var requestTimeout: Duration = .seconds(2)
        /// Per processed event, the chance of each kind of fault.
        var crashChance = 0.002
        var stopChance = 0.002
        var partitionChance = 0.003
        /// The watch stalls while writes still succeed (a stuck informer).
        var watchStallChance = 0.002
        var responseLossChance = 0.02
        /// Whether a speaker that exited after SIGTERM is started again (like a DaemonSet).
        var restartStopped = true
        /// Nodes that carry the exclude-from-external-load-balancers label.
        var excluded: Set<Int> = []
        /// Run the failure detector (probes) between the speakers.
        var probing = false
        /// With probing: heartbeat Leases allowed (`--heartbeat-leases`, `NodeSpeaker.Probing.heartbeats`):
        /// speakers renew one only their speaker watches while every held Lease is marked so.
        var heartbeats = true
        /// Nodes that run as 0.1.0 did (a rolling update): no probes, no marker on their Lease,
        /// blind to markers (they break every Lease seen unchanged for `leaseDuration`), a closed
        /// probe port, 0.1.0's timings (no keep window). Until `upgradeAt`: a legacy node that
        /// (re)starts later runs this version.
        var legacyNodes: Set<Int> = []
        var upgradeAt: ManualInstant?
        var probeTimings = ProbeTimings.default
        var maxProbeLatency: Duration = .milliseconds(5)
        var probeLossChance = 0.01
        var freezeChance = 0.0
        var oneWayLossChance = 0.0
        var pairPartitionChance = 0.0
        var portBlockChance = 0.0
        /// Each node's clock runs at a rate drawn from this range (1 = true time).
        var clockRates: ClosedRange<Double> = 1...1
        /// Budget: a run fails (naming the seed and the step) rather than run unbounded, after
        /// this many events in all, or this many in a row without simulated time advancing
        /// (a livelock: actions that re-trigger each other at one instant).
        var maxEvents = 3_000_000
        var maxEventsAtOneInstant = 20_000
    }

    enum Outcome {
        case success(resourceVersion: String)
        case conflict
        case failed
        case read(heldBySelf: Bool, resourceVersion: String)
    }

    enum Request {
        case own(Lease.Request)
        case breakLease(node: String, resourceVersion: String)
    }

    enum EventKind {
        case commit(node: Int, incarnation: Int, request: Request, sentAt: ManualInstant, loseResponse: Bool)
        case response(node: Int, incarnation: Int, sentAt: ManualInstant, outcome: Outcome)
        case timer(node: Int, incarnation: Int)
        case restart(node: Int)
        case heal(node: Int)
        case unstall(node: Int)
        case datagram(node: Int, incarnation: Int, bytes: [UInt8], from: ProbeEndpoint)
        case refused(node: Int, incarnation: Int, peer: String)
        case thaw(node: Int, frozenFor: Duration)
        case endProbeFault(node: Int)
        case endPairPartition(Int, Int)
    }

    struct Event {
        var at: ManualInstant
        var sequence: Int
        var kind: EventKind
    }

    struct WatchItem {
        var deliverAt: ManualInstant
        var lease: String
        var holder: String?
        var resourceVersion: String
        var marker: LeaseProtocol?
        /// The node's heartbeat Lease (with probes), not its speaker Lease.
        var heartbeat = false
        /// Not a Lease: the end of the list at start (`SpeakerInput.synced`).
        var synced = false
    }

    struct Node {
        var name: String
        var incarnation = 0
        var running = false
        var partitioned = false
        var watchStalled = false
        var core: Core
        /// The VIPs the speaker answers (from its last setAnswers).
        var answered: Set<IPAddress> = []
        var watch: [WatchItem] = []
        /// Runs as 0.1.0 did (`Parameters.legacyNodes`).
        var legacy = false
        var lastWatchDelivery = ManualInstant.zero
        var timers: Set<ManualInstant> = []
        /// SIGSTOP: nothing runs (events wait) until then.
        var frozenUntil: ManualInstant?
        var frozenSince: ManualInstant?
        /// This node's clock rate.
        var rate = 1.0
        var outboundLost = false
        var inboundLost = false
        var portBlocked = false
    }

    struct Violation: Error, CustomStringConvertible {
        var description: String
    }

    let parameters: Parameters
    let seed: UInt64
    var rng: SplitMix64
    /// Events processed since simulated time last advanced (the livelock budget).
    var eventsAtThisInstant = 0
    var now = ManualInstant.zero
    var store: [String: (holder: String?, version: Int, marker: LeaseProtocol?)] = [:]
    /// With probes, speakers renew a heartbeat Lease per node that only its speaker watches.
    var heartbeats: [String: Int] = [:]
    var nextVersion = 1
    var nodes: [Node] = []
    var events: [Event] = []
    var sequence = 0
    let vips: [IPAddress]
    let services: [IPAddress: [ServiceRequirement]]
    /// What every speaker's informers list at start: configuration, Nodes, Services, endpoints.
    let clusterInputs: [SpeakerInput]
    /// Statistics, to check that the run exercised what it claims.
    var faultsEnabled = true
    var pendingViolation: String?
    var timeline: [Change] = []
    var announcements: [(ManualInstant, String, IPAddress)] = []
    var processed = 0
    var takeovers = 0
    var faults: [String: Int] = [:]
    /// Pairs of nodes that cannot exchange probes.
    var pairPartitions: Set<[Int]> = []
    /// When a Lease was broken while its speaker was running (a wrong probe verdict).
    var wrongBreaks: [String: ManualInstant] = [:]
    /// Two answering a VIP inside the admitted window, and the longest time since the break.
    var admittedOverlaps = 0
    var longestAdmittedOverlap: Duration = .zero
    /// Load figures: API writes committed, watch events delivered to speakers, probe datagrams
    /// and bytes sent.
    var apiWrites = 0
    var watchEvents = 0
    var probeDatagrams = 0
    var probeBytes = 0
    /// When set, what happened, one line per event or action (to trace a failing seed).
    var trace: [String]?
    let probeKey = ProbeKey(Array("simulation-probe-key-0123456789".utf8))!
    static let probePort: UInt16 = 7946

    init(seed: UInt64, parameters: Parameters = Parameters()) {
        self.parameters = parameters
        self.seed = seed
        rng = SplitMix64(state: seed)
        let names = (0..<parameters.nodes).map { "node-\($0)" }
        vips = (0..<parameters.vips).map { IPAddress.v4(IPv4Address(203, 0, 113, UInt8(10 + $0))) }
        var services: [IPAddress: [ServiceRequirement]] = [:]
        for (index, vip) in vips.enumerated() {
            let all = Set(names)
            switch index % 4 {
            case 1:
                // externalTrafficPolicy: Local with endpoints on two nodes.
                services[vip] = [ServiceRequirement(service: "ns/local-\(index)", selectedNodes: all, readyEndpointNodes: [names[index % names.count], names[(index + 1) % names.count]])]
            case 2:
                // Two Services sharing the IP.
                services[vip] = [
                    ServiceRequirement(service: "ns/cohost-a-\(index)", selectedNodes: all),
                    ServiceRequirement(service: "ns/cohost-b-\(index)", selectedNodes: all),
                ]
            default:
                services[vip] = [ServiceRequirement(service: "ns/svc-\(index)", selectedNodes: all)]
            }
        }
        self.services = services
        var inputs: [SpeakerInput] = [.config("""
            address-pools:
            - {name: sim, protocol: layer2, addresses: [\(vips.map { "\($0)/32" }.joined(separator: ", "))]}
            """)]
        for (index, name) in names.enumerated() {
            let labels = parameters.excluded.contains(index) ? ["node.kubernetes.io/exclude-from-external-load-balancers": "true"] : [:]
            inputs.append(.nodeUpserted(NodeState(name: name, labels: labels, addresses: [Self.address(of: index)])))
        }
        for vip in vips {
            for requirement in services[vip] ?? [] {
                let parts = requirement.service.split(separator: "/").map(String.init)
                let key = ServiceKey(namespace: parts[0], name: parts[1])
                inputs.append(.serviceUpserted(SpeakerService(key: key, ips: [vip], localTrafficPolicy: requirement.readyEndpointNodes != nil)))
                // Cluster: a usable endpoint somewhere (without a node); Local: on its nodes.
                inputs.append(.endpoints(key, requirement.readyEndpointNodes.map { ServiceEndpoints(nodes: $0) } ?? ServiceEndpoints(anyUsable: true)))
            }
        }
        // `.synced` comes on the Lease watch after the listed Leases (as the informers deliver
        // their list before they report synced).
        clusterInputs = inputs
        for name in names {
            nodes.append(Node(name: name, core: Core(nodeName: name, timings: parameters.timings)))
        }
        for index in nodes.indices {
            nodes[index].rate = Double.random(in: parameters.clockRates, using: &rng)
        }
        for index in nodes.indices {
            schedule(at: .zero.advanced(by: rng.duration(0...3)), .restart(node: index))
        }
    }

    // MARK: Driving

    /// Events stay sorted by (time, sequence): insertion by binary search.
    mutating func schedule(at: ManualInstant, _ kind: EventKind) {
        sequence += 1
        let event = Event(at: max(at, now), sequence: sequence, kind: kind)
        var low = 0, high = events.count
        while low < high {
            let mid = (low + high) / 2
            if events[mid].at <= event.at { low = mid + 1 } else { high = mid }
        }
        events.insert(event, at: low)
    }

    /// Processes events until `until`, with faults when `faultsEnabled`.
    mutating func run(until: ManualInstant, faultsEnabled: Bool) throws {
        self.faultsEnabled = faultsEnabled
        while true {
            if deliverWatches() { try check() }
            guard !events.isEmpty else { break }
            let index = 0
            let nextWatch = nodes.compactMap { node in node.running && !node.partitioned && !node.watchStalled && node.frozenUntil == nil ? node.watch.first?.deliverAt : nil }.min()
            if let nextWatch, nextWatch < events[index].at {
                if nextWatch > now { eventsAtThisInstant = 0 } else { eventsAtThisInstant += 1 }
                guard eventsAtThisInstant <= parameters.maxEventsAtOneInstant else {
                    throw Violation(description: "seed \(seed), step \(processed), \(now): watch deliveries without time advancing (livelock)")
                }
                now = max(now, nextWatch)
                continue
            }
            guard events[index].at <= until else { break }
            let event = events.remove(at: index)
            if event.at > now { eventsAtThisInstant = 0 }
            now = max(now, event.at)
            processed += 1
            eventsAtThisInstant += 1
            if processed > parameters.maxEvents || eventsAtThisInstant > parameters.maxEventsAtOneInstant {
                let why = processed > parameters.maxEvents ? "more than \(parameters.maxEvents) events" : "\(eventsAtThisInstant) events without time advancing (livelock)"
                throw Violation(description: "seed \(seed), step \(processed), \(now): \(why); pending \(events.count) events, next \(events.prefix(3).map { "\($0.kind)" })")
            }
            handle(event.kind)
            try check()
            if faultsEnabled { injectFaults() }
        }
        now = max(now, until)
        deliverWatches()
        try check()
    }

    mutating func injectFaults() {
        let index = Int.random(in: 0..<nodes.count, using: &rng)
        guard nodes[index].running else { return }
        let before = trace == nil ? [:] : faults
        defer {
            for (kind, count) in faults where before[kind, default: 0] != count && trace != nil { note("fault \(kind) on node-\(index)") }
        }
        if rng.chance(parameters.crashChance) {
            faults["crash", default: 0] += 1
            kill(index)
            schedule(at: now.advanced(by: rng.duration(1...40)), .restart(node: index))
        } else if rng.chance(parameters.stopChance) {
            faults["stop", default: 0] += 1
            apply(nodes[index].core.shutdown(now: now), to: index)
        } else if rng.chance(parameters.partitionChance), !nodes[index].partitioned {
            faults["partition", default: 0] += 1
            nodes[index].partitioned = true
            schedule(at: now.advanced(by: rng.duration(1...40)), .heal(node: index))
        } else if rng.chance(parameters.watchStallChance), !nodes[index].watchStalled {
            faults["watchStall", default: 0] += 1
            nodes[index].watchStalled = true
            schedule(at: now.advanced(by: rng.duration(1...40)), .unstall(node: index))
        } else if rng.chance(parameters.freezeChance), nodes[index].frozenUntil == nil {
            faults["freeze", default: 0] += 1
            let frozenFor = rng.duration(0.2...20)
            nodes[index].frozenUntil = now.advanced(by: frozenFor)
            nodes[index].frozenSince = now
            schedule(at: now.advanced(by: frozenFor), .thaw(node: index, frozenFor: frozenFor))
        } else if rng.chance(parameters.oneWayLossChance), !nodes[index].outboundLost, !nodes[index].inboundLost {
            let outbound = rng.chance(0.5)
            faults[outbound ? "probesLostOutbound" : "probesLostInbound", default: 0] += 1
            if outbound { nodes[index].outboundLost = true } else { nodes[index].inboundLost = true }
            schedule(at: now.advanced(by: rng.duration(1...30)), .endProbeFault(node: index))
        } else if rng.chance(parameters.portBlockChance), !nodes[index].portBlocked {
            faults["portBlocked", default: 0] += 1
            nodes[index].portBlocked = true
            schedule(at: now.advanced(by: rng.duration(1...30)), .endProbeFault(node: index))
        } else if rng.chance(parameters.pairPartitionChance), nodes.count > 2 {
            let other = (index + 1 + Int.random(in: 0..<(nodes.count - 1), using: &rng)) % nodes.count
            let pair = [min(index, other), max(index, other)]
            guard !pairPartitions.contains(pair) else { return }
            faults["pairPartition", default: 0] += 1
            pairPartitions.insert(pair)
            schedule(at: now.advanced(by: rng.duration(1...30)), .endPairPartition(pair[0], pair[1]))
        }
    }

    /// The node's probe address.
    static func address(of index: Int) -> IPAddress { .v4(IPv4Address(192, 0, 2, UInt8(10 + index))) }

    /// The node's clock now (it runs at `rate`).
    func local(_ index: Int) -> ManualInstant {
        ManualInstant(offset: now.offset * nodes[index].rate)
    }

    /// The simulation's time at which node `index`'s clock reads `instant`.
    func global(_ index: Int, _ instant: ManualInstant) -> ManualInstant {
        guard nodes[index].rate != 1 else { return instant }
        // Rounded up: the node's clock must read at least `instant` then (else a timer that finds
        // nothing due yet asks for the same instant again, forever).
        return ManualInstant(offset: instant.offset / nodes[index].rate + .microseconds(1))
    }

    /// SIGKILL: the process and everything it answered vanish at once.
    mutating func kill(_ index: Int) {
        for vip in nodes[index].answered.sorted() {
            timeline.append(Change(at: now, node: nodes[index].name, vip: vip, answering: false))
        }
        nodes[index].answered = []
        nodes[index].running = false
        nodes[index].incarnation += 1
        nodes[index].watch = []
        nodes[index].timers = []
        nodes[index].frozenUntil = nil
    }

    /// The node an event runs in, if it runs in one process (deferred while it is frozen).
    func target(of kind: EventKind) -> Int? {
        switch kind {
        case .timer(let index, _), .response(let index, _, _, _), .datagram(let index, _, _, _), .refused(let index, _, _): return index
        case .commit, .restart, .heal, .unstall, .thaw, .endProbeFault, .endPairPartition: return nil
        }
    }

    mutating func note(_ line: @autoclosure () -> String) {
        if trace != nil { trace!.append("\(now) \(line())") }
    }

    mutating func handle(_ kind: EventKind) {
        if let index = target(of: kind), let until = nodes[index].frozenUntil {
            schedule(at: until, kind)
            return
        }
        if trace != nil {
            switch kind {
            case .datagram(let index, _, let bytes, _):
                if let message = try? ProbeMessage(decoding: bytes, key: probeKey) { note("node-\(index) got \(message.kind) from \(message.from)") }
            default: note("event \(kind)")
            }
        }
        switch kind {
        case .thaw(let index, let frozenFor):
            guard nodes[index].frozenUntil != nil else { return }
            nodes[index].frozenUntil = nil
            // The tick that finds the gap runs before anything else (SpeakerDaemon.stallLimit).
            if nodes[index].running, frozenFor > .seconds(1) { apply(nodes[index].core.stalled(now: local(index)), to: index) }
        case .endProbeFault(let index):
            nodes[index].outboundLost = false
            nodes[index].inboundLost = false
            nodes[index].portBlocked = false
        case .endPairPartition(let a, let b):
            pairPartitions.remove([a, b])
        case .datagram(let index, let incarnation, let bytes, let from):
            guard nodes[index].running, nodes[index].incarnation == incarnation else { return }
            apply(nodes[index].core.probeReceived(bytes, from: from, now: local(index)), to: index)
        case .refused(let index, let incarnation, let peer):
            guard nodes[index].running, nodes[index].incarnation == incarnation else { return }
            apply(nodes[index].core.probeRefused(node: peer, now: local(index)), to: index)
        case .restart(let index):
            guard !nodes[index].running else { return }
            kill(index)
            let name = nodes[index].name
            nodes[index].running = true
            nodes[index].legacy = parameters.legacyNodes.contains(index) && parameters.upgradeAt.map { now < $0 } != false
            let probing = parameters.probing && !nodes[index].legacy
                ? Core.Probing(key: probeKey, incarnation: UInt64(now.offset.components.seconds * 1000 + 1000), seed: rng.next(), port: Self.probePort, timings: parameters.probeTimings, heartbeats: parameters.heartbeats)
                : nil
            // 0.1.0: the hand-off delay is the deadline plus one second, no keep window.
            let legacyTimings = LeaseTimings.flags(
                renewInterval: parameters.timings.renewInterval, renewDeadline: parameters.timings.renewDeadline,
                leaseDuration: parameters.timings.leaseDuration, keepWindow: .zero
            )
            nodes[index].core = Core(nodeName: name, timings: nodes[index].legacy ? legacyTimings : parameters.timings, probing: probing)
            // An informer starts with a list: the whole store, in the watch's order.
            var listed = store.map { (lease: $0.key, holder: $0.value.holder, version: $0.value.version, marker: $0.value.marker, heartbeat: false) }
            if let version = heartbeats[name] { listed.append((lease: name, holder: name, version: version, marker: nil, heartbeat: true)) }
            for entry in listed.sorted(by: { $0.version < $1.version }) {
                enqueueWatch(index, lease: entry.lease, holder: entry.holder, version: entry.version, marker: entry.marker, heartbeat: entry.heartbeat)
            }
            let syncedAt = max(nodes[index].lastWatchDelivery, now.advanced(by: rng.duration(0...lagSeconds)))
            nodes[index].lastWatchDelivery = syncedAt
            nodes[index].watch.append(WatchItem(deliverAt: syncedAt, lease: "", holder: nil, resourceVersion: "", synced: true))
            for input in clusterInputs { apply(nodes[index].core.apply(input, now: local(index)), to: index) }
            apply(nodes[index].core.start(now: local(index)), to: index)
        case .heal(let index):
            nodes[index].partitioned = false
        case .unstall(let index):
            nodes[index].watchStalled = false
        case .timer(let index, let incarnation):
            guard nodes[index].running, nodes[index].incarnation == incarnation else { return }
            nodes[index].timers = nodes[index].timers.filter { $0 > now }
            apply(nodes[index].core.timerFired(now: local(index)), to: index)
        case .commit(let index, let incarnation, let request, let sentAt, let loseResponse):
            commit(index, incarnation: incarnation, request: request, sentAt: sentAt, loseResponse: loseResponse)
        case .response(let index, let incarnation, let sentAt, let outcome):
            guard nodes[index].running, nodes[index].incarnation == incarnation else { return }
            let result: LeaseWriteOutcome
            switch outcome {
            case .success(let version): result = .succeeded(resourceVersion: version)
            case .conflict: result = .conflict
            case .failed: result = .failed
            case .read(let held, let version): result = .read(heldBySelf: held, resourceVersion: version)
            }
            apply(nodes[index].core.leaseOutcome(sentAt: sentAt, result, now: local(index)), to: index)
        }
    }

    mutating func send(_ index: Int, _ request: Request, sentAt: ManualInstant) {
        let incarnation = nodes[index].incarnation
        if nodes[index].partitioned {
            schedule(at: now.advanced(by: parameters.requestTimeout), .response(node: index, incarnation: incarnation, sentAt: sentAt, outcome: .failed))
            return
        }
        let loseResponse = faultsEnabled && rng.chance(parameters.responseLossChance)
        schedule(at: now.advanced(by: rng.duration(0...latencySeconds)), .commit(node: index, incarnation: incarnation, request: request, sentAt: sentAt, loseResponse: loseResponse))
    }

    var latencySeconds: Double { Double(parameters.maxRequestLatency.components.attoseconds) / 1e18 + Double(parameters.maxRequestLatency.components.seconds) }
    var lagSeconds: Double { Double(parameters.maxWatchLag.components.attoseconds) / 1e18 + Double(parameters.maxWatchLag.components.seconds) }

    /// The API server applies a write (compare-and-swap on the version) and answers.
    mutating func commit(_ index: Int, incarnation: Int, request: Request, sentAt: ManualInstant, loseResponse: Bool) {
        let name = nodes[index].name
        let outcome: Outcome
        switch request {
        case .own(.acquire):
            outcome = .success(resourceVersion: write(name, holder: name, marker: nodes[index].core.leaseProtocol))
        case .own(.heartbeat):
            // The heartbeat Lease: only its own speaker writes or watches it.
            apiWrites += 1
            let version = nextVersion
            nextVersion += 1
            heartbeats[name] = version
            if nodes[index].running { enqueueWatch(index, lease: name, holder: name, version: version, heartbeat: true) }
            outcome = .success(resourceVersion: String(version))
        case .own(.release) where nodes[index].core.leaseProtocol == .heartbeats:
            // The speaker's last version is its heartbeat's: the release clears its own holder.
            if let entry = store[name], entry.holder == name {
                outcome = .success(resourceVersion: write(name, holder: nil))
            } else {
                outcome = .conflict
            }
        case .own(.renew(let version)):
            if let entry = store[name], entry.holder == name, String(entry.version) == version {
                outcome = .success(resourceVersion: write(name, holder: name, marker: nodes[index].core.leaseProtocol))
            } else {
                outcome = .conflict
            }
        case .own(.release(let version)):
            if let entry = store[name], String(entry.version) == version {
                outcome = .success(resourceVersion: write(name, holder: nil))
            } else {
                outcome = .conflict
            }
        case .own(.read):
            let entry = store[name]
            outcome = .read(heldBySelf: entry?.holder == name, resourceVersion: entry.map { String($0.version) } ?? "0")
        case .breakLease(let target, let version):
            if let entry = store[target], String(entry.version) == version, entry.holder != nil {
                faults["break", default: 0] += 1
                if let victim = nodes.firstIndex(where: { $0.name == target }), nodes[victim].running {
                    faults["wrongBreak", default: 0] += 1
                    wrongBreaks[target] = now
                }
                _ = write(target, holder: nil)
            }
            return  // the breaker learns the result from its watch
        }
        if loseResponse || nodes[index].partitioned {
            schedule(at: max(now, global(index, sentAt).advanced(by: parameters.requestTimeout)), .response(node: index, incarnation: incarnation, sentAt: sentAt, outcome: .failed))
        } else {
            schedule(at: now.advanced(by: rng.duration(0...latencySeconds)), .response(node: index, incarnation: incarnation, sentAt: sentAt, outcome: outcome))
        }
    }

    /// Only the holder marks its Lease (acquire, renew); a release or a break leaves none.
    mutating func write(_ lease: String, holder: String?, marker: LeaseProtocol? = nil) -> String {
        apiWrites += 1
        if holder != nil { wrongBreaks[lease] = nil }
        let version = nextVersion
        nextVersion += 1
        store[lease] = (holder, version, marker)
        for index in nodes.indices where nodes[index].running {
            enqueueWatch(index, lease: lease, holder: holder, version: version, marker: marker)
        }
        return String(version)
    }

    mutating func enqueueWatch(_ index: Int, lease: String, holder: String?, version: Int, marker: LeaseProtocol? = nil, heartbeat: Bool = false) {
        let at = max(nodes[index].lastWatchDelivery, now.advanced(by: rng.duration(0...lagSeconds)))
        nodes[index].lastWatchDelivery = at
        watchEvents += 1
        nodes[index].watch.append(WatchItem(deliverAt: at, lease: lease, holder: holder, resourceVersion: String(version), marker: marker, heartbeat: heartbeat))
    }

    /// Hands due watch events to running, connected speakers, in order; true if any.
    @discardableResult
    mutating func deliverWatches() -> Bool {
        var any = false
        for index in nodes.indices where nodes[index].running && !nodes[index].partitioned && !nodes[index].watchStalled && nodes[index].frozenUntil == nil {
            while let item = nodes[index].watch.first, item.deliverAt <= now {
                nodes[index].watch.removeFirst()
                any = true
                let input = item.synced
                    ? SpeakerInput.synced
                    : item.heartbeat
                    ? SpeakerInput.heartbeat(node: item.lease, resourceVersion: item.resourceVersion)
                    // 0.1.0 reads no marker.
                    : SpeakerInput.lease(node: item.lease, held: item.holder != nil, resourceVersion: item.resourceVersion, marker: nodes[index].legacy ? nil : item.marker)
                note("node-\(index) watch \(item.lease) holder \(item.holder ?? "-") rv \(item.resourceVersion)")
                apply(nodes[index].core.apply(input, now: local(index)), to: index)
                guard nodes[index].running else { break }
            }
        }
        return any
    }

    mutating func apply(_ actions: [Core.Action], to index: Int) {
        for action in actions {
            guard nodes[index].running else { return }
            if trace != nil {
                switch action {
                case .scheduleTimer, .sendProbe, .replyProbe: break
                default: note("node-\(index) does \(action)")
                }
            }
            switch action {
            case .lease(let request, let sentAt):
                send(index, .own(request), sentAt: sentAt)
            case .breakLease(let node, let version):
                send(index, .breakLease(node: node, resourceVersion: version), sentAt: local(index))
            case .scheduleTimer(let at):
                timer(index, at: at)
            case .apply(let change):
                guard let layer2 = change.layer2 else { continue }
                let new = Set(layer2.keys)
                for vip in nodes[index].answered.subtracting(new).sorted() {
                    timeline.append(Change(at: now, node: nodes[index].name, vip: vip, answering: false))
                }
                for vip in new.subtracting(nodes[index].answered).sorted() {
                    takeovers += 1
                    timeline.append(Change(at: now, node: nodes[index].name, vip: vip, answering: true))
                }
                nodes[index].answered = new
                // The check runs between every two actions: a speaker that starts answering
                // must already be alone.
                do { try check() } catch { pendingViolation = pendingViolation ?? "\(error)" }
            case .announce(let vip):
                announcements.append((now, nodes[index].name, vip))
            case .answering, .peerDead, .peerFenced, .probeRejected, .yielded, .claimGranted:
                break
            case .sendProbe(let bytes, let endpoint, let peer):
                transmit(bytes, from: index, to: endpoint, connectedTo: peer)
            case .replyProbe(let bytes, let endpoint):
                transmit(bytes, from: index, to: endpoint, connectedTo: nil)
            case .exit:
                faults["exit", default: 0] += 1
                kill(index)
                if parameters.restartStopped { schedule(at: now.advanced(by: rng.duration(1...20)), .restart(node: index)) }
                return
            }
        }
    }

    struct Change {
        var at: ManualInstant
        var node: String
        var vip: IPAddress
        var answering: Bool
    }

    mutating func timer(_ index: Int, at: ManualInstant) {
        let at = global(index, at)
        guard !nodes[index].timers.contains(at) else { return }
        nodes[index].timers.insert(at)
        schedule(at: at, .timer(node: index, incarnation: nodes[index].incarnation))
    }

    /// One datagram over the simulated LAN. A datagram to a node whose speaker is not running
    /// is refused by its kernel (ICMP port unreachable), which the sender learns when it sent
    /// from a connected socket; a blocked port drops silently.
    mutating func transmit(_ bytes: [UInt8], from index: Int, to endpoint: ProbeEndpoint, connectedTo peer: String?) {
        probeDatagrams += 1
        probeBytes += bytes.count
        guard case .v4(let v4) = endpoint.address, let target = Optional(Int(v4.rawValue & 0xff) - 10), nodes.indices.contains(target) else { return }
        let latency = rng.duration(0...(Double(parameters.maxProbeLatency.components.attoseconds) / 1e18))
        if nodes[index].outboundLost || nodes[target].inboundLost || nodes[target].portBlocked
            || pairPartitions.contains([min(index, target), max(index, target)]) || rng.chance(parameters.probeLossChance) {
            return
        }
        // 0.1.0 has no probe port: its kernel refuses every probe.
        guard nodes[target].running, !nodes[target].legacy else {
            if let peer { schedule(at: now.advanced(by: latency * 2), .refused(node: index, incarnation: nodes[index].incarnation, peer: peer)) }
            return
        }
        let from = ProbeEndpoint(address: Self.address(of: index), port: peer == nil ? Self.probePort : 40000)
        schedule(at: now.advanced(by: latency), .datagram(node: target, incarnation: nodes[target].incarnation, bytes: bytes, from: from))
    }

    /// Never two running speakers answering one VIP; excluded nodes never answer.
    mutating func check() throws {
        if let pendingViolation { throw Violation(description: pendingViolation) }
        var seen: [IPAddress: String] = [:]
        for index in nodes.indices where nodes[index].running && nodes[index].frozenUntil == nil {
            for vip in nodes[index].answered {
                if let other = seen[vip] {
                    // Admitted: one of the two is a live speaker whose Lease a probe verdict broke,
                    // and it has not learnt it yet (the design note bounds this by renewDeadline).
                    let broken = [other, nodes[index].name].compactMap { wrongBreaks[$0] }.min()
                    if let broken, broken.duration(to: now) <= parameters.timings.renewDeadline + parameters.maxRequestLatency {
                        admittedOverlaps += 1
                        longestAdmittedOverlap = max(longestAdmittedOverlap, broken.duration(to: now))
                        continue
                    }
                    throw Violation(description: "\(now): \(vip) answered by \(other) and \(nodes[index].name)")
                }
                seen[vip] = nodes[index].name
                if parameters.excluded.contains(index) {
                    throw Violation(description: "\(now): excluded \(nodes[index].name) answers \(vip)")
                }
            }
        }
    }

    /// Ends every fault: partitions heal, stopped or crashed speakers restart.
    mutating func healAll() {
        pairPartitions = []
        for index in nodes.indices {
            nodes[index].partitioned = false
            nodes[index].watchStalled = false
            nodes[index].outboundLost = false
            nodes[index].inboundLost = false
            nodes[index].portBlocked = false
            // Thawed early: the gap the speaker sees is how long it was frozen so far.
            if let until = nodes[index].frozenUntil, until > now {
                schedule(at: now, .thaw(node: index, frozenFor: (nodes[index].frozenSince ?? .zero).duration(to: now)))
            }
            if !nodes[index].running { schedule(at: now, .restart(node: index)) }
        }
    }

    /// The VIP → answering speaker map.
    var answerers: [IPAddress: [String]] {
        Dictionary(uniqueKeysWithValues: vips.map { vip in (vip, nodes.filter { $0.running && $0.answered.contains(vip) }.map(\.name)) })
    }

    /// What every speaker would compute with a perfect view: the reference owner.
    func expectedOwner(of vip: IPAddress) -> String? {
        let candidates = nodes.indices.map { index in
            NodeCandidacy(name: nodes[index].name, leaseEligible: store[nodes[index].name]?.holder != nil, excludedByLabel: parameters.excluded.contains(index))
        }
        return OwnerElection.owner(of: vip, services: services[vip] ?? [], nodes: candidates)
    }
}
