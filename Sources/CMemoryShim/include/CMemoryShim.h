// CMemoryShim: glibc's allocator settings, which the Glibc module does not export (<malloc.h>).
#ifndef CMEMORYSHIM_H
#define CMEMORYSHIM_H

#if defined(__linux__)
#include <malloc.h>

/// mallopt(3). Returns 1 on success, 0 on error.
static inline int cms_mallopt(int parameter, int value) { return mallopt(parameter, value); }

/// Bytes the allocator has handed out and not got back, from the heap and mmapped (mallinfo2's
/// uordblks + hblkhd), for benchmarks that count what a structure holds.
static inline size_t cms_heap_in_use(void) { struct mallinfo2 info = mallinfo2(); return info.uordblks + info.hblkhd; }

static const int CMS_M_TRIM_THRESHOLD = M_TRIM_THRESHOLD;
static const int CMS_M_MMAP_THRESHOLD = M_MMAP_THRESHOLD;
static const int CMS_M_ARENA_MAX = M_ARENA_MAX;
#endif

#endif
