/*
 * alloc.c - explicit allocate + free throughput, per object size and thread
 * count.
 *
 * What it measures.  A batch is BATCH objects (default 1 Mi = 1048576) of
 * one size, capped at MAX_BYTES per thread (default 1 GiB, so 4096-byte
 * objects come in batches of 256 Ki; 0 lifts the cap): allocate every object, writing every 8-byte word of it (so every
 * byte and every cache line is touched, as a real program would), keep the
 * pointers in an array, then read back each object's first and last word
 * (checking no two objects overlap) and free it, in allocation order.  Sizes
 * are 16, 64, 256 and 4096 bytes.  One untimed batch warms the allocator up
 * (pages faulted in, caches filled); then ROUNDS timed batches run and the
 * fastest gives ns per allocate+free pair (best of ROUNDS: on a shared
 * two-core machine other processes only ever add time).
 *
 * With two threads each thread runs its own batches (its own pointer array,
 * nothing shared), started together at a barrier each round; a round takes
 * as long as the slower thread.  Throughput is threads * BATCH / round time;
 * the scaling figure is two-thread throughput over one-thread throughput.
 *
 * The collector of collected peers is turned off (gm_set_gc_percent(-1),
 * GC_disable()) because this measures explicit free (gm_free, GC_FREE); the
 * pointer arrays are still registered as roots so the program would be
 * correct with the collector on.
 *
 * The cap is there because a batch of 1 Mi 4096-byte objects is 4 GiB per
 * thread, and on a virtual machine where a page fault costs ~10 us an
 * allocator that gives freed memory back to the system (glibc trims its heap
 * top) spends minutes faulting it in again.
 *
 * Usage: alloc [BATCH [ROUNDS [MAX_BYTES]]]   (defaults 1048576 5 1073741824)
 * Output: one line per (threads, size), parsed by bench/bench.py:
 *   alloc peer=P threads=T size=S batch=B ns_per_pair=X mpairs_per_s=Y
 *         cpu_ns_per_pair=Z
 * where ns_per_pair is per thread (round time / BATCH), mpairs_per_s is the
 * throughput of all threads together, and cpu_ns_per_pair is the same as
 * ns_per_pair counted in the threads' CPU time (CLOCK_THREAD_CPUTIME_ID): it
 * leaves out time the thread was descheduled, so it holds steady when other
 * processes share the CPUs, but it also leaves out time spent asleep on a
 * lock, so scaling is judged on wall time only.
 */
#include "alloc_api.h"

#include <stdbool.h>
#include <string.h>

static const size_t sizes[] = {16, 64, 256, 4096};
#define NSIZES (sizeof sizes / sizeof sizes[0])
#define MAX_THREADS 2

static size_t max_batch = 1048576;
static size_t max_bytes = (size_t)1 << 30;
static size_t batch; /* objects per batch for the size being measured */
static int rounds = 5;

typedef struct worker {
    pthread_t thread;
    int id;
    int nthreads;
    size_t size;
    void **ptrs;
    bool failed;
    uint64_t cpu_ns[64]; /* this thread's CPU time in each timed round */
} worker;

static pthread_barrier_t start_barrier, end_barrier;
static uint64_t round_start_ns, round_ns[64];

/* Keeps the compiler from treating the words written to p as dead stores
 * (it knows what free() does and could drop writes to freed memory). */
