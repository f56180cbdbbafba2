/*
 * test_gc_fork.c - fork, then collect in the child.
 *
 * What fork must not leave the child (each was a bug, now guarded against
 * by src/gc/cycle.c's fork handlers and src/gc/forkgate.c):
 *
 *  A. Spans cached by another thread's mcache at the fork.  Cached spans
 *     are not swept; if the child kept them cached, the mark bytes its
 *     first collection sets in them would never be cleared, and at the
 *     next collection what is reachable only through them would be freed.
 *     Part 2 checks it deterministically: object B, reachable only through
 *     A (allocated by a thread that is blocked in read() when the main
 *     thread forks), must survive the child's second gm_gc().
 *  B. A span that a sweeper had taken off its mcentral list when the fork
 *     came: on no list and cached by no thread, never swept again, same
 *     effect as A (part 3: a thread forcing collections while the main
 *     thread forks).
 *  C. A lock held by a thread that does not exist in the child (the
 *     collector's start lock, say): the child would hang at its first
 *     collection (part 3; the watchdog alarm catches it).
 *
 * Part 1 (quiet): with no other thread, the child of a process holding a
 * 20 000-node checksummed list (held by a global) verifies the list, drops
 * every other node, allocates 64 MiB of garbage (collections start on
 * their own: a new collector thread and new mark workers), forces two
 * collections, checks that num_gc grew, frees were counted, heap_sys
 * stayed bounded and the remaining nodes are intact; starts a thread of its
 * own that allocates and verifies a list while it forces collections;
 * forks a grandchild that does the same; exits 0.
 *
 * Part 2 (another thread's cached span): see A above.  The child also
 * marks with the world stopped (write tracking stays with the parent) and
 * the parent keeps its own mode.
 *
 * Part 3 (busy): two threads allocate and keep lists and a third forces
 * collections in a loop while the main thread forks 16 times (4 quick);
 * each child does what part 1's does.
 *
 * A watchdog alarm kills a child that hangs.  The parent reports every
 * child that failed, with its stderr, and fails at the end if any did.
 * Not labelled for ThreadSanitizer: TSan does not support fork in a
 * process with other threads running (die_after_fork).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "gm_test.h"

#define NOINLINE __attribute__((noinline))
#define MiB (1024.0 * 1024.0)

typedef struct node {
    struct node *next;
    uint64_t idx;
    uint64_t payload[4];
} node;

static node *volatile g_list;
static size_t g_len;
static _Atomic int stop_helpers;
static bool quick;

static node *build(size_t n, uint64_t tag) {
    node *head = NULL;
    for (size_t i = n; i-- > 0;) {
        node *x = gm_alloc(sizeof(node));
        CHECK(x, "gm_alloc failed");
        x->idx = i;
        for (int k = 0; k < 4; k++)
            x->payload[k] = gm_test_word(tag + i, (size_t)k);
        x->next = head;
        head = x;
    }
    return head;
}

/* Verifies a list built by build(n, tag), of which every step-th node was
 * kept (step 1: all). */
static void verify(const node *x, size_t n, uint64_t tag, size_t step, const char *who) {
    size_t i = 0;
    for (; x; x = x->next, i += step) {
        CHECK(i < n, "%s: list longer than expected", who);
        CHECK(gm_base(x) == x, "%s: node %zu at %p is not allocated", who, i, (const void *)x);
        CHECK(x->idx == i, "%s: node %zu holds index %llu", who, i, (unsigned long long)x->idx);
        for (int k = 0; k < 4; k++)
            CHECK(x->payload[k] == gm_test_word(tag + i, (size_t)k), "%s: node %zu payload changed", who, i);
    }
    CHECK(i >= n, "%s: list ends at node %zu of %zu", who, i, n);
}

static void *helper(void *arg) {
    uint64_t tag = (uint64_t)(uintptr_t)arg << 32;
    node *mine = build(2000, tag);
    while (!atomic_load(&stop_helpers)) {
        for (int i = 0; i < 1000; i++) {
            char *p = gm_alloc(16 + (size_t)(i % 64) * 16);
            CHECK(p, "gm_alloc failed");
            p[0] = 1;
        }
        verify(mine, 2000, tag, 1, "parent helper thread");
    }
    return NULL;
}

