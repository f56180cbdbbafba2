/*
 * test_gc_threads.c - collections while several threads allocate.
 *
 * Part 1: four threads (two from gm_thread_create, two from plain
 * pthread_create, registered by their first allocation) build checksummed
 * object graphs while the main thread forces collections in a loop and the
 * pacer starts others.  A graph is a random tree (first-child/next-sibling
 * links, a parent link) of 50 to 3000 nodes of random sizes, with a
 * "cross" link from each node to a random earlier node; each node holds its
 * id, a payload derived from its id and a checksum.  Each thread keeps its
 * last eight graphs (in an array on its own stack, a root) and re-verifies
 * them all regularly: every node reached is allocated, its payload and
 * checksum intact, the cross link points to an earlier node of the same
 * graph, and the node count and checksum sum match what was recorded when
 * the graph was built.
 *
 * Part 2: short-lived threads while collections run: waves of eight
 * threads (half gm_thread_create, half pthread_create; some call
 * gm_thread_unregister before returning) each build and verify a
 * 1000-node list and exit, 160 threads in all (48 quick), while the main
 * thread forces collections; afterwards a collection still completes and
 * the lists the threads handed back through a global are intact.
 *
 * Random: the seed is printed; GM_TEST_SEED reruns one.  Part 2 is skipped
 * under ThreadSanitizer: a thread that registers or leaves waits for the
 * thread list's lock in a raw futex call, where TSan holds back the stop
 * signal while the collector (holding that lock) waits for its answer.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "gm_test.h"

#define NOINLINE __attribute__((noinline))

static bool quick;
static uint64_t seed;

/* --------------------------------------------------------------- graphs */

typedef struct node {
    struct node *first_child, *next_sibling, *parent, *cross;
    uint64_t id;
    uint32_t len;
    uint32_t check;
    unsigned char payload[];
} node;

typedef struct graph {
    node *root;
    uint64_t count;
    uint64_t sum;
    uint64_t gid;
} graph;

static uint32_t node_check(uint64_t gid, uint64_t id, uint32_t len) {
    uint64_t x = gm_test_word(gid * 1000003 + id, len);
    return (uint32_t)(x ^ (x >> 32));
}

static node *make_node(gm_rng *r, uint64_t gid, uint64_t id) {
    uint32_t len = (uint32_t)(8 + gm_rng_below(r, 560));
    node *n = gm_alloc(sizeof(node) + len);
    CHECK(n, "gm_alloc(%zu) failed", sizeof(node) + len);
    n->id = id;
    n->len = len;
    gm_test_fill(n->payload, len, gid * 1000003 + id);
    n->check = node_check(gid, id, len);
    return n;
}

static graph *build_graph(gm_rng *r, uint64_t gid) {
    uint64_t count = 50 + gm_rng_below(r, quick ? 600 : 2950);
    graph *g = gm_alloc(sizeof(graph));
    CHECK(g, "gm_alloc failed");
    g->gid = gid;
    /* Nodes by id, for picking parents: a scanned heap array the graph
     * does not keep. */
    node **byid = gm_alloc_array(sizeof(node *), count);
    CHECK(byid, "gm_alloc_array failed");
    uint64_t sum = 0;
    for (uint64_t i = 0; i < count; i++) {
        node *n = make_node(r, gid, i);
        byid[i] = n;
        sum += n->check;
        if (i == 0) {
            g->root = n;
            n->cross = n;
            continue;
        }
        node *p = byid[gm_rng_below(r, i)];
        n->parent = p;
        n->next_sibling = p->first_child;
        p->first_child = n;
        n->cross = byid[gm_rng_below(r, i)];
    }
    g->count = count;
    g->sum = sum;
    return g;
}

