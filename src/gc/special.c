/*
 * special.c - finalizers, cleanups and weak handles ("specials").
 *
 * A special is a record attached to a heap object: a finalizer (Go's
 * runtime.SetFinalizer), a cleanup (Go 1.24's runtime.AddCleanup), a weak
 * handle (Go 1.24's weak.Pointer), or a disappearing link (bdwgc's, for
 * its drop-in layer: a location set to NULL when the object dies, short
 * ones with the weak handles, long ones when the object is freed).  This file holds the records, the hooks
 * the collector calls (gc.h), the finalizer queue and the thread that runs
 * it, and the public calls of gomem.h's "Finalizers, cleanups, weak
 * pointers" section.
 *
 * Records.  Each record is 48 bytes of non-GC memory (pools of gm_os_alloc
 * chunks, never given back to the OS, counted in gm_heap.meta), so the
 * collector never reads them as roots: the record's pointer to its object
 * is invisible to marking.  A span with specials points (s->specials) at a
 * list header; the list is sorted by the record's address key (the pointer
 * the special was set on; records of one object are therefore contiguous)
 * and guarded by s->specials_lock.  Appending past the last key is O(1),
 * which is the common case (objects are allocated in address order).
 * Invariant: s->specials != NULL if and only if the list holds a record,
 * so a span without specials is freed by sweeping as usual.  Headers are
 * also on a global registry (reg_head) so that the collector can visit
 * every special without walking the heap.
 *
 * Keys.  A finalizer's key is its object's start; a cleanup's is the exact
 * pointer given (interior pointers are allowed, as in Go); a weak handle's
 * is the object's start.  In the tiny allocator's 16-byte blocks, which
 * pack several small noscan objects, the key is always the exact pointer:
 * the block is the unit of liveness, each packed object its own key.
 *
 * What the collector does (gm_specials_after_mark, world stopped, after the
 * main drain; each step returning true makes the collector drain again):
 *
 *   A. Roots and ordering, in one walk: every finalizer's and cleanup's arg
 *      and every queued record's obj and arg are marked; the body of every
 *      finalizable object still unmarked is queued for scanning (its
 *      contents, not the object itself), so the parallel drain marks what
 *      it reaches.  An object reachable from another unreachable
 *      finalizable object is thereby kept.  (With the arg check on, each
 *      unmarked object's own arg is marked and drained first, and an arg
 *      that reaches its object is a fatal error.)
 *   B. Decision, per object: if it has a finalizer and is still unmarked,
 *      its finalizer is queued, its weak handles are cleared and it is
 *      marked again (resurrected for one cycle: its body was scanned in A,
 *      so its mark is set without a rescan); its cleanups stay.  Else, if
 *      it is unmarked, its weak handles are cleared and its cleanups are
 *      queued.  Else (alive) its weak handles are marked, as the handle is a
 *      heap object the special keeps alive.
 *
 * So weak handles read NULL as soon as the object is unreachable, before
 * its finalizer runs; a chain A -> B of finalizable objects runs A's
 * finalizer in one cycle and B's in a later one; a cycle of finalizable
 * objects (a self-pointer included) marks itself in B and is never
 * collected, as in Go.  Modes for the bdwgc layer (gm_specials_set_finalizer):
 * IGNORE_SELF skips pointers from an object into itself in A; NO_ORDER
 * queues the finalizer of every finalizable object that was unmarked when A
 * visited it, even if another body then marked it.
 *
 * Queue.  Queued records leave their span's list and join a FIFO (q_head)
 * under q_lock; step A keeps what they point to alive until they run.  They
 * run in order on a dedicated thread, started by the first gm_set_finalizer
 * or gm_add_cleanup (so it inherits a program thread's signal mask),
 * registered with the collector, waiting in a blocking region when idle;
 * gm_specials_after_cycle wakes it.  The collector's thread never runs
 * them, nor does an allocation or a signal handler; gm_run_finalizers runs
 * them on its caller.  A record is popped inside a no-stop region with its
 * fn, obj and arg copied to locals, so they are never out of sight of the
 * collector.
 *
 * Weak handles are heap objects (16 B, noscan: the object's address inside
 * is not a reference).  The object's weak special keeps its handle alive
 * (step B marks it), the program keeps it alive by holding it, so a handle
 * outlives its object and then reads NULL, never a dangling pointer.
 * gm_weak_get is one atomic load: a value it loaded is in a register or on
 * the stack, hence a root, by the time a collection could clear it.  (If
 * marking becomes concurrent, gm_weak_get must grey what it returns, as Go's
 * makeStrongFromWeak does.)
 *
 * Cleanup handles: bits 63..32 are the record's pool slot + 1, bits 31..0
 * the low bits of the cleanup's id (a 64-bit counter, never 0 in its low
 * bits); a record reused for another special has another id, so a stale
 * handle cancels nothing.  Stop works while the cleanup is linked or
 * queued; once popped to run it returns false.
 *
 * Locks and the stop.  Every critical section on specials (span lists,
 * registry, pools, queue) runs inside a no-stop region of a registered
 * thread, or on the collector's thread outside a cycle's stop (background
 * sweep).  So while the world is stopped none is in progress, and the
 * collector's steps above take no lock.  Lock order: a span's
 * specials_lock, then reg_lock, then the pools' locks; q_lock is taken
 * alone.
 *
 * gm_free.  An object released with gm_free loses its specials without
 * running them (the program took over its lifetime): gm_specials_free does
 * that when gm_free calls it; sweeping and step B also drop the specials of
 * slots whose free bit is set.
 */
#include <pthread.h>
#include <string.h>

#include "gc/gc.h"

/* ------------------------------------------------------------------ types */

enum { SP_FINALIZER = 1, SP_CLEANUP = 2, SP_WEAK = 3, SP_LINK = 4 };
enum { LINK_SHORT = 0, LINK_LONG = 1 };
enum { ST_FREE = 0, ST_LINKED, ST_QUEUED, ST_RUNNING, ST_CANCELLED };

