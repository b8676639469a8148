import HeapModule
import LBConfig
import NetPrimitives

/// The addresses of one family in one pool, numbered 0..<count in address order, with the
/// occupied ones. Finding the lowest free address is O(log n) amortized in the number of
/// addresses in use, and never walks the pool:
///
/// - every offset at or above `highWater` is free unless `occupied` says otherwise (only an
///   explicitly requested IP can be occupied up there), so the lowest free one at or above it
///   is found by stepping over occupied or skipped offsets, each stepped over once;
/// - every free offset below `highWater` was freed by a release and sits in `holes`, a min-heap
///   that may also hold stale entries (re-occupied since), dropped when they surface.
struct AddressSpace: Sendable {
    struct Block: Sendable {
        let start: UInt128      // the first address, as an integer
        let count: UInt128
        let firstOffset: UInt128
    }

    let family: IPFamily
    let avoidBuggyIPs: Bool
    private let blocks: [Block]
    let count: UInt128
    private(set) var occupied: Set<UInt128> = []
    private var holes = Heap<UInt128>()
    private var highWater: UInt128 = 0

    init(family: IPFamily, ranges: [IPRange], avoidBuggyIPs: Bool) {
        self.family = family
        self.avoidBuggyIPs = avoidBuggyIPs && family == .ipv4
        var blocks: [Block] = []
        var offset: UInt128 = 0
        for range in ranges.filter({ $0.family == family }).sorted() {
            let size = range.count
            blocks.append(Block(start: range.first.integer, count: size, firstOffset: offset))
            let (next, overflow) = offset.addingReportingOverflow(size)
            offset = overflow ? .max : next
        }
        self.blocks = blocks
        self.count = offset
    }

    /// Addresses that may be handed out (all of them, less .0 and .255 with avoid-buggy-ips).
    var usableCount: UInt128 {
        guard avoidBuggyIPs else { return count }
        var buggy: UInt128 = 0
        for block in blocks {
            let last = block.start + block.count - 1
            buggy += Self.countMatching(low: block.start, high: last, residue: 0)
            buggy += Self.countMatching(low: block.start, high: last, residue: 255)
        }
        return count - buggy
    }

    var occupiedCount: Int { occupied.count }

    /// Numbers x in [low, high] with x % 256 == residue.
    private static func countMatching(low: UInt128, high: UInt128, residue: UInt128) -> UInt128 {
        func upTo(_ n: UInt128) -> UInt128 { n < residue ? 0 : (n - residue) / 256 + 1 }
        return upTo(high) - (low == 0 ? 0 : upTo(low - 1))
    }

    func offset(of address: IPAddress) -> UInt128? {
        guard address.family == family else { return nil }
        let value = address.integer
        // The last block starting at or before `value`.
        var low = 0, high = blocks.count
        while low < high {
            let mid = (low + high) / 2
            if blocks[mid].start <= value { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let block = blocks[low - 1]
        let delta = value - block.start
        return delta < block.count ? block.firstOffset + delta : nil
    }

    func address(at offset: UInt128) -> IPAddress {
        var low = 0, high = blocks.count
        while low < high {
            let mid = (low + high) / 2
            if blocks[mid].firstOffset <= offset { low = mid + 1 } else { high = mid }
        }
        let block = blocks[low - 1]
        return IPAddress(family: family, integer: block.start + (offset - block.firstOffset))
    }

    func contains(_ address: IPAddress) -> Bool { offset(of: address) != nil }

    func isBuggy(_ address: IPAddress) -> Bool {
        guard avoidBuggyIPs, case .v4(let v4) = address else { return false }
        let last = v4.rawValue & 0xff
        return last == 0 || last == 255
    }

    func isOccupied(_ address: IPAddress) -> Bool {
        offset(of: address).map(occupied.contains) ?? false
    }

    /// The lowest free, usable address, without taking it.
    mutating func lowestFree() -> IPAddress? {
        while let hole = holes.min {
            if occupied.contains(hole) || isBuggy(address(at: hole)) {
                _ = holes.popMin()        // stale (re-occupied since it was freed), or now avoided
                continue
            }
            return address(at: hole)
        }
        while highWater < count {
            if occupied.contains(highWater) || isBuggy(address(at: highWater)) {
                highWater += 1
                continue
            }
            return address(at: highWater)
        }
        return nil
    }

    /// Marks `address` occupied. Returns false when it is not in this space.
    @discardableResult
    mutating func occupy(_ address: IPAddress) -> Bool {
        guard let offset = offset(of: address) else { return false }
        occupied.insert(offset)
        return true
    }

    mutating func free(_ address: IPAddress) {
        guard let offset = offset(of: address), occupied.remove(offset) != nil else { return }
        if offset < highWater { holes.insert(offset) }
    }
}