/* Walks the tree without recursion (child, sibling, parent links). */
static void verify_graph(const graph *g, int thread) {
    CHECK(gm_base(g) == g, "thread %d: graph record %p not allocated", thread, (const void *)g);
    uint64_t count = 0, sum = 0;
    node *n = g->root;
    CHECK(n && n->id == 0 && n->parent == NULL, "thread %d graph %llu: bad root %p", thread,
          (unsigned long long)g->gid, (void *)n);
    while (n) {
        CHECK(gm_base(n) == n, "thread %d graph %llu: node %p (id %llu) is not allocated", thread,
              (unsigned long long)g->gid, (void *)n, (unsigned long long)n->id);
        CHECK(n->id < g->count && n->len >= 8 && n->len < 568 && gm_size(n) >= sizeof(node) + n->len,
              "thread %d graph %llu: node %p has id %llu len %u", thread, (unsigned long long)g->gid, (void *)n,
              (unsigned long long)n->id, n->len);
        CHECK(n->check == node_check(g->gid, n->id, n->len), "thread %d graph %llu: node %llu checksum %x",
              thread, (unsigned long long)g->gid, (unsigned long long)n->id, n->check);
        size_t off = gm_test_verify(n->payload, n->len, g->gid * 1000003 + n->id);
        CHECK(off == (size_t)-1, "thread %d graph %llu: node %llu at %p: payload changed at %zu", thread,
              (unsigned long long)g->gid, (unsigned long long)n->id, (void *)n, off);
        CHECK(n->cross && gm_base(n->cross) == n->cross && (n->cross->id < n->id || n->id == 0) &&
                  n->cross->check == node_check(g->gid, n->cross->id, n->cross->len),
              "thread %d graph %llu: node %llu: bad cross link %p", thread, (unsigned long long)g->gid,
              (unsigned long long)n->id, (void *)n->cross);
        count++;
        sum += n->check;
        CHECK(count <= g->count, "thread %d graph %llu: more than %llu nodes", thread, (unsigned long long)g->gid,
              (unsigned long long)g->count);
        if (n->first_child) {
            n = n->first_child;
            continue;
        }
        while (n && !n->next_sibling)
            n = n->parent;
        if (n)
            n = n->next_sibling;
    }
    CHECK(count == g->count && sum == g->sum, "thread %d graph %llu: %llu nodes with sum %llx, built %llu with %llx",
          thread, (unsigned long long)g->gid, (unsigned long long)count, (unsigned long long)sum,
          (unsigned long long)g->count, (unsigned long long)g->sum);
}

typedef struct worker_arg {
    int id;
    int rounds;
    uint64_t nodes;
} worker_arg;

static _Atomic int workers_left;

static void *graph_worker(void *p) {
    worker_arg *a = p;
    gm_rng r = {seed ^ (0x1234567ull * (uint64_t)(a->id + 1))};
    graph *ring[8] = {0};
    for (int i = 0; i < a->rounds; i++) {
        graph *g = build_graph(&r, (uint64_t)a->id << 32 | (uint64_t)i);
        verify_graph(g, a->id);
        a->nodes += g->count;
        ring[i % 8] = g;
        if (i % 16 == 15)
            for (int k = 0; k < 8; k++)
                if (ring[k])
                    verify_graph(ring[k], a->id);
    }
    for (int k = 0; k < 8; k++)
        if (ring[k])
            verify_graph(ring[k], a->id);
    atomic_fetch_sub(&workers_left, 1);
    return NULL;
}

