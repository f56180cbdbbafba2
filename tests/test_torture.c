/*
 * test_torture.c - threads and goroutines mutate a random graph of every
 * kind of object while collections run; every object is checked.
 *
 * Objects.  Each carries a header with its identity (a per-thread counter
 * tagged with the thread), its kind, its payload length, a checksum of
 * those and of its own address, then up to four child pointers, then a
 * payload filled with the pattern of its identity (gm_test_fill).  A fresh
 * object must be all zeros before it is filled.  verify() checks the
 * checksum, the payload, that the heap still knows the object (gm_base),
 * that no finalizer has run on it, and the headers of its children.
 * Kinds: small scan objects with children, noscan objects (payload only),
 * large objects (over 32 KiB, with children), owned objects that are
 * explicitly freed, owned objects that are grown and shrunk by gm_realloc
 * (the prefix must survive each move).  A sixteenth of the shared ones get
 * a finalizer, which checks the object and flags it finalized: a flagged
 * object reached from a root is a reachable object finalized by mistake.
 *
 * Where pointers live.  Each thread owns a range of global slots (roots in
 * the data segment) that every thread may read (atomically) and link to;
 * owned objects sit in slots no other thread reads (they may be freed); a
 * table on each thread's stack; pointers held only in a register (or its
 * spill) across allocations that trigger collections; goroutine stacks
 * and channel buffers (each thread sends objects to two goroutines of its
 * own, which hold them across yields and collections, link them into new
 * objects and send those back); weak handles, which must give back the
 * object while it is still in its slot, and never another one.
 *
 * Phases.  Each thread runs GM_TORTURE_OPS operations (default 20000),
 * then all threads wait while the main thread walks everything reachable
 * from every root, verifying each object once, collects (three cycles,
 * running finalizers in between) and checks that the heap holds no more
 * objects than the reachable ones plus the harness's own and a small
 * allowance for stale stack copies: garbage is reclaimed.  Phases repeat
 * for GM_TORTURE_SECONDS seconds (default 4; 2 under a sanitizer or with
 * GM_TEST_QUICK); `make soak` runs it for 30 minutes.
 *
 * Random: the seed is printed; GM_TEST_SEED replays each thread's sequence
 * of operations (thread interleaving is the scheduler's).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "gm_test.h"

enum { NTHREADS = 3, NSHARED = 384, NOWNED = 64, NLOCAL = 64, NWEAK = 32, MAXKIDS = 4, NWORKERS = 2 };
enum { K_SCAN, K_NOSCAN, K_LARGE, K_OWNED_FREE, K_OWNED_REALLOC };

typedef struct tobj {
    uint64_t check; /* mix of id, len, kind, nkids and the object's address */
    uint64_t id;    /* thread << 48 | that thread's counter */
    uint32_t len;   /* payload bytes */
    uint8_t kind, nkids;
    _Atomic uint8_t finalized;
    uint8_t pad;
    uint32_t seen; /* the phase whose walk last visited it */
    uint32_t pad2;
    struct tobj *_Atomic kids[];
} tobj;

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint64_t checksum(const tobj *o) {
    return mix(o->id ^ mix(((uint64_t)o->len << 16 | (uint64_t)o->kind << 8 | o->nkids) ^ mix((uintptr_t)o)));
}

static unsigned char *payload(tobj *o) {
    return (unsigned char *)(o->kids + o->nkids);
}

/* ------------------------------------------------------------- state */

static tobj *_Atomic shared_slots[NTHREADS][NSHARED]; /* read by all */
static tobj *owned_slots[NTHREADS][NOWNED];           /* owner only */
static tobj **local_tables[NTHREADS];                 /* on each thread's stack */
static gm_weak *weak_handles[NTHREADS][NWEAK];
static uint64_t weak_ids[NTHREADS][NWEAK];
static int weak_slot_of[NTHREADS][NWEAK];

static _Atomic uint64_t n_ops, n_allocs, n_verified, n_freed_explicit, n_reallocs, n_weak_checks, n_chan_trips,
    n_fin_set, n_fin_run, n_register_holds, n_links;
