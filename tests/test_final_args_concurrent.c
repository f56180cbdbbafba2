/*
 * Finalizer args set while marking runs: an arg that only its finalizer
 * record keeps alive survives every cycle.  The finalizers are set on
 * objects that share spans with long-lived finalizable anchors, so their
 * lists are the ones the collector's concurrent pass finds clean (every
 * object marked) and the final stop then skips, unless a change cleared the
 * note; and each setting replaces the previous finalizer and arg.
 *
 * A registered thread forces collections back to back.  The main thread
 * sets, round after round over its targets, a finalizer whose arg is a
 * fresh object filled with a pattern, drops the arg and allocates garbage
 * of the arg's size filled otherwise, so that an arg the collector lost
 * would be overwritten by reuse; until 200 collections have run.  At the
 * end the targets are dropped and every finalizer checks its arg; reachable
 * objects are checked intact too.
 *
 * What this cannot reach: an arg allocated before the cycle that the
 * program held only in a register or on its stack across the concurrent
 * pass and handed to the record afterwards (the case the note's clearing
 * exists for); args allocated during the cycle are allocated marked, and
 * the test passes with the clearing removed.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "gm_test.h"

#define NOINLINE __attribute__((noinline))

enum { N = 6000, ARG_WORDS = 8, CYCLES = 200 };

typedef struct obj {
    uint64_t tag;
    uint64_t words[5];
} obj;

static obj *anchors[N], *targets[N]; /* roots: the data segment is scanned */
static _Atomic bool stop_driver;
static _Atomic long cycles;
static _Atomic long ran, bad_args;

static uint64_t pattern(uint64_t i, int w) {
    return 0x9e3779b97f4a7c15ull * (i + 1) ^ (uint64_t)w;
}

static void fin_check(void *o, void *arg) {
    obj *p = o;
    uint64_t *a = arg;
    for (int w = 0; w < ARG_WORDS; w++)
        if (a[w] != pattern(p->tag, w)) {
            atomic_fetch_add(&bad_args, 1);
            break;
        }
    atomic_fetch_add(&ran, 1);
}

static void fin_anchor(void *o, void *arg) {
    (void)o, (void)arg;
}

static void *driver(void *arg) {
    (void)arg;
    while (!atomic_load(&stop_driver)) {
        gm_gc();
        atomic_fetch_add(&cycles, 1);
    }
    return NULL;
}

/* The arg is made here, so no frame of the caller keeps it. */
NOINLINE static void set_with_arg(long i) {
    uint64_t *a = gm_alloc(ARG_WORDS * sizeof(uint64_t));
    for (int w = 0; w < ARG_WORDS; w++)
        a[w] = pattern((uint64_t)i, w);
    gm_set_finalizer(targets[i], fin_check, a);
}

NOINLINE static void churn(int n) {
    for (int k = 0; k < n; k++) {
        uint64_t *g = gm_alloc(ARG_WORDS * sizeof(uint64_t));
        for (int w = 0; w < ARG_WORDS; w++)
            g[w] = 0xdeaddeaddeaddeadull;
    }
}

NOINLINE static void make_objects(void) {
    for (long i = 0; i < N; i++) {
        anchors[i] = gm_new(obj);
        anchors[i]->tag = (uint64_t)(N + i);
        gm_set_finalizer(anchors[i], fin_anchor, NULL);
        targets[i] = gm_new(obj);
        targets[i]->tag = (uint64_t)i;
    }
}

NOINLINE static void drop_targets(void) {
    for (long i = 0; i < N; i++)
        targets[i] = NULL;
}

int main(void) {
    make_objects();
    pthread_t th;
    CHECK(gm_thread_create(&th, NULL, driver, NULL) == 0, "cannot start the collecting thread");
    /* Wait for a few cycles, so the anchors' lists have been found clean. */
    while (atomic_load(&cycles) < 3)
        churn(64);
    /* Round after round over the targets, each setting replaces the
     * finalizer with one holding a fresh arg (the old arg is garbage), until
     * CYCLES collections have run meanwhile. */
    long start = atomic_load(&cycles), sets = 0;
    while (atomic_load(&cycles) - start < CYCLES || sets < N) {
        set_with_arg(sets % N);
        churn(16);
        if (++sets % 64 == 0)
            gm_test_clear_stack();
    }
    long during = atomic_load(&cycles) - start;
    atomic_store(&stop_driver, true);
    pthread_join(th, NULL);
    for (long i = 0; i < N; i++)
        CHECK(anchors[i]->tag == (uint64_t)(N + i) && targets[i]->tag == (uint64_t)i,
              "reachable object %ld damaged", i);
    drop_targets();
    for (int k = 0; k < 50 && atomic_load(&ran) < N * 99 / 100; k++) {
        gm_test_clear_stack();
        gm_gc();
        gm_run_finalizers();
    }
    CHECK(atomic_load(&ran) >= N * 99 / 100, "only %ld of %d finalizers ran", atomic_load(&ran), N);
    CHECK(atomic_load(&bad_args) == 0, "%ld of %ld finalizers found their arg overwritten (collected while its "
          "record still held it)", atomic_load(&bad_args), atomic_load(&ran));
    printf("test_final_args_concurrent: ok (%ld finalizers with args set on %d objects during %ld collections; "
           "%ld ran)\n", sets, N, during, atomic_load(&ran));
    return 0;
}