static inline void escape(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

/* One batch: allocate and fill, then check and free. */
static bool run_batch(void **ptrs, size_t size)
{
    size_t words = size / sizeof(uint64_t);
    for (size_t i = 0; i < batch; i++) {
        uint64_t *p = ba_alloc(size);
        if (p == NULL)
            return false;
        for (size_t w = 0; w < words; w++)
            p[w] = i;
        escape(p);
        ptrs[i] = p;
    }
    bool ok = true;
    for (size_t i = 0; i < batch; i++) {
        uint64_t *p = ptrs[i];
        if (p[0] != i || p[words - 1] != i)
            ok = false;
        ba_free(p);
    }
    return ok;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    /* round -1 is the warm-up */
    for (int r = -1; r < rounds; r++) {
        pthread_barrier_wait(&start_barrier);
        if (w->id == 0)
            round_start_ns = ba_now_ns();
        pthread_barrier_wait(&start_barrier);
        uint64_t c0 = thread_cpu_ns();
        if (!run_batch(w->ptrs, w->size))
            w->failed = true;
        if (r >= 0)
            w->cpu_ns[r] = thread_cpu_ns() - c0;
        pthread_barrier_wait(&end_barrier);
        if (w->id == 0 && r >= 0)
            round_ns[r] = ba_now_ns() - round_start_ns;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool measure(int nthreads, size_t size)
{
    batch = max_batch;
    if (max_bytes != 0 && batch > max_bytes / size)
        batch = max_bytes / size > 0 ? max_bytes / size : 1;
    worker ws[MAX_THREADS];
    memset(ws, 0, sizeof ws);
    pthread_barrier_init(&start_barrier, NULL, (unsigned)nthreads);
    pthread_barrier_init(&end_barrier, NULL, (unsigned)nthreads);
    for (int t = 0; t < nthreads; t++) {
        ws[t].id = t;
        ws[t].nthreads = nthreads;
        ws[t].size = size;
        ws[t].ptrs = calloc(batch, sizeof(void *));
        if (ws[t].ptrs == NULL) {
            fprintf(stderr, "alloc: no memory for the pointer array\n");
            exit(1);
        }
        ba_add_roots(ws[t].ptrs, ws[t].ptrs + batch);
    }
    /* Thread 0 is the main thread itself: the one-thread case creates no
     * thread at all, and the two-thread case one. */
    for (int t = 1; t < nthreads; t++) {
        if (ba_thread_create(&ws[t].thread, worker_main, &ws[t]) != 0) {
            fprintf(stderr, "alloc: cannot create a thread\n");
            exit(1);
        }
    }
    worker_main(&ws[0]);
    bool ok = true;
    for (int t = 1; t < nthreads; t++)
        pthread_join(ws[t].thread, NULL);
    for (int t = 0; t < nthreads; t++) {
        if (ws[t].failed)
            ok = false;
        ba_remove_roots(ws[t].ptrs, ws[t].ptrs + batch);
        free(ws[t].ptrs);
    }
    pthread_barrier_destroy(&start_barrier);
    pthread_barrier_destroy(&end_barrier);

    /* CPU time per pair: the threads' mean in the round where it is least */
    uint64_t best_cpu = UINT64_MAX;
    for (int r = 0; r < rounds; r++) {
        uint64_t sum = 0;
        for (int t = 0; t < nthreads; t++)
            sum += ws[t].cpu_ns[r];
        if (sum / (uint64_t)nthreads < best_cpu)
            best_cpu = sum / (uint64_t)nthreads;
    }
    qsort(round_ns, (size_t)rounds, sizeof round_ns[0], cmp_u64);
    double best = (double)round_ns[0];
    double ns_per_pair = best / (double)batch;
    double mpairs = (double)nthreads * (double)batch / best * 1e3;
    printf("alloc peer=%s threads=%d size=%zu batch=%zu ns_per_pair=%.2f mpairs_per_s=%.2f "
           "cpu_ns_per_pair=%.2f%s\n",
           BENCH_PEER, nthreads, size, batch, ns_per_pair, mpairs,
           (double)best_cpu / (double)batch, ok ? "" : " FAILED");
    fflush(stdout);
    return ok;
}

int main(int argc, char **argv)
{
    ba_init();
    if (argc > 1)
        max_batch = (size_t)strtoull(argv[1], NULL, 10);
    if (argc > 2)
        rounds = atoi(argv[2]);
    if (argc > 3)
        max_bytes = (size_t)strtoull(argv[3], NULL, 10);
    if (max_batch < 1 || rounds < 1 || rounds > 64 || argc > 4) {
        fprintf(stderr, "usage: alloc [BATCH>=1 [ROUNDS 1..64 [MAX_BYTES]]]\n");
        return 2;
    }
    ba_collector_off();

    bool ok = true;
    for (int nthreads = 1; nthreads <= MAX_THREADS; nthreads++)
        for (size_t s = 0; s < NSIZES; s++)
            if (!measure(nthreads, sizes[s]))
                ok = false;
    ba_print_gcstats();
    if (!ok) {
        fprintf(stderr, "alloc: an object's contents were overwritten or an allocation failed\n");
        return 1;
    }
    return 0;
}
