/*
 * Finalizer ordering, Go's rules: if A points to B and both have
 * finalizers, A's runs first and B is kept (intact) until then; a chain of
 * n finalizable objects runs front to back; what a finalizable object
 * reaches (with or without finalizers of its own) is kept for its
 * finalizer, and so is the finalizer's arg; a cycle of finalizable objects
 * (a self-pointer included) is never finalized nor freed.  And the modes
 * the bdwgc layer uses: IGNORE_SELF finalizes a self-referencing object,
 * NO_ORDER finalizes a cycle.
 *
 * Order checks are exact whatever conservative scanning keeps: a stale word
 * can delay a finalizer but never reorder a chain.  Counts allow 1%.
 */
#include <stdatomic.h>

#include "gm_test.h"
#include "gc/specials.h" /* the bdwgc layer's finalizer modes */

#define NOINLINE __attribute__((noinline))


NOINLINE static void collect(void) {
    gm_test_clear_stack();
    gm_gc();
    gm_run_finalizers();
    gm_test_clear_stack();
}

static bool collect_until(_Atomic long *counter, long want, int tries) {
    for (int i = 0; i < tries; i++) {
        if (atomic_load(counter) >= want)
            return true;
        collect();
    }
    return atomic_load(counter) >= want;
}

/* ---------------------------------------------------------------- chains */

enum { CHAINS = 200, LEN = 6 };

typedef struct node {
    struct node *next;
    uint32_t chain, pos;
    uint64_t words[4];
} node;

static _Atomic int done[CHAINS][LEN];
static _Atomic long chain_runs;
static _Atomic long order_errors;
static _Atomic long content_errors;

static void fin_node(void *o, void *arg) {
    node *n = o;
    (void)arg;
    /* Whatever this node reaches is not finalized yet, and intact. */
    for (node *m = n->next; m; m = m->next) {
        if (atomic_load(&done[m->chain][m->pos]))
            atomic_fetch_add(&order_errors, 1);
        if (gm_test_verify(m->words, sizeof m->words, m->chain * 100 + m->pos) != (size_t)-1)
            atomic_fetch_add(&content_errors, 1);
    }
    /* And every node before it in its chain is finalized. */
    for (uint32_t p = 0; p < n->pos; p++)
        if (!atomic_load(&done[n->chain][p]))
            atomic_fetch_add(&order_errors, 1);
    atomic_store(&done[n->chain][n->pos], 1);
    atomic_fetch_add(&chain_runs, 1);
}

NOINLINE static void make_chains(void) {
    for (uint32_t c = 0; c < CHAINS; c++) {
        node *next = NULL;
        for (int p = LEN - 1; p >= 0; p--) {
            node *n = gm_new(node);
            n->next = next;
            n->chain = c;
            n->pos = (uint32_t)p;
            gm_test_fill(n->words, sizeof n->words, c * 100 + (uint32_t)p);
            gm_set_finalizer(n, fin_node, NULL);
            next = n;
        }
    }
}

static void test_chains(void) {
    make_chains();
    long want = (long)CHAINS * LEN * 99 / 100;
    CHECK(collect_until(&chain_runs, want, 20 * LEN), "only %ld of %d chain finalizers ran",
          atomic_load(&chain_runs), CHAINS * LEN);
    CHECK(atomic_load(&order_errors) == 0, "%ld finalizers ran out of order", atomic_load(&order_errors));
    CHECK(atomic_load(&content_errors) == 0, "%ld objects changed before their finalizer",
          atomic_load(&content_errors));
}

/* ---------------------------------------- one cycle per link of a chain */

enum { THREE = 6 }; /* chains of 3: a stale register may hold up one */
static _Atomic long step_runs;
static _Atomic uint32_t step_gc[THREE][3]; /* collections completed when each ran */
static _Atomic unsigned char step_done[THREE][3];

static void fin_step(void *o, void *arg) {
    (void)o;
    uintptr_t v = (uintptr_t)arg, chain = v / 3, link = v % 3;
    gm_memstats ms;
    gm_read_memstats(&ms);
    atomic_store(&step_gc[chain][link], ms.num_gc);
    atomic_store(&step_done[chain][link], 1);
    atomic_fetch_add(&step_runs, 1);
}

NOINLINE static void make_three(void) {
    for (uintptr_t k = 0; k < THREE; k++) {
        node *c = gm_new(node), *b = gm_new(node), *a = gm_new(node);
        a->next = b;
        b->next = c;
        gm_set_finalizer(a, fin_step, (void *)(3 * k));
        gm_set_finalizer(b, fin_step, (void *)(3 * k + 1));
        gm_set_finalizer(c, fin_step, (void *)(3 * k + 2));
    }
}

static int chains_done(void) {
    int n = 0;
    for (int k = 0; k < THREE; k++)
        n += atomic_load(&step_done[k][0]) && atomic_load(&step_done[k][1]) && atomic_load(&step_done[k][2]);
    return n;
}

static void test_one_per_cycle(void) {
    /* B is queued only by a collection that starts after A's finalizer
     * returned, so the collections completed when each link ran strictly
     * increase along a chain. */
    make_three();
    for (int i = 0; i < 40 && chains_done() < THREE - 2; i++)
        collect();
    CHECK(chains_done() >= THREE - 2, "only %d of %d chains of 3 finalized", chains_done(), THREE);
    for (int k = 0; k < THREE; k++) {
        uint32_t a = atomic_load(&step_gc[k][0]), b = atomic_load(&step_gc[k][1]), c = atomic_load(&step_gc[k][2]);
        if (atomic_load(&step_done[k][1]))
            CHECK(atomic_load(&step_done[k][0]) && a < b, "link 2 of chain %d ran after %u collections, link 1 "
                  "after %u", k, b, a);
        if (atomic_load(&step_done[k][2]))
            CHECK(atomic_load(&step_done[k][1]) && b < c, "link 3 of chain %d ran after %u collections, link 2 "
                  "after %u", k, c, b);
    }
}

