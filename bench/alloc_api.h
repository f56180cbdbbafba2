/*
 * alloc_api.h - one allocator interface for every benchmark program.
 *
 * Each benchmark is one C source built once per allocator ("peer"); the
 * build picks the peer with exactly one compile definition:
 *
 *   BENCH_GOMEM     gomem: gm_alloc / gm_alloc_noscan / gm_free
 *   BENCH_BDWGC     Boehm-Demers-Weiser GC: GC_MALLOC / GC_MALLOC_ATOMIC /
 *                   GC_FREE, threads through GC_pthread_create
 *   BENCH_MALLOC    the C library's malloc/free; linked against glibc this is
 *                   glibc malloc, linked with -ljemalloc (Debian's jemalloc
 *                   has no prefix) it is jemalloc.  BENCH_PEER_NAME names it;
 *                   BENCH_JEMALLOC makes start-up check that malloc is
 *                   jemalloc's (mallctl answers).
 *   BENCH_MIMALLOC  mimalloc through mi_malloc / mi_free, called explicitly
 *
 * so the program logic is the same text for every peer.  What differs is
 * only what this header defines:
 *
 *   BENCH_PEER           the peer's name, printed in results
 *   BENCH_COLLECTED      1 for garbage-collected peers (gomem, bdwgc): the
 *                        programs then drop their garbage instead of freeing
 *                        it, as a program written for a collector would
 *   ba_init()            call first thing in main
 *   ba_alloc(n)          memory that may hold pointers (contents undefined
 *                        for malloc peers; callers initialise what they read)
 *   ba_alloc_noscan(n)   memory that holds no pointers (numbers)
 *   ba_free(p)           explicit release
 *   ba_collector_off()   no collections from now on (alloc benchmark:
 *                        measures explicit free only)
 *   ba_add_roots(lo,hi)  make malloc'd memory a root for collected peers
 *   ba_remove_roots(lo,hi)  and stop it being one
 *   ba_thread_create()   start a thread the collector knows about
 *   ba_gc_cycles()       collected peers: cycles completed (bdwgc: timed)
 *   ba_max_pause_since(k)  collected peers: the longest stop of the
 *                        cycles since the k-th (as the pauses below)
 *   ba_print_gcstats()   at exit, two lines on stderr:
 *                          gcstats: num_gc=N max_pause_ns=M total_pause_ns=T
 *                          gcpauses_ns: P1 P2 ...
 *                        (collected peers only; bench/bench.py parses them)
 *                        the second lists each recorded cycle's
 *                        stop-the-world time, oldest first
 *
 * Pauses: gomem reports Go's MemStats (pause_ns holds the last 256 cycles'
 * stop-the-world pauses; the maximum is taken over those).  bdwgc has no such
 * record, so its variant times each collection's stop-the-world interval
 * itself with GC_set_on_collection_event (from GC_EVENT_PRE_STOP_WORLD to
 * GC_EVENT_POST_START_WORLD, summed per collection); a collection for which
 * no stop events arrive is timed from GC_EVENT_START to GC_EVENT_END.
 */
#ifndef BENCH_ALLOC_API_H
#define BENCH_ALLOC_API_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(BENCH_GOMEM) + defined(BENCH_BDWGC) + defined(BENCH_MALLOC) + \
        defined(BENCH_MIMALLOC) != 1
#error "define exactly one of BENCH_GOMEM, BENCH_BDWGC, BENCH_MALLOC, BENCH_MIMALLOC"
#endif

/* Monotonic clock in nanoseconds, for the programs' own timings. */
static inline uint64_t ba_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
#if defined(BENCH_GOMEM)

#include <gomem.h>

#define BENCH_PEER "gomem"
#define BENCH_COLLECTED 1

static inline void ba_init(void) {}
static inline void *ba_alloc(size_t n) { return gm_alloc(n); }
static inline void *ba_alloc_noscan(size_t n) { return gm_alloc_noscan(n); }
static inline void ba_free(void *p) { gm_free(p); }
static inline void ba_collector_off(void) { (void)gm_set_gc_percent(-1); }
static inline void ba_add_roots(void *lo, void *hi) { gm_add_roots(lo, hi); }
static inline void ba_remove_roots(void *lo, void *hi) { gm_remove_roots(lo, hi); }

