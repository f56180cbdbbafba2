/*
 * test_heap_threads.c - threads allocating and freeing at once.
 *
 * 2 threads, then 8, each run a random mix: allocate an object of a random
 * size and kind (tiny, small, up to 32 KiB, large) and fill it with a
 * pattern from a random tag; verify an object's pattern, gm_base and
 * gm_size; free one (verified first); and trade objects through a shared,
 * lock-protected exchange array, so that objects are freed by threads other
 * than the one that allocated them.  After the threads have exited, every
 * surviving object (in the threads' tables and in the exchange) is verified,
 * checked for overlap with every other, and freed.
 *
 * Runs with the collector off, then once more with 8 threads and the
 * collector on (GC percent 100, and one thread forcing collections), so
 * that gm_free meets marking and sweeping.  The tables live in heap objects
 * and a global, so the collector sees every pointer.  Seeded: prints its
 * seed, takes GM_TEST_SEED.  Fewer operations under sanitizers; no
 * collector round under ThreadSanitizer (see main).
 */
#include <pthread.h>

#include "gm_test.h"

typedef struct rec {
    unsigned char *p;
    size_t n;
    uint64_t tag;
    bool noscan;
} rec;

#define XSLOTS 256
static rec xch[XSLOTS];
static pthread_mutex_t xlock = PTHREAD_MUTEX_INITIALIZER;

#define LIVE 512

typedef struct worker {
    pthread_t th;
    int id;
    uint64_t seed;
    long ops;
    bool force_gc; /* call gm_gc() now and then */
    rec live[LIVE];
    /* counts */
    long allocs, frees, foreign_frees, trades, verifies;
} worker;

static bool is_tiny(const rec *r) {
    return r->noscan && r->n > 0 && r->n < 16;
}

/* The thread that allocated an object, kept in the top byte of its tag. */
static int tag_owner(uint64_t tag) {
    return (int)(tag >> 56);
}

static void verify(const rec *r, const char *when, int tid) {
    size_t bad = gm_test_verify(r->p, r->n, r->tag);
    CHECK(bad == (size_t)-1, "thread %d, %s: %s %zu-byte object %p (from thread %d): pattern broken at offset %zu",
          tid, when, r->noscan ? "noscan" : "scan", r->n, (void *)r->p, tag_owner(r->tag), bad);
    size_t gs = gm_size(r->p);
    CHECK(gs >= r->n, "thread %d, %s: gm_size(%p) = %zu < %zu", tid, when, (void *)r->p, gs, r->n);
    if (!is_tiny(r)) {
        CHECK(gm_base(r->p) == r->p, "thread %d, %s: gm_base(%p) = %p", tid, when, (void *)r->p, gm_base(r->p));
        if (r->n > 1)
            CHECK(gm_base(r->p + r->n - 1) == r->p, "thread %d, %s: gm_base(%p + %zu) = %p", tid, when,
                  (void *)r->p, r->n - 1, gm_base(r->p + r->n - 1));
        if (r->n >= 16)
            CHECK((uintptr_t)r->p % 16 == 0, "thread %d: %zu-byte object %p not 16-byte aligned", tid, r->n,
                  (void *)r->p);
    }
}

static size_t random_size(gm_rng *g) {
    uint64_t r = gm_rng_below(g, 1000);
    if (r < 150)
        return (size_t)gm_rng_below(g, 16); /* tiny when noscan */
    if (r < 600)
        return 16 + (size_t)gm_rng_below(g, 241);
    if (r < 850)
        return 257 + (size_t)gm_rng_below(g, 4096 - 256);
    if (r < 985)
        return 4097 + (size_t)gm_rng_below(g, 32768 - 4096);
    return 32769 + (size_t)gm_rng_below(g, 256 << 10);
}

static void release(rec *r, worker *w) {
    verify(r, "before free", w->id);
    if (tag_owner(r->tag) != w->id)
        w->foreign_frees++;
    gm_free(r->p);
    w->frees++;
    memset(r, 0, sizeof *r);
}

static void *run(void *arg) {
    worker *w = arg;
    /* A thread that handles heap pointers before its first allocation (a
     * trade can come first) must register: otherwise a collection neither
     * stops it nor scans it, and an object it moves from the exchange into
     * its table while the collector marks can be missed (this test found
     * exactly that, with gccheckmark, before the call was added). */
    gm_thread_register();
    gm_rng g = {w->seed};
    uint64_t serial = 0;
    for (long op = 0; op < w->ops; op++) {
        uint64_t what = gm_rng_below(&g, 100);
        rec *r = &w->live[gm_rng_below(&g, LIVE)];
        if (what < 45) {
            if (r->p)
                release(r, w);
            r->n = random_size(&g);
            r->noscan = gm_rng_below(&g, 2);
            r->p = r->noscan ? gm_alloc_noscan(r->n) : gm_alloc(r->n);
            CHECK(r->p != NULL, "thread %d: alloc of %zu failed", w->id, r->n);
            size_t nz = gm_test_first_nonzero(r->p, r->n);
            CHECK(nz == (size_t)-1, "thread %d: new %zu-byte object %p not zeroed at offset %zu", w->id, r->n,
                  (void *)r->p, nz);
            r->tag = ((uint64_t)w->id << 56) | (++serial << 20) | (gm_rng_next(&g) & 0xfffff);
            gm_test_fill(r->p, r->n, r->tag);
            w->allocs++;
        } else if (what < 65) {
            /* Trade with the exchange: what was there becomes ours. */
            size_t j = (size_t)gm_rng_below(&g, XSLOTS);
            pthread_mutex_lock(&xlock);
            rec t = xch[j];
            xch[j] = *r;
            pthread_mutex_unlock(&xlock);
            *r = t;
            if (r->p)
                verify(r, "after a trade", w->id);
            w->trades++;
        } else if (what < 90) {
            if (r->p)
                release(r, w);
        } else if (r->p) {
            verify(r, "check", w->id);
            w->verifies++;
        }
        if (w->force_gc && op % 4000 == 3999)
            gm_gc();
    }
    return NULL;
}

