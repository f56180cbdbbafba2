/*
 * test_heap_free.c - gm_free releases objects for reuse.
 *
 *   - gm_free(NULL) does nothing; a freed object is no longer a heap object
 *     (gm_size 0, gm_base NULL) and memstats count the frees;
 *   - freeing a batch of small objects and allocating the batch again reuses
 *     the freed addresses and does not grow the heap (heap_sys), over many
 *     rounds, for several size classes and both kinds; freeing every other
 *     object and allocating as many again fills the holes;
 *   - large objects give their pages back to the page heap: allocating and
 *     freeing 1 GiB in 64 MiB pieces, round after round, keeps the reserved
 *     address space and heap_sys bounded, and a freed piece's pages are
 *     handed out again.
 *
 * Runs with the collector off: only gm_free releases anything.
 */
#include "gm_test.h"
#include "gm.h"
#include "heap/heap.h"
#include "heap/heap_for_gc.h"

static gm_memstats ms;

static void read_stats(void) {
    gm_read_memstats(&ms);
}

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorted set of addresses. */
typedef struct addrset {
    uintptr_t *v;
    size_t n, cap;
} addrset;

static void set_add_all(addrset *s, void **p, size_t n) {
    if (s->n + n > s->cap) {
        s->cap = 2 * (s->n + n);
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        CHECK(s->v, "realloc");
    }
    for (size_t i = 0; i < n; i++)
        s->v[s->n++] = (uintptr_t)p[i];
    qsort(s->v, s->n, sizeof *s->v, cmp_ptr);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (k == 0 || s->v[k - 1] != s->v[i])
            s->v[k++] = s->v[i];
    s->n = k;
}

static bool set_has(const addrset *s, const void *p) {
    uintptr_t x = (uintptr_t)p;
    return bsearch(&x, s->v, s->n, sizeof *s->v, cmp_ptr) != NULL;
}

static void test_free_null(void) {
    errno = 1234;
    for (int i = 0; i < 1000; i++)
        gm_free(NULL);
    CHECK(errno == 1234, "gm_free(NULL) changed errno to %d", errno);
    void *p = gm_alloc(10);
    CHECK(p && gm_size(p) == 16, "gm_alloc after gm_free(NULL)");
    gm_free(p);
    printf("gm_free(NULL): no-op: ok\n");
}

static void test_freed_is_gone(void) {
    size_t sizes[] = {0, 8, 16, 100, 1000, 5000, 32768, 32769, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int kind = 0; kind < 2; kind++) {
            size_t n = sizes[i];
            if (kind && n > 0 && n < 16)
                continue; /* tiny objects are reclaimed by the collector only */
            unsigned char *p = kind ? gm_alloc_noscan(n) : gm_alloc(n);
            CHECK(p, "alloc %zu", n);
            size_t us = gm_size(p);
            read_stats();
            uint64_t frees0 = ms.frees, objs0 = ms.heap_objects;
            gm_free(p);
            CHECK(gm_size(p) == 0 && gm_base(p) == NULL, "freed %zu-byte object %p: gm_size %zu gm_base %p", n,
                  (void *)p, gm_size(p), gm_base(p));
            CHECK(gm_base(p + us - 1) == NULL, "freed %zu-byte object %p: its last byte still maps to %p", n,
                  (void *)p, gm_base(p + us - 1));
            read_stats();
            CHECK(ms.frees == frees0 + 1, "%zu-byte object: memstats frees %llu -> %llu", n,
                  (unsigned long long)frees0, (unsigned long long)ms.frees);
            CHECK(ms.heap_objects + 1 == objs0, "%zu-byte object: heap_objects %llu -> %llu", n,
                  (unsigned long long)objs0, (unsigned long long)ms.heap_objects);
        }
    }
    printf("freed objects are gone (gm_size 0, gm_base NULL, counted in memstats): ok\n");
}

/* Round after round: allocate n objects, free them all.  The addresses of
 * later rounds are those of earlier ones and the heap does not grow. */
