/*
 * test_heap_stress.c - a million random heap operations against a shadow.
 *
 * A shadow table of 8192 slots records each live object's pointer, size,
 * kind and the tag of the pattern in its bytes.  Each operation picks a
 * slot and allocates (sizes log-uniform from 0 B to 32 KiB, a few large up
 * to 1 MiB; scan or noscan; gm_alloc, gm_alloc_noscan, gm_alloc_array or
 * gm_realloc(NULL, n)), frees, reallocs (contents below the smaller size
 * kept, bytes beyond the old size zero), or checks an object (pattern,
 * gm_base and gm_size of a random interior byte).  Every object is verified
 * before it is freed or resized; every so often all are verified and
 * checked for overlap.  The heap must not grow far beyond the live bytes.
 *
 * Runs with the collector off.  Seeded: prints its seed, takes
 * GM_TEST_SEED; GM_TEST_OPS changes the number of operations.
 */
#include "gm_test.h"

#define SLOTS 8192

typedef struct slot {
    unsigned char *p;
    size_t n;
    uint64_t tag;
    bool noscan;
} slot;

static slot tab[SLOTS];
static gm_rng rng;
static size_t live_bytes, peak_live;
static long op;

static bool is_tiny(const slot *s) {
    return s->noscan && s->n > 0 && s->n < 16;
}

static size_t random_size(void) {
    uint64_t r = gm_rng_below(&rng, 1000);
    if (r < 10)
        return 32769 + (size_t)gm_rng_below(&rng, (1 << 20) - 32768);
    unsigned bits = (unsigned)gm_rng_below(&rng, 16); /* up to 32 KiB */
    size_t lo = bits ? (size_t)1 << (bits - 1) : 0;
    size_t hi = (size_t)1 << bits;
    return lo + (size_t)gm_rng_below(&rng, hi - lo + 1);
}

static void verify(const slot *s, const char *when) {
    size_t bad = gm_test_verify(s->p, s->n, s->tag);
    CHECK(bad == (size_t)-1, "op %ld, %s: %s %zu-byte object %p: pattern broken at offset %zu", op, when,
          s->noscan ? "noscan" : "scan", s->n, (void *)s->p, bad);
    size_t gs = gm_size(s->p);
    CHECK(gs >= s->n, "op %ld, %s: gm_size(%p) = %zu < %zu", op, when, (void *)s->p, gs, s->n);
    if (!is_tiny(s)) {
        CHECK(gm_base(s->p) == s->p, "op %ld, %s: gm_base(%p) = %p", op, when, (void *)s->p, gm_base(s->p));
        size_t off = (size_t)gm_rng_below(&rng, gs);
        CHECK(gm_base(s->p + off) == s->p && gm_size(s->p + off) == gs,
              "op %ld, %s: %zu-byte object %p: gm_base(p+%zu) = %p, gm_size %zu", op, when, gs, (void *)s->p, off,
              gm_base(s->p + off), gm_size(s->p + off));
    }
}

static void drop(slot *s) {
    verify(s, "before free");
    gm_free(s->p);
    live_bytes -= s->n;
    memset(s, 0, sizeof *s);
}

static void make(slot *s) {
    size_t n = random_size();
    bool noscan = gm_rng_below(&rng, 2);
    unsigned char *p;
    switch (gm_rng_below(&rng, 4)) {
    case 0:
        p = noscan ? gm_alloc_noscan(n) : gm_alloc(n);
        break;
    case 1: {
        /* As an array of 1, 2, 4 or 8-byte elements (rounded down). */
        size_t elem = (size_t)1 << gm_rng_below(&rng, 4);
        n = n / elem * elem;
        p = noscan ? gm_alloc_noscan(n) : gm_alloc_array(elem, n / elem);
        break;
    }
    case 2:
        p = noscan ? gm_alloc_noscan(n) : gm_realloc(NULL, n);
        break;
    default:
        p = noscan ? gm_alloc_noscan(n) : gm_alloc(n);
        break;
    }
    CHECK(p != NULL, "op %ld: allocating %zu bytes failed", op, n);
    CHECK(n < 16 || (uintptr_t)p % 16 == 0, "op %ld: %zu-byte object %p not 16-byte aligned", op, n, (void *)p);
    size_t nz = gm_test_first_nonzero(p, n);
    CHECK(nz == (size_t)-1, "op %ld: new %zu-byte object %p not zeroed at offset %zu", op, n, (void *)p, nz);
    s->p = p;
    s->n = n;
    s->noscan = noscan;
    s->tag = gm_rng_next(&rng);
    gm_test_fill(p, n, s->tag);
    live_bytes += n;
    if (live_bytes > peak_live)
        peak_live = live_bytes;
}