static int cmp_rec(const void *a, const void *b) {
    const rec *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p;
}

static void run_threads(int nthreads, uint64_t seed, long total_ops, bool gc) {
    /* Heap objects (scanned), so that the collector sees the tables. */
    worker *ws = gm_alloc((size_t)nthreads * sizeof *ws);
    CHECK(ws, "gm_alloc");
    memset(xch, 0, sizeof xch);
    int old_percent = gm_set_gc_percent(gc ? 100 : -1);
    gm_memstats ms;
    gm_read_memstats(&ms);
    uint32_t gcs0 = ms.num_gc;
    double t0 = gm_test_now();
    for (int i = 0; i < nthreads; i++) {
        ws[i].id = i + 1;
        ws[i].seed = seed ^ ((uint64_t)nthreads << 40) ^ ((uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull);
        ws[i].ops = total_ops / nthreads;
        ws[i].force_gc = gc && i == 0;
        int rc = pthread_create(&ws[i].th, NULL, run, &ws[i]);
        CHECK(rc == 0, "pthread_create: %s", strerror(rc));
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(ws[i].th, NULL);
    double t1 = gm_test_now();

    /* Every survivor, from the exited threads' tables and the exchange. */
    size_t n = 0;
    rec *all = gm_alloc(((size_t)nthreads * LIVE + XSLOTS) * sizeof *all);
    CHECK(all, "gm_alloc");
    for (int i = 0; i < nthreads; i++)
        for (int k = 0; k < LIVE; k++)
            if (ws[i].live[k].p)
                all[n++] = ws[i].live[k];
    for (int k = 0; k < XSLOTS; k++)
        if (xch[k].p)
            all[n++] = xch[k];
    for (size_t i = 0; i < n; i++)
        verify(&all[i], "after the threads exited", 0);
    qsort(all, n, sizeof *all, cmp_rec);
    for (size_t i = 1; i < n; i++)
        CHECK(all[i - 1].p + all[i - 1].n <= all[i].p, "live objects %p (%zu B) and %p (%zu B) overlap",
              (void *)all[i - 1].p, all[i - 1].n, (void *)all[i].p, all[i].n);
    long allocs = 0, frees = 0, foreign = 0, trades = 0, verifies = 0;
    for (int i = 0; i < nthreads; i++) {
        allocs += ws[i].allocs;
        frees += ws[i].frees;
        foreign += ws[i].foreign_frees;
        trades += ws[i].trades;
        verifies += ws[i].verifies;
    }
    CHECK(foreign > 0, "%d threads: no object was freed by another thread than its allocator", nthreads);
    for (size_t i = 0; i < n; i++)
        gm_free(all[i].p);
    gm_free(all);
    gm_free(ws);
    gm_set_gc_percent(old_percent);
    gm_read_memstats(&ms);
    if (gc)
        CHECK(ms.num_gc > gcs0, "no collection ran (num_gc %u)", ms.num_gc);
    printf("%d threads%s, %u collections: %ld allocs, %ld frees (%ld by another thread), %ld trades, %ld checks, %zu survivors "
           "verified, %.2f s: ok\n",
           nthreads, gc ? " (collector on)" : "", ms.num_gc - gcs0, allocs, frees, foreign, trades, verifies, n, t1 - t0);
}

int main(int argc, char **argv) {
    (void)argc;
    gm_test_gc_off(argv);
    uint64_t seed = gm_test_seed("test_heap_threads");
#ifdef GOMEM_SANITIZED
    long ops = 100000;
#else
    long ops = 1200000;
#endif
    run_threads(2, seed, ops, false);
    run_threads(8, seed, ops, false);
    if (GM_TEST_TSAN) {
        /* Threads that wait for a collection (gm_gc, an allocation over
         * the heap goal) sit in a raw futex system call, where
         * ThreadSanitizer holds back the stop signal: the collector then
         * waits for their answer forever. */
        printf("8 threads (collector on): skipped under ThreadSanitizer\n");
    } else {
        run_threads(8, seed, ops / 2, true);
    }
    printf("test_heap_threads: ok\n");
    return 0;
}