static void *collector_loop(void *arg) {
    (void)arg;
    while (!atomic_load(&stop_helpers))
        gm_gc();
    return NULL;
}

/* ------------------------------------------------------------ the child */

static void *child_thread(void *arg) {
    (void)arg;
    node *l = build(3000, 555);
    for (int i = 0; i < 20000; i++) {
        char *p = gm_alloc(200);
        CHECK(p, "gm_alloc in the child's thread failed");
        p[199] = 2;
    }
    verify(l, 3000, 555, 1, "child's own thread");
    return NULL;
}

NOINLINE static void drop_every_other(void) {
    for (node *x = g_list; x && x->next; x = x->next)
        x->next = x->next->next;
}

NOINLINE static void churn(size_t bytes) {
    for (size_t done = 0; done < bytes; done += 4096) {
        char *p = gm_alloc(4096);
        CHECK(p, "gm_alloc failed");
        p[0] = 1;
    }
}

static void child_body(int depth) {
    const char *who = depth ? "grandchild" : "child";
    size_t step = depth ? 2 : 1; /* the child halved the list before forking */
    alarm(30);
    verify(g_list, g_len, 1000, step, depth ? "grandchild, on entry" : "child, on entry");
    gm_memstats m0, m1;
    gm_read_memstats(&m0);
    drop_every_other();
    churn(64u << 20);
    gm_gc();
    gm_gc();
    gm_read_memstats(&m1);
    CHECK(m1.num_gc >= m0.num_gc + 2, "%s: num_gc %u -> %u", who, m0.num_gc, m1.num_gc);
    CHECK(m1.num_gc - m0.num_gc > 2, "%s: no collection started on its own over 64 MiB of garbage", who);
    CHECK(m1.frees - m0.frees >= g_len / step / 2 / 2, "%s: frees grew by %llu", who, (unsigned long long)(m1.frees - m0.frees));
    CHECK(m1.heap_sys < m0.heap_sys + (48u << 20), "%s: heap_sys %.1f -> %.1f MiB over 64 MiB of garbage", who,
          (double)m0.heap_sys / MiB, (double)m1.heap_sys / MiB);
    verify(g_list, g_len, 1000, 2 * step, depth ? "grandchild, after collections" : "child, after collections");

    pthread_t th;
    CHECK(gm_thread_create(&th, NULL, child_thread, NULL) == 0, "%s: gm_thread_create failed", who);
    for (int i = 0; i < 10; i++)
        gm_gc();
    pthread_join(th, NULL);
    gm_gc();
    verify(g_list, g_len, 1000, 2 * step,
           depth ? "grandchild, after its thread ran" : "child, after its thread ran");
    alarm(0);
}

static bool fork_grandchild;

static void grandchild_work(void *arg) {
    (void)arg;
    child_body(1);
}

static void child_work(void *arg) {
    (void)arg;
    child_body(0);
    if (fork_grandchild) {
        static gm_child gc;
        char how[64];
        CHECK(gm_test_run_child(grandchild_work, NULL, &gc) == 0, "child: fork failed");
        CHECK(gc.exited && gc.exit_code == 0, "grandchild ended with %s; its stderr:\n%s",
              gm_child_how(&gc, how, sizeof how), gc.err);
    }
}

static int failures;

/* Runs fn in a forked child; reports (and counts) a failure. */
static bool run_child(const char *what, void (*fn)(void *), void *arg) {
    static gm_child c;
    char how[64];
    CHECK(gm_test_run_child(fn, arg, &c) == 0, "fork failed: %s", strerror(errno));
    if (c.exited && c.exit_code == 0)
        return true;
    failures++;
    fprintf(stderr, "FAIL %s: child ended with %s; its stderr:\n%s\n", what, gm_child_how(&c, how, sizeof how),
            c.err);
    return false;
}

/* ---------------------------------------------- part 2: a cached span */

typedef struct pair {
    struct pair *other;
    uint64_t check;
} pair;

static pair *volatile g_a;
static int holder_pipe[2];
static _Atomic int holder_ready;