static inline int ba_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    return gm_thread_create(t, NULL, fn, arg);
}

static inline void ba_print_gcstats(void)
{
    static gm_memstats st; /* 2 KiB+: keep it off the stack */
    gm_read_memstats(&st);
    uint32_t n = st.num_gc < 256 ? st.num_gc : 256;
    uint64_t max = 0;
    for (uint32_t i = 0; i < n; i++)
        if (st.pause_ns[i] > max)
            max = st.pause_ns[i];
    fprintf(stderr, "gcstats: num_gc=%u max_pause_ns=%llu total_pause_ns=%llu\n",
            (unsigned)st.num_gc, (unsigned long long)max,
            (unsigned long long)st.pause_total_ns);
    /* pause_ns is circular: cycle k's pause is at k % 256 */
    fprintf(stderr, "gcpauses_ns:");
    for (uint32_t k = st.num_gc - n; k < st.num_gc; k++)
        fprintf(stderr, " %llu", (unsigned long long)st.pause_ns[k % 256]);
    fprintf(stderr, "\n");
}

/* Cycles completed, and the longest stop of the cycles since cycle first
 * (of the last 256). */
static inline unsigned ba_gc_cycles(void)
{
    static gm_memstats st;
    gm_read_memstats(&st);
    return st.num_gc;
}

static inline uint64_t ba_max_pause_since(unsigned first)
{
    static gm_memstats st;
    gm_read_memstats(&st);
    uint64_t max = 0;
    unsigned from = st.num_gc > 256 && st.num_gc - 256 > first ? st.num_gc - 256 : first;
    for (unsigned k = from; k < st.num_gc; k++)
        if (st.pause_ns[k % 256] > max)
            max = st.pause_ns[k % 256];
    return max;
}

/* ------------------------------------------------------------------------ */
#elif defined(BENCH_BDWGC)

#define GC_THREADS
#include <gc.h>

#define BENCH_PEER "bdwgc"
#define BENCH_COLLECTED 1

static uint64_t ba_bdw_start, ba_bdw_stop, ba_bdw_cycle, ba_bdw_max, ba_bdw_total;
static int ba_bdw_stopped;
#define BA_BDW_PAUSES 4096 /* the first this many cycles' pauses are listed */
static uint64_t ba_bdw_pauses[BA_BDW_PAUSES];
static unsigned ba_bdw_npauses;

/* Called by bdwgc with its allocation lock held, so no other locking. */
static void ba_bdw_event(GC_EventType ev)
{
    uint64_t now = ba_now_ns();
    switch (ev) {
    case GC_EVENT_START:
        ba_bdw_start = now;
        ba_bdw_cycle = 0;
        ba_bdw_stopped = 0;
        break;
    case GC_EVENT_PRE_STOP_WORLD:
        ba_bdw_stop = now;
        break;
    case GC_EVENT_POST_START_WORLD:
        ba_bdw_cycle += now - ba_bdw_stop;
        ba_bdw_stopped = 1;
        break;
    case GC_EVENT_END: {
        uint64_t pause = ba_bdw_stopped ? ba_bdw_cycle : now - ba_bdw_start;
        if (pause > ba_bdw_max)
            ba_bdw_max = pause;
        ba_bdw_total += pause;
        if (ba_bdw_npauses < BA_BDW_PAUSES)
            ba_bdw_pauses[ba_bdw_npauses++] = pause;
        break;
    }
    default:
        break;
    }
}

/* BENCH_BDWGC_INCREMENTAL=1 in the environment: GC_enable_incremental()
 * (bdwgc's incremental, generational mode; the "bdwgc-incr" peer). */