static _Atomic int stop_flag;
static pthread_barrier_t phase_done, phase_checked;
static long ops_per_phase = 20000;

/* ------------------------------------------------------------ objects */

static void verify_header(const tobj *o, const char *where) {
    CHECK(o->check == checksum(o), "%s: object %p (id %#llx) has a bad checksum %#llx, want %#llx", where,
          (const void *)o, (unsigned long long)o->id, (unsigned long long)o->check,
          (unsigned long long)checksum(o));
}

static void verify(tobj *o, const char *where) {
    verify_header(o, where);
    CHECK(gm_base(o) == o, "%s: object %p (id %#llx) is not a live heap object (gm_base %p)", where, (void *)o,
          (unsigned long long)o->id, gm_base(o));
    CHECK(!atomic_load(&o->finalized), "%s: reachable object %p (id %#llx) was finalized", where, (void *)o,
          (unsigned long long)o->id);
    size_t bad = gm_test_verify(payload(o), o->len, o->id);
    CHECK(bad == (size_t)-1, "%s: object %p (id %#llx, %u payload bytes) corrupted at payload byte %zu", where,
          (void *)o, (unsigned long long)o->id, o->len, bad);
    for (unsigned k = 0; k < o->nkids; k++) {
        tobj *c = atomic_load_explicit(&o->kids[k], memory_order_relaxed);
        if (c)
            verify_header(c, where);
    }
    atomic_fetch_add_explicit(&n_verified, 1, memory_order_relaxed);
}

static void fin(void *obj, void *arg) {
    (void)arg;
    tobj *o = obj;
    verify_header(o, "finalizer");
    size_t bad = gm_test_verify(payload(o), o->len, o->id);
    CHECK(bad == (size_t)-1, "finalizer: object %p corrupted at payload byte %zu", obj, bad);
    CHECK(!atomic_exchange(&o->finalized, 1), "finalizer ran twice on %p", obj);
    atomic_fetch_add(&n_fin_run, 1);
}

typedef struct tctx {
    int t;
    gm_rng rng;
    uint64_t next_id;
    gm_chan *to_workers, *from_workers;
    gm_waitgroup *workers_done;
} tctx;

static tobj *make(tctx *c, int kind) {
    gm_rng *r = &c->rng;
    unsigned nkids = 0;
    size_t len = 0;
    bool noscan = false;
    switch (kind) {
    case K_SCAN:
        nkids = 1 + (unsigned)gm_rng_below(r, MAXKIDS);
        len = gm_rng_below(r, 256);
        break;
    case K_NOSCAN:
        len = 8 + gm_rng_below(r, 2048);
        noscan = true;
        break;
    case K_LARGE:
        nkids = (unsigned)gm_rng_below(r, MAXKIDS + 1);
        len = 33000 + gm_rng_below(r, 130000);
        break;
    case K_OWNED_FREE:
        len = gm_rng_below(r, 16) == 0 ? 40000 + gm_rng_below(r, 60000) : gm_rng_below(r, 1500);
        noscan = gm_rng_below(r, 2);
        break;
    case K_OWNED_REALLOC:
        len = gm_rng_below(r, 4000);
        noscan = true;
        break;
    }
    size_t size = sizeof(tobj) + nkids * sizeof(tobj *) + len;
    tobj *o = noscan ? gm_alloc_noscan(size) : gm_alloc(size);
    CHECK(o, "gm_alloc(%zu): %s", size, strerror(errno));
    CHECK(gm_size(o) >= size, "gm_size %zu < %zu", gm_size(o), size);
    size_t nz = gm_test_first_nonzero(o, size);
    CHECK(nz == (size_t)-1, "new %zu-byte object %p not zeroed at byte %zu", size, (void *)o, nz);
    o->id = (uint64_t)c->t << 48 | c->next_id++;
    o->len = (uint32_t)len;
    o->kind = (uint8_t)kind;
    o->nkids = (uint8_t)nkids;
    gm_test_fill(payload(o), len, o->id);
    o->check = checksum(o);
    atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
    return o;
}

