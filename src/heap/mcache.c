/*
 * mcache.c - a thread's own spans, one per span class.
 *
 * The allocation fast path (malloc.c) takes the next free slot of the
 * thread's span with a ctz on its alloc_cache; this file is the slow path
 * behind it: move to the next bitmap word, restart a span whose objects were
 * freed meanwhile, or trade the exhausted span for another from the
 * mcentral.  Byte and object counts are kept per thread and folded into the
 * global counters here, never on the fast path.
 *
 * heap_live is counted as Go does: when a span is cached, all its free slots
 * count as allocated; what is left unallocated is subtracted when the span
 * is given back.
 */
#include "gc/gc_for_heap.h"
#include "heap/heap.h"

gm_span gm_empty_span;

void gm_mcache_init(gm_mcache *mc) {
    for (int i = 0; i < GM_ALL_SPAN_CLASSES; i++)
        mc->alloc[i] = &gm_empty_span;
    mc->tiny = 0;
    mc->tiny_offset = 0;
    gm_sample_init(mc);
}

/* Finds the next free slot at or after freeindex, crossing bitmap words;
 * returns its index or nelems if there is none. */
static unsigned next_free_slow(gm_span *s) {
    unsigned fi = atomic_load_explicit(&s->freeindex, memory_order_relaxed);
    while (fi < s->nelems) {
        gm_span_refill_cache(s);
        if (s->alloc_cache) {
            unsigned idx = fi + (unsigned)__builtin_ctzll(s->alloc_cache);
            if (idx >= s->nelems)
                break;
            s->alloc_cache = s->alloc_cache >> (idx - fi) >> 1;
            atomic_store_explicit(&s->freeindex, idx + 1, memory_order_relaxed);
            return idx;
        }
        fi = (fi | 63) + 1;
        atomic_store_explicit(&s->freeindex, fi < s->nelems ? fi : s->nelems, memory_order_relaxed);
    }
    atomic_store_explicit(&s->freeindex, s->nelems, memory_order_relaxed);
    s->alloc_cache = 0;
    return s->nelems;
}

static void flush_counts(gm_mcache *mc) {
    if (mc->nmalloc) {
        atomic_fetch_add_explicit(&gm_hstats.nmalloc, mc->nmalloc, memory_order_relaxed);
        mc->nmalloc = 0;
    }
    if (mc->nfree) {
        atomic_fetch_add_explicit(&gm_hstats.nfree, mc->nfree, memory_order_relaxed);
        mc->nfree = 0;
    }
    if (mc->bytes_freed) {
        atomic_fetch_add_explicit(&gm_hstats.bytes_freed, mc->bytes_freed, memory_order_relaxed);
        atomic_fetch_sub_explicit(&gm_hstats.heap_live, mc->bytes_freed, memory_order_relaxed);
        mc->bytes_freed = 0;
    }
    if (mc->black_bytes) {
        gm_gc_add_black_bytes(mc->black_bytes);
        mc->black_bytes = 0;
    }
    if (mc->tiny_allocs) {
        atomic_fetch_add_explicit(&gm_hstats.tiny_allocs, mc->tiny_allocs, memory_order_relaxed);
        mc->tiny_allocs = 0;
    }
}

/* Counts what the thread allocated from s since it cached it. */
static void count_allocated(gm_mcache *mc, gm_span *s) {
    gm_span_fold_freeindex(s);
    uint32_t now = gm_span_count_alloc(s);
    uint32_t before = s->nalloc;
    uint32_t n = now > before ? now - before : 0;
    mc->nmalloc += n;
    atomic_fetch_add_explicit(&gm_hstats.total_alloc, (uint64_t)n * s->elemsize, memory_order_relaxed);
    s->nalloc = (uint16_t)now;
}

static void uncache(gm_mcache *mc, uint8_t sc) {
    gm_span *s = mc->alloc[sc];
    if (s == &gm_empty_span)
        return;
    mc->alloc[sc] = &gm_empty_span;
    count_allocated(mc, s);
    uint64_t unused = (uint64_t)(s->nelems - s->nalloc) * s->elemsize;
    atomic_fetch_sub_explicit(&gm_hstats.heap_live, unused, memory_order_relaxed);
    gm_mcentral_uncache_span(&gm_central[sc], s);
}

