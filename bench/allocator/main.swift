// Allocator benchmark: 100,000 allocations and 100,000 releases in a /16 pool.
//
// Phase 1 fills 60,000 addresses lowest-first; phase 2 runs 40,000 rounds of "release a random
// Service, allocate a new one" (the freed holes must be found again, lowest first); phase 3
// releases everything. The reference in the same run is a scan-from-the-start allocator (the
// way MetalLB's allocator walks a pool), on the same workload cut to 20,000 allocations so it
// finishes; both rates are printed with their ratio.
import Foundation
import LBConfig
import LBCore
import NetPrimitives
import TestSupport


func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

let configuration: Configuration = {
    guard case .success(let parsed) = ConfigParser.parse("address-pools: [{name: big, protocol: bgp, addresses: [198.18.0.0/16]}]") else {
        fatalError("benchmark configuration does not parse")
    }
    return parsed.configuration
}()

func request(_ n: Int) -> AllocationRequest {
    AllocationRequest(service: ServiceKey(namespace: "bench", name: "svc-\(n)"), uid: "uid-\(n)", ports: [TransportPort(80)])
}

struct Result { var allocations = 0; var releases = 0; var seconds = 0.0; var allocationSeconds = 0.0; var releaseSeconds = 0.0 }

/// Runs the workload with `fill` initial allocations and `churn` release+allocate rounds.
func runIronLB(fill: Int, churn: Int) -> Result {
    var allocator = Allocator(configuration: configuration)
    var random = SplitMix64(state: 42)
    var live: [Int] = []
    var result = Result()
    let start = now()
    func allocate(_ n: Int) {
        let req = request(n)
        let t0 = now()
        let outcome = allocator.allocate(req)
        result.allocationSeconds += now() - t0
        guard case .success = outcome else { fatalError("allocation \(n) failed") }
        result.allocations += 1
    }
    func release(_ n: Int) {
        let key = request(n).service
        let t0 = now()
        allocator.release(key)
        result.releaseSeconds += now() - t0
        result.releases += 1
    }
    for n in 0..<fill {
        allocate(n)
        live.append(n)
    }
    for round in 0..<churn {
        let index = Int(random.next() % UInt64(live.count))
        release(live[index])
        allocate(fill + round)
        live[index] = fill + round
    }
    for n in live { release(n) }
    result.seconds = now() - start
    return result
}

/// The reference: first free address found by walking the pool from its start.
func runScan(fill: Int, churn: Int) -> Result {
    let first = IPv4Address("198.18.0.0")!.rawValue
    let size: UInt32 = 1 << 16
    var used: Set<UInt32> = []
    var byService: [Int: UInt32] = [:]
    var random = SplitMix64(state: 42)
    var live: [Int] = []
    var result = Result()
    func allocate(_ n: Int) {
        var offset: UInt32 = 0
        while offset < size && used.contains(first + offset) { offset += 1 }
        precondition(offset < size)
        used.insert(first + offset)
        byService[n] = first + offset
    }
    let start = now()
    for n in 0..<fill { allocate(n); live.append(n); result.allocations += 1 }
    for round in 0..<churn {
        let index = Int(random.next() % UInt64(live.count))
        used.remove(byService.removeValue(forKey: live[index])!)
        result.releases += 1
        allocate(fill + round)
        live[index] = fill + round
        result.allocations += 1
    }
    for n in live { used.remove(byService.removeValue(forKey: n)!); result.releases += 1 }
    result.seconds = now() - start
    return result
}

func rate(_ count: Int, _ seconds: Double) -> String { String(format: "%.0f", Double(count) / seconds) }

let full = runIronLB(fill: 60_000, churn: 40_000)
print("ironlb allocator, /16 pool: \(full.allocations) allocations + \(full.releases) releases in \(String(format: "%.3f", full.seconds)) s")
print("  allocations per second: \(rate(full.allocations, full.allocationSeconds))")
print("  releases per second: \(rate(full.releases, full.releaseSeconds))")

let small = runIronLB(fill: 12_000, churn: 8_000)
let scan = runScan(fill: 12_000, churn: 8_000)
print("same workload at 20,000 allocations:")
print("  ironlb (heap + high-water mark): \(rate(small.allocations + small.releases, small.seconds)) ops/s")
print("  reference (scan from pool start): \(rate(scan.allocations + scan.releases, scan.seconds)) ops/s")
print(String(format: "  ratio ironlb/scan time: %.3f", small.seconds / scan.seconds))