/* Finalizer modes (bdwgc's flavours; gomem.h's gm_set_finalizer is ORDERED). */
enum { GM_FIN_ORDERED = 0, GM_FIN_IGNORE_SELF = 1, GM_FIN_NO_ORDER = 2 };

typedef union special_fn {
    gm_finalizer_fn fin;
    gm_cleanup_fn cln;
} special_fn;

typedef struct gm_special {
    struct gm_special *next;  /* span list, queue or pool free list */
    _Atomic uintptr_t key;    /* the pointer the special is set on */
    special_fn fn;
    void *arg;                /* weak: the gm_weak handle */
    _Atomic uint64_t id;      /* cleanup id while linked or queued, else 0 */
    uint32_t slot;            /* index in the record pool, fixed */
    uint8_t kind;
    uint8_t mode;             /* finalizer mode */
    _Atomic uint8_t state;
    uint8_t pending;          /* step A found the finalizable object unmarked */
} gm_special;

typedef struct gm_special_list {
    gm_special *first, *last;
    gm_span *span;
    struct gm_special_list *reg_next, *reg_prev;
    /* What the collector's steps look for, so they skip lists without it:
     * finalizers, NO_ORDER finalizers, finalizers and cleanups with an arg,
     * disappearing links. */
    uint32_t nfin, nnoorder, nargs, nlinks;
} gm_special_list;

struct gm_weak {
    _Atomic uintptr_t obj;
    uintptr_t reserved;
};

void gm_specials_free(gm_span *s, uintptr_t base);
int gm_specials_add_link(void **link, const void *obj, bool long_link);
bool gm_specials_remove_link(void **link, const void *obj, bool long_link);
void gm_specials_set_finalizer(void *obj, gm_finalizer_fn fn, void *arg, int mode, gm_finalizer_fn *old_fn,
                               void **old_arg);

/* ------------------------------------------------------------------ pools */

#define POOL_CHUNK (256 * 1024)
#define RECS_PER_CHUNK (POOL_CHUNK / sizeof(gm_special))
#define MAX_REC_CHUNKS 65536

static gm_mutex rec_lock = GM_MUTEX_INIT;
static gm_special *rec_free;
static gm_special **rec_chunks; /* chunk table, for slot -> record */
static _Atomic uint32_t rec_nchunks;

static gm_mutex hdr_lock = GM_MUTEX_INIT;
static gm_special_list *hdr_free;
static char *hdr_cur, *hdr_end;

static void *pool_chunk(void) {
    void *p = gm_os_alloc(POOL_CHUNK);
    if (!p)
        gm_fatal("out of memory for finalizer and weak pointer records (%zu bytes)", (size_t)POOL_CHUNK);
    atomic_fetch_add_explicit(&gm_heap.meta, POOL_CHUNK, memory_order_relaxed);
    return p;
}

/* The global free list is a stack of chains (records linked through
 * next, the chains through their first record's arg), so that taking or
 * giving a batch is O(1) under the lock and never walks records whose
 * cache lines are cold.  A new chunk is cut into chains of REC_STASH. */
#define REC_STASH 32

static gm_special *rec_take(void) {
    gm_mutex_lock(&rec_lock);
    if (!rec_free) {
        uint32_t nc = atomic_load_explicit(&rec_nchunks, memory_order_relaxed);
        if (!rec_chunks) {
            rec_chunks = gm_os_alloc(MAX_REC_CHUNKS * sizeof(gm_special *));
            if (!rec_chunks)
                gm_fatal("out of memory for the finalizer record table");
        }
        if (nc == MAX_REC_CHUNKS)
            gm_fatal("too many finalizers, cleanups and weak handles (%zu)",
                     (size_t)MAX_REC_CHUNKS * RECS_PER_CHUNK);
        gm_special *c = pool_chunk();
        for (size_t i = 0; i < RECS_PER_CHUNK; i++) {
            c[i].slot = (uint32_t)(nc * RECS_PER_CHUNK + i);
            c[i].next = (i + 1) % REC_STASH && i + 1 < RECS_PER_CHUNK ? &c[i + 1] : NULL;
        }
        for (size_t i = 0; i < RECS_PER_CHUNK; i += REC_STASH) {
            c[i].arg = rec_free;
            rec_free = &c[i];
        }
        rec_chunks[nc] = c;
        atomic_store_explicit(&rec_nchunks, nc + 1, memory_order_release);
    }
    gm_special *chain = rec_free;
    rec_free = chain->arg;
    gm_mutex_unlock(&rec_lock);
    chain->arg = NULL;
    return chain;
}

/* Returns a chain of records (ending with next == NULL) to the free list. */
static void rec_give(gm_special *first) {
    gm_mutex_lock(&rec_lock);
    first->arg = rec_free;
    rec_free = first;
    gm_mutex_unlock(&rec_lock);
}

/* Each thread keeps a few free records, so that attaching specials to many
 * objects takes the global lock once per REC_STASH records.  A thread's
 * stash goes back when it exits. */
static __thread gm_special *rec_stash __attribute__((tls_model("initial-exec")));
static pthread_key_t rec_stash_key;
static pthread_once_t rec_stash_once = PTHREAD_ONCE_INIT;

static void rec_stash_exit(void *arg) {
    (void)arg; /* a marker: the stash itself is still readable here */
    if (rec_stash)
        rec_give(rec_stash);
    rec_stash = NULL;
}

static void rec_stash_init(void) {
    pthread_key_create(&rec_stash_key, rec_stash_exit);
}

/* A zeroed record (slot kept).  Inside a no-stop region. */
static gm_special *rec_alloc(void) {
    gm_special *r = rec_stash;
    if (GM_UNLIKELY(!r)) {
        pthread_once(&rec_stash_once, rec_stash_init);
        r = rec_take();
        pthread_setspecific(rec_stash_key, (void *)1);
    }
    rec_stash = r->next;
    if (rec_stash)
        __builtin_prefetch(rec_stash, 1); /* the next call's record */
    r->next = NULL;
    r->fn.fin = NULL;
    r->arg = NULL;
    r->kind = r->mode = r->pending = 0;
    return r;
}

