/*
 * demo.c - a tour of gomem: `make demo` runs it.
 *
 * 1. A garbage-collected heap: build and drop binary trees, never free;
 *    the collector (paced like Go's) keeps the heap bounded.
 * 2. Goroutines and channels: a pipeline of goroutines on small stacks.
 * 3. Statistics: Go's MemStats, read back.
 */
#include <gomem.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct node {
    struct node *left, *right;
} node;

static node *tree(int depth) {
    node *n = gm_new(node);
    if (depth > 0) {
        n->left = tree(depth - 1);
        n->right = tree(depth - 1);
    }
    return n;
}

static long count(const node *n) {
    return n->left ? 1 + count(n->left) + count(n->right) : 1;
}

/* A goroutine that squares what it receives and passes it on. */
typedef struct stage {
    gm_chan *in, *out;
} stage;

static void square(void *arg) {
    stage *s = arg;
    long v;
    while (gm_chan_recv(s->in, &v)) {
        v *= v;
        gm_chan_send(s->out, &v);
    }
    gm_chan_close(s->out);
}

static void produce(void *arg) {
    gm_chan *c = arg;
    for (long i = 1; i <= 1000; i++)
        gm_chan_send(c, &i);
    gm_chan_close(c);
}

int main(void) {
    printf("gomem demo\n\n1. Garbage-collected heap\n");
    node *long_lived = tree(16);
    long checks = 0;
    for (int i = 0; i < 400; i++)
        checks += count(tree(12)); /* dropped at once: garbage */
    gm_memstats ms;
    gm_read_memstats(&ms);
    printf("   built 400 trees of %ld nodes and dropped them; long-lived tree still has %ld nodes\n",
           checks / 400, count(long_lived));
    uint64_t longest = 0;
    for (int i = 0; i < 256; i++)
        if (ms.pause_ns[i] > longest)
            longest = ms.pause_ns[i];
    printf("   allocated %.1f MB in total, live heap now %.1f MB, %u collections, longest pause %.2f ms\n",
           ms.total_alloc / 1e6, ms.heap_alloc / 1e6, ms.num_gc, longest / 1e6);

    printf("\n2. Goroutines and channels\n");
    gm_chan *numbers = gm_chan_make(sizeof(long), 0);
    gm_chan *squares = gm_chan_make(sizeof(long), 16);
    stage *st = gm_new(stage);
    st->in = numbers;
    st->out = squares;
    gm_go(produce, numbers);
    gm_go(square, st);
    long sum = 0, v;
    while (gm_chan_recv(squares, &v))
        sum += v;
    printf("   sum of squares 1..1000 through a 2-goroutine pipeline: %ld (expected %ld)\n", sum,
           1000L * 1001 * 2001 / 6);

    gm_gc();
    gm_read_memstats(&ms);
    printf("\n3. Statistics (Go's MemStats)\n");
    printf("   num_gc=%u num_forced_gc=%u heap_alloc=%.1f MB heap_sys=%.1f MB mallocs=%lu frees=%lu\n",
           ms.num_gc, ms.num_forced_gc, ms.heap_alloc / 1e6, ms.heap_sys / 1e6,
           (unsigned long)ms.mallocs, (unsigned long)ms.frees);
    printf("   stack_inuse=%lu B stack_sys=%lu B gc_cpu_fraction=%.3f\n", (unsigned long)ms.stack_inuse,
           (unsigned long)ms.stack_sys, ms.gc_cpu_fraction);
    printf("\nRun with GOMEM_DEBUG=gctrace=1 to see one line per collection, as in Go.\n");
    return sum == 1000L * 1001 * 2001 / 6 ? 0 : 1;
}
