/*
 * gcbench.c - GCBench, the tree-building benchmark of John Ellis and Pete
 * Kovac as adapted to C by Hans Boehm, with its usual parameters.
 *
 * What it measures: a collector (or malloc) under a mix of short-lived
 * binary trees built two ways, while a long-lived tree and a large
 * pointer-free array stay reachable.  Single-threaded.
 *
 * Parameters (Boehm's): stretch tree depth 18, long-lived tree depth 16,
 * array of 500000 doubles, tree depths 4, 6, ..., 16.  A node is two child
 * pointers and two ints (24 bytes).  TreeSize(d) = 2^(d+1) - 1 and the number
 * of trees built at depth d is NumIters(d) = 2 * TreeSize(18) / TreeSize(d)
 * (integer division), so every depth allocates about as many nodes.
 *   1. stretch the heap: build a tree of depth 18 bottom-up and drop it;
 *   2. build the long-lived tree of depth 16 top-down (Populate);
 *   3. allocate the array (pointer-free) and fill its first half with 1/i;
 *   4. for each depth d: build NumIters(d) trees top-down (allocate the root,
 *      then Populate fills in children), dropping each; then NumIters(d)
 *      trees bottom-up (MakeTree returns a finished subtree), dropping each;
 *   5. check the long-lived tree (count its nodes) and array[1000].
 * Collected peers drop trees; malloc peers free every node of each tree.
 *
 * Usage: gcbench [STRETCH LONG_LIVED ARRAY_SIZE MIN_DEPTH MAX_DEPTH]
 * (defaults 18 16 500000 4 16; bench/bench.py passes smaller ones in its
 * smoke mode).  Standard output is deterministic, checked by bench/bench.py
 * against text computed from the formulas; milliseconds per phase go to
 * standard error as "phase: ..." lines.
 */
#include "alloc_api.h"

typedef struct node {
    struct node *left, *right;
    int i, j;
} node;

static node *new_node(node *left, node *right)
{
    node *n = ba_check(ba_alloc(sizeof *n), sizeof *n);
    n->left = left;
    n->right = right;
    n->i = 0;
    n->j = 0;
    return n;
}

static long tree_size(int depth) { return (1L << (depth + 1)) - 1; }

/* Top-down: gives n two children, recursively, down to depth 0. */
static void populate(int depth, node *n)
{
    if (depth <= 0)
        return;
    depth--;
    n->left = new_node(NULL, NULL);
    n->right = new_node(NULL, NULL);
    populate(depth, n->left);
    populate(depth, n->right);
}

/* Bottom-up: builds the children first, then their parent. */
static node *make_tree(int depth)
{
    if (depth <= 0)
        return new_node(NULL, NULL);
    node *left = make_tree(depth - 1);
    node *right = make_tree(depth - 1);
    return new_node(left, right);
}

static long count_nodes(const node *n)
{
    if (n == NULL)
        return 0;
    return 1 + count_nodes(n->left) + count_nodes(n->right);
}

static void release_tree(node *n)
{
#if BENCH_COLLECTED
    (void)n;
#else
    if (n == NULL)
        return;
    release_tree(n->left);
    release_tree(n->right);
    ba_free(n);
#endif
}

static int stretch_depth = 18, long_lived_depth = 16, min_depth = 4, max_depth = 16;
static long array_size = 500000;

static void time_construction(int depth)
{
    long iters = 2 * tree_size(stretch_depth) / tree_size(depth);
    printf("Creating %ld trees of depth %d\n", iters, depth);

    uint64_t t0 = ba_now_ns();
    for (long i = 0; i < iters; i++) {
        node *t = new_node(NULL, NULL);
        populate(depth, t);
        release_tree(t);
    }
    uint64_t t1 = ba_now_ns();
    printf("\tTop down construction\n");
    fprintf(stderr, "phase: depth %d top down %.1f ms\n", depth, (double)(t1 - t0) / 1e6);

    for (long i = 0; i < iters; i++) {
        node *t = make_tree(depth);
        release_tree(t);
    }
    uint64_t t2 = ba_now_ns();
    printf("\tBottom up construction\n");
    fprintf(stderr, "phase: depth %d bottom up %.1f ms\n", depth, (double)(t2 - t1) / 1e6);
}

int main(int argc, char **argv)
{
    ba_init();
    if (argc == 6) {
        stretch_depth = atoi(argv[1]);
        long_lived_depth = atoi(argv[2]);
        array_size = atol(argv[3]);
        min_depth = atoi(argv[4]);
        max_depth = atoi(argv[5]);
    } else if (argc != 1) {
        fprintf(stderr, "usage: gcbench [STRETCH LONG_LIVED ARRAY_SIZE MIN_DEPTH MAX_DEPTH]\n");
        return 2;
    }
    if (stretch_depth < 1 || stretch_depth > 30 || long_lived_depth < 0 ||
        long_lived_depth > 30 || array_size < 1001 || min_depth < 0 ||
        max_depth > stretch_depth || min_depth > max_depth) {
        fprintf(stderr, "gcbench: parameters out of range\n");
        return 2;
    }

    printf("Garbage Collector Test\n");
    printf(" Stretching memory with a binary tree of depth %d\n", stretch_depth);
    uint64_t t0 = ba_now_ns();
    release_tree(make_tree(stretch_depth));

    printf(" Creating a long-lived binary tree of depth %d\n", long_lived_depth);
    node *long_lived = new_node(NULL, NULL);
    populate(long_lived_depth, long_lived);

    printf(" Creating a long-lived array of %ld doubles\n", array_size);
    double *array = ba_check(ba_alloc_noscan((size_t)array_size * sizeof(double)),
                             (size_t)array_size * sizeof(double));
    for (long i = 0; i < array_size; i++)
        array[i] = 0.0;
    for (long i = 0; i < array_size / 2; i++)
        array[i] = 1.0 / (double)i;

    for (int d = min_depth; d <= max_depth; d += 2)
        time_construction(d);

    long nodes = count_nodes(long_lived);
    int array_ok = array[1000] == 1.0 / 1000.0;
    printf("long-lived tree: %ld nodes (expected %ld), array[1000] %s\n", nodes,
           tree_size(long_lived_depth), array_ok ? "ok" : "WRONG");
    fprintf(stderr, "phase: total %.1f ms\n", (double)(ba_now_ns() - t0) / 1e6);
    release_tree(long_lived);
#if !BENCH_COLLECTED
    ba_free(array);
#endif
    ba_print_gcstats();
    return nodes == tree_size(long_lived_depth) && array_ok ? 0 : 1;
}
