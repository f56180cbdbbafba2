/*
 * kinds.c - the table of object kinds and allocation of non-ordinary kinds.
 *
 * See kinds.h for what a kind is.  Each kind other than 0 owns one
 * mcentral per size class (allocated when the kind is created, never
 * freed) and one current span per size class, used under the kind's lock.
 * A current span is cached in the mcentral's sense (s->cached): no
 * sweeper touches it; heap_live counts its free slots as allocated while
 * it is current, as an mcache does, and gives back what is left unused
 * when the span is released.  The collector releases every current span
 * with the world stopped (no thread is inside gm_kind_alloc_nostop then:
 * it runs in a no-stop region), so marking and sweeping find every kind
 * span on its mcentral's lists.
 *
 * Kinds are appended and never removed: gm_nkinds only grows, and a kind's
 * record is complete before gm_nkinds counts it (release store).
 */
#include <errno.h>
#include <string.h>

#include "gc/gc_for_heap.h"
#include "heap/kinds.h"

gm_kind gm_kinds[GM_MAX_KINDS];
_Atomic int gm_nkinds = 1;
static gm_mutex create_lock = GM_MUTEX_INIT;

GM_INLINE uint32_t size_class_of(size_t size) {
    if (size <= GM_SMALL_SIZE_MAX - 8)
        return gm_size_to_class8[(size + GM_SMALL_SIZE_DIV - 1) / GM_SMALL_SIZE_DIV];
    return gm_size_to_class128[(size - GM_SMALL_SIZE_MAX + GM_LARGE_SIZE_DIV - 1) / GM_LARGE_SIZE_DIV];
}

int gm_kind_create(uint8_t scan, bool uncollectable, gm_trace_fn trace, void *env) {
    gm_mutex_lock(&create_lock);
    int n = atomic_load_explicit(&gm_nkinds, memory_order_relaxed);
    if (n >= GM_MAX_KINDS) {
        gm_mutex_unlock(&create_lock);
        return -1;
    }
    gm_kind *k = &gm_kinds[n];
    size_t cbytes = GM_NUM_SIZE_CLASSES * sizeof(gm_mcentral);
    size_t sbytes = GM_NUM_SIZE_CLASSES * sizeof(gm_span *);
    k->central = gm_os_alloc(cbytes);
    k->current = gm_os_alloc(sbytes);
    if (!k->central || !k->current)
        gm_fatal("out of memory creating object kind %d (%zu bytes)", n, cbytes + sbytes);
    atomic_fetch_add_explicit(&gm_heap.meta, cbytes + sbytes, memory_order_relaxed);
    bool noscan = scan == GM_KIND_SCAN_NONE;
    for (int i = 0; i < GM_NUM_SIZE_CLASSES; i++) {
        gm_mcentral *c = &k->central[i];
        c->spanclass = gm_spanclass((uint32_t)i, noscan);
        for (int j = 0; j < 2; j++) {
            gm_list_init(&c->partial[j]);
            gm_list_init(&c->full[j]);
        }
    }
    k->scan = scan;
    k->uncollectable = uncollectable;
    k->trace = trace;
    k->env = env;
    atomic_store_explicit(&gm_nkinds, n + 1, memory_order_release);
    gm_mutex_unlock(&create_lock);
    return n;
}

gm_mcentral *gm_kind_home_central(gm_span *s) {
    return &gm_kinds[s->kind].central[gm_spanclass_sizeclass(s->spanclass)];
}

/* The next free slot of a current span, or NULL when it has none left
 * (mcache.c's next_free_slow, for a span allocated under a lock). */
static void *next_slot(gm_span *s) {
    unsigned fi = atomic_load_explicit(&s->freeindex, memory_order_relaxed);
    while (fi < s->nelems) {
        gm_span_refill_cache(s);
        if (s->alloc_cache) {
            unsigned idx = fi + (unsigned)__builtin_ctzll(s->alloc_cache);
            if (idx >= s->nelems)
                break;
            atomic_store_explicit(&s->freeindex, idx + 1, memory_order_relaxed);
            return (void *)(s->base + (uintptr_t)idx * s->elemsize);
        }
        fi = (fi | 63) + 1;
        atomic_store_explicit(&s->freeindex, fi < s->nelems ? fi : s->nelems, memory_order_relaxed);
    }
    atomic_store_explicit(&s->freeindex, s->nelems, memory_order_relaxed);
    s->alloc_cache = 0;
    return NULL;
}

/* Gives a current span back to its mcentral, counting what was allocated
 * from it (kind lock held, or world stopped). */
static void release_current(gm_kind *k, uint32_t sc) {
    gm_span *s = k->current[sc];
    if (!s)
        return;
    k->current[sc] = NULL;
    uint32_t before = s->nalloc;
    gm_span_fold_freeindex(s);
    uint32_t now = gm_span_count_alloc(s);
    uint32_t n = now > before ? now - before : 0;
    atomic_fetch_add_explicit(&gm_hstats.nmalloc, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_hstats.total_alloc, (uint64_t)n * s->elemsize, memory_order_relaxed);
    atomic_fetch_sub_explicit(&gm_hstats.heap_live, (uint64_t)(s->nelems - now) * s->elemsize,
                              memory_order_relaxed);
    gm_mcentral_uncache_span(&k->central[sc], s);
}

