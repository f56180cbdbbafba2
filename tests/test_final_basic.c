/*
 * Finalizers, the single-object rules (Go's runtime.SetFinalizer): a
 * finalizer runs once with (obj, arg) after obj becomes unreachable; the
 * object is intact when it runs and is reclaimed a cycle later; fn == NULL
 * clears it and setting another replaces it; a reachable object is never
 * finalized; a finalizer that stores its object resurrects it (no second
 * run unless set again); the finalizer thread runs them without help;
 * gm_run_finalizers runs them on its caller; memstats count them; at least
 * 99% of 10000 unreachable finalizable objects are finalized.
 *
 * Conservative scanning: objects are made in separate noinline functions
 * and the stack is scrubbed before each collection; counts on many objects
 * allow 1% kept by stale words, exact checks are made only where
 * reachability is certain.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "gm_test.h"

#define NOINLINE __attribute__((noinline))

/* One collection with a clean stack, then the queued finalizers here. */
NOINLINE static void collect(void) {
    gm_test_clear_stack();
    gm_gc();
    gm_run_finalizers();
    gm_test_clear_stack();
}

/* Collects until *counter >= want; false after 50 tries. */
static bool collect_until(_Atomic long *counter, long want) {
    for (int i = 0; i < 50; i++) {
        if (atomic_load(counter) >= want)
            return true;
        collect();
    }
    return atomic_load(counter) >= want;
}

/* ------------------------------------------------------------- runs once */

typedef struct obj {
    uint64_t tag;
    uint64_t words[5];
} obj;

/* Several objects: a stale register or stack word may keep one of them. */
enum { ONCE = 8 };
static int tokens[ONCE];
static uintptr_t hidden_obj[ONCE]; /* ~address: not a pointer to the collector */
static _Atomic long runs;
static _Atomic long once_errors;
static _Atomic unsigned char once_ran[ONCE];

static void fin_count(void *o, void *arg) {
    obj *p = o;
    int *token = arg;
    long i = token - tokens;
    if (i < 0 || i >= ONCE || (uintptr_t)o != ~hidden_obj[i])
        atomic_fetch_add(&once_errors, 1); /* wrong (obj, arg) */
    else if (p->tag != (uint64_t)i || gm_test_verify(p->words, sizeof p->words, p->tag) != (size_t)-1)
        atomic_fetch_add(&once_errors, 1); /* changed before its finalizer */
    else if (atomic_fetch_add(&once_ran[i], 1) != 0)
        atomic_fetch_add(&once_errors, 1); /* twice */
    atomic_fetch_add(&runs, 1);
}

NOINLINE static void make_once(void) {
    for (int i = 0; i < ONCE; i++) {
        obj *p = gm_new(obj);
        p->tag = (uint64_t)i;
        gm_test_fill(p->words, sizeof p->words, p->tag);
        hidden_obj[i] = ~(uintptr_t)p;
        gm_set_finalizer(p, fin_count, &tokens[i]);
    }
}

static void test_runs_once_with_args(void) {
    make_once();
    CHECK(collect_until(&runs, ONCE - 2), "only %ld of %d finalizers ran", atomic_load(&runs), ONCE);
    for (int i = 0; i < 3; i++)
        collect();
    CHECK(atomic_load(&once_errors) == 0, "%ld finalizers got the wrong (obj, arg), a changed object, or ran "
          "twice", atomic_load(&once_errors));
}

/* ------------------------------------------------ kept, then reclaimed */

enum { BIG = 8 };
static _Atomic unsigned char big_ran[BIG];
static _Atomic long big_runs;
static uintptr_t hidden_big[BIG]; /* ~addresses: not pointers */

static void fin_big(void *o, void *arg) {
    CHECK(gm_size(o) >= 65536, "object of the finalizer is not allocated while it runs");
    atomic_store(&big_ran[(uintptr_t)arg], 1);
    atomic_fetch_add(&big_runs, 1);
}

NOINLINE static void make_big(void) {
    for (uintptr_t i = 0; i < BIG; i++) {
        void *p = gm_alloc(65536);
        hidden_big[i] = ~(uintptr_t)p;
        gm_set_finalizer(p, fin_big, (void *)i);
    }
}

static void test_reclaimed_after(void) {
    /* A stale register or stack word may keep one object: of 8, 6 must go
     * through the whole story. */
    make_big();
    CHECK(collect_until(&big_runs, BIG - 2), "only %ld of %d large objects' finalizers ran",
          atomic_load(&big_runs), BIG);
    /* The cycle after a finalizer ran frees its object (nothing allocates a
     * large object meanwhile, so the spans are not reused). */
    int freed = 0;
    for (int round = 0; round < 10 && freed < BIG - 2; round++) {
        collect();
        freed = 0;
        for (int i = 0; i < BIG; i++)
            freed += atomic_load(&big_ran[i]) && gm_size((void *)~hidden_big[i]) == 0;
    }
    CHECK(freed >= BIG - 2, "only %d of %d finalized large objects were freed afterwards", freed, BIG);
}