static void resize(slot *s) {
    verify(s, "before realloc");
    size_t old = s->n, n = random_size();
    if (n == 0)
        n = 1; /* gm_realloc(p, 0) frees: done by drop() */
    unsigned char *q = gm_realloc(s->p, n);
    CHECK(q != NULL, "op %ld: gm_realloc(%p, %zu) failed", op, (void *)s->p, n);
    size_t keep = old < n ? old : n;
    size_t bad = gm_test_verify(q, keep, s->tag);
    CHECK(bad == (size_t)-1, "op %ld: gm_realloc %zu -> %zu (%p -> %p): contents lost at offset %zu", op, old, n,
          (void *)s->p, (void *)q, bad);
    if (n > old) {
        /* Beyond the old size: zero (tiny objects included: the heap knows
         * their bounds, so their neighbours' bytes are not copied along). */
        size_t nz = gm_test_first_nonzero(q + old, n - old);
        CHECK(nz == (size_t)-1, "op %ld: gm_realloc %zu -> %zu (%s, %p -> %p): byte %zu beyond the old size is not zero",
              op, old, n, s->noscan ? "noscan" : "scan", (void *)s->p, (void *)q, old + nz);
        /* The pattern does not depend on the length: extend it. */
        gm_test_fill(q, n, s->tag);
    }
    live_bytes = live_bytes - old + n;
    if (live_bytes > peak_live)
        peak_live = live_bytes;
    s->p = q;
    s->n = n;
}

static int cmp_slot(const void *a, const void *b) {
    const slot *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p;
}

static void verify_all(const char *when) {
    static slot sorted[SLOTS];
    size_t k = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        if (!tab[i].p)
            continue;
        verify(&tab[i], when);
        sorted[k++] = tab[i];
    }
    qsort(sorted, k, sizeof *sorted, cmp_slot);
    for (size_t i = 1; i < k; i++)
        CHECK(sorted[i - 1].p + sorted[i - 1].n <= sorted[i].p, "op %ld, %s: objects %p (%zu B) and %p (%zu B) overlap",
              op, when, (void *)sorted[i - 1].p, sorted[i - 1].n, (void *)sorted[i].p, sorted[i].n);
}

int main(int argc, char **argv) {
    (void)argc;
    gm_test_gc_off(argv);
    rng.s = gm_test_seed("test_heap_stress");
    long ops = 1000000;
    const char *e = getenv("GM_TEST_OPS");
    if (e && *e)
        ops = strtol(e, NULL, 0);
    long counts[4] = {0};
    double t0 = gm_test_now();
    for (op = 0; op < ops; op++) {
        slot *s = &tab[gm_rng_below(&rng, SLOTS)];
        uint64_t what = gm_rng_below(&rng, 100);
        if (what < 40) {
            if (s->p)
                drop(s);
            make(s);
            counts[0]++;
        } else if (what < 65) {
            if (s->p) {
                drop(s);
                counts[1]++;
            }
        } else if (what < 85) {
            if (s->p) {
                resize(s);
                counts[2]++;
            }
        } else if (s->p) {
            verify(s, "check");
            counts[3]++;
        }
        if (op % 250000 == 249999)
            verify_all("periodic check");
    }
    verify_all("at the end");
    gm_memstats ms;
    gm_read_memstats(&ms);
    /* Fragmentation bound: the heap stays within a small multiple of the
     * most bytes ever live at once (class rounding, partly used spans). */
    CHECK(ms.heap_sys <= 4 * (uint64_t)peak_live + (64u << 20),
          "heap_sys %llu MiB for at most %zu MiB live", (unsigned long long)(ms.heap_sys >> 20), peak_live >> 20);
    size_t live_objs = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        if (tab[i].p) {
            live_objs++;
            drop(&tab[i]);
        }
    }
    double t1 = gm_test_now();
    printf("%ld ops: %ld allocs, %ld frees, %ld reallocs, %ld checks; peak live %zu KiB, heap_sys %llu KiB; "
           "%zu objects freed at the end; %.2f s: ok\n",
           ops, counts[0], counts[1], counts[2], counts[3], peak_live >> 10, (unsigned long long)(ms.heap_sys >> 10),
           live_objs, t1 - t0);
    printf("test_heap_stress: ok\n");
    return 0;
}