static tobj *make_shared(tctx *c) {
    uint64_t k = gm_rng_below(&c->rng, 100);
    tobj *o = make(c, k < 3 ? K_LARGE : k < 40 ? K_NOSCAN : K_SCAN);
    if (gm_rng_below(&c->rng, 16) == 0) {
        gm_set_finalizer(o, fin, NULL);
        atomic_fetch_add_explicit(&n_fin_set, 1, memory_order_relaxed);
    }
    return o;
}

/* A random shared object of any thread, or NULL. */
static tobj *any_shared(tctx *c) {
    int t = (int)gm_rng_below(&c->rng, NTHREADS);
    return atomic_load_explicit(&shared_slots[t][gm_rng_below(&c->rng, NSHARED)], memory_order_acquire);
}

static void put_shared(tctx *c, tobj *o) {
    atomic_store_explicit(&shared_slots[c->t][gm_rng_below(&c->rng, NSHARED)], o, memory_order_release);
}

/* --------------------------------------------------------- goroutines */

typedef struct worker_arg {
    tctx *c;
    gm_rng rng;
} worker_arg;

/* Receives objects, holds them on its stack across yields and allocation,
 * sends back a new object linking to each (or the object itself). */
static void worker(void *arg) {
    worker_arg *w = arg;
    tctx *c = w->c;
    tobj *o;
    while (gm_chan_recv(c->to_workers, &o)) {
        verify(o, "goroutine (received)");
        tobj *mine = make(c, K_SCAN);
        gm_yield();
        for (int i = 0; i < 8; i++)
            CHECK(gm_alloc(64 + gm_rng_below(&w->rng, 4000)), "gm_alloc");
        gm_yield();
        verify(o, "goroutine (held across yields)");
        verify(mine, "goroutine (own object)");
        tobj *back = o;
        if (gm_rng_below(&w->rng, 2)) {
            atomic_store_explicit(&mine->kids[0], o, memory_order_release);
            back = mine;
        }
        gm_chan_send(c->from_workers, &back);
    }
    gm_waitgroup_done(c->workers_done);
}

/* ------------------------------------------------------------ operations */

/* Follows children from a random shared object, verifying each. */
static void walk_some(tctx *c) {
    tobj *o = any_shared(c);
    for (int depth = 0; o && depth < 8; depth++) {
        verify(o, "random walk");
        if (!o->nkids)
            break;
        o = atomic_load_explicit(&o->kids[gm_rng_below(&c->rng, o->nkids)], memory_order_acquire);
    }
}

/* Keeps the only reference to a new object in a register (the compiler
 * may spill it to the stack: both are roots) while allocating. */
__attribute__((noinline)) static void register_hold(tctx *c) {
    tobj *o = make(c, gm_rng_below(&c->rng, 2) ? K_SCAN : K_NOSCAN);
    for (int i = 0; i < 64; i++) {
        __asm__ volatile("" : "+r"(o));
        CHECK(gm_alloc(256 + gm_rng_below(&c->rng, 2048)), "gm_alloc");
    }
    __asm__ volatile("" : "+r"(o));
    verify(o, "held in a register");
    atomic_fetch_add_explicit(&n_register_holds, 1, memory_order_relaxed);
    if (gm_rng_below(&c->rng, 2))
        put_shared(c, o);
}

static void owned_op(tctx *c) {
    int i = (int)gm_rng_below(&c->rng, NOWNED);
    tobj *o = owned_slots[c->t][i];
    if (o && o->kind == K_OWNED_REALLOC && gm_rng_below(&c->rng, 2)) {
        size_t old = o->len;
        size_t len = gm_rng_below(&c->rng, 8) == 0 ? gm_rng_below(&c->rng, 60000) : gm_rng_below(&c->rng, 4000);
        tobj *n = gm_realloc(o, sizeof(tobj) + len);
        CHECK(n, "gm_realloc(%zu)", sizeof(tobj) + len);
        size_t keep = len < old ? len : old;
        size_t bad = gm_test_verify(payload(n), keep, n->id);
        CHECK(bad == (size_t)-1, "gm_realloc %zu -> %zu bytes lost the prefix at byte %zu", old, len, bad);
        n->len = (uint32_t)len;
        gm_test_fill(payload(n), len, n->id);
        n->check = checksum(n);
        owned_slots[c->t][i] = n;
        atomic_fetch_add_explicit(&n_reallocs, 1, memory_order_relaxed);
        return;
    }
    if (o) {
        verify(o, "owned, before gm_free");
        owned_slots[c->t][i] = NULL;
        gm_free(o);
        atomic_fetch_add_explicit(&n_freed_explicit, 1, memory_order_relaxed);
    }
    if (gm_rng_below(&c->rng, 4))
        owned_slots[c->t][i] = make(c, gm_rng_below(&c->rng, 2) ? K_OWNED_FREE : K_OWNED_REALLOC);
}

