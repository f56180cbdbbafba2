/*
 * test_gc_scavenge.c - the collector gives idle memory back to the OS, but
 * not the memory it is about to reuse.
 *
 *   0. steady churn (1 GiB of 1 KiB and 24 KiB garbage, 1 MiB live, after
 *      a 256 MiB warm-up) takes fewer than 2048 page faults (getrusage):
 *      the scavenger does not release the pages each cycle's sweep frees
 *      only for the next allocations to fault them in again;
 *   1. 256 MiB of garbage (1 KiB objects and 256 KiB objects, held from a
 *      malloc'd table added as a root) is dropped and collected: the freed memory is not
 *      released by that cycle (what the last sweep freed is what allocation
 *      reuses next; releasing it would make the kernel zero every page
 *      again when it is reused), so heap_released stays under 32 MiB;
 *   2. after twelve more collections with a 1 MiB live set, the heap goal
 *      has been small for longer than the scavenger's memory of recent
 *      goals and the runs have been free for two cycles: at least 192 MiB
 *      is released (heap_released), heap_released <= heap_idle, and the
 *      process's resident set (from /proc/self/statm) fell by at least
 *      128 MiB from its peak;
 *   3. allocating 256 MiB again reuses the released pages: heap_sys does
 *      not grow by more than 16 MiB, and heap_released falls;
 *   the live set's contents are checked at the end.
 */
#include <sys/resource.h>

#include "gm_test.h"

#define MiB (1024.0 * 1024.0)
#define NOINLINE __attribute__((noinline))

/* The garbage is held from a malloc'd table added as a root, not as a
 * linked list: a stale copy of one address on a stack (conservative
 * scanning) then keeps one blob alive, not the rest of a list. */
#define MAX_BLOBS (1u << 20)
static void **g_blobs;
static size_t g_nblobs;
static uint64_t *volatile *g_live;
#define NLIVE 1024

static double rss_mib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    CHECK(f, "cannot open /proc/self/statm");
    unsigned long size = 0, resident = 0;
    CHECK(fscanf(f, "%lu %lu", &size, &resident) == 2, "cannot read /proc/self/statm");
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / MiB;
}

NOINLINE static void make_garbage(size_t total) {
    size_t done = 0;
    g_nblobs = 0;
    gm_add_roots(g_blobs, g_blobs + MAX_BLOBS);
    for (size_t i = 0; done < total; i++) {
        size_t sz = (i % 64 == 63) ? (256u << 10) : 1024;
        char *b = gm_alloc(sz);
        CHECK(b, "gm_alloc(%zu) failed", sz);
        CHECK(g_nblobs < MAX_BLOBS, "blob table full");
        memset(b, 0x5a, sz); /* touch every page */
        g_blobs[g_nblobs++] = b;
        done += sz;
    }
}

NOINLINE static void drop_garbage(void) {
    gm_remove_roots(g_blobs, g_blobs + MAX_BLOBS);
    memset(g_blobs, 0, g_nblobs * sizeof(void *));
    g_nblobs = 0;
    gm_test_clear_stack();
}

static long minor_faults(void) {
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0, "getrusage failed");
    return ru.ru_minflt;
}

NOINLINE static void churn(size_t total) {
    size_t done = 0;
    for (size_t i = 0; done < total; i++) {
        size_t sz = (i % 32 == 31) ? (24u << 10) : 1024;
        char *p = gm_alloc(sz);
        CHECK(p, "gm_alloc(%zu) failed", sz);
        p[0] = 1;
        p[sz - 1] = 1;
        done += sz;
    }
}

