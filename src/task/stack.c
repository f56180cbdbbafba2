/*
 * stack.c - growable goroutine stacks: reservation, guard, measurement,
 * shrinking.
 *
 * A growable stack is one anonymous mapping of GM_STACK_GUARD + max bytes,
 * read/write and MAP_NORESERVE, whose lowest GM_STACK_GUARD bytes are then
 * made PROT_NONE: two kernel maps (VMAs) per stack.  Nothing is committed up
 * front; the kernel gives a page frame the first time a page is touched, so
 * a goroutine starts with the one page its first frames touch and grows as
 * deep as it goes, with no copying and pointers to locals staying valid.
 * Running past max faults in the guard, which overflow.c reports.
 *
 * Stacks are touched from the top down and without holes (frames are
 * contiguous), so the resident part of a stack is a run [deepest, hi).
 * Shrinking keeps that true: it releases (MADV_DONTNEED) everything below
 * the parked goroutine's sp minus the red zone, once that part is mostly
 * unused (the used part is under a quarter of what is resident, as Go
 * shrinks at < 1/4 use); the mapping stays, so the pages come back on demand.
 *
 * Resident bytes are what the kernel says (mincore), never estimates.  The
 * mappings and the kernel's answers come from src/os/vm.c.
 *
 * The two maps per stack meet the kernel's vm.max_map_count (65530 by
 * default), which then caps a process near 32 K growable stacks; when mmap
 * or mprotect fails for that reason the error says so and names copy stacks
 * as the way out.
 */
#include <errno.h>

#include "task/task.h"

_Atomic uint64_t gm_stack_reserved; /* bytes mapped for stacks, guards included */

/* Without the address space for max bytes (ENOMEM under a small
 * ulimit -v), the reservation is halved down to GM_STACK_MIN_FALLBACK: the
 * goroutine's limit is then what it got (an overflow names that size). */
#define GM_STACK_MIN_FALLBACK ((size_t)64 << 10)

/* Under an address-space limit (RLIMIT_AS) a stack reserves at most
 * 1/256 of it (64 KiB at least): 8 MiB reservations would take a 64 MiB
 * limit in eight goroutines. */
static size_t limit_cap(void) {
    static _Atomic size_t cap; /* 0: not read; SIZE_MAX: no limit */
    size_t c = atomic_load_explicit(&cap, memory_order_relaxed);
    if (!c) {
        uint64_t as = gm_os_address_space_limit();
        c = SIZE_MAX;
        if (as != UINT64_MAX) {
            c = (size_t)(as / 256) & ~(gm_os_page_size() - 1);
            if (c < GM_STACK_MIN_FALLBACK)
                c = GM_STACK_MIN_FALLBACK;
        }
        atomic_store_explicit(&cap, c, memory_order_relaxed);
    }
    return c;
}

static bool count_maps_near_limit(void) {
    long limit = gm_os_max_map_count();
    long maps = gm_os_map_count();
    return limit > 0 && maps >= 0 && maps + 64 >= limit;
}

static bool stack_map(size_t max, char **lo, char **hi) {
    char *base = gm_os_map_guarded(GM_STACK_GUARD, max);
    if (!base)
        return false;
    size_t total = GM_STACK_GUARD + max;
    atomic_fetch_add_explicit(&gm_stack_reserved, total, memory_order_relaxed);
    *lo = base + GM_STACK_GUARD;
    *hi = base + total;
    return true;
}

bool gm_stack_alloc(size_t max, char **lo, char **hi) {
    if (max > limit_cap())
        max = limit_cap();
    for (;;) {
        if (stack_map(max, lo, hi))
            return true;
        if (errno != ENOMEM || max / 2 < GM_STACK_MIN_FALLBACK || count_maps_near_limit())
            break;
        max /= 2;
    }
    int err = errno;
    gm_stack_report_map_error(max, err);
    errno = err;
    return false;
}

void gm_stack_free(char *lo, char *hi) {
    size_t total = (size_t)(hi - lo) + GM_STACK_GUARD;
    gm_os_free(lo - GM_STACK_GUARD, total);
    atomic_fetch_sub_explicit(&gm_stack_reserved, total, memory_order_relaxed);
}

/* Resident bytes of [lo, hi), page aligned, as the kernel reports them. */
size_t gm_stack_resident(const char *lo, const char *hi) {
    return gm_os_resident(lo, hi);
}

void gm_stack_shrink(char *lo, char *hi, const char *sp) {
    size_t page = gm_os_page_size();
    uintptr_t keep = ((uintptr_t)sp - GM_STACK_REDZONE) & ~(uintptr_t)(page - 1);
    char *below = (char *)keep;
    if (below <= lo || below > hi)
        return;
    /* Cheap test first: resident stacks are contiguous from the top, so if
     * the page just below the kept part is not resident, nothing below is. */
    if (!gm_os_page_resident(below - page))
        return;
    size_t unused = gm_stack_resident(lo, below);
    size_t used = (size_t)(hi - below);
    if (used < (used + unused) / 4)
        gm_os_dontneed(lo, (size_t)(below - lo));
}

/* A pooled stack keeps its top page (the next goroutine's first frames). */
void gm_stack_release_all_but_top(char *lo, char *hi) {
    size_t page = gm_os_page_size();
    char *below = hi - page;
    if (below <= lo || !gm_os_page_resident(below - page))
        return;
    gm_os_dontneed(lo, (size_t)(below - lo));
}

/* Says why a stack could not be had, once per process: the map count limit
 * when that is what was hit, else plain exhaustion. */
void gm_stack_report_map_error(size_t size, int err) {
    static _Atomic int reported;
    if (err != ENOMEM || atomic_exchange(&reported, 1))
        return;
    long limit = gm_os_max_map_count();
    long maps = gm_os_map_count();
    if (limit > 0 && maps >= 0 && maps + 64 >= limit)
        gm_print("gomem: cannot map a %zu-byte goroutine stack: the process has %ld memory maps "
                 "and the kernel's limit vm.max_map_count is %ld (each growable stack takes 2); "
                 "raise it (sysctl -w vm.max_map_count=N) or use copy stacks "
                 "(GOMEM_STACK=copy, or gm_go_with with GM_STACK_COPY), which take none\n",
                 size, maps, limit);
    else
        gm_print("gomem: cannot map a %zu-byte goroutine stack: out of memory or address space "
                 "(copy stacks, GOMEM_STACK=copy, need far less)\n",
                 size);
}