/* ------------------------------------------------ clear, replace, reachable */

static _Atomic long a_runs, b_runs;
static void fin_a(void *o, void *arg) {
    (void)o, (void)arg;
    atomic_fetch_add(&a_runs, 1);
}
static void fin_b(void *o, void *arg) {
    (void)o, (void)arg;
    atomic_fetch_add(&b_runs, 1);
}

static obj *kept; /* a global: reachable */

enum { REPL = 6 }; /* several: a stale register may keep one */

NOINLINE static void make_cleared_and_replaced(void) {
    for (int i = 0; i < REPL; i++) {
        obj *c = gm_new(obj);
        gm_set_finalizer(c, fin_a, NULL);
        gm_set_finalizer(c, NULL, NULL); /* cleared: never runs */
        obj *r = gm_new(obj);
        gm_set_finalizer(r, fin_a, NULL);
        gm_set_finalizer(r, fin_b, NULL); /* replaced: only fin_b */
    }
    kept = gm_new(obj);
    gm_set_finalizer(kept, fin_a, NULL);
    gm_set_finalizer(gm_new(obj), NULL, NULL); /* clearing none: no-op */
}

static void test_clear_replace_reachable(void) {
    make_cleared_and_replaced();
    CHECK(collect_until(&b_runs, REPL - 2), "only %ld of %d replacing finalizers ran", atomic_load(&b_runs), REPL);
    for (int i = 0; i < 3; i++)
        collect();
    CHECK(atomic_load(&a_runs) == 0, "a cleared, replaced or reachable object's finalizer ran (%ld)",
          atomic_load(&a_runs));
    CHECK(atomic_load(&b_runs) <= REPL, "replacing finalizers ran %ld times for %d objects", atomic_load(&b_runs),
          REPL);
    gm_set_finalizer(kept, NULL, NULL);
    kept = NULL;
}

/* ------------------------------------------------------------ resurrection */

/* Several objects: a stale register may keep one of them. */
enum { RES = 6 };
static obj *_Atomic resurrected[RES];
static _Atomic unsigned char res_count[RES];
static _Atomic long res_runs;

static void fin_resurrect(void *o, void *arg) {
    uintptr_t i = (uintptr_t)arg;
    atomic_fetch_add(&res_runs, 1);
    atomic_store(&resurrected[i], o);
    if (atomic_fetch_add(&res_count[i], 1) == 0) /* set again, the first time */
        gm_set_finalizer(o, fin_resurrect, arg);
}

NOINLINE static void make_resurrectable(void) {
    for (uintptr_t i = 0; i < RES; i++) {
        obj *p = gm_new(obj);
        p->tag = 7 + i;
        gm_test_fill(p->words, sizeof p->words, p->tag);
        gm_set_finalizer(p, fin_resurrect, (void *)i);
    }
}

/* The resurrected objects are alive and intact; returns how many. */
NOINLINE static int check_resurrected(void) {
    int n = 0;
    for (int i = 0; i < RES; i++) {
        obj *p = atomic_load(&resurrected[i]);
        if (!p)
            continue;
        CHECK(gm_size(p) >= sizeof(obj), "resurrected object was freed");
        CHECK(gm_test_verify(p->words, sizeof p->words, p->tag) == (size_t)-1, "resurrected object changed");
        n++;
    }
    return n;
}

NOINLINE static void drop_resurrected(void) {
    for (int i = 0; i < RES; i++)
        atomic_store(&resurrected[i], NULL);
}

static long count_at_least(int k) {
    long n = 0;
    for (int i = 0; i < RES; i++)
        n += atomic_load(&res_count[i]) >= k;
    return n;
}

static void test_resurrection(void) {
    make_resurrectable();
    CHECK(collect_until(&res_runs, RES - 2), "only %ld of %d finalizers ran", atomic_load(&res_runs), RES);
    /* They stored their objects: alive, intact, and finalizable again once
     * (each set its finalizer again), but not finalized while stored. */
    for (int i = 0; i < 3; i++)
        collect();
    long once = count_at_least(1);
    CHECK(count_at_least(2) == 0, "a finalizer ran again while its object was stored");
    CHECK(check_resurrected() == once, "resurrected objects missing");
    drop_resurrected();
    for (int i = 0; i < 30 && count_at_least(2) < once - 1; i++) {
        collect();
        drop_resurrected();
    }
    CHECK(count_at_least(2) >= once - 1, "finalizers set again in the finalizer: %ld of %ld ran",
          count_at_least(2), once);
    for (int i = 0; i < 3; i++) {
        collect();
        drop_resurrected();
    }
    CHECK(count_at_least(3) == 0, "a finalizer ran three times (set again only once)");
}

