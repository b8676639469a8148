// CMemoryShim: glibc's allocator settings, which the Glibc module does not export (<malloc.h>).
#ifndef CMEMORYSHIM_H
#define CMEMORYSHIM_H

#if defined(__linux__)
#include <malloc.h>

/// mallopt(3). Returns 1 on success, 0 on error.
static inline int cms_mallopt(int parameter, int value) { return mallopt(parameter, value); }

/// Bytes the allocator holds free (mallinfo2(3) `fordblks`: freed, not yet reused or returned).
static inline unsigned long cms_free_heap_bytes(void) { return (unsigned long)mallinfo2().fordblks; }

/// malloc_trim(3) with no padding: gives the kernel back every whole free page, in the middle of
/// the heap too. Returns 1 when it released memory.
static inline int cms_malloc_trim(void) { return malloc_trim(0); }

static const int CMS_M_TRIM_THRESHOLD = M_TRIM_THRESHOLD;
static const int CMS_M_MMAP_THRESHOLD = M_MMAP_THRESHOLD;
static const int CMS_M_ARENA_MAX = M_ARENA_MAX;
#endif

#endif
