/*
 * parked.c - collections beside many parked goroutines: does a stop of the
 * world grow with the number of goroutines?
 *
 * Builds a live heap of LIVE_MB megabytes (1 KiB scanned blocks, gm_alloc,
 * each holding its index and a pointer to the previous block, all held by
 * a pointer array in the heap), starts N goroutines that each block on a
 * receive from one channel nobody sends on (KIND copy or growable stacks;
 * default copy, since 100,000 growable stacks need 200,000 memory maps,
 * above Linux's default vm.max_map_count of 65,530), lets them all park, then
 * forces GCS collections with gm_gc() and times each call.  Every parked
 * goroutine's stack is a root each collection must scan.  The blocks are
 * checked at the end.
 *
 * Output:
 *   parked: goroutines=N kind=K live_mb=M gcs=G gc_max_ms=A gc_median_ms=B
 *           pause_max_ns=P pause_median_ns=Q spawn_s=S
 * where pause_* come from gm_read_memstats' pause_ns for the forced cycles
 * (the library's own stop-the-world record) and gc_* are the wall time of
 * each gm_gc() call; gcstats / gcpauses_ns on stderr.  GOMEM_DEBUG=gctrace=1
 * prints each cycle's stops as well (bench/bench.py reads them).  Exits
 * with _exit(0), leaving the goroutines parked, as a Go main that returns.
 *
 * Usage: parked [N [LIVE_MB [GCS [copy|growable]]]]   (100000 200 5 copy)
 */
#include "alloc_api.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#ifndef BENCH_GOMEM
#error "parked.c is gomem's goroutines: build it with BENCH_GOMEM"
#endif

#define BLOCK 1024

typedef struct block {
    struct block *prev;
    uint64_t index;
    uint64_t words[BLOCK / 8 - 2];
} block;

static block **blocks;

static void park(void *c) { gm_chan_recv(c, NULL); }

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    ba_init();
    long n = argc > 1 ? atol(argv[1]) : 100000;
    long live_mb = argc > 2 ? atol(argv[2]) : 200;
    int gcs = argc > 3 ? atoi(argv[3]) : 5;
    const char *kind = argc > 4 ? argv[4] : "copy";
    if (argc > 5 || n < 0 || live_mb < 0 || gcs < 1 || gcs > 200 ||
        (strcmp(kind, "copy") != 0 && strcmp(kind, "growable") != 0)) {
        fprintf(stderr, "usage: parked [N>=0 [LIVE_MB>=0 [GCS 1..200 [copy|growable]]]]\n");
        return 2;
    }
    long nblocks = live_mb * (1L << 20) / BLOCK;
    blocks = ba_check(ba_alloc((size_t)(nblocks + 1) * sizeof *blocks),
                      (size_t)(nblocks + 1) * sizeof *blocks);
    for (long i = 0; i < nblocks; i++) {
        block *b = ba_check(ba_alloc(sizeof *b), sizeof *b);
        b->prev = i ? blocks[i - 1] : NULL;
        b->index = (uint64_t)i;
        blocks[i] = b;
    }

    gm_go_options o = {strcmp(kind, "copy") == 0 ? GM_STACK_COPY : GM_STACK_GROWABLE, 0};
    gm_chan *c = gm_chan_make(0, 0);
    uint64_t t0 = ba_now_ns();
    for (long i = 0; i < n; i++) {
        if (gm_go_with(park, c, &o) < 0) {
            fprintf(stderr, "parked: goroutine %ld of %ld (%s stack) not started: %s\n", i, n, kind,
                    strerror(errno));
            return 1;
        }
        if (i % 10000 == 9999)
            gm_yield(); /* park them as we go */
    }
    gm_yield();
    double spawn_s = (double)(ba_now_ns() - t0) / 1e9;

    static gm_memstats st;
    gm_read_memstats(&st);
    uint32_t first = st.num_gc;
    uint64_t wall[200];
    for (int i = 0; i < gcs; i++) {
        uint64_t a = ba_now_ns();
        gm_gc();
        wall[i] = ba_now_ns() - a;
    }
    gm_read_memstats(&st);
    uint64_t pauses[256];
    uint32_t np = 0;
    for (uint32_t k = first; k < st.num_gc && np < 256; k++)
        pauses[np++] = st.pause_ns[k % 256];
    long bad = 0;
    for (long i = 0; i < nblocks; i++)
        if (blocks[i]->index != (uint64_t)i || blocks[i]->prev != (i ? blocks[i - 1] : NULL))
            bad++;
    if (bad) {
        fprintf(stderr, "parked: %ld of %ld blocks damaged\n", bad, nblocks);
        return 1;
    }
    qsort(wall, (size_t)gcs, sizeof wall[0], cmp_u64);
    qsort(pauses, np, sizeof pauses[0], cmp_u64);
    printf("parked: goroutines=%ld kind=%s live_mb=%ld gcs=%d gc_max_ms=%.3f gc_median_ms=%.3f "
           "pause_max_ns=%llu pause_median_ns=%llu spawn_s=%.3f\n",
           n, kind, live_mb, gcs, (double)wall[gcs - 1] / 1e6, (double)wall[gcs / 2] / 1e6,
           (unsigned long long)(np ? pauses[np - 1] : 0), (unsigned long long)(np ? pauses[np / 2] : 0),
           spawn_s);
    fflush(stdout);
    ba_print_gcstats();
    _exit(0);
}
