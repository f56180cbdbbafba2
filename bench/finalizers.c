/*
 * finalizers.c - allocating objects with a finalizer each and collecting
 * them, gomem beside bdwgc.
 *
 * Usage: finalizers-<peer> [N [SIZE [ROUNDS]]]   (1000000 48 3)
 *
 * One round: allocate N objects of SIZE bytes, each with a finalizer
 * (gm_set_finalizer, or bdwgc's GC_register_finalizer) that checks a word
 * of its object and counts; nothing keeps them.  Collections run as each
 * collector paces them while allocating; then the program collects (gm_gc
 * + gm_run_finalizers, or GC_gcollect + GC_invoke_finalizers) until at
 * least 99.9% of the round's finalizers have run, and once more so the
 * finalized objects are reclaimed.  The round's time covers all of that.
 * The best round is reported (other processes only add time on a shared
 * machine):
 *
 *   finalizers: peer=P n=N size=S best_s=T alloc_s=A finish_s=F finalized=K rounds=R
 *
 * and gcstats on stderr as the other benchmark programs.
 *
 * Usage: finalizers-<peer> live [N [GARBAGE_MB]]   (1000000 1024)
 *
 * The stop with many finalizable objects alive: N 48-byte objects with a
 * finalizer each stay reachable (from a heap array a global points to)
 * while GARBAGE_MB of 64-byte objects are allocated and dropped, the
 * collector pacing itself.  Then every live object must be intact and no
 * finalizer may have run.  Reports the cycles that ran during the garbage
 * phase and their longest stop:
 *
 *   finalizers_live: peer=P n=N garbage_mb=G cycles=C max_stop_ms=M
 *
 * Built as
 * finalizers-gomem (-DBENCH_GOMEM, libgomem.a) and finalizers-bdwgc
 * (-DBENCH_BDWGC, -lgc) by bench/finalizers.sh.
 */
#include <stdatomic.h>
#include <string.h>

#include "alloc_api.h"

#if defined(BENCH_GOMEM)
static void on_finalize(void *obj, void *arg);
static inline void set_finalizer(void *p) { gm_set_finalizer(p, on_finalize, NULL); }
static inline void collect(void) { gm_gc(); }
static inline void run_queued(void) { gm_run_finalizers(); }
#define FIN_SIGNATURE(obj, arg) static void on_finalize(void *obj, void *arg)
#elif defined(BENCH_BDWGC)
static void on_finalize(void *obj, void *arg);
static inline void set_finalizer(void *p) { GC_register_finalizer(p, on_finalize, NULL, NULL, NULL); }
static inline void collect(void) { GC_gcollect(); }
static inline void run_queued(void) { GC_invoke_finalizers(); }
#define FIN_SIGNATURE(obj, arg) static void on_finalize(void *obj, void *arg)
#else
#error "finalizers.c is for the collected peers: define BENCH_GOMEM or BENCH_BDWGC"
#endif

#define MAGIC 0x6a09e667f3bcc909ull

static _Atomic long finalized;
static _Atomic long bad;

FIN_SIGNATURE(obj, arg) {
    (void)arg;
    if (*(uint64_t *)obj != MAGIC)
        atomic_fetch_add(&bad, 1);
    atomic_fetch_add_explicit(&finalized, 1, memory_order_relaxed);
}

/* Overwrites the stack below the caller, so stale words do not keep the
 * last objects (both collectors scan stacks conservatively). */
__attribute__((noinline)) static void scrub(void) {
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
    __asm__ __volatile__("" : : "r"(buf) : "memory");
}

__attribute__((noinline)) static void allocate(long n, size_t size) {
    for (long i = 0; i < n; i++) {
        uint64_t *p = ba_check(ba_alloc(size), size);
        p[0] = MAGIC;
        set_finalizer(p);
    }
}

static uint64_t **live_objects; /* a root: the collectors scan the data segment */