static void rec_reset(gm_special *r) {
    atomic_store_explicit(&r->id, 0, memory_order_relaxed);
    atomic_store_explicit(&r->state, ST_FREE, memory_order_relaxed);
    atomic_store_explicit(&r->key, 0, memory_order_relaxed);
    r->arg = NULL;
    r->fn.fin = NULL;
}

static void rec_free_one(gm_special *r) {
    rec_reset(r);
    r->next = NULL;
    rec_give(r);
}

static gm_special *rec_at(uint64_t slot) {
    uint64_t c = slot / RECS_PER_CHUNK;
    if (c >= atomic_load_explicit(&rec_nchunks, memory_order_acquire))
        return NULL;
    return &rec_chunks[c][slot % RECS_PER_CHUNK];
}

static gm_special_list *hdr_alloc(void) {
    gm_mutex_lock(&hdr_lock);
    gm_special_list *h = hdr_free;
    if (h) {
        hdr_free = h->reg_next;
    } else {
        if (!hdr_cur || (size_t)(hdr_end - hdr_cur) < sizeof *h) {
            hdr_cur = pool_chunk();
            hdr_end = hdr_cur + POOL_CHUNK;
        }
        h = (gm_special_list *)hdr_cur;
        hdr_cur += sizeof *h;
    }
    gm_mutex_unlock(&hdr_lock);
    memset(h, 0, sizeof *h);
    return h;
}

static void hdr_release(gm_special_list *h) {
    gm_mutex_lock(&hdr_lock);
    h->reg_next = hdr_free;
    hdr_free = h;
    gm_mutex_unlock(&hdr_lock);
}

/* --------------------------------------------------------------- registry */

static gm_mutex reg_lock = GM_MUTEX_INIT;
static gm_special_list *reg_head;

static void reg_add(gm_special_list *h) {
    gm_mutex_lock(&reg_lock);
    h->reg_prev = NULL;
    h->reg_next = reg_head;
    if (reg_head)
        reg_head->reg_prev = h;
    reg_head = h;
    gm_mutex_unlock(&reg_lock);
}

static void reg_remove(gm_special_list *h) {
    gm_mutex_lock(&reg_lock);
    if (h->reg_prev)
        h->reg_prev->reg_next = h->reg_next;
    else
        reg_head = h->reg_next;
    if (h->reg_next)
        h->reg_next->reg_prev = h->reg_prev;
    gm_mutex_unlock(&reg_lock);
}

/* ------------------------------------------------------------------ lists */

/* A span's specials lock, taken inside the fork gate (forkgate.c). */
static void specials_lock(gm_span *s) {
    gm_forkgate_enter();
    gm_mutex_lock(&s->specials_lock);
}

static void specials_unlock(gm_span *s) {
    gm_mutex_unlock(&s->specials_lock);
    gm_forkgate_exit();
}

GM_INLINE uintptr_t key_of(gm_special *r) {
    return atomic_load_explicit(&r->key, memory_order_relaxed);
}

/* The list of s, created if create (caller holds s->specials_lock). */
static gm_special_list *list_get(gm_span *s, bool create) {
    gm_special_list *l = s->specials;
    if (l || !create)
        return l;
    l = hdr_alloc();
    l->span = s;
    reg_add(l);
    /* Atomic: sweeping reads it without the lock. */
    __atomic_store_n(&s->specials, l, __ATOMIC_RELEASE);
    return l;
}

/* Drops l from s once it is empty (caller holds s->specials_lock, or the
 * world is stopped). */
static void list_release_if_empty(gm_span *s, gm_special_list *l) {
    if (l->first)
        return;
    __atomic_store_n(&s->specials, NULL, __ATOMIC_RELEASE);
    reg_remove(l);
    hdr_release(l);
}

static void list_count(gm_special_list *l, gm_special *r, int d) {
    if (r->kind == SP_FINALIZER) {
        l->nfin += (uint32_t)d;
        if (r->mode == GM_FIN_NO_ORDER)
            l->nnoorder += (uint32_t)d;
    }
    if ((r->kind == SP_FINALIZER || r->kind == SP_CLEANUP) && r->arg)
        l->nargs += (uint32_t)d;
    if (r->kind == SP_LINK)
        l->nlinks += (uint32_t)d;
}

/* Inserts r by key, after the records with the same key. */
static void list_insert(gm_special_list *l, gm_special *r) {
    uintptr_t k = key_of(r);
    list_count(l, r, 1);
    r->next = NULL;
    if (!l->first) {
        l->first = l->last = r;
        return;
    }
    if (key_of(l->last) <= k) {
        l->last->next = r;
        l->last = r;
        return;
    }
    gm_special **pp = &l->first;
    while (key_of(*pp) <= k)
        pp = &(*pp)->next;
    r->next = *pp;
    *pp = r;
}

static void list_unlink(gm_special_list *l, gm_special *prev, gm_special *r) {
    list_count(l, r, -1);
    if (prev)
        prev->next = r->next;
    else
        l->first = r->next;
    if (l->last == r)
        l->last = prev;
    r->next = NULL;
}

