#if os(Linux) && canImport(Glibc)
import CMemoryShim
#endif

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