static void weak_op(tctx *c) {
    int i = (int)gm_rng_below(&c->rng, NWEAK);
    if (weak_handles[c->t][i] && gm_rng_below(&c->rng, 4)) {
        tobj *p = gm_weak_get(weak_handles[c->t][i]);
        tobj *cur = atomic_load_explicit(&shared_slots[c->t][weak_slot_of[c->t][i]], memory_order_relaxed);
        if (cur && cur->id == weak_ids[c->t][i])
            CHECK(p == cur, "weak handle of %p (still in its slot) gives %p", (void *)cur, (void *)p);
        if (p) {
            CHECK(p->id == weak_ids[c->t][i], "weak handle gives id %#llx, made for %#llx",
                  (unsigned long long)p->id, (unsigned long long)weak_ids[c->t][i]);
            verify(p, "through a weak handle");
        }
        atomic_fetch_add_explicit(&n_weak_checks, 1, memory_order_relaxed);
        return;
    }
    int s = (int)gm_rng_below(&c->rng, NSHARED);
    tobj *o = atomic_load_explicit(&shared_slots[c->t][s], memory_order_relaxed);
    if (!o)
        return;
    gm_weak *h = gm_weak_make(o);
    CHECK(h && gm_weak_get(h) == o, "gm_weak_make(%p)", (void *)o);
    weak_handles[c->t][i] = h;
    weak_ids[c->t][i] = o->id;
    weak_slot_of[c->t][i] = s;
}

static void chan_op(tctx *c) {
    int n = 1 + (int)gm_rng_below(&c->rng, 3);
    int sent = 0;
    for (int i = 0; i < n; i++) {
        int s = (int)gm_rng_below(&c->rng, NSHARED);
        tobj *o = atomic_exchange_explicit(&shared_slots[c->t][s], NULL, memory_order_acq_rel);
        if (!o)
            o = make_shared(c);
        gm_chan_send(c->to_workers, &o);
        sent++;
    }
    if (gm_rng_below(&c->rng, 8) == 0)
        gm_gc(); /* with the objects in the channel's buffer */
    for (int i = 0; i < sent; i++) {
        tobj *o;
        CHECK(gm_chan_recv(c->from_workers, &o), "worker channel closed");
        verify(o, "back from a goroutine");
        put_shared(c, o);
        atomic_fetch_add_explicit(&n_chan_trips, 1, memory_order_relaxed);
    }
}

static void one_op(tctx *c, tobj **local) {
    gm_rng *r = &c->rng;
    uint64_t k = gm_rng_below(r, 1000);
    if (k < 300) {
        put_shared(c, make_shared(c));
    } else if (k < 450) {
        tobj *a = atomic_load_explicit(&shared_slots[c->t][gm_rng_below(r, NSHARED)], memory_order_acquire);
        if (a && a->nkids) {
            uint64_t w = gm_rng_below(r, 8);
            tobj *target = w == 0 ? NULL : w == 1 ? make_shared(c) : any_shared(c);
            atomic_store_explicit(&a->kids[gm_rng_below(r, a->nkids)], target, memory_order_release);
            atomic_fetch_add_explicit(&n_links, 1, memory_order_relaxed);
        }
    } else if (k < 600) {
        owned_op(c);
    } else if (k < 700) {
        walk_some(c);
    } else if (k < 760) {
        int i = (int)gm_rng_below(r, NLOCAL);
        if (local[i] && gm_rng_below(r, 2)) {
            verify(local[i], "thread stack table");
            put_shared(c, local[i]);
            local[i] = NULL;
        } else {
            local[i] = any_shared(c);
        }
    } else if (k < 800) {
        register_hold(c);
    } else if (k < 880) {
        weak_op(c);
    } else if (k < 930) {
        chan_op(c);
    } else if (k < 932) {
        gm_gc();
    } else if (k < 980) {
        atomic_store_explicit(&shared_slots[c->t][gm_rng_below(r, NSHARED)], NULL, memory_order_release);
    } else {
        verify(make(c, K_NOSCAN), "fresh garbage");
    }
    atomic_fetch_add_explicit(&n_ops, 1, memory_order_relaxed);
}