static void *span_holder(void *arg) {
    (void)arg;
    pair *a = gm_alloc(sizeof(pair)); /* in a span this thread's mcache keeps */
    CHECK(a, "gm_alloc failed");
    a->check = 0xa11ce;
    g_a = a;
    atomic_store(&holder_ready, 1);
    char c;
    while (read(holder_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    return NULL;
}

NOINLINE static void make_b(void) {
    unsigned char *b = gm_alloc_noscan(4096);
    CHECK(b, "gm_alloc_noscan failed");
    gm_test_fill(b, 4096, 4242);
    g_a->other = (pair *)b;
}

NOINLINE static void check_ab(int i) {
    pair *a = g_a;
    void *b = a->other;
    CHECK(gm_base(a) == a && a->check == 0xa11ce, "collection %d: A (%p) was freed", i, (void *)a);
    CHECK(gm_base(b) == b, "collection %d in the child: B (%p), reachable from a global through A (%p, in a "
          "span the other thread's mcache held at the fork), was freed", i, b, (void *)a);
    size_t off = gm_test_verify(b, 4096, 4242);
    CHECK(off == (size_t)-1, "collection %d: B changed at %zu", i, off);
}

static void cached_span_child(void *arg) {
    (void)arg;
    alarm(30);
    for (int i = 1; i <= 3; i++) {
        gm_test_clear_stack();
        gm_gc();
        check_ab(i);
    }
    /* The parent's userfaultfd and pagemap file stay bound to the parent's
     * address space: a child using them would read and re-protect the
     * parent's pages (hiding its writes from the parent's collector) and
     * never see its own.  The child marks with the world stopped. */
    gm_memstats ms;
    gm_read_memstats(&ms);
    CHECK(ms.concurrent_mark == 0, "the child marked concurrently with write tracking inherited from the parent");
    alarm(0);
}

static void part2(void) {
    CHECK(pipe(holder_pipe) == 0, "pipe failed");
    pthread_t th;
    CHECK(gm_thread_create(&th, NULL, span_holder, NULL) == 0, "gm_thread_create failed");
    while (!atomic_load(&holder_ready))
        sched_yield();
    make_b();
    gm_test_clear_stack();
    gm_gc();
    gm_memstats before;
    gm_read_memstats(&before);
    bool ok = run_child("part 2 (object reachable through another thread's cached span)", cached_span_child, NULL);
    gm_gc();
    gm_memstats after;
    gm_read_memstats(&after);
    CHECK(after.concurrent_mark == before.concurrent_mark,
          "the parent marked %s before the fork and %s after it", before.concurrent_mark ? "concurrently" : "stopped",
          after.concurrent_mark ? "concurrently" : "stopped");
    char c = 'x';
    CHECK(write(holder_pipe[1], &c, 1) == 1, "write failed");
    pthread_join(th, NULL);
    g_a = NULL;
    printf("  part 2: an object reachable through another thread's cached span %s in the child\n",
           ok ? "survives" : "was FREED");
}

int main(void) {
    quick = gm_test_quick();
    g_len = 20000;
    g_list = build(g_len, 1000);

    /* Part 1: no other thread. */
    fork_grandchild = true;
    bool ok = run_child("part 1 (quiet fork)", child_work, NULL);
    fork_grandchild = false;
    printf("  part 1: quiet fork (and a fork from the child), collections in the child: %s\n", ok ? "ok" : "FAILED");
    verify(g_list, g_len, 1000, 1, "parent");

    part2();

    /* Part 3: busy parent. */
    pthread_t th[3];
    CHECK(pthread_create(&th[2], NULL, collector_loop, NULL) == 0, "pthread_create failed");
    CHECK(gm_thread_create(&th[0], NULL, helper, (void *)1) == 0, "gm_thread_create failed");
    CHECK(pthread_create(&th[1], NULL, helper, (void *)2) == 0, "pthread_create failed");
    int rounds = quick ? 4 : 16, bad = 0;
    for (int r = 0; r < rounds; r++) {
        char what[64];
        snprintf(what, sizeof what, "part 3 (busy parent), round %d", r);
        bad += !run_child(what, child_work, NULL);
        verify(g_list, g_len, 1000, 1, "parent");
    }
    atomic_store(&stop_helpers, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    gm_gc();
    verify(g_list, g_len, 1000, 1, "parent after the forks");
    printf("  part 3: %d of %d forks from a busy parent failed in the child\n", bad, rounds);
    if (failures) {
        printf("test_gc_fork: %d children failed\n", failures);
        return 1;
    }
    printf("test_gc_fork: ok\n");
    return 0;
}
