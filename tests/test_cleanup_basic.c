/*
 * Cleanups, Go 1.24's runtime.AddCleanup rules: fn(arg) runs once after
 * the object becomes unreachable; several per object, all run; the arg is
 * kept alive until then; an interior pointer may be given; a non-heap
 * pointer gives handle 0; no resurrection (the object is freed); stop
 * before it runs cancels it (true once, then false; false after it ran);
 * a cleanup and a finalizer on one object: the finalizer first, the
 * cleanup only once the object is unreachable after it; an object kept by
 * a finalizable object is not cleaned up before that finalizer has run.
 * The arg check (GOMEM_DEBUG=cleanupcheck=1, set here in the configuration
 * of a forked child) stops the program when an arg reaches its object;
 * arg == obj is refused at once.
 */
#include <stdatomic.h>

#include "gm_test.h"

#define NOINLINE __attribute__((noinline))

#include "gm.h" /* gm_cfg: what GOMEM_DEBUG=cleanupcheck=1 sets */

NOINLINE static void collect(void) {
    gm_test_clear_stack();
    gm_gc();
    gm_run_finalizers();
    gm_test_clear_stack();
}

static bool collect_until(_Atomic long *counter, long want, int tries) {
    for (int i = 0; i < tries; i++) {
        if (atomic_load(counter) >= want)
            return true;
        collect();
    }
    return atomic_load(counter) >= want;
}

typedef struct obj {
    struct obj *link;
    uint64_t words[6];
} obj;

/* ------------------------------------------------------ run, several, arg */

enum { N = 5000, PER = 3 };
static _Atomic long runs;
static _Atomic long bad_args;
static _Atomic unsigned char ran[N][PER];

typedef struct carg {
    uint32_t i, k;
    uint64_t words[4];
} carg;

static void cleanup_check(void *arg) {
    carg *a = arg;
    if (gm_test_verify(a->words, sizeof a->words, a->i * 7 + a->k) != (size_t)-1 || a->i >= N || a->k >= PER)
        atomic_fetch_add(&bad_args, 1);
    else if (atomic_fetch_add(&ran[a->i][a->k], 1) != 0)
        atomic_fetch_add(&bad_args, 1); /* twice */
    atomic_fetch_add(&runs, 1);
}

NOINLINE static void make_with_cleanups(void) {
    for (uint32_t i = 0; i < N; i++) {
        obj *o = gm_new(obj);
        for (uint32_t k = 0; k < PER; k++) {
            carg *a = gm_new(carg); /* reachable only through the cleanup */
            a->i = i;
            a->k = k;
            gm_test_fill(a->words, sizeof a->words, i * 7 + k);
            /* one of them on an interior pointer */
            uint64_t h = gm_add_cleanup(k == 2 ? (void *)&o->words[3] : (void *)o, cleanup_check, a);
            CHECK(h != 0, "gm_add_cleanup returned 0 for a heap object");
        }
    }
}

static void test_run_several(void) {
    make_with_cleanups();
    CHECK(collect_until(&runs, (long)N * PER * 99 / 100, 20), "only %ld of %d cleanups ran", atomic_load(&runs),
          N * PER);
    CHECK(atomic_load(&bad_args) == 0, "%ld cleanups got a damaged arg or ran twice", atomic_load(&bad_args));
    for (int r = 0; r < 3; r++)
        collect();
    CHECK(atomic_load(&bad_args) == 0, "%ld cleanups ran twice", atomic_load(&bad_args));
}

/* --------------------------------------------------- no resurrection */

static _Atomic long res_runs;
static uintptr_t hidden_res;

static void cleanup_count(void *arg) {
    (void)arg;
    atomic_fetch_add(&res_runs, 1);
}

NOINLINE static void make_large_with_cleanup(void) {
    void *p = gm_alloc(100000);
    hidden_res = ~(uintptr_t)p;
    CHECK(gm_add_cleanup(p, cleanup_count, NULL) != 0, "add");
}

