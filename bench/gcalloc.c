/*
 * gcalloc.c - allocation left to the collector: the alloc benchmark's
 * batches with the frees taken out.
 *
 * A batch is BATCH objects (default 1 Mi) of one size (16 and 64 bytes):
 * allocate each one, write every 8-byte word of it and keep its pointer in
 * the thread's pointer array, then read back each object's first and last
 * word (checking no two overlap).  The next batch overwrites the array, so
 * the previous batch becomes garbage that only the collector reclaims
 * (gm_alloc / GC_MALLOC, collector on, paced as it likes).  The pointer
 * array lives in the collected heap and is reachable from a global, so each
 * batch stays alive while it is checked: collections during a batch must
 * trace up to one batch of live objects.
 *
 * One untimed batch warms up; of ROUNDS timed batches the output gives the
 * fastest and the median, as ns per allocation (wall time of the batch /
 * BATCH, per thread) and in the thread's CPU time.  With THREADS > 1 every
 * thread runs its own batches, started together at a barrier; a round lasts
 * as long as the slowest thread; mallocs_per_s is the throughput of all
 * threads together (bench/scaling runs 1..16 threads).
 *
 * Usage: gcalloc [BATCH [ROUNDS [THREADS]]]   (defaults 1048576 5 1)
 * Output, one line per size:
 *   gcalloc peer=P threads=T size=S batch=B ns_per_alloc=X median_ns=M
 *           cpu_ns_per_alloc=C mallocs_per_s=Y
 * and gcstats / gcpauses_ns on stderr.  For the collected peers only.
 */
#include "alloc_api.h"

#include <stdbool.h>
#include <string.h>

#if !BENCH_COLLECTED
#error "gcalloc.c measures allocation left to a collector: build it for gomem or bdwgc"
#endif

#define MAX_THREADS 64
#define MAX_ROUNDS 64

static const size_t sizes[] = {16, 64};
static size_t batch = 1048576;
static int rounds = 5;
static int nthreads = 1;

typedef struct worker {
    pthread_t thread;
    int id;
    size_t size;
    bool failed;
    uint64_t cpu_ns[MAX_ROUNDS];
} worker;

/* Reachable from here, so the collectors trace the current batch. */
static void **ptrs_of[MAX_THREADS];
static pthread_barrier_t barrier;
static uint64_t round_start_ns, round_ns[MAX_ROUNDS];

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool run_batch(void **ptrs, size_t size)
{
    size_t words = size / sizeof(uint64_t);
    for (size_t i = 0; i < batch; i++) {
        uint64_t *p = ba_check(ba_alloc(size), size);
        for (size_t w = 0; w < words; w++)
            p[w] = i;
        ptrs[i] = p;
    }
    bool ok = true;
    for (size_t i = 0; i < batch; i++) {
        const uint64_t *p = ptrs[i];
        if (p[0] != i || p[words - 1] != i)
            ok = false;
    }
    return ok;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int r = -1; r < rounds; r++) {
        pthread_barrier_wait(&barrier);
        if (w->id == 0)
            round_start_ns = ba_now_ns();
        pthread_barrier_wait(&barrier);
        uint64_t c0 = thread_cpu_ns();
        if (!run_batch(ptrs_of[w->id], w->size))
            w->failed = true;
        if (r >= 0)
            w->cpu_ns[r] = thread_cpu_ns() - c0;
        pthread_barrier_wait(&barrier);
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

static bool measure(size_t size)
{
    static worker ws[MAX_THREADS];
    memset(ws, 0, sizeof ws);
    pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
    for (int t = 0; t < nthreads; t++) {
        ws[t].id = t;
        ws[t].size = size;
    }
    for (int t = 1; t < nthreads; t++) {
        if (ba_thread_create(&ws[t].thread, worker_main, &ws[t]) != 0) {
            fprintf(stderr, "gcalloc: cannot create thread %d\n", t);
            exit(1);
        }
    }
    worker_main(&ws[0]);
    bool ok = true;
    for (int t = 1; t < nthreads; t++)
        pthread_join(ws[t].thread, NULL);
    for (int t = 0; t < nthreads; t++)
        ok = ok && !ws[t].failed;
    pthread_barrier_destroy(&barrier);

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
    printf("gcalloc peer=%s threads=%d size=%zu batch=%zu ns_per_alloc=%.2f median_ns=%.2f "
           "cpu_ns_per_alloc=%.2f mallocs_per_s=%.0f%s\n",
           BENCH_PEER, nthreads, size, batch, best / (double)batch,
           (double)round_ns[rounds / 2] / (double)batch, (double)best_cpu / (double)batch,
           (double)nthreads * (double)batch / best * 1e9, ok ? "" : " FAILED");
    fflush(stdout);
    return ok;
}

int main(int argc, char **argv)
{
    ba_init();
    if (argc > 1)
        batch = (size_t)strtoull(argv[1], NULL, 10);
    if (argc > 2)
        rounds = atoi(argv[2]);
    if (argc > 3)
        nthreads = atoi(argv[3]);
    if (argc > 4 || batch < 1 || rounds < 1 || rounds > MAX_ROUNDS || nthreads < 1 ||
        nthreads > MAX_THREADS) {
        fprintf(stderr, "usage: gcalloc [BATCH>=1 [ROUNDS 1..%d [THREADS 1..%d]]]\n", MAX_ROUNDS,
                MAX_THREADS);
        return 2;
    }
    for (int t = 0; t < nthreads; t++)
        ptrs_of[t] = ba_check(ba_alloc(batch * sizeof(void *)), batch * sizeof(void *));
    bool ok = true;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        ok = measure(sizes[s]) && ok;
    ba_print_gcstats();
    if (!ok) {
        fprintf(stderr, "gcalloc: an object's contents were overwritten\n");
        return 1;
    }
    return 0;
}
