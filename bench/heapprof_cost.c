/*
 * heapprof_cost.c - what heap profiling costs an allocation, measured in
 * isolation: allocates N objects of SIZE bytes from a call stack DEPTH
 * frames deep (binary-trees' recursion is about 20 deep) and prints the
 * best of REPEAT timings in ns per allocation.  Run it with
 * GOMEM_DEBUG=memprofilerate=0 (no profiling), =1073741824 (the refill's
 * bookkeeping, almost never a sample), =524288 (the default) and =1 (every
 * object sampled: the cost of one sample, stack included).
 *
 *   heapprof_cost [N [SIZE [DEPTH [REPEAT]]]]
 */
#include <gomem.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void *volatile sink;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

__attribute__((noinline)) static double run(int depth, long n, size_t size) {
    if (depth > 0) {
        double t = run(depth - 1, n, size);
        __asm__ volatile("" ::: "memory");
        return t;
    }
    double t0 = now();
    for (long i = 0; i < n; i++)
        sink = gm_alloc(size);
    return now() - t0;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 20000000;
    size_t size = argc > 2 ? (size_t)atol(argv[2]) : 16;
    int depth = argc > 3 ? atoi(argv[3]) : 20;
    int repeat = argc > 4 ? atoi(argv[4]) : 5;
    double best = 1e30;
    for (int r = 0; r < repeat; r++) {
        double t = run(depth, n, size);
        if (t < best)
            best = t;
    }
    printf("%.2f ns per %zu-byte allocation (best of %d runs of %ld, stack %d deep)\n", best * 1e9 / (double)n,
           size, repeat, n, depth);
    return 0;
}
