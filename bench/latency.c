/*
 * latency.c - the latency ring: how long a single allocation can be held up
 * by the collector while a steady live heap is kept.
 *
 * A ring of SLOTS pointers (default 200,000) lives in the collected heap.
 * Each of PUSHES pushes (default 2,000,000) allocates one SIZE-byte
 * pointer-free message (default 1 KiB: gm_alloc_noscan, GC_MALLOC_ATOMIC),
 * writes its sequence number into its first and last word and stores it in
 * slot i % SLOTS, dropping the oldest message.  So the live heap stays near
 * SLOTS * SIZE (about 200 MB) and every push makes one message garbage.
 * Every push is timed on its own with clock_gettime(CLOCK_MONOTONIC): the
 * clock is read before the allocation and after the store.  Collections
 * happen wherever the collector paces them, so a push that triggers (or
 * waits for) a stop of the world shows the whole stop.
 *
 * At the end every slot is checked (it must hold the message of the last
 * push that reached it, both words intact) and the push times are sorted.
 * Output, one line on standard output:
 *   latency: peer=P slots=S pushes=N size=B p50_ns=.. p99_ns=.. p999_ns=..
 *            max_ns=.. mean_ns=.. total_s=..
 * total_s is the sum of all push times (the allocation work, without the
 * timing loop's own cost of reading the clock outside a push).  Then
 * "latency_log2_hist: C0 C1 ..." (pushes taking [2^k, 2^(k+1)) ns), and
 * gcstats / gcpauses_ns on stderr as every benchmark program.
 *
 * Peers: gomem, bdwgc (plain, and incremental with
 * BENCH_BDWGC_INCREMENTAL=1); malloc peers free the dropped message, so the
 * program is correct for them too.  bench/go/latency.go is the same in Go
 * ([]byte messages).
 *
 * Usage: latency [SLOTS [PUSHES [SIZE]]]
 */
#include "alloc_api.h"

#include <string.h>

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    ba_init();
    long slots = argc > 1 ? atol(argv[1]) : 200000;
    long pushes = argc > 2 ? atol(argv[2]) : 2000000;
    long size = argc > 3 ? atol(argv[3]) : 1024;
    if (argc > 4 || slots < 1 || pushes < slots || size < 16 || size % 8 != 0) {
        fprintf(stderr, "usage: latency [SLOTS>=1 [PUSHES>=SLOTS [SIZE>=16, a multiple of 8]]]"
                        " (got %ld %ld %ld)\n", slots, pushes, size);
        return 2;
    }
    size_t words = (size_t)size / 8;
    uint64_t **ring = ba_check(ba_alloc((size_t)slots * sizeof *ring), (size_t)slots * sizeof *ring);
    memset(ring, 0, (size_t)slots * sizeof *ring);
    /* push times: pointer-free, outside every collected heap */
    uint32_t *lat = malloc((size_t)pushes * sizeof *lat);
    if (lat == NULL) {
        fprintf(stderr, "latency: no memory for %ld push times\n", pushes);
        return 1;
    }
    uint64_t total = 0;
    for (long i = 0; i < pushes; i++) {
        uint64_t t0 = ba_now_ns();
        uint64_t *m = ba_check(ba_alloc_noscan((size_t)size), (size_t)size);
        m[0] = (uint64_t)i;
        m[words - 1] = (uint64_t)i;
        uint64_t **slot = &ring[i % slots];
#if !BENCH_COLLECTED
        free(*slot);
#endif
        *slot = m;
        uint64_t d = ba_now_ns() - t0;
        total += d;
        lat[i] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    long bad = 0;
    for (long s = 0; s < slots; s++) {
        long last = pushes - 1 - ((pushes - 1 - s) % slots); /* last push into slot s */
        if (ring[s] == NULL || ring[s][0] != (uint64_t)last || ring[s][words - 1] != (uint64_t)last)
            bad++;
    }
    if (bad) {
        fprintf(stderr, "latency: %ld of %ld slots lost their message\n", bad, slots);
        return 1;
    }
    uint64_t hist[33] = {0};
    for (long i = 0; i < pushes; i++) {
        int k = lat[i] ? 31 - __builtin_clz(lat[i]) : 0;
        hist[k]++;
    }
    qsort(lat, (size_t)pushes, sizeof *lat, cmp_u32);
    printf("latency: peer=%s slots=%ld pushes=%ld size=%ld p50_ns=%u p99_ns=%u p999_ns=%u "
           "max_ns=%u mean_ns=%.1f total_s=%.3f\n",
           BENCH_PEER, slots, pushes, size, lat[pushes / 2], lat[pushes * 99 / 100],
           lat[pushes * 999 / 1000], lat[pushes - 1], (double)total / (double)pushes,
           (double)total / 1e9);
    printf("latency_log2_hist:");
    for (int k = 0; k < 33; k++)
        printf(" %llu", (unsigned long long)hist[k]);
    printf("\n");
#if !BENCH_COLLECTED
    for (long s = 0; s < slots; s++)
        free(ring[s]);
    free(ring);
#endif
    free(lat);
    ba_print_gcstats();
    return 0;
}
