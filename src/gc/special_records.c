/*
 * special_records.c - the records of specials: pools, per-span lists and
 * the registry of lists (see specials.h for what a special is, the lists'
 * order and the locking rules).
 *
 * Pools.  Records come from 256 KiB chunks of gm_os_alloc memory, cut into
 * chains of REC_STASH; the global free list is a stack of chains (records
 * linked through next, the chains through their first record's arg), so
 * that taking or giving a batch is O(1) under the lock and never walks
 * records whose cache lines are cold.  Each thread keeps one chain as its
 * stash, so attaching specials to many objects takes the lock once per
 * REC_STASH records; a thread's stash goes back when it exits.  A record's
 * pool slot is fixed, so a cleanup handle can name it (cleanup.c).
 *
 * Lists.  Sorted by key, records of one object contiguous; the header
 * counts what the collector's steps look for.  Headers come from a pool of
 * their own and are on the registry while their list holds a record.
 */
#include <pthread.h>
#include <string.h>

#include "gc/specials.h"

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
static gm_bump hdrs;

static void *pool_chunk(void) {
    void *p = gm_os_alloc(POOL_CHUNK);
    if (!p)
        gm_fatal("out of memory for finalizer and weak pointer records (%zu bytes)", (size_t)POOL_CHUNK);
    atomic_fetch_add_explicit(&gm_heap.meta, POOL_CHUNK, memory_order_relaxed);
    return p;
}

/* A new chunk is cut into chains of REC_STASH (see the file's comment). */
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
void gm_special_release_chain(gm_special *first) {
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
        gm_special_release_chain(rec_stash);
    rec_stash = NULL;
}

static void rec_stash_init(void) {
    pthread_key_create(&rec_stash_key, rec_stash_exit);
}

