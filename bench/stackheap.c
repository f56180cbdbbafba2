/*
 * stackheap.c - stack against heap in gomem: what a goroutine's local array,
 * a growing stack and a parked goroutine cost, beside gm_alloc, malloc and
 * a pthread.
 *
 * Every figure is printed as one line "stackheap: what=W value=V unit=U"
 * (bench/bench.py builds the stack-versus-heap table from them):
 *
 *   local_64, local_1024      a noinline function that fills and sums a
 *                             local array of 64 B / 1 KiB, called from a
 *                             goroutine (growable stack): ns per call
 *   gm_alloc_64, ...          the same array from gm_alloc, then dropped
 *   malloc_64, ...            the same from malloc, then free
 *   grow_first_<kind>         a fresh goroutine (growable or copy stack)
 *                             recursing through 1 MiB of 1 KiB frames for
 *                             the first time: us (median of GOROUTINES/100
 *                             goroutines, at least 5)
 *   grow_again_<kind>         the same goroutine doing it a second time
 *                             (stack already grown): us
 *                             (each run's goroutine stays parked until all
 *                             runs are done, so no run reuses a stack an
 *                             earlier one grew)
 *   park_deep_<kind>          one round trip over two channels to another
 *                             goroutine while 1 MiB deep (the goroutine
 *                             parks, and the partner, of the same stack
 *                             kind, runs: a copy stack's used part is saved
 *                             and restored), less the descent: us
 *   parked_<kind>_bytes       resident memory per parked goroutine, from
 *                             /proc/self/statm over GOROUTINES of them
 *   pthread_bytes             resident memory per pthread (default
 *                             attributes) blocked on a condition variable,
 *                             over THREADS of them
 *   pthread_virtual_bytes     and its address-space cost per thread
 *
 * Usage: stackheap [ITERS [GOROUTINES [THREADS]]]   (10000000 10000 1000)
 * Goroutine memory is measured last, and the process ends with _exit(0)
 * while they are parked, as a Go main that returns.
 */
#include "alloc_api.h"

#include <string.h>
#include <unistd.h>

#ifndef BENCH_GOMEM
#error "stackheap.c measures gomem's goroutines: build it with BENCH_GOMEM"
#endif

static long iters = 10000000;

static void report(const char *what, double value, const char *unit)
{
    printf("stackheap: what=%s value=%.2f unit=%s\n", what, value, unit);
    fflush(stdout);
}

static void statm(long *size, long *resident)
{
    *size = *resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", size, resident) != 2)
            *size = *resident = 0;
        fclose(f);
    }
    long page = sysconf(_SC_PAGESIZE);
    *size *= page;
    *resident *= page;
}

/* --- local array, gm_alloc, malloc ---------------------------------- */

#define FILL_AND_SUM(a, words, seed)                                                   \
    do {                                                                               \
        for (size_t w_ = 0; w_ < (words); w_++)                                        \
            (a)[w_] = (seed) + w_;                                                     \
        __asm__ volatile("" : : "r"(a) : "memory");                                    \
        for (size_t w_ = 0; w_ < (words); w_++)                                        \
            sum_ += (a)[w_];                                                           \
    } while (0)

__attribute__((noinline)) static uint64_t local_64(uint64_t seed)
{
    uint64_t a[8], sum_ = 0;
    FILL_AND_SUM(a, 8, seed);
    return sum_;
}
__attribute__((noinline)) static uint64_t local_1024(uint64_t seed)
{
    uint64_t a[128], sum_ = 0;
    FILL_AND_SUM(a, 128, seed);
    return sum_;
}
__attribute__((noinline)) static uint64_t heap_gm(uint64_t seed, size_t words)
{
    uint64_t *a = ba_check(gm_alloc(words * 8), words * 8), sum_ = 0;
    FILL_AND_SUM(a, words, seed);
    return sum_;
}
__attribute__((noinline)) static uint64_t heap_malloc(uint64_t seed, size_t words)
{
    uint64_t *a = ba_check(malloc(words * 8), words * 8), sum_ = 0;
    FILL_AND_SUM(a, words, seed);
    free(a);
    return sum_;
}

static uint64_t expected_sum(uint64_t seed, size_t words)
{
    return seed * words + words * (words - 1) / 2;
}

typedef uint64_t (*array_fn)(uint64_t seed, size_t words);
static uint64_t via_local(uint64_t seed, size_t words)
{
    return words == 8 ? local_64(seed) : local_1024(seed);
}