static inline void ba_init(void)
{
    GC_INIT();
    const char *incr = getenv("BENCH_BDWGC_INCREMENTAL");
    if (incr != NULL && incr[0] == '1')
        GC_enable_incremental();
    GC_set_on_collection_event(ba_bdw_event);
}
static inline void *ba_alloc(size_t n) { return GC_MALLOC(n); }
static inline void *ba_alloc_noscan(size_t n) { return GC_MALLOC_ATOMIC(n); }
static inline void ba_free(void *p) { GC_FREE(p); }
static inline void ba_collector_off(void) { GC_disable(); }
static inline void ba_add_roots(void *lo, void *hi) { GC_add_roots(lo, hi); }
static inline void ba_remove_roots(void *lo, void *hi) { GC_remove_roots(lo, hi); }

static inline int ba_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    return GC_pthread_create(t, NULL, fn, arg);
}

/* Cycles timed so far, and the longest stop of those since cycle first
 * (of the first BA_BDW_PAUSES). */
static inline unsigned ba_gc_cycles(void) { return ba_bdw_npauses; }

static inline uint64_t ba_max_pause_since(unsigned first)
{
    uint64_t max = 0;
    for (unsigned k = first; k < ba_bdw_npauses; k++)
        if (ba_bdw_pauses[k] > max)
            max = ba_bdw_pauses[k];
    return max;
}

static inline void ba_print_gcstats(void)
{
    fprintf(stderr, "gcstats: num_gc=%lu max_pause_ns=%llu total_pause_ns=%llu\n",
            (unsigned long)GC_get_gc_no(), (unsigned long long)ba_bdw_max,
            (unsigned long long)ba_bdw_total);
    fprintf(stderr, "gcpauses_ns:");
    for (unsigned i = 0; i < ba_bdw_npauses; i++)
        fprintf(stderr, " %llu", (unsigned long long)ba_bdw_pauses[i]);
    fprintf(stderr, "\n");
}

/* ------------------------------------------------------------------------ */
#elif defined(BENCH_MALLOC)

#ifndef BENCH_PEER_NAME
#define BENCH_PEER_NAME "glibc"
#endif
#define BENCH_PEER BENCH_PEER_NAME
#define BENCH_COLLECTED 0

#ifdef BENCH_JEMALLOC
/* Proves at start-up that malloc really is jemalloc's. */
#include <jemalloc/jemalloc.h>
static inline void ba_init(void)
{
    const char *version = NULL;
    size_t len = sizeof version;
    if (mallctl("version", (void *)&version, &len, NULL, 0) != 0 || version == NULL) {
        fprintf(stderr, "jemalloc: mallctl(\"version\") failed: not linked?\n");
        exit(2);
    }
}
#else
static inline void ba_init(void) {}
#endif
static inline void *ba_alloc(size_t n) { return malloc(n); }
static inline void *ba_alloc_noscan(size_t n) { return malloc(n); }
static inline void ba_free(void *p) { free(p); }
static inline void ba_collector_off(void) {}
static inline void ba_add_roots(void *lo, void *hi) { (void)lo; (void)hi; }
static inline void ba_remove_roots(void *lo, void *hi) { (void)lo; (void)hi; }

static inline int ba_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    return pthread_create(t, NULL, fn, arg);
}

static inline void ba_print_gcstats(void) {}

/* ------------------------------------------------------------------------ */
#elif defined(BENCH_MIMALLOC)

#include <mimalloc.h>

#define BENCH_PEER "mimalloc"
#define BENCH_COLLECTED 0

static inline void ba_init(void) {}
static inline void *ba_alloc(size_t n) { return mi_malloc(n); }
static inline void *ba_alloc_noscan(size_t n) { return mi_malloc(n); }
static inline void ba_free(void *p) { mi_free(p); }
static inline void ba_collector_off(void) {}
static inline void ba_add_roots(void *lo, void *hi) { (void)lo; (void)hi; }
static inline void ba_remove_roots(void *lo, void *hi) { (void)lo; (void)hi; }

static inline int ba_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    return pthread_create(t, NULL, fn, arg);
}

static inline void ba_print_gcstats(void) {}

#endif

/* Aborts with a message when an allocation fails: the benchmarks have no
 * use for a NULL. */
static inline void *ba_check(void *p, size_t n)
{
    if (p == NULL) {
        fprintf(stderr, "%s: out of memory allocating %zu bytes\n", BENCH_PEER, n);
        abort();
    }
    return p;
}

#endif /* BENCH_ALLOC_API_H */
