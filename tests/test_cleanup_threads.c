/*
 * Cleanups, finalizers and weak handles on many threads at once, while
 * collections run (paced by allocation, and forced from the main thread):
 * each thread attaches cleanups (stopping a third of them at once, and
 * another third after a while), finalizers and weak handles to its own
 * objects, and some to objects shared by all threads.  Every cleanup that
 * was not stopped runs exactly once (at least 99% of them, stale words
 * allowing), no stopped one ever runs, every finalizer runs at most once,
 * and weak handles to live shared objects stay valid throughout.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "gm_test.h"

#define NOINLINE __attribute__((noinline))

enum { THREADS = 8, PER_THREAD = 6000, SHARED = 64 };

typedef struct obj {
    struct obj *link;
    uint64_t words[3];
} obj;

static _Atomic unsigned char cleanup_ran[THREADS][PER_THREAD];
static _Atomic unsigned char stopped[THREADS][PER_THREAD];
static _Atomic unsigned char fin_ran[THREADS][PER_THREAD];
static _Atomic long twice, cleanup_runs, fin_runs, stopped_count;
static obj *shared[SHARED];
static gm_weak *shared_weak[SHARED];
static _Atomic long weak_errors;
static _Atomic int threads_done;

static void on_cleanup(void *arg) {
    uintptr_t v = (uintptr_t)arg; /* thread << 32 | index, not a pointer */
    unsigned t = (unsigned)(v >> 32), i = (unsigned)(v & 0xffffffff);
    if (atomic_fetch_add(&cleanup_ran[t][i], 1) != 0)
        atomic_fetch_add(&twice, 1);
    atomic_fetch_add(&cleanup_runs, 1);
}

static void on_finalize(void *o, void *arg) {
    (void)o;
    uintptr_t v = (uintptr_t)arg;
    unsigned t = (unsigned)(v >> 32), i = (unsigned)(v & 0xffffffff);
    if (atomic_fetch_add(&fin_ran[t][i], 1) != 0)
        atomic_fetch_add(&twice, 1);
    atomic_fetch_add(&fin_runs, 1);
}

static void on_shared_cleanup(void *arg) {
    (void)arg;
}

NOINLINE static void work(unsigned t) {
    static uint64_t late[THREADS][PER_THREAD / 3 + 1];
    static unsigned late_i[THREADS][PER_THREAD / 3 + 1];
    unsigned nlate = 0;
    for (unsigned i = 0; i < PER_THREAD; i++) {
        obj *o = gm_new(obj);
        /* the tag is thread << 32 | index: far below any heap address */
        void *tag = (void *)((uintptr_t)t << 32 | i);
        uint64_t h = gm_add_cleanup(o, on_cleanup, tag);
        CHECK(h != 0, "gm_add_cleanup failed");
        if (i % 3 == 0) {
            CHECK(gm_cleanup_stop(h), "stop of a fresh cleanup failed");
            atomic_store(&stopped[t][i], 1);
            atomic_fetch_add(&stopped_count, 1);
        } else if (i % 3 == 1) {
            late[t][nlate] = h;
            late_i[t][nlate++] = i;
        }
        if (i % 5 == 0)
            gm_set_finalizer(o, on_finalize, tag);
        if (i % 4 == 0)
            CHECK(gm_weak_get(gm_weak_make(o)) == o, "fresh weak pointer is wrong");
        if (i % 100 == 0) {
            unsigned s = (i / 100 + t) % SHARED;
            gm_add_cleanup(shared[s], on_shared_cleanup, NULL);
            if (gm_weak_make(shared[s]) != shared_weak[s] || gm_weak_get(shared_weak[s]) != shared[s])
                atomic_fetch_add(&weak_errors, 1);
        }
        gm_alloc(64); /* garbage that drives the pacer */
    }
    /* Stop a third later: some have been queued or run meanwhile; only a
     * stop that succeeds counts, and then that cleanup must never run. */
    for (unsigned k = 0; k < nlate; k++) {
        if (gm_cleanup_stop(late[t][k])) {
            atomic_store(&stopped[t][late_i[t][k]], 1);
            atomic_fetch_add(&stopped_count, 1);
        }
    }
}

static void *thread_main(void *arg) {
    unsigned t = (unsigned)(uintptr_t)arg;
    work(t);
    gm_test_clear_stack();
    atomic_fetch_add(&threads_done, 1);
    return NULL;
}

NOINLINE static void collect(void) {
    gm_test_clear_stack();
    gm_gc();
    gm_run_finalizers();
    gm_test_clear_stack();
}

int main(void) {
    for (int s = 0; s < SHARED; s++) {
        shared[s] = gm_new(obj);
        shared_weak[s] = gm_weak_make(shared[s]);
    }
    pthread_t th[THREADS];
    for (unsigned t = 0; t < THREADS; t++)
        CHECK(gm_thread_create(&th[t], NULL, thread_main, (void *)(uintptr_t)t) == 0, "thread");
    /* Force collections while they work. */
    while (atomic_load(&threads_done) < THREADS) {
        gm_gc();
        gm_run_finalizers();
    }
    for (unsigned t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);

    long want_cleanups = (long)THREADS * PER_THREAD - atomic_load(&stopped_count);
    long want_fins = 0;
    for (unsigned i = 0; i < PER_THREAD; i += 5)
        want_fins++;
    want_fins *= THREADS;
    for (int i = 0; i < 50; i++) {
        if (atomic_load(&cleanup_runs) >= want_cleanups * 99 / 100 && atomic_load(&fin_runs) >= want_fins * 99 / 100)
            break;
        collect();
    }
    CHECK(atomic_load(&cleanup_runs) >= want_cleanups * 99 / 100, "%ld of %ld cleanups ran",
          atomic_load(&cleanup_runs), want_cleanups);
    CHECK(atomic_load(&fin_runs) >= want_fins * 99 / 100, "%ld of %ld finalizers ran", atomic_load(&fin_runs),
          want_fins);
    CHECK(atomic_load(&twice) == 0, "%ld cleanups or finalizers ran twice", atomic_load(&twice));
    long stopped_ran = 0;
    for (unsigned t = 0; t < THREADS; t++)
        for (unsigned i = 0; i < PER_THREAD; i++)
            stopped_ran += atomic_load(&stopped[t][i]) && atomic_load(&cleanup_ran[t][i]);
    CHECK(stopped_ran == 0, "%ld stopped cleanups ran", stopped_ran);
    CHECK(atomic_load(&weak_errors) == 0, "%ld weak handle errors on live shared objects", atomic_load(&weak_errors));
    for (int s = 0; s < SHARED; s++)
        CHECK(gm_weak_get(shared_weak[s]) == shared[s], "shared object %d's weak pointer cleared", s);
    printf("test_cleanup_threads: ok (%ld cleanups, %ld finalizers)\n", atomic_load(&cleanup_runs),
           atomic_load(&fin_runs));
    return 0;
}