/* -------------------------------------------------- the finalizer thread */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long thread_runs;
static pthread_t main_thread;
static _Atomic int ran_on_main;

static void fin_signal(void *o, void *arg) {
    (void)o, (void)arg;
    if (pthread_equal(pthread_self(), main_thread))
        atomic_store(&ran_on_main, 1);
    pthread_mutex_lock(&mu);
    thread_runs++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

NOINLINE static void make_signalling(int n) {
    for (int i = 0; i < n; i++)
        gm_set_finalizer(gm_new(obj), fin_signal, NULL);
}

static void test_finalizer_thread(void) {
    main_thread = pthread_self();
    enum { N = 1000 };
    make_signalling(N);
    /* Never gm_run_finalizers here: the finalizer thread runs them. */
    for (int round = 0; round < 20; round++) {
        gm_test_clear_stack();
        gm_gc();
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 2;
        pthread_mutex_lock(&mu);
        while (thread_runs < N * 99 / 100 &&
               pthread_cond_timedwait(&cv, &mu, &until) == 0)
            ;
        long got = thread_runs;
        pthread_mutex_unlock(&mu);
        if (got >= N * 99 / 100)
            break;
    }
    pthread_mutex_lock(&mu);
    long got = thread_runs;
    pthread_mutex_unlock(&mu);
    CHECK(got >= N * 99 / 100, "finalizer thread ran %ld of %d finalizers", got, N);
    CHECK(!atomic_load(&ran_on_main), "a finalizer ran on the main thread without gm_run_finalizers");
}

/* ---------------------------------------------------- 10000, and memstats */

static _Atomic long many_runs;
static void fin_many(void *o, void *arg) {
    (void)o, (void)arg;
    atomic_fetch_add(&many_runs, 1);
}

NOINLINE static void make_many(int n) {
    for (int i = 0; i < n; i++) {
        obj *p = gm_new(obj);
        p->tag = (uint64_t)i;
        gm_set_finalizer(p, fin_many, NULL);
    }
}

static void test_many_and_memstats(void) {
    enum { N = 10000 };
    gm_memstats before, after;
    gm_read_memstats(&before);
    make_many(N);
    CHECK(collect_until(&many_runs, N * 99 / 100), "only %ld of %d finalizers ran", atomic_load(&many_runs), N);
    /* The finalizer thread may still be running the last few: a finalizer
     * counts itself (many_runs) before memstats count it run, so take the
     * count first, then memstats, until memstats have caught up with it. */
    long m;
    uint64_t q, r;
    for (int tries = 0;; tries++) {
        m = atomic_load(&many_runs);
        gm_read_memstats(&after);
        q = after.finalizers_queued - before.finalizers_queued;
        r = after.finalizers_run - before.finalizers_run;
        if (r >= (uint64_t)m || tries == 1000000)
            break;
        sched_yield();
    }
    CHECK(q >= (uint64_t)m && r >= (uint64_t)m && r <= q, "memstats: %llu queued, %llu run, %ld counted",
          (unsigned long long)q, (unsigned long long)r, m);
    CHECK(after.finalizers_run <= after.finalizers_queued, "more finalizers run than queued");
}

/* ------------------------------------------------- gm_run_finalizers' count */

static _Atomic long counted_runs;
static void fin_counted(void *o, void *arg) {
    (void)o, (void)arg;
    atomic_fetch_add(&counted_runs, 1);
}

NOINLINE static void make_counted(int n) {
    for (int i = 0; i < n; i++)
        gm_set_finalizer(gm_new(obj), fin_counted, NULL);
}

static void test_run_finalizers_count(void) {
    /* gm_run_finalizers reports what it ran itself (this test's finalizers
     * and late ones of earlier tests); with the finalizer thread also
     * running, the sum of its results never exceeds all the runs. */
    gm_memstats before, after;
    gm_read_memstats(&before);
    make_counted(500);
    long by_us = 0;
    for (int i = 0; i < 50 && atomic_load(&counted_runs) < 495; i++) {
        gm_test_clear_stack();
        gm_gc();
        int n = gm_run_finalizers();
        CHECK(n >= 0, "gm_run_finalizers returned %d", n);
        by_us += n;
    }
    gm_read_memstats(&after);
    CHECK(atomic_load(&counted_runs) >= 495, "only %ld of 500 ran", atomic_load(&counted_runs));
    uint64_t all = after.finalizers_run - before.finalizers_run;
    CHECK((uint64_t)by_us <= all, "gm_run_finalizers counted %ld, only %llu ran", by_us, (unsigned long long)all);
}

int main(void) {
    test_runs_once_with_args();
    test_reclaimed_after();
    test_clear_replace_reachable();
    test_resurrection();
    test_finalizer_thread();
    test_many_and_memstats();
    test_run_finalizers_count();
    printf("test_final_basic: ok\n");
    return 0;
}
