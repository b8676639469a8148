// Speaker core benchmark: what one Service change costs the speaker's pure core (NodeSpeaker:
// plan upkeep, Lease bookkeeping, the change handed to the sessions), as the number of Services
// grows. A core that recomputed everything per change would cost O(Services) per change; the
// incremental one should cost the same per change at 1,000 and at 10,000 Services. Prints the
// per-change cost at each size and their ratio (10k/1k; 1.0 means flat).
import Foundation
import L2Ownership
import LBCore
import NetPrimitives
import SpeakerCore
import TestSupport
import CMemoryShim

/// Bytes of heap in use (glibc's count of allocated chunks).
func heapInUse() -> Int { Int(cms_heap_in_use()) }

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

let config = """
    peers:
    - {peer-address: 2001:db8::1, peer-asn: 64501, my-asn: 64500}
    - {peer-address: 2001:db8::2, peer-asn: 64502, my-asn: 64500}
    address-pools:
    - {name: bgp, protocol: bgp, addresses: ["2001:db8:1::/112"]}
    - {name: l2, protocol: layer2, addresses: ["2001:db8:2::/112"]}
    """

func address(_ pool: UInt64, _ n: Int) -> IPAddress { .v6(IPv6Address(high: 0x2001_0db8_0000_0000 | pool << 16, low: UInt64(n) + 1)) }

struct Cost { var upsert = 0.0; var endpoints = 0.0; var delete = 0.0; var heldBytes = 0 }

/// n Services (half BGP, half layer 2, a third Local), one change at a time, after sync.
func run(_ n: Int) -> Cost {
    var node = NodeSpeaker<ManualInstant>(nodeName: "node-0", timings: .default)
    var t = ManualInstant.zero
    _ = node.apply(.config(config), now: t)
    for i in 0..<3 { _ = node.apply(.nodeUpserted(NodeState(name: "node-\(i)")), now: t) }
    _ = node.apply(.synced, now: t)
    for i in 1..<3 { _ = node.apply(.lease(node: "node-\(i)", held: true, resourceVersion: "\(i)", marker: nil), now: t) }
    var changes = 0
    func count(_ actions: [NodeSpeaker<ManualInstant>.Action]) { changes += actions.count }
    var cost = Cost()
    let keys = (0..<n).map { ServiceKey(namespace: "bench", name: "svc-\($0)") }
    let heapBefore = heapInUse()
    var start = now()
    // Cluster Services have a usable endpoint (on no particular node) before they are upserted.
    for i in 0..<n where i % 3 != 0 { _ = node.apply(.endpoints(keys[i], ServiceEndpoints(anyUsable: true)), now: t) }
    for i in 0..<n {
        t = t.advanced(by: .milliseconds(1))
        let ip = address(i % 2 == 0 ? 1 : 2, i)
        count(node.apply(.serviceUpserted(SpeakerService(key: keys[i], ips: [ip], localTrafficPolicy: i % 3 == 0)), now: t))
    }
    cost.upsert = (now() - start) / Double(n)
    start = now()
    for i in stride(from: 0, to: n, by: 3) {
        count(node.apply(.endpoints(keys[i], ServiceEndpoints(nodes: ["node-\(i % 3)"])), now: t))
    }
    cost.endpoints = (now() - start) / Double((n + 2) / 3)
    cost.heldBytes = heapInUse() - heapBefore
    start = now()
    for i in 0..<n { count(node.apply(.serviceDeleted(keys[i]), now: t)) }
    cost.delete = (now() - start) / Double(n)
    precondition(changes > 0 && node.plan.announced.isEmpty, "the benchmark did nothing")
    return cost
}

_ = run(200)   // warm-up
let small = run(1_000)
let large = run(10_000)
func us(_ s: Double) -> String { String(format: "%.1f µs", s * 1e6) }
print("speaker core, per change (release build recommended)")
print("  Services  upsert      endpoints   delete")
print("  1,000     \(us(small.upsert))  \(us(small.endpoints))  \(us(small.delete))")
print("  10,000    \(us(large.upsert))  \(us(large.endpoints))  \(us(large.delete))")
print(String(format: "ratio 10k/1k per change: upsert %.2f, endpoints %.2f, delete %.2f (1.0 = flat)",
             large.upsert / small.upsert, large.endpoints / small.endpoints, large.delete / small.delete))
print("heap held by the core with every Service in: 1,000: \(small.heldBytes / 1024) KiB; 10,000: \(large.heldBytes / 1024) KiB (\(large.heldBytes / 10_000) bytes per Service)")
