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
/// informer: writes succeed, nothing arrives). After every event the simulation
/// checks that no VIP is answered by two running speakers.
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
        var lastWatchDelivery = ManualInstant.zero
        var timers: Set<ManualInstant> = []
    }

    struct Violation: Error, CustomStringConvertible {
        var description: String
    }

    let parameters: Parameters
    var rng: SplitMix64
    var now = ManualInstant.zero
    var store: [String: (holder: String?, version: Int)] = [:]
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

    init(seed: UInt64, parameters: Parameters = Parameters()) {
        self.parameters = parameters
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
                    ServiceRequirement(service: "ns/shared-a-\(index)", selectedNodes: all),
                    ServiceRequirement(service: "ns/shared-b-\(index)", selectedNodes: all),
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
            inputs.append(.nodeUpserted(NodeState(name: name, labels: labels)))
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
        clusterInputs = inputs + [.synced]
        for name in names {
            nodes.append(Node(name: name, core: Core(nodeName: name, timings: parameters.timings)))
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
            let nextWatch = nodes.compactMap { node in node.running && !node.partitioned && !node.watchStalled ? node.watch.first?.deliverAt : nil }.min()
            if let nextWatch, nextWatch < events[index].at {
                now = max(now, nextWatch)
                continue
            }
            guard events[index].at <= until else { break }
            let event = events.remove(at: index)
            now = max(now, event.at)
            processed += 1
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
        }
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
    }

    mutating func handle(_ kind: EventKind) {
        switch kind {
        case .restart(let index):
            guard !nodes[index].running else { return }
            kill(index)
            let name = nodes[index].name
            nodes[index].running = true
            nodes[index].core = Core(nodeName: name, timings: parameters.timings)
            // An informer starts with a list: the whole store, in the watch's order.
            for (lease, entry) in store.sorted(by: { $0.value.version < $1.value.version }) {
                enqueueWatch(index, lease: lease, holder: entry.holder, version: entry.version)
            }
            for input in clusterInputs { apply(nodes[index].core.apply(input, now: now), to: index) }
            apply(nodes[index].core.start(now: now), to: index)
        case .heal(let index):
            nodes[index].partitioned = false
        case .unstall(let index):
            nodes[index].watchStalled = false
        case .timer(let index, let incarnation):
            guard nodes[index].running, nodes[index].incarnation == incarnation else { return }
            nodes[index].timers = nodes[index].timers.filter { $0 > now }
            apply(nodes[index].core.timerFired(now: now), to: index)
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
            apply(nodes[index].core.leaseOutcome(sentAt: sentAt, result, now: now), to: index)
        }
    }

    mutating func send(_ index: Int, _ request: Request, sentAt: ManualInstant) {
        let incarnation = nodes[index].incarnation
        if nodes[index].partitioned {
            schedule(at: sentAt.advanced(by: parameters.requestTimeout), .response(node: index, incarnation: incarnation, sentAt: sentAt, outcome: .failed))
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
            outcome = .success(resourceVersion: write(name, holder: name))
        case .own(.renew(let version)):
            if let entry = store[name], entry.holder == name, String(entry.version) == version {
                outcome = .success(resourceVersion: write(name, holder: name))
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
                _ = write(target, holder: nil)
            }
            return  // the breaker learns the result from its watch
        }
        if loseResponse || nodes[index].partitioned {
            schedule(at: sentAt.advanced(by: parameters.requestTimeout), .response(node: index, incarnation: incarnation, sentAt: sentAt, outcome: .failed))
        } else {
            schedule(at: now.advanced(by: rng.duration(0...latencySeconds)), .response(node: index, incarnation: incarnation, sentAt: sentAt, outcome: outcome))
        }
    }

    mutating func write(_ lease: String, holder: String?) -> String {
        let version = nextVersion
        nextVersion += 1
        store[lease] = (holder, version)
        for index in nodes.indices where nodes[index].running {
            enqueueWatch(index, lease: lease, holder: holder, version: version)
        }
        return String(version)
    }

    mutating func enqueueWatch(_ index: Int, lease: String, holder: String?, version: Int) {
        let at = max(nodes[index].lastWatchDelivery, now.advanced(by: rng.duration(0...lagSeconds)))
        nodes[index].lastWatchDelivery = at
        nodes[index].watch.append(WatchItem(deliverAt: at, lease: lease, holder: holder, resourceVersion: String(version)))
    }

    /// Hands due watch events to running, connected speakers, in order; true if any.
    @discardableResult
    mutating func deliverWatches() -> Bool {
        var any = false
        for index in nodes.indices where nodes[index].running && !nodes[index].partitioned && !nodes[index].watchStalled {
            while let item = nodes[index].watch.first, item.deliverAt <= now {
                nodes[index].watch.removeFirst()
                any = true
                let input = SpeakerInput.lease(node: item.lease, held: item.holder != nil, resourceVersion: item.resourceVersion)
                apply(nodes[index].core.apply(input, now: now), to: index)
                guard nodes[index].running else { break }
            }
        }
        return any
    }

    mutating func apply(_ actions: [Core.Action], to index: Int) {
        for action in actions {
            guard nodes[index].running else { return }
            switch action {
            case .lease(let request, let sentAt):
                send(index, .own(request), sentAt: sentAt)
            case .breakLease(let node, let version):
                send(index, .breakLease(node: node, resourceVersion: version), sentAt: now)
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
            case .answering:
                break
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
        guard !nodes[index].timers.contains(at) else { return }
        nodes[index].timers.insert(at)
        schedule(at: at, .timer(node: index, incarnation: nodes[index].incarnation))
    }

    /// Never two running speakers answering one VIP; excluded nodes never answer.
    func check() throws {
        if let pendingViolation { throw Violation(description: pendingViolation) }
        var seen: [IPAddress: String] = [:]
        for index in nodes.indices where nodes[index].running {
            for vip in nodes[index].answered {
                if let other = seen[vip] {
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
        for index in nodes.indices {
            nodes[index].partitioned = false
            nodes[index].watchStalled = false
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