/* ------------------------------------ reachable from finalizable: kept */

typedef struct holder {
    uint64_t *plain; /* no finalizer of its own */
    uint64_t *by_arg;
} holder;

static _Atomic long holder_runs, holder_bad;

static void fin_holder(void *o, void *arg) {
    holder *h = o;
    uint64_t *a = arg;
    if (gm_test_verify(h->plain, 256, 11) != (size_t)-1)
        atomic_fetch_add(&holder_bad, 1);
    if (gm_test_verify(a, 256, 12) != (size_t)-1)
        atomic_fetch_add(&holder_bad, 1);
    atomic_fetch_add(&holder_runs, 1);
}

NOINLINE static void make_holders(int n) {
    for (int i = 0; i < n; i++) {
        holder *h = gm_new(holder);
        h->plain = gm_alloc(256);
        gm_test_fill(h->plain, 256, 11);
        uint64_t *arg = gm_alloc(256); /* reachable only as the finalizer's arg */
        gm_test_fill(arg, 256, 12);
        gm_set_finalizer(h, fin_holder, arg);
        /* garbage in between, so that freed memory would be reused */
        for (int k = 0; k < 8; k++)
            gm_test_fill(gm_alloc(256), 256, 99);
    }
}

static void test_reachable_kept(void) {
    enum { N = 2000 };
    make_holders(N);
    CHECK(collect_until(&holder_runs, N * 99 / 100, 30), "only %ld of %d ran", atomic_load(&holder_runs), N);
    CHECK(atomic_load(&holder_bad) == 0, "%ld objects reachable from a finalizable object or its arg were "
          "reclaimed or overwritten before the finalizer", atomic_load(&holder_bad));
}

/* --------------------------------------------------------------- cycles */

typedef struct pair {
    struct pair *other;
    struct pair *self;
    uint64_t tag;
} pair;

static _Atomic long cycle_runs;
static void fin_cycle(void *o, void *arg) {
    (void)o, (void)arg;
    atomic_fetch_add(&cycle_runs, 1);
}

static uintptr_t hidden_cycle[3]; /* ~addresses */

NOINLINE static void make_cycles(void) {
    pair *a = gm_new(pair), *b = gm_new(pair), *s = gm_new(pair);
    a->other = b;
    b->other = a;
    s->self = s;
    gm_set_finalizer(a, fin_cycle, NULL);
    gm_set_finalizer(b, fin_cycle, NULL);
    gm_set_finalizer(s, fin_cycle, NULL);
    hidden_cycle[0] = ~(uintptr_t)a;
    hidden_cycle[1] = ~(uintptr_t)b;
    hidden_cycle[2] = ~(uintptr_t)s;
}

static void test_cycles_not_collected(void) {
    make_cycles();
    for (int i = 0; i < 8; i++)
        collect();
    CHECK(atomic_load(&cycle_runs) == 0, "a finalizer in a cycle ran (%ld)", atomic_load(&cycle_runs));
    for (int i = 0; i < 3; i++)
        CHECK(gm_size((void *)~hidden_cycle[i]) >= sizeof(pair), "object %d of a finalizable cycle was freed", i);
}

/* -------------------------------------------------- bdwgc's other modes */

static _Atomic long mode_runs;
static void fin_mode(void *o, void *arg) {
    (void)o, (void)arg;
    atomic_fetch_add(&mode_runs, 1);
}

NOINLINE static void make_mode_objects(int n) {
    for (int i = 0; i < n; i++) {
        pair *s = gm_new(pair); /* self-referencing */
        s->self = s;
        gm_specials_set_finalizer(s, fin_mode, NULL, GM_FIN_IGNORE_SELF, NULL, NULL);
        pair *a = gm_new(pair), *b = gm_new(pair); /* a cycle */
        a->other = b;
        b->other = a;
        gm_specials_set_finalizer(a, fin_mode, NULL, GM_FIN_NO_ORDER, NULL, NULL);
        gm_specials_set_finalizer(b, fin_mode, NULL, GM_FIN_NO_ORDER, NULL, NULL);
    }
}

static void test_modes(void) {
    enum { N = 300 };
    make_mode_objects(N);
    CHECK(collect_until(&mode_runs, 3 * N * 99 / 100, 30), "only %ld of %d IGNORE_SELF/NO_ORDER ran",
          atomic_load(&mode_runs), 3 * N);
}

static void test_old_finalizer_reported(void) {
    gm_finalizer_fn ofn = NULL;
    void *oarg = NULL;
    pair *p = gm_new(pair);
    static int a1, a2;
    gm_specials_set_finalizer(p, fin_mode, &a1, GM_FIN_ORDERED, &ofn, &oarg);
    CHECK(ofn == NULL && oarg == NULL, "old finalizer of a new object is not NULL");
    gm_specials_set_finalizer(p, fin_cycle, &a2, GM_FIN_ORDERED, &ofn, &oarg);
    CHECK(ofn == fin_mode && oarg == &a1, "old finalizer not reported");
    gm_specials_set_finalizer(p, NULL, NULL, GM_FIN_ORDERED, &ofn, &oarg);
    CHECK(ofn == fin_cycle && oarg == &a2, "old finalizer not reported when cleared");
    gm_keep_alive(p);
}

int main(void) {
    test_chains();
    test_one_per_cycle();
    test_reachable_kept();
    test_cycles_not_collected();
    test_modes();
    test_old_finalizer_reported();
    printf("test_final_order: ok\n");
    return 0;
}