void gm_mcache_publish_frees(gm_mcache *mc) {
    gm_span *s = mc->pending_span;
    if (!s)
        return;
    mc->pending_span = NULL;
    uint64_t mask = mc->pending_mask;
    unsigned w = mc->pending_word;
    uint64_t first = s->base + (uintptr_t)(w * 64 + (unsigned)__builtin_ctzll(mask)) * s->elemsize;
    if (gm_span_of(first) != s)
        gm_fatal("gm_free(%p): the object's span was collected before the free took effect (the "
                 "object was unreachable to the collector while it was still in use)", (void *)first);
    /* Read while the objects are still allocated, when nobody can free the
     * span.  Once their free bits are set, a sweeper that applies them may
     * free it, and once they are counted in nfreed, so may another thread
     * that publishes the span's last frees; its record may then be reused
     * for another span.  Only what was read here is used below, and the
     * mcentral checks the incarnation under its lock before anything else.
     * A span not swept yet is left to the sweeper, which files it by its
     * free slots: the mcentral could not tell whether the sweeper had freed
     * it meanwhile.  (Publishing runs inside a no-stop region or with the
     * world stopped, so no cycle ends and sweepgen holds till the end.) */
    uint16_t nalloc = atomic_load_explicit(&s->nalloc, memory_order_relaxed);
    bool cached = atomic_load_explicit(&s->cached, memory_order_acquire);
    bool swept = atomic_load_explicit(&s->sweepgen, memory_order_acquire) ==
                 atomic_load_explicit(&gm_heap.sweepgen, memory_order_acquire);
    uint32_t incarnation = atomic_load_explicit(&s->incarnation, memory_order_relaxed);
    gm_mcentral *home = gm_span_home(s);
    uint64_t old = atomic_fetch_or_explicit(&s->free_bits[w], mask, memory_order_acq_rel);
    if (old & mask) {
        unsigned bit = (unsigned)__builtin_ctzll(old & mask);
        gm_fatal("gm_free(%p): double free of the %zu-byte object",
                 (void *)(s->base + (uintptr_t)(w * 64 + bit) * s->elemsize), (size_t)s->elemsize);
    }
    uint32_t n = (uint32_t)gm_popcount64(mask);
    /* The sweeper does not free the span before this add (sweep.c). */
    uint32_t total = atomic_fetch_add_explicit(&s->nfreed, n, memory_order_acq_rel) + n;
    if (!cached && swept && (total == n || total >= nalloc))
        gm_mcentral_span_freed(home, s, incarnation);
}

static void *refill(gm_mcache *mc, uint8_t sc) {
    gm_mcache_publish_frees(mc);
    gm_span *s = mc->alloc[sc];
    if (s != &gm_empty_span) {
        for (;;) {
            unsigned idx = next_free_slow(s);
            if (idx < s->nelems)
                return (void *)(s->base + (uintptr_t)idx * s->elemsize);
            if (atomic_load_explicit(&s->nfreed, memory_order_acquire) == 0)
                break;
            /* Objects of this span were freed while we used it: start over
             * on the same span rather than trading it in. */
            count_allocated(mc, s);
            uint32_t freed = gm_span_apply_frees(s);
            s->nalloc = (uint16_t)gm_span_count_alloc(s);
            atomic_fetch_add_explicit(&gm_hstats.heap_live, (uint64_t)freed * s->elemsize,
                                      memory_order_relaxed);
        }
        uncache(mc, sc);
    }
    flush_counts(mc);
    s = gm_mcentral_cache_span(&gm_central[sc]);
    if (!s)
        return NULL;
    atomic_fetch_add_explicit(&gm_hstats.heap_live, (uint64_t)(s->nelems - s->nalloc) * s->elemsize,
                              memory_order_relaxed);
    mc->alloc[sc] = s;
    gm_gc_on_heap_growth();
    /* Allocation while marking runs pays its assist a span at a time:
     * the span's free slots are charged now, not object by object. */
    if (gm_gc_marking())
        gm_gc_assist((uint64_t)(s->nelems - s->nalloc) * s->elemsize);
    unsigned idx = next_free_slow(s);
    return (void *)(s->base + (uintptr_t)idx * s->elemsize);
}

/* The heap profile's sampling (sample.c) sits around the refill: it may
 * stop the refill before a sampled object (NULL with want_stack set), and
 * it sees every alloc_cache the refill loads. */
void *gm_mcache_refill(gm_mcache *mc, uint8_t sc) {
    bool sampling = gm_cfg.memprofilerate != 0 && sc != GM_TINY_SPANCLASS;
    if (GM_UNLIKELY(sampling) && !gm_sample_refill_begin(mc, sc))
        return NULL;
    void *p = refill(mc, sc);
    if (GM_UNLIKELY(sampling) && p)
        gm_sample_refill_end(mc, sc, p);
    return p;
}

void gm_mcache_release_all(gm_mcache *mc) {
    gm_mcache_publish_frees(mc);
    for (int sc = 0; sc < GM_ALL_SPAN_CLASSES; sc++)
        uncache(mc, (uint8_t)sc);
    mc->tiny = 0;
    mc->tiny_offset = 0;
    flush_counts(mc);
}