static void time_arrays(const char *name, array_fn fn, size_t words)
{
    long n = words == 8 ? iters : iters / 8;
    uint64_t bad = 0, t0 = ba_now_ns();
    for (long i = 0; i < n; i++)
        bad += fn((uint64_t)i, words) != expected_sum((uint64_t)i, words);
    double ns = (double)(ba_now_ns() - t0) / (double)n;
    if (bad) {
        fprintf(stderr, "stackheap: %s: %llu wrong sums\n", name, (unsigned long long)bad);
        exit(1);
    }
    char what[64];
    snprintf(what, sizeof what, "%s_%zu", name, words * 8);
    report(what, ns, "ns");
}

static void arrays_goroutine(void *wg)
{
    for (int k = 0; k < 2; k++) {
        size_t words = k == 0 ? 8 : 128;
        time_arrays("local", via_local, words);
        time_arrays("gm_alloc", heap_gm, words);
        time_arrays("malloc", heap_malloc, words);
    }
    gm_waitgroup_done(wg);
}

/* --- growing a stack by 1 MiB ----------------------------------------- */

/* At the bottom of the recursion, when deep_partner is set: one round trip
 * to a partner goroutine over two unbuffered channels, so this goroutine
 * parks (and a copy stack saves its 1 MiB) and resumes. */
static gm_chan *deep_partner, *deep_reply;
static gm_go_options deep_opts; /* the partner's stack is of the same kind */

__attribute__((noinline)) static int recurse(int n)
{
    volatile char frame[1024];
    frame[0] = (char)n;
    frame[1023] = (char)n;
    if (n == 0) {
        if (deep_partner != NULL) {
            gm_chan_send(deep_partner, NULL);
            gm_chan_recv(deep_reply, NULL);
        }
        return 0;
    }
    int r = recurse(n - 1);
    return r + (frame[0] != (char)n) + (frame[1023] != (char)n);
}

static void partner(void *arg)
{
    (void)arg;
    gm_chan_recv(deep_partner, NULL);
    gm_chan_send(deep_reply, NULL);
}

typedef struct grow_result {
    uint64_t first_ns, again_ns, yield_ns;
    int bad;
    gm_waitgroup *wg;
    gm_chan *hold;
} grow_result;

/* Grows its stack, measures, then stays parked on g->hold until every run
 * is done, so that each run gets a stack no earlier run has touched. */
static void grow_goroutine(void *arg)
{
    grow_result *g = arg;
    uint64_t t0 = ba_now_ns();
    g->bad += recurse(1024);
    uint64_t t1 = ba_now_ns();
    g->bad += recurse(1024);
    uint64_t t2 = ba_now_ns();
    g->first_ns = t1 - t0;
    g->again_ns = t2 - t1;
    gm_waitgroup_done(g->wg);
    gm_chan_recv(g->hold, NULL);
}

