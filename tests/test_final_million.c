/*
 * 1,000,000 finalizable objects in a heap that stays bounded: the program
 * allocates them in rounds, each with a finalizer, and drops them; the
 * collector runs as paced by allocation (no forced collections until the
 * end) and the finalizer thread runs what it queues.  The heap in use and
 * the memory of the special records must stay within a bound far below
 * what keeping them all would take, and at least 99% of the finalizers
 * must have run at the end (stale stack words may keep a few).  A weak
 * handle and a cleanup ride on every tenth object.
 */
#include <stdatomic.h>

#include "gm_test.h"

#define NOINLINE __attribute__((noinline))

enum { TOTAL = 1000000, ROUND = 10000 };

typedef struct obj {
    struct obj *next;
    uint64_t words[5];
} obj; /* 48 bytes: all of them would take 48 MB */

static _Atomic long fin_runs, cleanup_runs;

static void fin(void *o, void *arg) {
    (void)arg;
    obj *p = o;
    if (p->words[0] != 0x5eed)
        abort();
    atomic_fetch_add(&fin_runs, 1);
}

static void cleanup(void *arg) {
    (void)arg;
    atomic_fetch_add(&cleanup_runs, 1);
}

/* One round: a list of ROUND objects, each finalizable, then dropped. */
NOINLINE static void round_of(int r) {
    obj *head = NULL;
    for (int i = 0; i < ROUND; i++) {
        obj *o = gm_new(obj);
        o->words[0] = 0x5eed;
        o->next = head; /* chained: finalizers order along the list */
        head = o;
        gm_set_finalizer(o, fin, NULL);
        if (i % 10 == 0) {
            gm_weak_make(o);
            gm_add_cleanup(o, cleanup, (void *)(uintptr_t)r);
        }
    }
    /* Unchained again, so that no finalizer waits for its neighbours. */
    for (obj *o = head, *n; o; o = n) {
        n = o->next;
        o->next = NULL;
    }
}

int main(void) {
    uint64_t peak_inuse = 0, peak_sys = 0;
    gm_memstats ms;
    double t0 = gm_test_now();
    for (int r = 0; r < TOTAL / ROUND; r++) {
        round_of(r);
        if (r % 10 == 9) {
            gm_read_memstats(&ms);
            if (ms.heap_inuse > peak_inuse)
                peak_inuse = ms.heap_inuse;
            if (ms.sys > peak_sys)
                peak_sys = ms.sys;
        }
    }
    double t1 = gm_test_now();
    long want = (long)TOTAL * 99 / 100;
    /* Cleanups of finalizable objects run a cycle after their finalizers. */
    for (int i = 0; i < 50 && (atomic_load(&fin_runs) < want || atomic_load(&cleanup_runs) < want / 10); i++) {
        gm_test_clear_stack();
        gm_gc();
        gm_run_finalizers();
    }
    double t2 = gm_test_now();
    gm_read_memstats(&ms);
    printf("test_final_million: %ld finalizers and %ld cleanups ran; peak heap in use %.1f MiB, peak sys "
           "%.1f MiB; %u collections; %.2f s allocating, %.2f s finishing\n",
           atomic_load(&fin_runs), atomic_load(&cleanup_runs), peak_inuse / 1048576.0, peak_sys / 1048576.0,
           ms.num_gc, t1 - t0, t2 - t1);
    CHECK(atomic_load(&fin_runs) >= want, "only %ld of %d finalizers ran", atomic_load(&fin_runs), TOTAL);
    CHECK(ms.finalizers_queued >= (uint64_t)want && ms.finalizers_run >= (uint64_t)want,
          "memstats count %llu queued, %llu run", (unsigned long long)ms.finalizers_queued,
          (unsigned long long)ms.finalizers_run);
    CHECK(atomic_load(&cleanup_runs) >= TOTAL / 10 * 99 / 100, "only %ld of %d cleanups ran",
          atomic_load(&cleanup_runs), TOTAL / 10);
    /* Bounded: the heap never held more than a fraction of the 48 MB (plus
     * handles) that keeping every object would take. */
#ifdef GOMEM_SANITIZED
    /* sanitizers slow the finalizer thread down: more is queued at once */
    const uint64_t inuse_bound = 40u << 20, sys_bound = 128u << 20;
#else
    const uint64_t inuse_bound = 24u << 20, sys_bound = 96u << 20;
#endif
    CHECK(peak_inuse < inuse_bound, "heap in use reached %llu bytes", (unsigned long long)peak_inuse);
    CHECK(peak_sys < sys_bound, "memory from the OS reached %llu bytes", (unsigned long long)peak_sys);
    return 0;
}