static void test_freed(void) {
    make_large_with_cleanup();
    CHECK(collect_until(&res_runs, 1, 20), "cleanup of a large object did not run");
    /* No resurrection: the object is freed by the collection that queued
     * the cleanup (its span is not reused: nothing large is allocated). */
    CHECK(gm_size((void *)~hidden_res) == 0, "object still allocated after its cleanup was queued");
}

/* ----------------------------------------------------------------- stop */

static _Atomic long stop_runs;
static void cleanup_stop_count(void *arg) {
    (void)arg;
    atomic_fetch_add(&stop_runs, 1);
}

static uint64_t stop_handles[100];

NOINLINE static void make_stoppable(void) {
    for (int i = 0; i < 100; i++)
        stop_handles[i] = gm_add_cleanup(gm_new(obj), cleanup_stop_count, NULL);
    /* stop every other one before any collection */
    for (int i = 0; i < 100; i += 2)
        CHECK(gm_cleanup_stop(stop_handles[i]), "stop of a pending cleanup failed");
    for (int i = 0; i < 100; i += 2)
        CHECK(!gm_cleanup_stop(stop_handles[i]), "second stop of a cleanup succeeded");
}

static void test_stop(void) {
    static int on_stack_not_heap;
    CHECK(gm_add_cleanup(&on_stack_not_heap, cleanup_stop_count, NULL) == 0, "cleanup on a non-heap pointer");
    CHECK(gm_add_cleanup(NULL, cleanup_stop_count, NULL) == 0, "cleanup on NULL");
    CHECK(!gm_cleanup_stop(0), "stop(0)");
    CHECK(!gm_cleanup_stop(0xffffffff00000001ull), "stop of a handle never issued");
    make_stoppable();
    CHECK(collect_until(&stop_runs, 50 * 99 / 100, 20), "only %ld of 50 cleanups ran", atomic_load(&stop_runs));
    for (int i = 0; i < 3; i++)
        collect();
    CHECK(atomic_load(&stop_runs) <= 50, "%ld cleanups ran, 50 were stopped", atomic_load(&stop_runs));
    int ran_and_stopped = 0;
    for (int i = 1; i < 100; i += 2)
        ran_and_stopped += gm_cleanup_stop(stop_handles[i]);
    CHECK(ran_and_stopped <= 50 - atomic_load(&stop_runs), "stop succeeded on %d cleanups that had run",
          ran_and_stopped);
}

/* Stop while queued: with no finalizer thread help (gm_run_finalizers
 * only), a cleanup queued by a collection and stopped before it runs does
 * not run.  The finalizer thread may take it first: then stop is false. */
static _Atomic long queued_runs;
static void cleanup_queued(void *arg) {
    (void)arg;
    atomic_fetch_add(&queued_runs, 1);
}
static uint64_t queued_handles[1000];

NOINLINE static void make_queued(void) {
    for (int i = 0; i < 1000; i++)
        queued_handles[i] = gm_add_cleanup(gm_new(obj), cleanup_queued, NULL);
}

static void test_stop_queued(void) {
    make_queued();
    gm_test_clear_stack();
    gm_gc();
    int stopped = 0;
    for (int i = 0; i < 1000; i++)
        stopped += gm_cleanup_stop(queued_handles[i]);
    for (int i = 0; i < 5; i++)
        collect();
    CHECK(atomic_load(&queued_runs) + stopped <= 1000, "%ld ran and %d were stopped, of 1000",
          atomic_load(&queued_runs), stopped);
    CHECK(atomic_load(&queued_runs) + stopped >= 990, "%ld ran and %d were stopped, of 1000",
          atomic_load(&queued_runs), stopped);
}

/* ---------------------------------------- with a finalizer: finalizer first */

/* Several of each: a stale word may keep one object past the test. */
enum { K = 8 };
static _Atomic unsigned char fin_done[2 * K];
static _Atomic long both_cleanup_runs;
static _Atomic long cleanup_before_fin;

static void fin_first(void *o, void *arg) {
    (void)o;
    atomic_store(&fin_done[(uintptr_t)arg], 1);
}
static void cleanup_after(void *arg) {
    if (!atomic_load(&fin_done[(uintptr_t)arg]))
        atomic_fetch_add(&cleanup_before_fin, 1);
    atomic_fetch_add(&both_cleanup_runs, 1);
}