int main(int argc, char **argv) {
    /* Page faults are counted to see the scavenger's releases: marking is
     * kept stop-the-world, whose writes take no tracking faults (concurrent
     * marking's first write to each page after a cycle starts is a minor
     * fault of its own). */
    (void)argc;
    const char *debug = getenv("GOMEM_DEBUG");
    if (!debug || !strstr(debug, "gcstoptheworld")) {
        char setting[256];
        snprintf(setting, sizeof setting, "%s%sgcstoptheworld=1", debug ? debug : "", debug ? "," : "");
        setenv("GOMEM_DEBUG", setting, 1);
        gm_test_execv("/proc/self/exe", argv);
    }
    g_blobs = calloc(MAX_BLOBS, sizeof(void *));
    CHECK(g_blobs, "calloc failed");
    g_live = gm_alloc(NLIVE * sizeof(uint64_t *));
    CHECK(g_live, "gm_alloc failed");
    for (size_t i = 0; i < NLIVE; i++) {
        uint64_t *p = gm_alloc(1024);
        CHECK(p, "gm_alloc failed");
        for (int k = 0; k < 128; k++)
            p[k] = gm_test_word(i, (size_t)k);
        g_live[i] = p;
    }

    churn(256u << 20);
    long f0 = minor_faults();
    gm_memstats m0, m1, m2, m3;
    gm_read_memstats(&m0);
    churn(1024u << 20);
    long faults = minor_faults() - f0;
    gm_read_memstats(&m1);
    printf("steady churn: 1 GiB in %u cycles, %ld page faults, released %.1f MiB\n", m1.num_gc - m0.num_gc,
           faults, (double)m1.heap_released / MiB);
    CHECK(m1.num_gc - m0.num_gc >= 8, "only %u cycles in 1 GiB of churn", m1.num_gc - m0.num_gc);
    CHECK(faults < 2048, "%ld page faults in steady churn: freed pages are released and faulted in again", faults);

    make_garbage(256u << 20);
    double rss_peak = rss_mib();
    gm_read_memstats(&m0);
    drop_garbage();
    gm_gc();
    gm_read_memstats(&m1);
    printf("256 MiB dropped: heap_sys %.0f MiB, heap_idle %.0f MiB, released %.1f MiB after one cycle\n",
           (double)m1.heap_sys / MiB, (double)m1.heap_idle / MiB, (double)m1.heap_released / MiB);
    CHECK(m1.heap_idle >= (200u << 20), "only %.0f MiB idle after dropping 256 MiB", (double)m1.heap_idle / MiB);
    CHECK(m1.heap_released < (32u << 20),
          "%.1f MiB released by the cycle that freed it: memory about to be reused went back to the OS",
          (double)m1.heap_released / MiB);

    for (int i = 0; i < 12; i++)
        gm_gc();
    gm_read_memstats(&m2);
    double rss_idle = rss_mib();
    printf("after 12 more cycles: released %.0f MiB of %.0f MiB idle, RSS %.0f -> %.0f MiB\n",
           (double)m2.heap_released / MiB, (double)m2.heap_idle / MiB, rss_peak, rss_idle);
    CHECK(m2.heap_released >= (192u << 20), "only %.0f MiB released after 12 idle cycles",
          (double)m2.heap_released / MiB);
    CHECK(m2.heap_released <= m2.heap_idle, "heap_released %llu > heap_idle %llu",
          (unsigned long long)m2.heap_released, (unsigned long long)m2.heap_idle);
    CHECK(rss_peak - rss_idle >= 128.0, "RSS only fell from %.0f to %.0f MiB", rss_peak, rss_idle);

    make_garbage(256u << 20);
    gm_read_memstats(&m3);
    printf("256 MiB again: heap_sys %.0f -> %.0f MiB, released %.0f -> %.0f MiB\n", (double)m2.heap_sys / MiB,
           (double)m3.heap_sys / MiB, (double)m2.heap_released / MiB, (double)m3.heap_released / MiB);
    CHECK(m3.heap_sys <= m2.heap_sys + (16u << 20), "heap_sys grew %.0f -> %.0f MiB: released pages not reused",
          (double)m2.heap_sys / MiB, (double)m3.heap_sys / MiB);
    CHECK(m3.heap_released < m2.heap_released, "heap_released did not fall (%.0f -> %.0f MiB) on reuse",
          (double)m2.heap_released / MiB, (double)m3.heap_released / MiB);
    drop_garbage();

    for (size_t i = 0; i < NLIVE; i++)
        for (int k = 0; k < 128; k++)
            CHECK(g_live[i][k] == gm_test_word(i, (size_t)k), "live object %zu word %d changed", i, k);
    printf("test_gc_scavenge: ok\n");
    return 0;
}