__attribute__((noinline)) static void drop_garbage(long mb) {
    for (long i = 0; i < (mb << 20) / 64; i++) {
        uint64_t *p = ba_check(ba_alloc(64), 64);
        p[0] = (uint64_t)i;
        __asm__ __volatile__("" : : "r"(p) : "memory");
    }
}

static int live_main(long n, long mb) {
    live_objects = ba_check(ba_alloc((size_t)n * sizeof *live_objects), (size_t)n * sizeof *live_objects);
    for (long i = 0; i < n; i++) {
        uint64_t *p = ba_check(ba_alloc(48), 48);
        p[0] = MAGIC;
        p[1] = (uint64_t)i;
        set_finalizer(p);
        live_objects[i] = p;
    }
    unsigned first = ba_gc_cycles();
    drop_garbage(mb);
    scrub();
    unsigned cycles = ba_gc_cycles() - first;
    uint64_t max_stop = ba_max_pause_since(first);
    long damaged = 0;
    for (long i = 0; i < n; i++)
        if (live_objects[i][0] != MAGIC || live_objects[i][1] != (uint64_t)i)
            damaged++;
    if (damaged || atomic_load(&finalized) || atomic_load(&bad)) {
        fprintf(stderr, "%s: FAILED: %ld of %ld live objects damaged, %ld finalizers of live objects ran\n",
                BENCH_PEER, damaged, n, atomic_load(&finalized));
        return 1;
    }
    printf("finalizers_live: peer=%s n=%ld garbage_mb=%ld cycles=%u max_stop_ms=%.3f\n", BENCH_PEER, n, mb,
           cycles, (double)max_stop / 1e6);
    ba_print_gcstats();
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "live") == 0) {
        long n = argc > 2 ? atol(argv[2]) : 1000000;
        long mb = argc > 3 ? atol(argv[3]) : 1024;
        if (n <= 0 || mb <= 0) {
            fprintf(stderr, "usage: %s live [N [GARBAGE_MB]]\n", argv[0]);
            return 2;
        }
        ba_init();
        return live_main(n, mb);
    }
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    size_t size = argc > 2 ? (size_t)atol(argv[2]) : 48;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    if (n <= 0 || size < 8 || rounds <= 0) {
        fprintf(stderr, "usage: %s [N [SIZE>=8 [ROUNDS]]]\n", argv[0]);
        return 2;
    }
    ba_init();
    double best = 0, best_alloc = 0, best_finish = 0;
    long done_total = 0;
    for (int r = 0; r < rounds; r++) {
        long before = atomic_load(&finalized);
        long want = n - n / 1000;
        uint64_t t0 = ba_now_ns();
        allocate(n, size);
        uint64_t t1 = ba_now_ns();
        for (int i = 0; i < 100 && atomic_load(&finalized) - before < want; i++) {
            scrub();
            collect();
            run_queued();
        }
        scrub();
        collect(); /* reclaim the finalized objects */
        uint64_t t2 = ba_now_ns();
        long done = atomic_load(&finalized) - before;
        done_total += done;
        if (done < want) {
            fprintf(stderr, "%s: only %ld of %ld finalizers ran in round %d\n", BENCH_PEER, done, n, r);
            return 1;
        }
        double s = (double)(t2 - t0) / 1e9;
        if (r == 0 || s < best) {
            best = s;
            best_alloc = (double)(t1 - t0) / 1e9;
            best_finish = (double)(t2 - t1) / 1e9;
        }
    }
    if (atomic_load(&bad)) {
        fprintf(stderr, "%s: %ld finalizers saw a damaged object\n", BENCH_PEER, atomic_load(&bad));
        return 1;
    }
    printf("finalizers: peer=%s n=%ld size=%zu best_s=%.3f alloc_s=%.3f finish_s=%.3f finalized=%ld rounds=%d\n",
           BENCH_PEER, n, size, best, best_alloc, best_finish, done_total, rounds);
    ba_print_gcstats();
    return 0;
}