static uint64_t base_seed;

static void *mutator(void *arg) {
    tctx c = {.t = (int)(intptr_t)arg, .next_id = 1};
    c.rng.s = base_seed + 0x1000193ull * (uint64_t)(c.t + 1);
    tobj *local[NLOCAL] = {0};
    local_tables[c.t] = local;
    c.to_workers = gm_chan_make(sizeof(tobj *), 4);
    c.from_workers = gm_chan_make(sizeof(tobj *), 4);
    c.workers_done = gm_waitgroup_make();
    CHECK(c.to_workers && c.from_workers && c.workers_done, "channels");
    worker_arg wa[NWORKERS];
    gm_waitgroup_add(c.workers_done, NWORKERS);
    for (int i = 0; i < NWORKERS; i++) {
        wa[i] = (worker_arg){&c, {c.rng.s ^ (uint64_t)(i + 1) * 0x9e3779b9ull}};
        CHECK(gm_go(worker, &wa[i]) > 0, "gm_go: %s", strerror(errno));
    }
    for (;;) {
        for (long i = 0; i < ops_per_phase; i++)
            one_op(&c, local);
        pthread_barrier_wait(&phase_done);
        pthread_barrier_wait(&phase_checked);
        if (atomic_load(&stop_flag))
            break;
    }
    gm_chan_close(c.to_workers);
    gm_waitgroup_wait(c.workers_done);
    local_tables[c.t] = NULL;
    return NULL;
}

/* ------------------------------------------------------------- checking */

static uint32_t phase_no;

/* Verifies everything reachable from the roots, each object once; returns
 * how many objects that is. */
static size_t walk_all(void) {
    size_t cap = 1 << 16, n = 0, count = 0;
    tobj **stack = malloc(cap * sizeof *stack);
    CHECK(stack, "malloc");
    phase_no++;
#define PUSH(o)                                                   \
    do {                                                          \
        tobj *o_ = (o);                                           \
        if (o_ && o_->seen != phase_no) {                         \
            o_->seen = phase_no;                                  \
            if (n == cap) {                                       \
                cap *= 2;                                         \
                stack = realloc(stack, cap * sizeof *stack);      \
                CHECK(stack, "realloc");                          \
            }                                                     \
            stack[n++] = o_;                                      \
        }                                                         \
    } while (0)
    for (int t = 0; t < NTHREADS; t++) {
        for (int i = 0; i < NSHARED; i++)
            PUSH(atomic_load(&shared_slots[t][i]));
        for (int i = 0; i < NOWNED; i++)
            PUSH(owned_slots[t][i]);
        for (int i = 0; local_tables[t] && i < NLOCAL; i++)
            PUSH(local_tables[t][i]);
    }
    while (n) {
        tobj *o = stack[--n];
        verify(o, "phase walk");
        count++;
        for (unsigned k = 0; k < o->nkids; k++)
            PUSH(atomic_load(&o->kids[k]));
    }
#undef PUSH
    free(stack);
    return count;
}

static uint64_t heap_objects(void) {
    gm_memstats m;
    gm_read_memstats(&m);
    return m.heap_objects;
}

__attribute__((noinline)) static void collect(void) {
    for (int i = 0; i < 3; i++) {
        gm_test_clear_stack();
        gm_gc();
        gm_run_finalizers();
    }
    gm_test_clear_stack();
    gm_gc();
}

