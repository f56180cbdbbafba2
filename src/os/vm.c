/*
 * vm.c - virtual memory: every mapping gomem makes (heap arenas, metadata,
 * goroutine stacks), and what the kernel says is resident.
 *
 * The heap reserves address space PROT_NONE with MAP_NORESERVE (it costs
 * nothing but address space) and commits it read/write as spans are handed
 * out; idle pages go back to the kernel with MADV_DONTNEED, which keeps the
 * mapping (so no new VMA is made) and makes the pages read as zero again.
 * Metadata that is not heap (span records, thread records) comes from
 * gm_os_alloc, plain anonymous memory.  A goroutine stack is one mapping,
 * read/write and MAP_NORESERVE, whose lowest guard bytes are PROT_NONE
 * (two kernel maps).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>

#include "gm.h"
#include "os/vmopts.h"

bool gm_os_huge_pages = true;

/* Maps size bytes PROT_NONE exactly at want, or returns NULL. */
static void *reserve_at(uintptr_t want, size_t size) {
    char *p = mmap((void *)want, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if ((uintptr_t)p != want) { /* a kernel without MAP_FIXED_NOREPLACE took it as a hint */
        munmap(p, size);
        return NULL;
    }
    return p;
}

/* An aligned reservation costs no more address space than its size when
 * it can: the kernel's first choice, if aligned; else the aligned
 * addresses just below and above it (the kernel maps top-down, so the
 * space below is usually free).  Only then is size + align mapped and
 * trimmed, which needs twice the room for a moment: too much under a small
 * ulimit -v. */
void *gm_os_reserve(size_t size, size_t align) {
    if (gm_fault(GM_FAULT_RESERVE)) {
        errno = ENOMEM;
        return NULL;
    }
    char *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (align <= gm_os_page_size() || ((uintptr_t)p & (align - 1)) == 0)
        return p;
    munmap(p, size);
    uintptr_t down = (uintptr_t)p & ~(uintptr_t)(align - 1);
    void *q = down ? reserve_at(down, size) : NULL;
    if (!q)
        q = reserve_at(down + align, size);
    if (q)
        return q;
    size_t span = size + align;
    if (span < size)
        return NULL;
    p = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - (uintptr_t)p;
    if (head)
        munmap(p, head);
    size_t tail = span - head - size;
    if (tail)
        munmap((char *)start + size, tail);
    return (void *)start;
}

bool gm_os_commit(void *p, size_t size) {
    if (gm_fault(GM_FAULT_COMMIT)) {
        errno = ENOMEM;
        return false;
    }
    if (mprotect(p, size, PROT_READ | PROT_WRITE) != 0)
        return false;
    /* Heap memory is touched densely and scanned by the collector: huge
     * pages cut its TLB misses (where THP is in "madvise" mode).  Not while
     * writes are tracked for concurrent marking: a write-protect fault on a
     * huge page cost the writer milliseconds (the latency ring's stops
     * waited 5-6 ms for a thread inside one; 60 us without huge pages). */
    if (gm_os_huge_pages && !gm_dirty_available())
        madvise(p, size, MADV_HUGEPAGE);
    return true;
}

void gm_os_decommit(void *p, size_t size) {
    mmap(p, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

void gm_os_release(void *p, size_t size) {
    munmap(p, size);
}

bool gm_os_dontneed(void *p, size_t size) {
    if (gm_fault(GM_FAULT_MADVISE)) {
        errno = EAGAIN;
        return false;
    }
    return madvise(p, size, MADV_DONTNEED) == 0;
}

void *gm_os_alloc(size_t size) {
    if (gm_fault(GM_FAULT_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void gm_os_free(void *p, size_t size) {
    munmap(p, size);
}

bool gm_os_grow(void **p, size_t *cap, size_t used, size_t elem, size_t want, size_t first,
                _Atomic uint64_t *counted) {
    if (want <= *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : first;
    if (ncap < want)
        ncap = want;
    void *n = gm_os_alloc(ncap * elem);
    if (!n)
        return false;
    if (*p) {
        memcpy(n, *p, used * elem);
        gm_os_free(*p, *cap * elem);
    }
    if (counted)
        atomic_fetch_add_explicit(counted, (ncap - *cap) * elem, memory_order_relaxed);
    *p = n;
    *cap = ncap;
    return true;
}

void *gm_os_map_guarded(size_t guard, size_t size) {
    if (gm_fault(GM_FAULT_STACK)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = guard + size;
    char *base = mmap(NULL, total, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    if (mprotect(base, guard, PROT_NONE) != 0) {
        int err = errno;
        munmap(base, total);
        errno = err;
        return NULL;
    }
    return base;
}

size_t gm_os_resident(const void *lo, const void *hi) {
    size_t page = gm_os_page_size();
    unsigned char vec[1024];
    size_t n = 0;
    for (const char *p = lo; p < (const char *)hi;) {
        size_t pages = (size_t)((const char *)hi - p) / page;
        if (pages > sizeof vec)
            pages = sizeof vec;
        if (pages == 0 || mincore((void *)p, pages * page, vec) != 0)
            return n * page;
        for (size_t i = 0; i < pages; i++)
            n += vec[i] & 1;
        p += pages * page;
    }
    return n * page;
}

bool gm_os_page_resident(const void *p) {
    unsigned char v = 0;
    return mincore((void *)((uintptr_t)p & ~(uintptr_t)(gm_os_page_size() - 1)), 1, &v) == 0 && (v & 1);
}

size_t gm_os_page_size(void) {
    static size_t cached;
    if (!cached)
        cached = (size_t)sysconf(_SC_PAGESIZE);
    return cached;
}

int gm_os_ncpu(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static uint64_t clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t gm_nanotime(void) { return clock_ns(CLOCK_MONOTONIC); }
uint64_t gm_walltime(void) { return clock_ns(CLOCK_REALTIME); }
uint64_t gm_thread_cputime(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }
uint64_t gm_process_cputime(void) { return clock_ns(CLOCK_PROCESS_CPUTIME_ID); }
