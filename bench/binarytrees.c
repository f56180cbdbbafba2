/*
 * binarytrees.c - the Computer Language Benchmarks Game's binary-trees.
 *
 * What it measures: allocation of many short-lived 16-byte nodes (two child
 * pointers) while a long-lived tree stays reachable; with a collector, how
 * fast garbage is found and reused; with malloc, allocate + free speed.
 *
 * The algorithm, as the Game defines it, for a depth argument N (default
 * 21; min_depth is 4 and max_depth = max(min_depth + 2, N)):
 *   1. build a "stretch" tree of depth max_depth + 1, count its nodes, drop it;
 *   2. build a long-lived tree of depth max_depth, kept until the end;
 *   3. for each depth d = min_depth, min_depth + 2, ..., max_depth build
 *      2^(max_depth - d + min_depth) trees of depth d one after another,
 *      counting each one's nodes, and print how many trees and the sum;
 *   4. count the long-lived tree's nodes.
 * A tree of depth d has 2^(d+1) - 1 nodes.  Output, exactly the Game's:
 *   stretch tree of depth 22\t check: 8388607
 *   2097152\t trees of depth 4\t check: 65011712
 *   ...
 *   long lived tree of depth 21\t check: 4194303
 * bench/bench.py compares it with bench/binarytrees-21.expected (and, for other
 * depths, with text computed from the formula above).
 *
 * Threads.  The depths of step 3 are independent; like the Game's parallel
 * programs they run in parallel: one worker thread per online CPU
 * (BENCH_THREADS overrides) takes the next depth from a shared counter and
 * builds all its trees; results are printed in depth order afterwards.  The
 * Go version (bench/go/binarytrees.go) has the same structure with one
 * goroutine per CPU.
 *
 * Peers: gomem and bdwgc allocate with their collector and never free
 * (garbage is dropped); glibc, jemalloc and mimalloc free each tree
 * explicitly, node by node, after counting it.
 *
 * Hold-ups.  `binarytrees N holdup` runs one worker only and reads the
 * monotonic clock every 256 node allocations; the longest interval between
 * two readings is the longest the program was held up (by a collection, a
 * page fault storm, or the scheduler), and every interval over 1 ms counts
 * as a hold-up.  At exit it prints on stderr
 *   holdup: max_gap_ns=G gaps_over_1ms=K readings=R
 * Standard output is the same as without it.
 */
#include "alloc_api.h"

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

typedef struct node {
    struct node *left, *right;
} node;

/* Hold-up clock: only the one worker (and main, before it starts) reads
 * it, never both at once, so plain variables do. */
static int holdup_mode;
static unsigned holdup_count;
static uint64_t holdup_last_ns, holdup_max_ns, holdup_over_1ms, holdup_readings;

static void holdup_tick(void)
{
    if (++holdup_count % 256 != 0)
        return;
    uint64_t now = ba_now_ns();
    uint64_t gap = now - holdup_last_ns;
    holdup_last_ns = now;
    holdup_readings++;
    if (gap > holdup_max_ns)
        holdup_max_ns = gap;
    if (gap > 1000000)
        holdup_over_1ms++;
}

static node *make_tree(int depth)
{
    node *n = ba_check(ba_alloc(sizeof *n), sizeof *n);
    if (holdup_mode)
        holdup_tick();
    if (depth > 0) {
        n->left = make_tree(depth - 1);
        n->right = make_tree(depth - 1);
    } else {
        n->left = n->right = NULL;
    }
    return n;
}

static long check_tree(const node *n)
{
    if (n->left == NULL)
        return 1;
    return 1 + check_tree(n->left) + check_tree(n->right);
}

/* Collected peers drop the tree; malloc peers free every node. */
static void release_tree(node *n)
{
#if BENCH_COLLECTED
    (void)n;
#else
    if (n->left != NULL) {
        release_tree(n->left);
        release_tree(n->right);
    }
    ba_free(n);
#endif
}

#define MIN_DEPTH 4
#define MAX_RESULTS 64

static int max_depth;
static int ndepths;
static atomic_int next_depth;
static long iterations_of[MAX_RESULTS], check_of[MAX_RESULTS];

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        int k = atomic_fetch_add(&next_depth, 1);
        if (k >= ndepths)
            return NULL;
        int depth = MIN_DEPTH + 2 * k;
        long iterations = 1L << (max_depth - depth + MIN_DEPTH);
        long check = 0;
        for (long i = 0; i < iterations; i++) {
            node *t = make_tree(depth);
            check += check_tree(t);
            release_tree(t);
        }
        iterations_of[k] = iterations;
        check_of[k] = check;
    }
}

int main(int argc, char **argv)
{
    ba_init();
    int n = argc > 1 ? atoi(argv[1]) : 21;
    if (argc > 2 && strcmp(argv[2], "holdup") == 0) {
        holdup_mode = 1;
    } else if (argc > 2) {
        fprintf(stderr, "usage: binarytrees [DEPTH [holdup]]\n");
        return 2;
    }
    holdup_last_ns = ba_now_ns();
    max_depth = n > MIN_DEPTH + 2 ? n : MIN_DEPTH + 2;
    if (max_depth > 40) {
        fprintf(stderr, "binarytrees: depth %d is too large\n", max_depth);
        return 2;
    }
    ndepths = (max_depth - MIN_DEPTH) / 2 + 1;

    int stretch_depth = max_depth + 1;
    node *stretch = make_tree(stretch_depth);
    printf("stretch tree of depth %d\t check: %ld\n", stretch_depth, check_tree(stretch));
    release_tree(stretch);

    node *long_lived = make_tree(max_depth);

    long nthreads = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = getenv("BENCH_THREADS");
    if (env != NULL && atoi(env) > 0)
        nthreads = atoi(env);
    if (nthreads < 1 || holdup_mode)
        nthreads = 1;
    if (nthreads > ndepths)
        nthreads = ndepths;
    pthread_t threads[MAX_RESULTS];
    for (long t = 0; t < nthreads; t++) {
        if (ba_thread_create(&threads[t], worker, NULL) != 0) {
            fprintf(stderr, "binarytrees: cannot create a thread\n");
            return 1;
        }
    }
    for (long t = 0; t < nthreads; t++)
        pthread_join(threads[t], NULL);

    for (int k = 0; k < ndepths; k++)
        printf("%ld\t trees of depth %d\t check: %ld\n", iterations_of[k], MIN_DEPTH + 2 * k,
               check_of[k]);
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, check_tree(long_lived));
    release_tree(long_lived);
    ba_print_gcstats();
    if (holdup_mode)
        fprintf(stderr, "holdup: max_gap_ns=%llu gaps_over_1ms=%llu readings=%llu\n",
                (unsigned long long)holdup_max_ns, (unsigned long long)holdup_over_1ms,
                (unsigned long long)holdup_readings);
    return 0;
}
