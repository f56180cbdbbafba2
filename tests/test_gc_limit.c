/*
 * test_gc_limit.c - the soft memory limit (gm_set_memory_limit, Go's
 * GOMEMLIMIT) with the collector otherwise off (GOMEM_GC=off).
 *
 * The test re-executes itself with GOMEM_GC=off, then:
 *   - with a 64 MiB limit, 16 MiB live and 2 GiB of churn (512 MiB quick),
 *     collections start on their own (the limit, not GOGC, asks for them;
 *     none forced) and heap_sys never goes above 1.25 x the limit;
 *     the live objects stay intact;
 *   - gm_set_memory_limit(INT64_MAX) returns 64 MiB; with no limit and the
 *     collector off, 256 MiB more of garbage runs no collection and the
 *     heap grows past the old limit;
 *   - with a limit (32 MiB) below the live heap (48 MiB), churning 256 MiB
 *     still finishes: the collector does not collect without end (fewer
 *     collections than one per 1/16 of the live heap allocated), and
 *     the live objects stay intact.
 */
#include "gm_test.h"

#define NOINLINE __attribute__((noinline))
#define MiB (1024.0 * 1024.0)

typedef struct live_set {
    uint64_t *volatile *slots;
    size_t n;
    size_t size;
} live_set;

static live_set g_live;

static void make_live(size_t bytes, size_t size, uint64_t tag) {
    g_live.n = bytes / size;
    g_live.size = size;
    g_live.slots = gm_alloc(g_live.n * sizeof(void *));
    CHECK(g_live.slots, "gm_alloc failed");
    for (size_t i = 0; i < g_live.n; i++) {
        uint64_t *p = gm_alloc(size);
        CHECK(p, "gm_alloc failed");
        p[0] = tag + i;
        p[size / 8 - 1] = ~(tag + i);
        g_live.slots[i] = p;
    }
}

static void verify_live(uint64_t tag, const char *when) {
    for (size_t i = 0; i < g_live.n; i++) {
        uint64_t *p = g_live.slots[i];
        CHECK(gm_base(p) == p && p[0] == tag + i && p[g_live.size / 8 - 1] == ~(tag + i),
              "%s: live object %zu at %p lost or changed", when, i, (void *)p);
    }
}

/* Allocates `bytes` of garbage, reading memstats every 16 MiB; returns the
 * peak heap_sys seen. */
NOINLINE static uint64_t churn(uint64_t bytes, uint32_t *forced_out) {
    static const size_t sizes[] = {48, 256, 1024, 4096, 16384, 65536};
    uint64_t done = 0, next = 0, peak = 0;
    gm_memstats m;
    for (uint64_t i = 0; done < bytes; i++) {
        size_t sz = sizes[i % 6];
        char *p = gm_alloc(sz);
        CHECK(p, "gm_alloc(%zu) failed", sz);
        p[0] = 1;
        done += sz;
        if (done >= next) {
            next = done + (16u << 20);
            gm_read_memstats(&m);
            if (m.heap_sys > peak)
                peak = m.heap_sys;
        }
    }
    gm_read_memstats(&m);
    if (m.heap_sys > peak)
        peak = m.heap_sys;
    *forced_out = m.num_forced_gc;
    return peak;
}

int main(int argc, char **argv) {
    (void)argc;
    gm_test_gc_off(argv);
    bool quick = gm_test_quick();
    const char *gc = getenv("GOMEM_GC");
    CHECK(gc && strcmp(gc, "off") == 0, "not running with GOMEM_GC=off (re-exec failed?)");
    const int64_t limit = 64ll << 20;

    int64_t prev = gm_set_memory_limit(limit);
    CHECK(prev == INT64_MAX, "the default limit is %lld", (long long)prev);
    make_live(16u << 20, 1024, 1000);
    gm_memstats m0, m1, m2;
    gm_read_memstats(&m0);
    uint32_t forced;
    uint64_t total = quick ? (512u << 20) : (2048ull << 20);
    uint64_t peak = churn(total, &forced);
    gm_read_memstats(&m1);
    verify_live(1000, "under a 64 MiB limit");
    printf("limit 64 MiB, 16 MiB live, %.0f MiB churned: %u collections, heap_sys peak %.1f MiB\n",
           (double)total / MiB, m1.num_gc - m0.num_gc, (double)peak / MiB);
    CHECK(m1.num_gc - m0.num_gc >= 5, "%u collections under the limit with GOMEM_GC=off", m1.num_gc - m0.num_gc);
    CHECK(forced == m0.num_forced_gc, "collections were forced (%u -> %u) though nobody called gm_gc",
          m0.num_forced_gc, forced);
    CHECK(peak <= (uint64_t)limit + (uint64_t)limit / 4, "heap_sys reached %.1f MiB under a %.0f MiB limit",
          (double)peak / MiB, (double)limit / MiB);

    /* No limit: the collector is off again. */
    prev = gm_set_memory_limit(INT64_MAX);
    CHECK(prev == limit, "gm_set_memory_limit returned %lld, expected the 64 MiB set before", (long long)prev);
    gm_read_memstats(&m1);
    peak = churn(256u << 20, &forced);
    gm_read_memstats(&m2);
    printf("no limit: 256 MiB churned: %u collections, heap_sys peak %.1f MiB\n", m2.num_gc - m1.num_gc,
           (double)peak / MiB);
    CHECK(m2.num_gc == m1.num_gc, "%u collections with GOMEM_GC=off and no limit", m2.num_gc - m1.num_gc);
    CHECK(peak > (uint64_t)limit + (64u << 20), "heap_sys peak %.1f MiB: the heap did not grow once unlimited",
          (double)peak / MiB);
    verify_live(1000, "after the limit was lifted");

    /* A limit below the live heap: no collection without end. */
    gm_test_clear_stack();
    gm_gc();
    make_live(48u << 20, 1024, 5000);
    gm_set_memory_limit(32ll << 20);
    gm_read_memstats(&m1);
    double t0 = gm_test_now();
    churn(256u << 20, &forced);
    double t1 = gm_test_now();
    gm_read_memstats(&m2);
    uint32_t cycles = m2.num_gc - m1.num_gc;
    printf("limit 32 MiB under 48 MiB live: 256 MiB churned in %.1f s with %u collections\n", t1 - t0, cycles);
    verify_live(5000, "with the limit below the live heap");
    CHECK(cycles < (256u << 20) / ((48u << 20) / 16), "%u collections for 256 MiB with 48 MiB live: the collector "
          "collects without end when the limit is below the live heap", cycles);
    gm_set_memory_limit(INT64_MAX);
    printf("test_gc_limit: ok\n");
    return 0;
}
