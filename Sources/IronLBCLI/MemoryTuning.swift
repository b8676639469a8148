#if os(Linux) && canImport(Glibc)
import CMemoryShim
#endif
import ServiceLifecycle

/// glibc's allocator settings for the long-running daemons (docs/design/scale.md). By default
/// glibc raises its mmap threshold each time a large block is freed, so after the first few
/// hash tables have grown, every later large table comes from the heap and the holes the old
/// ones leave keep the RSS high; and each thread that allocates may get an arena of its own.
/// A fixed threshold returns large blocks to the kernel when they are freed; two arenas are
/// enough for the few busy threads. The environment (`MALLOC_ARENA_MAX`,
/// `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`) still overrides these.
enum MemoryTuning {
    static func apply() {
        #if os(Linux) && canImport(Glibc)
        // <malloc.h> through CMemoryShim (the Glibc module does not export mallopt).
        if Environment.value("MALLOC_MMAP_THRESHOLD_") == nil { _ = cms_mallopt(CMS_M_MMAP_THRESHOLD, 128 * 1024) }
        if Environment.value("MALLOC_TRIM_THRESHOLD_") == nil { _ = cms_mallopt(CMS_M_TRIM_THRESHOLD, 128 * 1024) }
        if Environment.value("MALLOC_ARENA_MAX") == nil { _ = cms_mallopt(CMS_M_ARENA_MAX, 2) }
        #endif
    }
}

/// When to give freed heap memory back to the kernel: once the allocator holds `threshold`
/// more free bytes than it did after the last trim (a burst's queues and grown tables were
/// freed). glibc's own trim only returns free memory at the top of the heap; what a burst frees
/// lies in the middle of it, under what is still in use, and stays resident (docs/design/scale.md,
/// "Controller").
struct HeapTrimPolicy: Sendable {
    var threshold: UInt
    /// Free bytes right after the last trim, lowered as the free memory is reused.
    private(set) var baseline: UInt

    init(threshold: UInt = 4 << 20, freeBytes: UInt) {
        self.threshold = threshold
        baseline = freeBytes
    }

    /// Whether to trim now, with the allocator holding `freeBytes` free.
    mutating func shouldTrim(freeBytes: UInt) -> Bool {
        baseline = min(baseline, freeBytes)
        return freeBytes >= baseline + threshold
    }

    /// After a trim: what is free now is the new baseline (trimmed pages still count as free).
    mutating func trimmed(freeBytes: UInt) {
        baseline = freeBytes
    }
}

/// Checks every `interval` how much freed memory the allocator holds and trims per
/// `HeapTrimPolicy` (the controller: a burst of thousands of Services leaves tens of MiB of
/// freed queues and tables inside its heap).
struct HeapScavenger: Service {
    var interval: Duration = .seconds(1)

    func run() async throws {
        #if os(Linux) && canImport(Glibc)
        let interval = self.interval
        await cancelWhenGracefulShutdown {
            var policy = HeapTrimPolicy(freeBytes: cms_free_heap_bytes())
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if policy.shouldTrim(freeBytes: cms_free_heap_bytes()) {
                    _ = cms_malloc_trim()
                    policy.trimmed(freeBytes: cms_free_heap_bytes())
                }
            }
        }
        #endif
    }
}