static void reuse_rounds(size_t size, bool noscan, size_t n, int rounds) {
    void **p = malloc(n * sizeof *p);
    CHECK(p, "malloc");
    addrset seen = {0};
    uint64_t sys_after_first = 0;
    size_t reused_total = 0, allocated_after_first = 0;
    for (int r = 0; r < rounds; r++) {
        size_t reused = 0;
        for (size_t i = 0; i < n; i++) {
            p[i] = noscan ? gm_alloc_noscan(size) : gm_alloc(size);
            CHECK(p[i], "alloc %zu", size);
            if (r > 0 && set_has(&seen, p[i]))
                reused++;
            *(volatile unsigned char *)p[i] = 1;
        }
        set_add_all(&seen, p, n);
        /* Free in an order that differs from round to round. */
        if (r % 2 == 0) {
            for (size_t i = 0; i < n; i++)
                gm_free(p[i]);
        } else {
            for (size_t i = n; i-- > 0;)
                gm_free(p[i]);
        }
        read_stats();
        if (r == 0) {
            sys_after_first = ms.heap_sys;
        } else {
            reused_total += reused;
            allocated_after_first += n;
            CHECK(ms.heap_sys <= sys_after_first + (4u << 20),
                  "%zu-byte %s objects, round %d: heap_sys grew from %llu to %llu", size, noscan ? "noscan" : "scan",
                  r, (unsigned long long)sys_after_first, (unsigned long long)ms.heap_sys);
        }
    }
    /* All rounds together used at most about two rounds' worth of
     * addresses, and most allocations after the first round reused one. */
    CHECK(seen.n <= 2 * n, "%zu-byte %s objects: %d rounds of %zu used %zu distinct addresses", size,
          noscan ? "noscan" : "scan", rounds, n, seen.n);
    CHECK(reused_total * 10 >= allocated_after_first * 9,
          "%zu-byte %s objects: only %zu of %zu allocations after the first round reused an address", size,
          noscan ? "noscan" : "scan", reused_total, allocated_after_first);
    printf("  %5zu B %-6s x %6zu, %d rounds: %zu distinct addresses, %.1f%% reused, heap_sys %llu KiB: ok\n", size,
           noscan ? "noscan" : "scan", n, rounds, seen.n, 100.0 * (double)reused_total / (double)allocated_after_first,
           (unsigned long long)(ms.heap_sys >> 10));
    free(seen.v);
    free(p);
}

/* Free every other object, allocate as many again: they go into the holes. */
static void reuse_holes(size_t size, bool noscan, size_t n) {
    void **p = malloc(n * sizeof *p);
    CHECK(p, "malloc");
    for (size_t i = 0; i < n; i++) {
        p[i] = noscan ? gm_alloc_noscan(size) : gm_alloc(size);
        CHECK(p[i], "alloc");
    }
    addrset holes = {0};
    void **freed = malloc(n * sizeof *freed);
    size_t nfreed = 0;
    for (size_t i = 0; i < n; i += 2) {
        freed[nfreed++] = p[i];
        gm_free(p[i]);
    }
    set_add_all(&holes, freed, nfreed);
    size_t in_holes = 0;
    for (size_t i = 0; i < nfreed; i++) {
        void *q = noscan ? gm_alloc_noscan(size) : gm_alloc(size);
        CHECK(q, "alloc");
        if (set_has(&holes, q))
            in_holes++;
        p[2 * i] = q;
    }
    CHECK(in_holes * 10 >= nfreed * 9, "%zu-byte objects: %zu of %zu new objects went into the %zu holes", size,
          in_holes, nfreed, nfreed);
    /* Distinct live objects. */
    addrset live = {0};
    set_add_all(&live, p, n);
    CHECK(live.n == n, "%zu-byte objects: %zu live objects at %zu distinct addresses", size, n, live.n);
    for (size_t i = 0; i < n; i++)
        gm_free(p[i]);
    printf("  %5zu B %-6s x %6zu: %zu of %zu refills went into holes: ok\n", size, noscan ? "noscan" : "scan", n,
           in_holes, nfreed);
    free(live.v);
    free(holes.v);
    free(freed);
    free(p);
}