static void *alloc_large_kind(int kind, gm_kind *k, size_t size) {
    if (size > (SIZE_MAX >> 1))
        return NULL;
    void *p = gm_alloc_large(size, k->scan == GM_KIND_SCAN_NONE, NULL);
    if (p)
        gm_span_of((uintptr_t)p)->kind = (uint8_t)kind;
    return p;
}

static void *kind_alloc(int kind, size_t size) {
    if (kind <= 0 || kind >= atomic_load_explicit(&gm_nkinds, memory_order_acquire))
        gm_fatal("allocation of object kind %d, which does not exist (kinds 1..%d exist)", kind,
                 atomic_load(&gm_nkinds) - 1);
    gm_kind *k = &gm_kinds[kind];
    if (size > GM_MAX_SMALL_SIZE)
        return alloc_large_kind(kind, k, size);
    if (size == 0)
        size = 1;
    uint32_t sc = size_class_of(size);
    gm_mutex_lock(&k->lock);
    gm_span *s = k->current[sc];
    void *p = s ? next_slot(s) : NULL;
    bool grew = false;
    if (!p) {
        release_current(k, sc);
        s = gm_mcentral_cache_span(&k->central[sc]);
        if (!s) {
            gm_mutex_unlock(&k->lock);
            return NULL;
        }
        s->kind = (uint8_t)kind;
        atomic_fetch_add_explicit(&gm_hstats.heap_live, (uint64_t)(s->nelems - s->nalloc) * s->elemsize,
                                  memory_order_relaxed);
        k->current[sc] = s;
        p = next_slot(s);
        grew = true;
    }
    bool zero = s->needzero;
    size_t n = s->elemsize;
    gm_mutex_unlock(&k->lock);
    if (zero && p)
        memset(p, 0, n);
    if (grew)
        gm_gc_on_heap_growth();
    return p;
}

void *gm_kind_alloc_nostop(int kind, size_t size) {
    void *p = kind_alloc(kind, size);
    /* Allocated black while marking runs, as gm_alloc's objects are: a
     * kind span cached for allocation is not on its mcentral's lists, and
     * marking must not depend on seeing its new slots. */
    if (p && gm_gc_marking()) {
        uint64_t black = 0;
        gm_mark_new_object((uintptr_t)p, &black);
        gm_gc_add_black_bytes(black);
    }
    return p;
}

void gm_kinds_release_cached(void) {
    int n = atomic_load_explicit(&gm_nkinds, memory_order_acquire);
    for (int i = 1; i < n; i++)
        for (uint32_t sc = 1; sc < GM_NUM_SIZE_CLASSES; sc++)
            release_current(&gm_kinds[i], sc);
}

void gm_kinds_for_each_span(void (*fn)(gm_span *, void *), void *ctx) {
    int n = atomic_load_explicit(&gm_nkinds, memory_order_acquire);
    for (int i = 1; i < n; i++) {
        for (uint32_t sc = 1; sc < GM_NUM_SIZE_CLASSES; sc++) {
            gm_mcentral *c = &gm_kinds[i].central[sc];
            gm_span *heads[4] = {&c->partial[0], &c->partial[1], &c->full[0], &c->full[1]};
            for (int h = 0; h < 4; h++)
                for (gm_span *s = heads[h]->next; s != heads[h]; s = s->next)
                    fn(s, ctx);
        }
    }
}

size_t gm_kinds_ncentrals(void) {
    int n = atomic_load_explicit(&gm_nkinds, memory_order_acquire);
    return (size_t)(n - 1) * GM_NUM_SIZE_CLASSES;
}

gm_mcentral *gm_kinds_central(size_t i) {
    return &gm_kinds[1 + i / GM_NUM_SIZE_CLASSES].central[i % GM_NUM_SIZE_CLASSES];
}

int gm_kind_of_addr(uintptr_t p) {
    gm_span *s = gm_span_of(p);
    return s ? s->kind : 0;
}

/* ------------------------------------------------------------ public API */

GM_API int gm_kind_new(unsigned flags, gm_trace_fn trace, void *env) {
    if ((flags & ~(GM_KIND_NOSCAN | GM_KIND_UNCOLLECTABLE)) || ((flags & GM_KIND_NOSCAN) && trace)) {
        errno = EINVAL;
        return -1;
    }
    gm_ensure_init();
    uint8_t scan = trace ? GM_KIND_SCAN_TRACE
                         : (flags & GM_KIND_NOSCAN) ? GM_KIND_SCAN_NONE : GM_KIND_SCAN_CONSERVATIVE;
    int k = gm_kind_create(scan, flags & GM_KIND_UNCOLLECTABLE, trace, env);
    if (k < 0)
        errno = ENOSPC;
    return k;
}

GM_API void *gm_alloc_kind(int kind, size_t size) {
    if (kind == 0)
        return gm_alloc(size);
    gm_ensure_init();
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    void *p = gm_kind_alloc_nostop(kind, size);
    gm_nostop_exit(t);
    if (!p)
        errno = ENOMEM;
    gm_gc_after_alloc();
    return p;
}

GM_API int gm_kind_of(const void *p) {
    if (!gm_base(p))
        return -1;
    return gm_kind_of_addr((uintptr_t)p);
}
