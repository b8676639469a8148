// Speaker benchmark: time from a Service's creation in KubeSim to its /32 in FRR's RIB (through
// the controller's allocation and the speakers' UPDATEs), and from its deletion to the route's
// withdrawal; median over 50 Services, one at a time. Needs root (network namespaces) and FRR.
// The resolution is that of polling FRR with vtysh (about 20-40 ms per query here), which the
// output reports; there is no other speaker to compare with in this run.
import Foundation
import Synchronization
import TestSupport

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

guard geteuid() == 0, let ironlb = BuiltProducts.executable("ironlb") else {
    print("bench-speaker needs root and the ironlb executable built beside it (swift build -c release)")
    exit(2)
}
let count = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 50
let frrConfig = FRRRouter.speakerPeering(neighbors: ["192.0.2.11", "192.0.2.12"])
let config = """
peers:
- {peer-address: 192.0.2.1, peer-asn: 65001, my-asn: 64512}
address-pools:
- {name: public, protocol: bgp, addresses: [203.0.113.0/24]}
"""

let lab = try InteropLab(ironlb: ironlb)
defer { lab.tearDown() }
try lab.addNode("node1", address: "192.0.2.11")
try lab.addNode("node2", address: "192.0.2.12")
lab.frr = try FRRRouter(namespace: lab.rtr, config: frrConfig)
let frr = lab.frr!
try await lab.startControlPlane(config: config, nodes: ["node1", "node2"])
try lab.startSpeaker("node1", address: "192.0.2.11")
try lab.startSpeaker("node2", address: "192.0.2.12")
guard await poll(timeout: 120, interval: 0.5, { frr.neighborState("192.0.2.11") == "Established" && frr.neighborState("192.0.2.12") == "Established" }) else {
    print("BGP sessions did not come up")
    lab.dumpLogs()
    exit(1)
}

let queryTimes = Mutex<[Double]>([])
func hops(_ prefix: String) -> Set<String> {
    let t0 = now()
    let result = frr.nextHops(prefix, family: "ipv4")
    queryTimes.withLock { $0.append(now() - t0) }
    return result
}

var toRoute: [Double] = []
var toWithdrawn: [Double] = []
for n in 0..<count {
    let name = "bench-\(n)"
    // The pod runs before the Service exists: the measure is from the Service to the route.
    _ = try lab.addEndpoints(name, nodes: ["node1"])
    let start = now()
    _ = try lab.api("POST", "/api/v1/namespaces/default/services",
                    InteropLab.json(["metadata": ["name": name], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]]))
    guard await poll(timeout: 30, interval: 0.01, { lab.ingressIP(name) != nil }), let ip = lab.ingressIP(name) else {
        print("\(name): no IP"); exit(1)
    }
    guard await poll(timeout: 30, interval: 0.005, { hops("\(ip)/32") == ["192.0.2.11", "192.0.2.12"] }) else {
        print("\(name): route never reached FRR from both nodes"); exit(1)
    }
    toRoute.append(now() - start)
    let deleted = now()
    _ = try lab.api("DELETE", "/api/v1/namespaces/default/services/\(name)")
    guard await poll(timeout: 30, interval: 0.005, { hops("\(ip)/32").isEmpty }) else {
        print("\(name): route never withdrawn"); exit(1)
    }
    toWithdrawn.append(now() - deleted)
}
print("speaker end to end, \(count) Services, 2 nodes, FRR with ECMP:")
print(String(format: "  create -> /32 in FRR from both nodes: median %.0f ms, p90 %.0f ms", median(toRoute) * 1000, percentile(toRoute, 0.9) * 1000))
print(String(format: "  delete -> route gone from FRR:       median %.0f ms, p90 %.0f ms", median(toWithdrawn) * 1000, percentile(toWithdrawn, 0.9) * 1000))
print(String(format: "  measurement resolution (one vtysh query): median %.0f ms", median(queryTimes.withLock { $0 }) * 1000))