int main(void) {
    base_seed = gm_test_seed("test_torture");
    double seconds = gm_test_quick() ? 2 : 4;
    const char *e = getenv("GM_TORTURE_SECONDS");
    if (e && *e)
        seconds = strtod(e, NULL);
    e = getenv("GM_TORTURE_OPS");
    if (e && *e)
        ops_per_phase = strtol(e, NULL, 0);
    CHECK(seconds > 0 && ops_per_phase > 0, "GM_TORTURE_SECONDS %g, GM_TORTURE_OPS %ld", seconds, ops_per_phase);
    const char *dbg = getenv("GOMEM_DEBUG");
    printf("test_torture: %d threads x %d goroutines, %ld operations per phase, %.0f s%s%s\n", NTHREADS,
           NWORKERS, ops_per_phase, seconds, dbg ? ", GOMEM_DEBUG=" : "", dbg ? dbg : "");
    fflush(stdout);

    collect();
    uint64_t base_objects = heap_objects();
    pthread_barrier_init(&phase_done, NULL, NTHREADS + 1);
    pthread_barrier_init(&phase_checked, NULL, NTHREADS + 1);
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        CHECK(gm_thread_create(&th[t], NULL, mutator, (void *)(intptr_t)t) == 0, "gm_thread_create");

    double t0 = gm_test_now();
    int phases = 0;
    size_t reach = 0, max_reach = 0;
    uint64_t max_extra = 0;
    for (;;) {
        pthread_barrier_wait(&phase_done);
        phases++;
        reach = walk_all();
        collect();
        uint64_t objs = heap_objects();
        /* The harness's own objects: per thread two channels, a wait
         * group, goroutine records; weak handles; stale stack copies. */
        uint64_t allowance = base_objects + 64 + NTHREADS * (NWEAK + 16) + reach / 50;
        CHECK(objs >= reach, "phase %d: %llu heap objects but %zu reachable", phases, (unsigned long long)objs,
              reach);
        CHECK(objs <= reach + allowance,
              "phase %d: %llu heap objects after collecting, %zu reachable (+%llu allowed): garbage not "
              "reclaimed",
              phases, (unsigned long long)objs, reach, (unsigned long long)allowance);
        if (objs - reach > max_extra)
            max_extra = objs - reach;
        if (reach > max_reach)
            max_reach = reach;
        if (gm_test_now() - t0 >= seconds)
            atomic_store(&stop_flag, 1);
        pthread_barrier_wait(&phase_checked);
        if (atomic_load(&stop_flag))
            break;
    }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    double dt = gm_test_now() - t0;
    gm_memstats m;
    gm_read_memstats(&m);
    printf("test_torture: %d phases in %.1f s: %llu operations, %llu objects allocated, %llu verified, "
           "%llu freed explicitly, %llu reallocs, %llu links, %llu register holds, %llu channel trips, "
           "%llu weak checks, %llu finalizers set, %llu run; %u collections; heap objects reclaimed %llu; "
           "last phase %zu reachable, at most %zu; at most %llu unreachable objects left after collecting\n",
           phases, dt, (unsigned long long)n_ops, (unsigned long long)n_allocs, (unsigned long long)n_verified,
           (unsigned long long)n_freed_explicit, (unsigned long long)n_reallocs, (unsigned long long)n_links,
           (unsigned long long)n_register_holds, (unsigned long long)n_chan_trips,
           (unsigned long long)n_weak_checks, (unsigned long long)n_fin_set, (unsigned long long)n_fin_run,
           m.num_gc, (unsigned long long)m.frees, reach, max_reach, (unsigned long long)max_extra);
    CHECK(m.num_gc >= (uint32_t)phases * 4, "%u collections in %d phases", m.num_gc, phases);
    CHECK(n_fin_run > 0 && n_chan_trips > 0 && n_weak_checks > 0 && n_freed_explicit > 0 && n_reallocs > 0,
          "an operation kind never ran");
    printf("test_torture: ok\n");
    return 0;
}