/* A zeroed record (slot kept).  Inside a no-stop region. */
gm_special *gm_special_alloc(void) {
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

void gm_special_reset(gm_special *r) {
    atomic_store_explicit(&r->id, 0, memory_order_relaxed);
    atomic_store_explicit(&r->state, GM_SPST_FREE, memory_order_relaxed);
    atomic_store_explicit(&r->key, 0, memory_order_relaxed);
    r->arg = NULL;
    r->fn.fin = NULL;
}

void gm_special_release(gm_special *r) {
    gm_special_reset(r);
    r->next = NULL;
    gm_special_release_chain(r);
}

gm_special *gm_special_at(uint64_t slot) {
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
        h = gm_bump_take(&hdrs, sizeof *h);
        if (!h) {
            gm_bump_reset(&hdrs, pool_chunk(), POOL_CHUNK);
            h = gm_bump_take(&hdrs, sizeof *h);
        }
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
gm_special_list *gm_specials_registry;

static void reg_add(gm_special_list *h) {
    gm_mutex_lock(&reg_lock);
    h->reg_prev = NULL;
    h->reg_next = gm_specials_registry;
    if (gm_specials_registry)
        gm_specials_registry->reg_prev = h;
    gm_specials_registry = h;
    gm_mutex_unlock(&reg_lock);
}

static void reg_remove(gm_special_list *h) {
    gm_mutex_lock(&reg_lock);
    if (h->reg_prev)
        h->reg_prev->reg_next = h->reg_next;
    else
        gm_specials_registry = h->reg_next;
    if (h->reg_next)
        h->reg_next->reg_prev = h->reg_prev;
    gm_mutex_unlock(&reg_lock);
}

static gm_special_list_ref *snap;
static size_t snap_cap;

size_t gm_special_registry_snapshot(gm_special_list_ref **out) {
    for (;;) {
        gm_mutex_lock(&reg_lock);
        size_t n = 0;
        for (gm_special_list *l = gm_specials_registry; l; l = l->reg_next)
            n++;
        if (n <= snap_cap) {
            size_t i = 0;
            for (gm_special_list *l = gm_specials_registry; l; l = l->reg_next, i++)
                snap[i] = (gm_special_list_ref){l, l->span};
            gm_mutex_unlock(&reg_lock);
            *out = snap;
            return n;
        }
        gm_mutex_unlock(&reg_lock);
        /* Room for twice as many, so a registry growing meanwhile rarely
         * sends us round again; out of memory, the final stop does it all. */
        if (!gm_os_grow((void **)&snap, &snap_cap, 0, sizeof *snap, n * 2, 1024, &gm_heap.meta)) {
            *out = snap;
            return 0;
        }
    }
}

/* ------------------------------------------------------------------ lists */

/* A span's specials lock, taken inside the fork gate (forkgate.c). */
void gm_specials_lock(gm_span *s) {
    gm_forkgate_enter();
    gm_mutex_lock(&s->specials_lock);
}

void gm_specials_unlock(gm_span *s) {
    gm_mutex_unlock(&s->specials_lock);
    gm_forkgate_exit();
}

/* The list of s, created if create (caller holds s->specials_lock). */
gm_special_list *gm_special_list_get(gm_span *s, bool create) {
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
void gm_special_list_release_if_empty(gm_span *s, gm_special_list *l) {
    if (l->first)
        return;
    __atomic_store_n(&s->specials, NULL, __ATOMIC_RELEASE);
    reg_remove(l);
    hdr_release(l);
}

void gm_special_list_count(gm_special_list *l, gm_special *r, int d) {
    l->clean_gen = 0; /* changed: the final stop looks at it again */
    if (r->kind == GM_SP_FINALIZER) {
        l->nfin += (uint32_t)d;
        if (r->mode == GM_FIN_NO_ORDER)
            l->nnoorder += (uint32_t)d;
    }
    if ((r->kind == GM_SP_FINALIZER || r->kind == GM_SP_CLEANUP) && r->arg)
        l->nargs += (uint32_t)d;
    if (r->kind == GM_SP_LINK)
        l->nlinks += (uint32_t)d;
}

/* Inserts r by key, after the records with the same key. */
void gm_special_list_insert(gm_special_list *l, gm_special *r) {
    uintptr_t k = gm_special_key(r);
    gm_special_list_count(l, r, 1);
    r->next = NULL;
    if (!l->first) {
        l->first = l->last = r;
        return;
    }
    if (gm_special_key(l->last) <= k) {
        l->last->next = r;
        l->last = r;
        return;
    }
    gm_special **pp = &l->first;
    while (gm_special_key(*pp) <= k)
        pp = &(*pp)->next;
    r->next = *pp;
    *pp = r;
    GM_ASSERT(r->next && gm_special_key(r) < gm_special_key(r->next)); /* kept in key order */
}

void gm_special_list_unlink(gm_special_list *l, gm_special *prev, gm_special *r) {
    GM_ASSERT(prev ? prev->next == r : l->first == r); /* prev is r's predecessor */
    gm_special_list_count(l, r, -1);
    if (prev)
        prev->next = r->next;
    else
        l->first = r->next;
    if (l->last == r)
        l->last = prev;
    r->next = NULL;
}

/* The first record of kind with key k, and the one before it. */
gm_special *gm_special_list_find(gm_special_list *l, uintptr_t k, uint8_t kind, gm_special **prev_out) {
    if (!l || !l->first || gm_special_key(l->last) < k)
        return NULL;
    gm_special *prev = NULL;
    for (gm_special *r = l->first; r && gm_special_key(r) <= k; prev = r, r = r->next) {
        if (gm_special_key(r) == k && r->kind == kind) {
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
gm_span *gm_specials_object_at(uintptr_t p, uintptr_t *idx_out, uintptr_t *base_out) {
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

void gm_special_link(gm_span *s, gm_special *r, uintptr_t key) {
    atomic_store_explicit(&r->key, key, memory_order_relaxed);
    atomic_store_explicit(&r->state, GM_SPST_LINKED, memory_order_relaxed);
    gm_special_list_insert(gm_special_list_get(s, true), r);
}

void gm_special_discard(gm_special *r) {
    if (r->kind == GM_SP_WEAK)
        gm_special_weak_clear(r);
    gm_special_release(r);
}

void gm_special_list_drop(gm_special_list *l, gm_special *prev, gm_special *r) {
    gm_special_list_unlink(l, prev, r);
    gm_special_discard(r);
}

void gm_special_list_discard(gm_special_list *l) {
    reg_remove(l);
    hdr_release(l);
}

void gm_special_list_check(const gm_special_list *l) {
#if GM_ASSERTS
    uint32_t nfin = 0, nnoorder = 0, nargs = 0, nlinks = 0;
    const gm_special *prev = NULL;
    for (const gm_special *r = l->first; r; prev = r, r = r->next) {
        GM_ASSERT(!prev || gm_special_key(prev) <= gm_special_key(r)); /* sorted by key */
        GM_ASSERT(gm_special_key(r) >= l->span->base &&
                  gm_special_key(r) < l->span->base + (l->span->npages << GM_PAGE_SHIFT));
        nfin += r->kind == GM_SP_FINALIZER;
        nnoorder += r->kind == GM_SP_FINALIZER && r->mode == GM_FIN_NO_ORDER;
        nargs += (r->kind == GM_SP_FINALIZER || r->kind == GM_SP_CLEANUP) && r->arg;
        nlinks += r->kind == GM_SP_LINK;
    }
    GM_ASSERT(l->last == prev);
    GM_ASSERT(l->nfin == nfin && l->nnoorder == nnoorder && l->nargs == nargs && l->nlinks == nlinks);
#else
    (void)l;
#endif
}

void gm_special_records_fork_lock(bool lock) {
    if (lock) {
        gm_mutex_lock(&reg_lock);
        gm_mutex_lock(&hdr_lock);
        gm_mutex_lock(&rec_lock);
    } else {
        gm_mutex_unlock(&rec_lock);
        gm_mutex_unlock(&hdr_lock);
        gm_mutex_unlock(&reg_lock);
    }
}