static void part1(void) {
    enum { N = 4 };
    pthread_t th[N];
    worker_arg args[N];
    gm_memstats m0, m1;
    gm_read_memstats(&m0);
    atomic_store(&workers_left, N);
    for (int i = 0; i < N; i++) {
        args[i] = (worker_arg){i, quick ? 40 : 120, 0};
        int err = i % 2 ? pthread_create(&th[i], NULL, graph_worker, &args[i])
                        : gm_thread_create(&th[i], NULL, graph_worker, &args[i]);
        CHECK(err == 0, "creating thread %d: error %d", i, err);
    }
    unsigned forced = 0;
    while (atomic_load(&workers_left) > 0) {
        gm_gc();
        forced++;
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    gm_read_memstats(&m1);
    uint64_t nodes = 0;
    for (int i = 0; i < N; i++)
        nodes += args[i].nodes;
    printf("  part 1: 4 threads built %llu nodes; %u collections (%u forced by the main thread)\n",
           (unsigned long long)nodes, m1.num_gc - m0.num_gc, forced);
    CHECK(m1.num_gc - m0.num_gc >= (quick ? 2u : 5u), "only %u collections ran while the threads churned",
          m1.num_gc - m0.num_gc);
}

/* ------------------------------------------------- short-lived threads */

typedef struct item {
    struct item *next;
    uint64_t v;
} item;

#define HANDBACK 64
static item *volatile handed_back[HANDBACK];
static _Atomic unsigned handed;

static item *build_list(uint64_t base, int n) {
    item *head = NULL;
    for (int i = n - 1; i >= 0; i--) {
        item *it = gm_alloc(sizeof(item) + (size_t)(i % 5) * 16);
        CHECK(it, "gm_alloc failed");
        it->v = gm_test_word(base, (size_t)i);
        it->next = head;
        head = it;
    }
    return head;
}

static void verify_list(const item *it, uint64_t base, int n, const char *who) {
    for (int i = 0; i < n; i++, it = it->next) {
        CHECK(it && gm_base(it) == it, "%s: list item %d missing or not allocated (%p)", who, i, (const void *)it);
        CHECK(it->v == gm_test_word(base, (size_t)i), "%s: list item %d changed", who, i);
    }
    CHECK(it == NULL, "%s: list longer than %d", who, n);
}

static void *short_lived(void *p) {
    uint64_t k = (uint64_t)(uintptr_t)p;
    item *l = build_list(k << 20, 1000);
    for (int i = 0; i < 200; i++) {
        char *g = gm_alloc(64 + (size_t)i * 8);
        CHECK(g, "gm_alloc failed");
        g[0] = 1;
    }
    verify_list(l, k << 20, 1000, "short-lived thread");
    if (k % 8 == 3) {
        unsigned slot = atomic_fetch_add(&handed, 1);
        if (slot < HANDBACK)
            handed_back[slot] = l;
        else
            atomic_fetch_sub(&handed, 1);
    }
    if (k % 3 == 0) {
        l = NULL;
        CHECK(gm_thread_unregister() == 0, "gm_thread_unregister of a registered thread did not return 0");
        CHECK(gm_thread_unregister() == 1, "a second gm_thread_unregister did not return 1");
    }
    return NULL;
}

static _Atomic int spawner_done;

static void *spawner(void *p) {
    int total = *(int *)p;
    for (int base = 0; base < total; base += 8) {
        pthread_t th[8];
        for (int i = 0; i < 8; i++) {
            uint64_t k = (uint64_t)(base + i);
            int err = i % 2 ? pthread_create(&th[i], NULL, short_lived, (void *)(uintptr_t)k)
                            : gm_thread_create(&th[i], NULL, short_lived, (void *)(uintptr_t)k);
            CHECK(err == 0, "creating short-lived thread %llu: error %d", (unsigned long long)k, err);
        }
        for (int i = 0; i < 8; i++)
            pthread_join(th[i], NULL);
    }
    atomic_store(&spawner_done, 1);
    return NULL;
}

static void part2(void) {
    int total = quick ? 48 : 160;
    pthread_t sp;
    atomic_store(&spawner_done, 0);
    CHECK(pthread_create(&sp, NULL, spawner, &total) == 0, "pthread_create failed");
    unsigned forced = 0;
    while (!atomic_load(&spawner_done)) {
        gm_gc();
        forced++;
    }
    pthread_join(sp, NULL);
    gm_gc();
    gm_gc();
    unsigned n = atomic_load(&handed);
    /* Each handed-back list came from a thread k with k % 8 == 3; find k
     * from the first value. */
    for (unsigned i = 0; i < n; i++) {
        item *l = handed_back[i];
        CHECK(l, "handed-back list %u missing", i);
        int found = -1;
        for (int k = 3; k < total; k += 8)
            if (l->v == gm_test_word((uint64_t)k << 20, 0))
                found = k;
        CHECK(found >= 0, "handed-back list %u: unknown first value", i);
        verify_list(l, (uint64_t)found << 20, 1000, "handed-back list");
    }
    printf("  part 2: %d short-lived threads, %u forced collections meanwhile, %u lists handed back intact\n",
           total, forced, n);
}

int main(void) {
    quick = gm_test_quick();
    seed = gm_test_seed("test_gc_threads");
    part1();
    if (GM_TEST_TSAN) {
        /* Threads registering or leaving wait for gm_threads_lock in a raw
         * futex call; ThreadSanitizer holds the stop signal back there
         * while the collector, holding that lock, waits for their answer. */
        printf("  part 2: skipped under ThreadSanitizer (stop signals held back in futex waits)\n");
    } else {
        part2();
    }
    printf("test_gc_threads: ok\n");
    return 0;
}
