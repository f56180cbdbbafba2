/*
 * test_gc_fork.c - fork, then collect in the child.
 *
 * The parent keeps a 20 000-node checksummed list (held by a global) while
 * two threads allocate and keep their own lists and a third forces
 * collections in a loop, so forks land while the allocator and the
 * collector are busy.  The main thread forks 16 times (4 quick); each child
 * (only the forking thread survives in it):
 *
 *   - verifies the parent's list, drops every other node, allocates
 *     64 MiB of garbage (so collections start on their own: a new
 *     collector thread and new mark workers), forces two collections, and
 *     checks that num_gc grew, frees were counted, heap_sys stayed bounded
 *     and the remaining nodes are intact;
 *   - starts a thread of its own that allocates and verifies a list while
 *     the child forces collections;
 *   - in the first round, forks again and does the same in the grandchild;
 *   - exits 0; a watchdog alarm kills a child that hangs (a lock held by a
 *     thread that does not exist in the child, say).
 *
 * The parent checks each child's status and stderr, and after the rounds
 * verifies its list, stops its threads and collects.
 *
 * ctest-labels: noasan (a child times out under AddressSanitizer: under investigation)
 */
#include <pthread.h>
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
    alarm(60);
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

static bool first_round;

static void grandchild_work(void *arg) {
    (void)arg;
    child_body(1);
}

static void child_work(void *arg) {
    (void)arg;
    child_body(0);
    if (first_round) {
        static gm_child gc;
        char how[64];
        CHECK(gm_test_run_child(grandchild_work, NULL, &gc) == 0, "child: fork failed");
        CHECK(gc.exited && gc.exit_code == 0, "grandchild ended with %s; its stderr:\n%s",
              gm_child_how(&gc, how, sizeof how), gc.err);
    }
}

int main(void) {
    const char *q = getenv("GM_TEST_QUICK");
    quick = q && *q && strcmp(q, "0") != 0;
#ifdef GOMEM_SANITIZED
    quick = true;
#endif
    g_len = 20000;
    g_list = build(g_len, 1000);

    pthread_t th[3];
    CHECK(gm_thread_create(&th[0], NULL, helper, (void *)1) == 0, "gm_thread_create failed");
    CHECK(pthread_create(&th[1], NULL, helper, (void *)2) == 0, "pthread_create failed");
    CHECK(pthread_create(&th[2], NULL, collector_loop, NULL) == 0, "pthread_create failed");

    int rounds = quick ? 4 : 16;
    for (int r = 0; r < rounds; r++) {
        static gm_child c;
        char how[64];
        first_round = r == 0;
        CHECK(gm_test_run_child(child_work, NULL, &c) == 0, "fork failed: %s", strerror(errno));
        CHECK(c.exited && c.exit_code == 0, "round %d: child ended with %s; its stderr:\n%s", r,
              gm_child_how(&c, how, sizeof how), c.err);
        verify(g_list, g_len, 1000, 1, "parent");
    }
    atomic_store(&stop_helpers, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    gm_gc();
    verify(g_list, g_len, 1000, 1, "parent after the forks");
    printf("test_gc_fork: %d forks (and a fork from a child) collected in the child: ok\n", rounds);
    return 0;
}
