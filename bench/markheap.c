/*
 * markheap.c - what a forced collection costs per megabyte of live heap.
 *
 * Builds a complete binary tree of 64-byte nodes (two child pointers and
 * six words of payload), the largest within LIVE_MB megabytes (so a power
 * of two: 64 MB for 64..127), reachable from a
 * global, then times GCS forced collections (gm_gc, GC_gcollect) one by
 * one.  With nothing to free, each collection's time is the cost of
 * tracing the live heap (plus a sweep that finds nothing).  Afterwards the
 * tree is walked and every node's payload checked.  The number of mark
 * threads is the collector's: GOMEM_PROCS for gomem, GC_MARKERS for bdwgc
 * (bench/scaling varies them); bench/go/markheap.go is the same with
 * runtime.GC() and GOMAXPROCS.
 *
 * Usage: markheap [LIVE_MB [GCS]]   (defaults 256 5)
 * Output:
 *   markheap: peer=P live_mb=M nodes=N gc_min_ms=A gc_median_ms=B
 *             ms_per_live_mb=C build_s=D
 * (ms_per_live_mb from the median) and gcstats / gcpauses_ns on stderr.
 */
#include "alloc_api.h"

typedef struct node {
    struct node *left, *right;
    uint64_t payload[6];
} node;

static node *root;

static node *build(long depth, uint64_t *seq)
{
    node *n = ba_check(ba_alloc(sizeof *n), sizeof *n);
    uint64_t id = (*seq)++;
    for (int i = 0; i < 6; i++)
        n->payload[i] = id * 6 + (uint64_t)i;
    if (depth > 0) {
        n->left = build(depth - 1, seq);
        n->right = build(depth - 1, seq);
    } else {
        n->left = n->right = NULL;
    }
    return n;
}

static long check(const node *n, long *bad)
{
    if (n == NULL)
        return 0;
    uint64_t id = n->payload[0] / 6;
    for (int i = 0; i < 6; i++)
        if (n->payload[i] != id * 6 + (uint64_t)i)
            (*bad)++;
    return 1 + check(n->left, bad) + check(n->right, bad);
}

static void collect(void)
{
#if defined(BENCH_GOMEM)
    gm_gc();
#elif defined(BENCH_BDWGC)
    GC_gcollect();
#endif
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

#if !BENCH_COLLECTED
#error "markheap.c times collections: build it for gomem or bdwgc"
#endif

int main(int argc, char **argv)
{
    ba_init();
    long live_mb = argc > 1 ? atol(argv[1]) : 256;
    int gcs = argc > 2 ? atoi(argv[2]) : 5;
    if (argc > 3 || live_mb < 1 || live_mb > 65536 || gcs < 1 || gcs > 100) {
        fprintf(stderr, "usage: markheap [LIVE_MB 1..65536 [GCS 1..100]]\n");
        return 2;
    }
    /* depth d holds 2^(d+1)-1 nodes: the largest tree within LIVE_MB */
    long want = live_mb * (1L << 20) / (long)sizeof(node);
    long depth = 0;
    while ((1L << (depth + 2)) - 1 <= want)
        depth++;
    uint64_t seq = 0, t0 = ba_now_ns();
    root = build(depth, &seq);
    double build_s = (double)(ba_now_ns() - t0) / 1e9;
    collect(); /* settle: the first cycle may also sweep the build's garbage */
    uint64_t ns[100];
    for (int i = 0; i < gcs; i++) {
        uint64_t a = ba_now_ns();
        collect();
        ns[i] = ba_now_ns() - a;
    }
    long bad = 0, nodes = check(root, &bad);
    if (bad || nodes != (1L << (depth + 1)) - 1) {
        fprintf(stderr, "markheap: tree damaged: %ld nodes of %ld, %ld bad words\n", nodes,
                (1L << (depth + 1)) - 1, bad);
        return 1;
    }
    double mb = (double)nodes * (double)sizeof(node) / (double)(1 << 20);
    qsort(ns, (size_t)gcs, sizeof ns[0], cmp_u64);
    printf("markheap: peer=%s live_mb=%.0f nodes=%ld gc_min_ms=%.3f gc_median_ms=%.3f "
           "ms_per_live_mb=%.4f build_s=%.3f\n",
           BENCH_PEER, mb, nodes, (double)ns[0] / 1e6, (double)ns[gcs / 2] / 1e6,
           (double)ns[gcs / 2] / 1e6 / mb, build_s);
    ba_print_gcstats();
    return 0;
}