NOINLINE static void make_both(void) {
    for (uintptr_t i = 0; i < K; i++) {
        /* a finalizer and a cleanup on one object */
        obj *o = gm_new(obj);
        gm_add_cleanup(o, cleanup_after, (void *)i);
        gm_set_finalizer(o, fin_first, (void *)i);
        /* an object kept by a finalizable one: its cleanup waits too */
        obj *holder = gm_new(obj), *kept = gm_new(obj);
        holder->link = kept;
        gm_add_cleanup(kept, cleanup_after, (void *)(K + i));
        gm_set_finalizer(holder, fin_first, (void *)(K + i));
    }
}

static void test_with_finalizer(void) {
    make_both();
    CHECK(collect_until(&both_cleanup_runs, 2 * K - 3, 20), "cleanups after finalizers: %ld of %d ran",
          atomic_load(&both_cleanup_runs), 2 * K);
    CHECK(!atomic_load(&cleanup_before_fin), "%ld cleanups ran before the finalizer that kept their object",
          atomic_load(&cleanup_before_fin));
}

/* ----------------------------------------------------- the arg check */

static void cleanup_never(void *arg) {
    (void)arg;
}

NOINLINE static void make_arg_reaching_obj(void) {
    for (int i = 0; i < 50; i++) { /* a stale word may keep one of them */
        obj *o = gm_new(obj);
        obj *arg = gm_new(obj);
        arg->link = o; /* the arg reaches the object */
        gm_add_cleanup(o, cleanup_never, arg);
    }
}

static void child_arg_check(void *unused) {
    (void)unused;
    gm_cfg.cleanupcheck = true;
    make_arg_reaching_obj();
    for (int i = 0; i < 5; i++)
        collect();
    fprintf(stderr, "no error\n");
}

NOINLINE static void make_good_args(void) {
    for (int i = 0; i < 100; i++) {
        obj *o = gm_new(obj), *arg = gm_new(obj);
        arg->words[0] = 1; /* no pointer to o */
        gm_add_cleanup(o, cleanup_never, arg);
    }
}

static void child_arg_check_clean(void *unused) {
    (void)unused;
    gm_cfg.cleanupcheck = true;
    make_good_args();
    for (int i = 0; i < 3; i++)
        collect();
}

static void child_arg_is_obj(void *unused) {
    (void)unused;
    obj *o = gm_new(obj);
    gm_add_cleanup(o, cleanup_never, &o->words[1]);
}

static void test_arg_check(void) {
    gm_child c;
    char how[64];
    CHECK(gm_test_run_child(child_arg_check, NULL, &c) == 0, "fork");
    CHECK(!(c.exited && c.exit_code == 0), "arg reaching its object not detected (%s): %s",
          gm_child_how(&c, how, sizeof how), c.err);
    CHECK(strstr(c.err, "reaches the object") && strstr(c.err, "cleanup"), "unexpected message: %s", c.err);
    CHECK(gm_test_run_child(child_arg_check_clean, NULL, &c) == 0, "fork");
    CHECK(c.exited && c.exit_code == 0, "arg check fired on good args (%s): %s", gm_child_how(&c, how, sizeof how),
          c.err);
    CHECK(gm_test_run_child(child_arg_is_obj, NULL, &c) == 0, "fork");
    CHECK(!(c.exited && c.exit_code == 0) && strstr(c.err, "points into the object"),
          "arg inside the object accepted (%s): %s", gm_child_how(&c, how, sizeof how), c.err);
}

int main(void) {
    test_run_several();
    test_freed();
    test_stop();
    test_stop_queued();
    test_with_finalizer();
    test_arg_check();
    gm_memstats ms;
    gm_read_memstats(&ms);
    CHECK(ms.cleanups_queued >= ms.cleanups_run && ms.cleanups_run >= (uint64_t)atomic_load(&runs),
          "memstats: %llu cleanups queued, %llu run", (unsigned long long)ms.cleanups_queued,
          (unsigned long long)ms.cleanups_run);
    printf("test_cleanup_basic: ok\n");
    return 0;
}