/* A round trip while 1 MiB deep, less the descent itself. */
static void deep_trip_goroutine(void *arg)
{
    grow_result *g = arg;
    g->bad += recurse(1024); /* grow first */
    uint64_t t0 = ba_now_ns();
    g->bad += recurse(1024);
    uint64_t t1 = ba_now_ns();
    deep_partner = gm_chan_make(0, 0);
    deep_reply = gm_chan_make(0, 0);
    gm_go_with(partner, NULL, &deep_opts);
    uint64_t t2 = ba_now_ns();
    g->bad += recurse(1024);
    uint64_t t3 = ba_now_ns();
    deep_partner = deep_reply = NULL;
    g->again_ns = t1 - t0;
    g->yield_ns = t3 - t2 > t1 - t0 ? t3 - t2 - (t1 - t0) : 0;
    gm_waitgroup_done(g->wg);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void time_growth(const char *kind, gm_stack_kind sk, int runs)
{
    enum { MAX_RUNS = 200 };
    static grow_result g[MAX_RUNS];
    static uint64_t first[MAX_RUNS], again[MAX_RUNS], trip[MAX_RUNS];
    if (runs > MAX_RUNS)
        runs = MAX_RUNS;
    gm_go_options o = {sk, 0};
    deep_opts = o;
    gm_waitgroup *wg = gm_waitgroup_make();
    gm_chan *hold = gm_chan_make(0, 0);
    for (int i = 0; i < runs; i++) {
        g[i] = (grow_result){0, 0, 0, 0, wg, hold};
        gm_waitgroup_add(wg, 1);
        if (gm_go_with(grow_goroutine, &g[i], &o) < 0) {
            fprintf(stderr, "stackheap: no %s goroutine\n", kind);
            exit(1);
        }
        gm_waitgroup_wait(wg);
    }
    gm_chan_close(hold); /* release them all */
    for (int i = 0; i < runs; i++) {
        first[i] = g[i].first_ns;
        again[i] = g[i].again_ns;
        int bad = g[i].bad;
        g[i] = (grow_result){0, 0, 0, 0, wg, NULL};
        gm_waitgroup_add(wg, 1);
        if (gm_go_with(deep_trip_goroutine, &g[i], &o) < 0) {
            fprintf(stderr, "stackheap: no %s goroutine\n", kind);
            exit(1);
        }
        gm_waitgroup_wait(wg);
        trip[i] = g[i].yield_ns;
        if (bad || g[i].bad) {
            fprintf(stderr, "stackheap: a %s stack frame was overwritten\n", kind);
            exit(1);
        }
    }
    qsort(first, (size_t)runs, sizeof first[0], cmp_u64);
    qsort(again, (size_t)runs, sizeof again[0], cmp_u64);
    qsort(trip, (size_t)runs, sizeof trip[0], cmp_u64);
    char what[64];
    snprintf(what, sizeof what, "grow_first_%s", kind);
    report(what, (double)first[runs / 2] / 1e3, "us");
    snprintf(what, sizeof what, "grow_again_%s", kind);
    report(what, (double)again[runs / 2] / 1e3, "us");
    snprintf(what, sizeof what, "park_deep_%s", kind);
    report(what, (double)trip[runs / 2] / 1e3, "us");
}

/* --- parked goroutines and pthreads ----------------------------------- */

static void park(void *c) { gm_chan_recv(c, NULL); }

static void parked_memory(const char *kind, gm_stack_kind sk, long n, gm_chan *c)
{
    gm_go_options o = {sk, 0};
    gm_gc();
    long size0, rss0, size1, rss1;
    statm(&size0, &rss0);
    for (long i = 0; i < n; i++) {
        if (gm_go_with(park, c, &o) < 0) {
            fprintf(stderr, "stackheap: parked %s goroutine %ld of %ld not started\n", kind, i, n);
            exit(1);
        }
        if (i % 1000 == 999)
            gm_yield();
    }
    gm_yield();
    gm_gc();
    statm(&size1, &rss1);
    char what[64];
    snprintf(what, sizeof what, "parked_%s_bytes", kind);
    report(what, (double)(rss1 - rss0) / (double)n, "bytes");
}

static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long started;

static void *blocked_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cond_lock);
    started++;
    pthread_cond_broadcast(&cond);
    for (;;)
        pthread_cond_wait(&cond, &cond_lock); /* never released */
    return NULL;
}

static void pthread_memory(long n)
{
    long size0, rss0, size1, rss1;
    statm(&size0, &rss0);
    for (long i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, blocked_thread, NULL) != 0) {
            fprintf(stderr, "stackheap: pthread %ld of %ld not created\n", i, n);
            exit(1);
        }
        pthread_detach(t);
    }
    pthread_mutex_lock(&cond_lock);
    while (started < n)
        pthread_cond_wait(&cond, &cond_lock);
    pthread_mutex_unlock(&cond_lock);
    statm(&size1, &rss1);
    report("pthread_bytes", (double)(rss1 - rss0) / (double)n, "bytes");
    report("pthread_virtual_bytes", (double)(size1 - size0) / (double)n, "bytes");
}

int main(int argc, char **argv)
{
    ba_init();
    iters = argc > 1 ? atol(argv[1]) : 10000000;
    long goroutines = argc > 2 ? atol(argv[2]) : 10000;
    long threads = argc > 3 ? atol(argv[3]) : 1000;
    if (argc > 4 || iters < 8 || goroutines < 1 || threads < 1 || threads > 30000) {
        fprintf(stderr, "usage: stackheap [ITERS>=8 [GOROUTINES>=1 [THREADS 1..30000]]]\n");
        return 2;
    }
    gm_waitgroup *wg = gm_waitgroup_make();
    gm_waitgroup_add(wg, 1);
    gm_go(arrays_goroutine, wg);
    gm_waitgroup_wait(wg);

    int runs = goroutines / 100 > 5 ? (int)(goroutines / 100) : 5;
    time_growth("growable", GM_STACK_GROWABLE, runs);
    time_growth("copy", GM_STACK_COPY, runs);

    pthread_memory(threads);
    gm_chan *c = gm_chan_make(0, 0);
    parked_memory("copy", GM_STACK_COPY, goroutines, c);
    parked_memory("growable", GM_STACK_GROWABLE, goroutines, c);
    ba_print_gcstats();
    _exit(0);
}