static void test_small_reuse(void) {
    printf("small objects, free all and allocate again:\n");
    static const size_t sizes[] = {8, 16, 48, 256, 1000, 4096, 9000, 32768};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t size = sizes[i];
        size_t cls = 1;
        while (gm_class_to_size[cls] < size)
            cls++;
        size_t per_span = gm_class_to_nobjs[cls];
        size_t n = per_span * 40 + per_span / 2; /* 40 and a half spans */
        if (n > 40000)
            n = 40000;
        for (int kind = 0; kind < 2; kind++) {
            if (kind && size < 16)
                continue;
            reuse_rounds(size, kind == 1, n, 12);
        }
    }
    printf("small objects, free every other and allocate again:\n");
    static const size_t hsizes[] = {16, 112, 2048, 20480};
    for (size_t i = 0; i < sizeof hsizes / sizeof hsizes[0]; i++)
        for (int kind = 0; kind < 2; kind++)
            reuse_holes(hsizes[i], kind == 1, 5000);
}

static void test_large_reuse(void) {
    enum { PIECES = 16 };
    const size_t piece = (size_t)64 << 20;
    void *p[PIECES];
    addrset seen = {0};
    uint64_t reserved_first = 0, sys_first = 0;
    for (int round = 0; round < 6; round++) {
        read_stats();
        uint64_t inuse0 = ms.heap_inuse;
        for (int i = 0; i < PIECES; i++) {
            p[i] = (round & 1) ? gm_alloc_noscan(piece) : gm_alloc(piece);
            CHECK(p[i], "round %d: 64 MiB piece %d: NULL", round, i);
            unsigned char *b = p[i];
            CHECK(gm_size(b) == piece, "64 MiB piece: gm_size %zu", gm_size(b));
            CHECK(b[0] == 0 && b[piece - 1] == 0 && b[piece / 2] == 0, "round %d: reused piece %p not zeroed",
                  round, (void *)b);
            b[0] = b[piece / 2] = b[piece - 1] = 0xee;
        }
        read_stats();
        CHECK(ms.heap_inuse >= inuse0 + PIECES * (uint64_t)piece, "round %d: heap_inuse %llu -> %llu", round,
              (unsigned long long)inuse0, (unsigned long long)ms.heap_inuse);
        set_add_all(&seen, p, PIECES);
        for (int i = 0; i < PIECES; i++) {
            int k = (round % 3 == 0) ? i : (round % 3 == 1) ? PIECES - 1 - i : (i * 7) % PIECES;
            gm_free(p[k]);
        }
        read_stats();
        CHECK(ms.heap_inuse <= inuse0, "round %d: heap_inuse %llu after freeing, %llu before allocating", round,
              (unsigned long long)ms.heap_inuse, (unsigned long long)inuse0);
        uint64_t reserved = atomic_load(&gm_heap.reserved);
        if (round == 0) {
            reserved_first = reserved;
            sys_first = ms.heap_sys;
        } else {
            CHECK(reserved <= reserved_first + piece, "round %d: reserved address space grew from %llu to %llu MiB",
                  round, (unsigned long long)(reserved_first >> 20), (unsigned long long)(reserved >> 20));
            CHECK(ms.heap_sys <= sys_first + piece, "round %d: heap_sys grew from %llu to %llu MiB", round,
                  (unsigned long long)(sys_first >> 20), (unsigned long long)(ms.heap_sys >> 20));
        }
        /* Give the free pages back to the OS, as the scavenger does, so
         * the test does not keep 1 GiB resident. */
        gm_heap_scavenge(0, 0);
    }
    CHECK(seen.n <= 2 * PIECES, "6 rounds of %d pieces used %zu distinct addresses", PIECES, seen.n);
    /* One piece at a time: the same pages every time. */
    void *first = gm_alloc(piece);
    CHECK(first, "alloc");
    gm_free(first);
    for (int i = 0; i < 64; i++) {
        void *q = gm_alloc(piece);
        CHECK(q == first, "64 MiB alloc/free %d: got %p, the freed piece was at %p", i, q, first);
        gm_free(q);
    }
    read_stats();
    printf("large objects: 6 rounds of 1 GiB in 64 MiB pieces, %zu distinct addresses, reserved %llu MiB, "
           "heap_sys %llu MiB, released %llu MiB: ok\n",
           seen.n, (unsigned long long)(atomic_load(&gm_heap.reserved) >> 20),
           (unsigned long long)(ms.heap_sys >> 20), (unsigned long long)(ms.heap_released >> 20));
    free(seen.v);
}

int main(int argc, char **argv) {
    (void)argc;
    gm_test_gc_off(argv);
    test_free_null();
    test_freed_is_gone();
    test_small_reuse();
    test_large_reuse();
    printf("test_heap_free: ok\n");
    return 0;
}