/* The first record of kind with key k, and the one before it. */
static gm_special *list_find(gm_special_list *l, uintptr_t k, uint8_t kind, gm_special **prev_out) {
    if (!l || !l->first || key_of(l->last) < k)
        return NULL;
    gm_special *prev = NULL;
    for (gm_special *r = l->first; r && key_of(r) <= k; prev = r, r = r->next) {
        if (key_of(r) == k && r->kind == kind) {
            if (prev_out)
                *prev_out = prev;
            return r;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ the objects */

/* The in-use span holding an allocated object at p, and the object's slot
 * and start; NULL if p is in none. */
static gm_span *object_at(uintptr_t p, uintptr_t *idx_out, uintptr_t *base_out) {
    gm_span *s = gm_span_of(p);
    if (!s)
        return NULL;
    uintptr_t idx = gm_span_index(s, p);
    if (idx >= s->nelems || !gm_span_allocated(s, idx))
        return NULL;
    *idx_out = idx;
    *base_out = s->base + idx * s->elemsize;
    return s;
}

GM_INLINE uintptr_t slot_of(gm_span *s, uintptr_t key) {
    return gm_span_index(s, key);
}

static void weak_clear(gm_special *r) {
    struct gm_weak *w = r->arg;
    if (w)
        atomic_store_explicit(&w->obj, 0, memory_order_release);
}

/* ------------------------------------------------------------------ queue */

static gm_mutex q_lock = GM_MUTEX_INIT;
static gm_special *q_head, *q_tail;
static _Atomic uint64_t q_len;
static gm_note fin_note;

static _Atomic uint64_t n_fin_queued, n_fin_run, n_cln_queued, n_cln_run;

/* Counts of one step B, added to the shared counters once at its end. */
typedef struct queue_counts {
    uint64_t fin, cln;
} queue_counts;

/* World stopped. */
static void queue_push(gm_special *r, queue_counts *c) {
    atomic_store_explicit(&r->state, ST_QUEUED, memory_order_relaxed);
    r->next = NULL;
    if (q_tail)
        q_tail->next = r;
    else
        q_head = r;
    q_tail = r;
    if (r->kind == SP_FINALIZER)
        c->fin++;
    else
        c->cln++;
}

/* What a popped record runs: on the runner's stack (scanned), so what it
 * points to stays alive after the record is freed. */
typedef struct job {
    special_fn fn;
    void *obj;
    void *arg;
    uint8_t kind;
    bool cancelled;
} job;

#define RUN_BATCH 32

/* Pops up to max queued records (at most RUN_BATCH) and runs them on this
 * thread.  Returns how many it popped (0: the queue was empty); *ran
 * counts those that ran (cancelled cleanups do not). */
GM_NOINLINE static unsigned run_batch(uint64_t max, int *ran) {
    job jobs[RUN_BATCH];
    unsigned n = 0;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    gm_mutex_lock(&q_lock);
    gm_special *first = q_head, *last = NULL;
    for (gm_special *r = first; r && n < RUN_BATCH && n < max; r = r->next, n++) {
        __builtin_prefetch(r->next, 1);
        job *j = &jobs[n];
        j->kind = r->kind;
        j->fn = r->fn;
        j->obj = (void *)key_of(r);
        j->arg = r->arg;
        j->cancelled = atomic_load_explicit(&r->state, memory_order_relaxed) == ST_CANCELLED;
        atomic_store_explicit(&r->state, ST_RUNNING, memory_order_relaxed);
        last = r;
    }
    if (n) {
        q_head = last->next;
        if (!q_head)
            q_tail = NULL;
        atomic_fetch_sub_explicit(&q_len, n, memory_order_relaxed);
    }
    gm_mutex_unlock(&q_lock);
    if (n) {
        for (gm_special *r = first;; r = r->next) {
            rec_reset(r);
            if (r == last)
                break;
        }
        last->next = NULL;
        rec_give(first);
    }
    /* From here the jobs' inputs are on this stack: roots. */
    gm_nostop_exit(t);
    for (unsigned i = 0; i < n; i++) {
        job *j = &jobs[i];
        if (j->cancelled) {
            /* nothing */
        } else if (j->kind == SP_FINALIZER) {
            j->fn.fin(j->obj, j->arg);
            atomic_fetch_add_explicit(&n_fin_run, 1, memory_order_relaxed);
            (*ran)++;
        } else {
            j->fn.cln(j->arg);
            atomic_fetch_add_explicit(&n_cln_run, 1, memory_order_relaxed);
            (*ran)++;
        }
        /* Done with it: do not keep it alive from this frame. */
        ((volatile job *)j)->obj = NULL;
        ((volatile job *)j)->arg = NULL;
    }
    return n;
}

GM_API int gm_run_finalizers(void) {
    gm_ensure_init();
    uint64_t budget = atomic_load_explicit(&q_len, memory_order_acquire);
    int ran = 0;
    while (budget) {
        unsigned n = run_batch(budget, &ran);
        if (!n)
            break;
        budget -= n;
    }
    return ran;
}

/* ------------------------------------------------------- finalizer thread */

static gm_mutex fin_start_lock = GM_MUTEX_INIT;
static _Atomic bool fin_started;
static bool fin_atfork;

/* Overwrites the stack below the caller, where run_one's frames left the
 * last objects' addresses. */
GM_NOINLINE static void scrub_stack(void) {
    volatile char buf[4096];
    memset((char *)buf, 0, sizeof buf);
    __asm__ __volatile__("" : : "r"(buf) : "memory");
}

GM_NOINLINE static void run_all(void) {
    int ran = 0;
    while (run_batch(UINT64_MAX, &ran))
        ;
}

static void *wait_for_work(void *arg) {
    gm_note_wait(&fin_note, *(uint32_t *)arg, -1);
    return NULL;
}

static void *finalizer_main(void *arg) {
    (void)arg;
    gm_thread_register();
    for (;;) {
        uint32_t seen = gm_note_seq(&fin_note);
        if (atomic_load_explicit(&q_len, memory_order_acquire)) {
            run_all();
            scrub_stack();
            continue;
        }
        gm_blocking(wait_for_work, &seen);
    }
    return NULL;
}

static void fin_fork_child(void) {
    /* The finalizer thread is gone from the child; the next gm_set_finalizer
     * or gm_add_cleanup starts another. */
    atomic_store(&fin_started, false);
    fin_start_lock = (gm_mutex)GM_MUTEX_INIT;
}

static void start_finalizer_thread(void) {
    if (atomic_load_explicit(&fin_started, memory_order_acquire))
        return;
    gm_mutex_lock(&fin_start_lock);
    if (!atomic_load_explicit(&fin_started, memory_order_relaxed)) {
        if (!fin_atfork) {
            pthread_atfork(NULL, NULL, fin_fork_child);
            fin_atfork = true;
        }
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int err = pthread_create(&th, &attr, finalizer_main, NULL);
        pthread_attr_destroy(&attr);
        if (err)
            gm_print("gomem: cannot start the finalizer thread (pthread_create error %d); finalizers "
                     "run only in gm_run_finalizers\n", err);
        atomic_store_explicit(&fin_started, true, memory_order_release);
    }
    gm_mutex_unlock(&fin_start_lock);
}

/* ------------------------------------------------------- collector hooks */

static bool pending_work(gm_gcwork *w) {
    return w->buf && w->buf->n > 0;
}

/* Drains now on this thread (arg check), keeping the accounting in w. */
static void drain_now(gm_gcwork *w) {
    uint64_t b, o;
    gm_mark_drain_parallel(1, &b, &o);
    w->marked_bytes += b;
    w->marked_objects += o;
}

GM_INLINE bool slot_marked(gm_span *s, uintptr_t idx) {
    return gm_span_marked(s, idx);
}

/* Drops the lists whose span went away without telling us (a large object
 * released by gm_free before gm_free called gm_specials_free). */
static void reg_validate(void) {
    gm_special_list *l = reg_head, *next;
    for (; l; l = next) {
        next = l->reg_next;
        gm_span *s = l->span;
        if (s->specials == l && atomic_load_explicit(&s->state, memory_order_acquire) == GM_SPAN_INUSE)
            continue;
        for (gm_special *r = l->first, *rn; r; r = rn) {
            rn = r->next;
            if (r->kind == SP_WEAK)
                weak_clear(r);
            rec_free_one(r);
        }
        l->first = l->last = NULL;
        reg_remove(l);
        hdr_release(l);
    }
}

static void check_args(gm_gcwork *w) {
    for (gm_special_list *l = reg_head; l; l = l->reg_next) {
        gm_span *s = l->span;
        for (gm_special *r = l->first; l->nargs && r; r = r->next) {
            if ((r->kind != SP_FINALIZER && r->kind != SP_CLEANUP) || !r->arg)
                continue;
            uintptr_t idx = slot_of(s, key_of(r));
            if (slot_marked(s, idx) || gm_bit(s->free_bits, idx))
                continue;
            if (gm_mark_value(w, (uintptr_t)r->arg))
                drain_now(w);
            if (slot_marked(s, idx))
                gm_fatal("%s of object %p: its argument %p reaches the object, which therefore never "
                         "becomes unreachable (found by GOMEM_DEBUG=cleanupcheck=1)",
                         r->kind == SP_CLEANUP ? "cleanup" : "finalizer", (void *)key_of(r), r->arg);
        }
    }
}

/* Marks what [base, base+size) points to, except the object itself. */
GM_NO_SANITIZE static void scan_ignoring_self(gm_gcwork *w, uintptr_t base, uintptr_t size) {
    for (uintptr_t p = base; p + sizeof(uintptr_t) <= base + size; p += sizeof(uintptr_t)) {
        uintptr_t v = *(const uintptr_t *)p;
        if (gm_heap_range_contains(v) && (v < base || v >= base + size))
            gm_mark_value(w, v);
    }
}

/* Steps A and B (one walk): the roots specials own, and the bodies of the
 * finalizable objects still unmarked, queued as ranges so that the
 * parallel drain scans them (an object's own mark is not set by scanning
 * its body).  pending notes which finalizable objects were unmarked here:
 * NO_ORDER finalizers are queued for those even if a body marks them. */
static bool mark_special_roots(gm_gcwork *w) {
    reg_validate();
    if (gm_cfg.cleanupcheck) /* GOMEM_DEBUG=cleanupcheck=1 */
        check_args(w);
    for (gm_special_list *l = reg_head; l; l = l->reg_next) {
        if (!l->nargs && !l->nfin)
            continue;
        gm_span *s = l->span;
        bool scan = !gm_spanclass_noscan(s->spanclass);
        uintptr_t last_base = 0;
        for (gm_special *r = l->first; r; r = r->next) {
            __builtin_prefetch(r->next);
            if (r->kind != SP_FINALIZER && r->kind != SP_CLEANUP)
                continue;
            if (r->arg)
                gm_mark_value(w, (uintptr_t)r->arg);
            if (r->kind != SP_FINALIZER)
                continue;
            uintptr_t idx = slot_of(s, key_of(r));
            r->pending = !slot_marked(s, idx) && !gm_bit(s->free_bits, idx);
            uintptr_t base = s->base + idx * s->elemsize;
            if (!r->pending || !scan || base == last_base)
                continue;
            last_base = base;
            if (r->mode == GM_FIN_IGNORE_SELF)
                scan_ignoring_self(w, base, s->elemsize);
            else
                gm_gcwork_push(w, base, base + s->elemsize);
        }
    }
    for (gm_special *r = q_head; r; r = r->next) {
        if (atomic_load_explicit(&r->state, memory_order_relaxed) != ST_QUEUED)
            continue;
        if (r->kind == SP_FINALIZER)
            gm_mark_value(w, key_of(r));
        if (r->arg)
            gm_mark_value(w, (uintptr_t)r->arg);
    }
    return pending_work(w);
}

/* Marks slot idx of s, which step B resurrects, without scanning it again:
 * its body was queued by step A and drained. */
static void mark_slot(gm_gcwork *w, gm_span *s, uintptr_t idx) {
    if (gm_span_marked(s, idx))
        return;
    atomic_store_explicit(&s->mark_bytes[idx], 1, memory_order_relaxed);
    w->marked_bytes += s->elemsize;
    w->marked_objects++;
}

/* Step B for one span's list. */
static void decide_span(gm_gcwork *w, gm_span *s, gm_special_list *l, queue_counts *c) {
    gm_special *prev = NULL, *r = l->first;
    while (r) {
        __builtin_prefetch(r->next, 1);
        uintptr_t idx = slot_of(s, key_of(r));
        gm_special *end = r->next;
        while (end && slot_of(s, key_of(end)) == idx)
            end = end->next;
        bool marked = slot_marked(s, idx);
        bool freed = gm_bit(s->free_bits, idx);
        bool fin = false;
        if (!freed)
            for (gm_special *q = r; q != end; q = q->next)
                if (q->kind == SP_FINALIZER && (!marked || (q->mode == GM_FIN_NO_ORDER && q->pending)))
                    fin = true;
        gm_special *next;
        for (gm_special *q = r; q != end; q = next) {
            next = q->next;
            bool queue = false, drop = false;
            if (freed) {
                drop = true;
            } else if (q->kind == SP_WEAK) {
                if (fin || !marked)
                    drop = true;
                else
                    gm_mark_value(w, (uintptr_t)q->arg); /* the handle: noscan */
            } else if (q->kind == SP_LINK) {
                /* short: cleared with the weak handles; long: when the
                 * object is freed (not while a finalizer keeps it) */
                if (q->mode == LINK_SHORT ? (fin || !marked) : (!marked && !fin)) {
                    *(void *volatile *)q->arg = NULL;
                    drop = true;
                }
            } else if (q->kind == SP_FINALIZER) {
                queue = !marked || (q->mode == GM_FIN_NO_ORDER && q->pending);
            } else { /* cleanup */
                queue = !marked && !fin;
            }
            q->pending = 0;
            if (!queue && !drop) {
                prev = q;
                continue;
            }
            list_unlink(l, prev, q);
            if (drop) {
                if (q->kind == SP_WEAK)
                    weak_clear(q);
                rec_free_one(q);
            } else {
                queue_push(q, c);
            }
        }
        if (fin && !marked)
            mark_slot(w, s, idx); /* resurrected */
        r = end;
    }
}

/* Forgets the disappearing links that lie in objects found unreachable
 * (before any is resurrected, as bdwgc does): nothing will read them. */
static void drop_dangling_links(void) {
    for (gm_special_list *l = reg_head; l; l = l->reg_next) {
        if (!l->nlinks)
            continue;
        gm_special *prev = NULL, *next;
        for (gm_special *r = l->first; r; r = next) {
            next = r->next;
            if (r->kind == SP_LINK && !gm_is_marked((uintptr_t)r->arg)) {
                list_unlink(l, prev, r);
                rec_free_one(r);
                continue;
            }
            prev = r;
        }
    }
}

/* Step B. */
static bool decide(gm_gcwork *w) {
    drop_dangling_links();
    gm_special_list *l = reg_head, *next;
    queue_counts c = {0, 0};
    for (; l; l = next) {
        next = l->reg_next;
        decide_span(w, l->span, l, &c);
        list_release_if_empty(l->span, l);
    }
    atomic_fetch_add_explicit(&n_fin_queued, c.fin, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_cln_queued, c.cln, memory_order_relaxed);
    atomic_fetch_add_explicit(&q_len, c.fin + c.cln, memory_order_release);
    return pending_work(w);
}

static int after_mark_step;

/* Each step returns true if it left work queued; the collector also drains
 * after a step that marked anything, so that the drain's sum of marked
 * bytes (heap_live) includes what the step marked. */
bool gm_specials_after_mark(gm_gcwork *w) {
    for (;;) {
        uint64_t before = w->marked_objects;
        bool more;
        switch (after_mark_step++) {
        case 0:
            more = mark_special_roots(w);
            break;
        case 1:
            more = decide(w);
            break;
        default:
            after_mark_step = 0;
            return false;
        }
        if (more || w->marked_objects != before)
            return true;
    }
}

void gm_specials_after_cycle(void) {
    if (atomic_load_explicit(&q_len, memory_order_acquire))
        gm_note_notify_all(&fin_note);
}

void gm_specials_sweep(gm_span *s) {
    specials_lock(s);
    gm_special_list *l = s->specials;
    if (!l) {
        specials_unlock(s);
        return;
    }
    gm_special *prev = NULL, *next;
    for (gm_special *r = l->first; r; r = next) {
        next = r->next;
        uintptr_t idx = slot_of(s, key_of(r));
        if (slot_marked(s, idx) && !gm_bit(s->free_bits, idx)) {
            prev = r;
            continue;
        }
        /* Not marked: only an object released by gm_free gets here (step B
         * saw every other), so its specials go without running. */
        list_unlink(l, prev, r);
        if (r->kind == SP_WEAK)
            weak_clear(r);
        rec_free_one(r);
    }
    list_release_if_empty(s, l);
    specials_unlock(s);
}

void gm_specials_counts(uint64_t *fq, uint64_t *fr, uint64_t *cq, uint64_t *cr) {
    *fq = atomic_load_explicit(&n_fin_queued, memory_order_relaxed);
    *fr = atomic_load_explicit(&n_fin_run, memory_order_relaxed);
    *cq = atomic_load_explicit(&n_cln_queued, memory_order_relaxed);
    *cr = atomic_load_explicit(&n_cln_run, memory_order_relaxed);
}

/* Called by gm_free (in its no-stop region) before it releases the object
 * that starts at base in s: its specials go without running. */
void gm_specials_free(gm_span *s, uintptr_t base) {
    specials_lock(s);
    gm_special_list *l = s->specials;
    if (l) {
        gm_special *prev = NULL, *next;
        for (gm_special *r = l->first; r; r = next) {
            next = r->next;
            uintptr_t k = key_of(r);
            if (k < base || k >= base + s->elemsize) {
                prev = r;
                continue;
            }
            list_unlink(l, prev, r);
            if (r->kind == SP_WEAK)
                weak_clear(r);
            rec_free_one(r);
        }
        list_release_if_empty(s, l);
    }
    specials_unlock(s);
}

/* ------------------------------------------------------------- finalizers */

void gm_specials_set_finalizer(void *obj, gm_finalizer_fn fn, void *arg, int mode, gm_finalizer_fn *old_fn,
                               void **old_arg) {
    gm_ensure_init();
    if (old_fn)
        *old_fn = NULL;
    if (old_arg)
        *old_arg = NULL;
    uintptr_t p = (uintptr_t)obj, idx, base;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    gm_span *s = object_at(p, &idx, &base);
    if (!s) {
        gm_nostop_exit(t);
        gm_fatal("gm_set_finalizer(%p): pointer is not in an allocated heap object", obj);
    }
    if (base != p && s->spanclass != GM_TINY_SPANCLASS) {
        gm_nostop_exit(t);
        gm_fatal("gm_set_finalizer(%p): pointer is %zu bytes into the %zu-byte object at %p, not its start",
                 obj, (size_t)(p - base), (size_t)s->elemsize, (void *)base);
    }
    gm_special *fresh = fn ? rec_alloc() : NULL;
    specials_lock(s);
    gm_special_list *l = s->specials;
    gm_special *prev = NULL;
    gm_special *r = list_find(l, p, SP_FINALIZER, &prev);
    if (r) {
        if (old_fn)
            *old_fn = r->fn.fin;
        if (old_arg)
            *old_arg = r->arg;
        if (fn) {
            list_count(l, r, -1);
            r->fn.fin = fn;
            r->arg = arg;
            r->mode = (uint8_t)mode;
            list_count(l, r, 1);
        } else {
            list_unlink(l, prev, r);
            rec_free_one(r);
            list_release_if_empty(s, l);
        }
    } else if (fn) {
        fresh->kind = SP_FINALIZER;
        fresh->mode = (uint8_t)mode;
        fresh->fn.fin = fn;
        fresh->arg = arg;
        atomic_store_explicit(&fresh->key, p, memory_order_relaxed);
        atomic_store_explicit(&fresh->state, ST_LINKED, memory_order_relaxed);
        list_insert(list_get(s, true), fresh);
        fresh = NULL;
    }
    specials_unlock(s);
    if (fresh)
        rec_free_one(fresh);
    gm_nostop_exit(t);
    if (fn)
        start_finalizer_thread();
    gm_keep_alive(obj);
    gm_keep_alive(arg);
}

GM_API void gm_set_finalizer(void *obj, gm_finalizer_fn fn, void *arg) {
    gm_specials_set_finalizer(obj, fn, arg, GM_FIN_ORDERED, NULL, NULL);
}

/* --------------------------------------------------------------- cleanups */

static _Atomic uint64_t next_cleanup_id = 1;

GM_API uint64_t gm_add_cleanup(void *obj, gm_cleanup_fn fn, void *arg) {
    gm_ensure_init();
    uintptr_t p = (uintptr_t)obj, idx, base;
    if (!fn)
        return 0;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    gm_span *s = object_at(p, &idx, &base);
    if (!s) {
        gm_nostop_exit(t);
        return 0;
    }
    uintptr_t a = (uintptr_t)arg;
    if (a >= base && a < base + s->elemsize && s->spanclass != GM_TINY_SPANCLASS) {
        gm_nostop_exit(t);
        gm_fatal("gm_add_cleanup(%p): arg %p points into the object, which would never be collected", obj, arg);
    }
    uint64_t id;
    do
        id = atomic_fetch_add_explicit(&next_cleanup_id, 1, memory_order_relaxed);
    while ((uint32_t)id == 0);
    gm_special *r = rec_alloc();
    r->kind = SP_CLEANUP;
    r->fn.cln = fn;
    r->arg = arg;
    atomic_store_explicit(&r->key, p, memory_order_relaxed);
    atomic_store_explicit(&r->id, id, memory_order_relaxed);
    atomic_store_explicit(&r->state, ST_LINKED, memory_order_relaxed);
    specials_lock(s);
    list_insert(list_get(s, true), r);
    specials_unlock(s);
    uint64_t handle = ((uint64_t)r->slot + 1) << 32 | (uint32_t)id;
    gm_nostop_exit(t);
    start_finalizer_thread();
    gm_keep_alive(obj);
    gm_keep_alive(arg);
    return handle;
}

GM_API bool gm_cleanup_stop(uint64_t handle) {
    if (!handle || (handle >> 32) == 0)
        return false;
    gm_ensure_init();
    gm_special *r = rec_at((handle >> 32) - 1);
    if (!r)
        return false;
    uint32_t low = (uint32_t)handle;
    bool stopped = false;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    uint8_t st = atomic_load_explicit(&r->state, memory_order_acquire);
    if (st == ST_LINKED) {
        uintptr_t k = key_of(r);
        gm_span *s = gm_span_of(k);
        if (s) {
            specials_lock(s);
            /* Still the same cleanup, still in this span's list? */
            if ((uint32_t)atomic_load_explicit(&r->id, memory_order_relaxed) == low &&
                r->kind == SP_CLEANUP && key_of(r) == k &&
                atomic_load_explicit(&r->state, memory_order_relaxed) == ST_LINKED) {
                gm_special_list *l = s->specials;
                gm_special *prev = NULL, *q = l ? l->first : NULL;
                while (q && q != r && key_of(q) <= k) {
                    prev = q;
                    q = q->next;
                }
                if (q == r) {
                    list_unlink(l, prev, r);
                    rec_free_one(r);
                    list_release_if_empty(s, l);
                    stopped = true;
                }
            }
            specials_unlock(s);
        }
    } else if (st == ST_QUEUED) {
        gm_mutex_lock(&q_lock);
        if ((uint32_t)atomic_load_explicit(&r->id, memory_order_relaxed) == low && r->kind == SP_CLEANUP &&
            atomic_load_explicit(&r->state, memory_order_relaxed) == ST_QUEUED) {
            atomic_store_explicit(&r->state, ST_CANCELLED, memory_order_relaxed);
            r->arg = NULL; /* nothing to keep alive for it */
            stopped = true;
        }
        gm_mutex_unlock(&q_lock);
    }
    gm_nostop_exit(t);
    return stopped;
}

/* ------------------------------------------------------------ weak handles */

static gm_weak *weak_lookup(uintptr_t p, bool *is_heap, gm_weak *fresh) {
    uintptr_t idx, base;
    gm_weak *h = NULL;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    gm_span *s = object_at(p, &idx, &base);
    *is_heap = s != NULL;
    if (s) {
        uintptr_t k = s->spanclass == GM_TINY_SPANCLASS ? p : base;
        gm_special *rec = fresh ? rec_alloc() : NULL;
        specials_lock(s);
        gm_special *r = list_find(s->specials, k, SP_WEAK, NULL);
        if (r) {
            h = r->arg;
        } else if (fresh) {
            atomic_store_explicit(&fresh->obj, k, memory_order_release);
            rec->kind = SP_WEAK;
            rec->arg = fresh;
            atomic_store_explicit(&rec->key, k, memory_order_relaxed);
            atomic_store_explicit(&rec->state, ST_LINKED, memory_order_relaxed);
            list_insert(list_get(s, true), rec);
            rec = NULL;
            h = fresh;
        }
        specials_unlock(s);
        if (rec)
            rec_free_one(rec);
    }
    gm_nostop_exit(t);
    return h;
}

GM_API gm_weak *gm_weak_make(const void *obj) {
    gm_ensure_init();
    bool is_heap;
    gm_weak *h = weak_lookup((uintptr_t)obj, &is_heap, NULL);
    if (!h && is_heap) {
        gm_weak *fresh = gm_alloc_noscan(sizeof(gm_weak));
        if (!fresh)
            return NULL;
        h = weak_lookup((uintptr_t)obj, &is_heap, fresh);
    }
    gm_keep_alive(obj);
    return h;
}

GM_API void *gm_weak_get(gm_weak *w) {
    if (!w)
        return NULL;
    return (void *)atomic_load_explicit(&w->obj, memory_order_acquire);
}

/* ------------------------------------------------------ disappearing links */

/* bdwgc's disappearing links, for its drop-in layer: *link is set to NULL
 * by the collection that finds obj unreachable, a short link (bdwgc's
 * GC_general_register_disappearing_link) when weak handles are cleared,
 * before obj's finalizer runs; a long link (GC_register_long_link) only
 * once obj is freed, not while a finalizer keeps it.  A link that lies in
 * an object found unreachable is forgotten, and so are the links of an
 * object released with gm_free.  obj may be an interior pointer; links are
 * kept per object.  Returns 0, 1 if link was already registered for obj,
 * 2 if obj is not a heap object. */
int gm_specials_add_link(void **link, const void *obj, bool long_link) {
    gm_ensure_init();
    uintptr_t idx, base;
    int rc = 0;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    gm_span *s = object_at((uintptr_t)obj, &idx, &base);
    if (!s) {
        gm_nostop_exit(t);
        return 2;
    }
    gm_special *fresh = rec_alloc();
    specials_lock(s);
    gm_special_list *l = s->specials;
    uint8_t mode = long_link ? LINK_LONG : LINK_SHORT;
    for (gm_special *r = l ? l->first : NULL; r && key_of(r) <= base; r = r->next)
        if (key_of(r) == base && r->kind == SP_LINK && r->arg == (void *)link && r->mode == mode)
            rc = 1;
    if (rc == 0) {
        fresh->kind = SP_LINK;
        fresh->mode = mode;
        fresh->arg = link;
        atomic_store_explicit(&fresh->key, base, memory_order_relaxed);
        atomic_store_explicit(&fresh->state, ST_LINKED, memory_order_relaxed);
        list_insert(list_get(s, true), fresh);
        fresh = NULL;
    }
    specials_unlock(s);
    if (fresh)
        rec_free_one(fresh);
    gm_nostop_exit(t);
    gm_keep_alive(obj);
    return rc;
}

/* Unregisters a link added for obj; false if there was none. */
bool gm_specials_remove_link(void **link, const void *obj, bool long_link) {
    gm_ensure_init();
    uintptr_t idx, base;
    bool removed = false;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    gm_span *s = object_at((uintptr_t)obj, &idx, &base);
    if (s) {
        specials_lock(s);
        gm_special_list *l = s->specials;
        uint8_t mode = long_link ? LINK_LONG : LINK_SHORT;
        gm_special *prev = NULL;
        for (gm_special *r = l ? l->first : NULL; r && key_of(r) <= base; prev = r, r = r->next) {
            if (key_of(r) == base && r->kind == SP_LINK && r->arg == (void *)link && r->mode == mode) {
                list_unlink(l, prev, r);
                rec_free_one(r);
                list_release_if_empty(s, l);
                removed = true;
                break;
            }
        }
        specials_unlock(s);
    }
    gm_nostop_exit(t);
    gm_keep_alive(obj);
    return removed;
}

/* fork (cycle.c): the file's own locks, taken after the gate is empty. */
void gm_specials_fork_lock(void) {
    gm_mutex_lock(&fin_start_lock);
    gm_mutex_lock(&reg_lock);
    gm_mutex_lock(&q_lock);
    gm_mutex_lock(&hdr_lock);
    gm_mutex_lock(&rec_lock);
}

void gm_specials_fork_unlock(void) {
    gm_mutex_unlock(&rec_lock);
    gm_mutex_unlock(&hdr_lock);
    gm_mutex_unlock(&q_lock);
    gm_mutex_unlock(&reg_lock);
    gm_mutex_unlock(&fin_start_lock);
}
