/*
 * malloc.c - gm_alloc and friends: the allocation fast path.
 *
 * Small objects (up to 32 KiB): size -> size class by table lookup, then the
 * next free slot of the thread's span for that span class, one ctz on the
 * span's alloc_cache.  No lock, no atomic read-modify-write.  Noscan objects
 * under 16 B are packed into 16-byte blocks (the tiny allocator).  Large
 * objects get a span of their own from the page heap.
 *
 * Every call runs in a no-stop region (gm.h): the collector never stops a
 * thread inside the allocator, so it may flush every mcache while the world
 * is stopped.  The collector's waiting (the heap limit) happens after the
 * region ends.  While marking runs concurrently, every object is allocated
 * marked (a byte store on the fast path, counted in the mcache), and the
 * mark assists are charged a span at a time at refill (mcache.c).
 *
 * gm_free validates its argument fully (span lookup, slot start, allocated,
 * not already freed) and gathers consecutive frees into one bitmap word
 * (mcache pending_*), published to free_bits with one atomic operation per
 * run; the slots are reused after the span is next reset or swept.  Until
 * published, the freeing thread's gm_size/gm_base already see them freed;
 * other threads see them at its next slow path or collection.
 */
#include <errno.h>
#include <string.h>

#include "gc/gc_for_heap.h"
#include "heap/heap.h"

gm_heap_stats gm_hstats;
gm_large_spans gm_large;

/* A thread's mcache follows its record (gm_thread_set_record_extra). */
static void thread_registered(gm_thread *t) {
    t->mcache = (gm_mcache *)(t + 1);
    gm_mcache_init(t->mcache);
}

static void thread_exiting(gm_thread *t) {
    gm_nostop_enter(t);
    gm_mcache_release_all(t->mcache);
    gm_nostop_exit(t);
}

static void heap_figures(char *buf, size_t n) {
    const uint64_t MiB = 1 << 20;
    gm_snprintf(buf, n, "heap: %lu MiB reserved, %lu MiB committed, %lu MiB in spans, %lu MiB live, %lu MiB metadata",
                (unsigned long)(atomic_load(&gm_heap.reserved) / MiB), (unsigned long)(atomic_load(&gm_heap.sys) / MiB),
                (unsigned long)(atomic_load(&gm_heap.inuse) / MiB),
                (unsigned long)(atomic_load(&gm_hstats.heap_live) / MiB),
                (unsigned long)(atomic_load(&gm_heap.meta) / MiB));
}

void gm_heap_init(void) {
    atomic_store(&gm_fatal_figures, heap_figures);
    gm_heap_init_lists();
    gm_mcentral_init();
    gm_list_init(&gm_large.set[0]);
    gm_list_init(&gm_large.set[1]);
    gm_thread_set_record_extra(sizeof(gm_mcache));
    gm_thread_add_hooks(thread_registered, thread_exiting);
}

GM_INLINE uint32_t size_to_class(size_t size) {
    if (size <= GM_SMALL_SIZE_MAX - 8)
        return gm_size_to_class8[(size + GM_SMALL_SIZE_DIV - 1) / GM_SMALL_SIZE_DIV];
    return gm_size_to_class128[(size - GM_SMALL_SIZE_MAX + GM_LARGE_SIZE_DIV - 1) / GM_LARGE_SIZE_DIV];
}

/* Small objects are cleared with straight-line stores: a loop here is
 * turned by compilers into `rep stos` or a memset call, whose start-up
 * costs more than the object. */
typedef uint64_t gm_zero16 __attribute__((vector_size(16), aligned(16), may_alias));
GM_INLINE void zero_small(void *p, size_t n) { /* n <= 64 */
    if (n < 16) {
        *(uint64_t *)p = 0; /* the 8-byte class */
        return;
    }
    gm_zero16 *q = p, z = {0, 0};
    q[0] = z;
    if (n > 16) {
        q[1] = z;
        if (n > 32) {
            q[2] = z;
            if (n > 48)
                q[3] = z;
        }
    }
}

GM_INLINE void zero_object(void *p, size_t n) {
    if (n <= 64)
        zero_small(p, n);
    else
        memset(p, 0, n);
}

/* The start and last-byte bits of a tiny object at offset off (heap.h). */
static inline uint32_t tiny_bound_bits(uintptr_t off, size_t size) {
    return (1u << off) | (1u << (16 + off + size - 1));
}

static void *alloc_tiny(gm_mcache *mc, size_t size) {
    /* Align the offset by the size's natural alignment. */
    uintptr_t off = mc->tiny_offset;
    if ((size & 7) == 0)
        off = (off + 7) & ~(uintptr_t)7;
    else if ((size & 3) == 0)
        off = (off + 3) & ~(uintptr_t)3;
    else if ((size & 1) == 0)
        off = (off + 1) & ~(uintptr_t)1;
    if (mc->tiny && off + size <= GM_TINY_SIZE) {
        mc->tiny_offset = off + size;
        mc->tiny_allocs++;
        uint32_t e = atomic_load_explicit(mc->tiny_bounds, memory_order_relaxed);
        atomic_store_explicit(mc->tiny_bounds, e | tiny_bound_bits(off, size), memory_order_relaxed);
        return (void *)(mc->tiny + off);
    }
    gm_span *s = mc->alloc[GM_TINY_SPANCLASS];
    void *block;
    uint64_t c = s->alloc_cache;
    unsigned fi = atomic_load_explicit(&s->freeindex, memory_order_relaxed);
    if (c && fi + (unsigned)__builtin_ctzll(c) < s->nelems) {
        unsigned bit = (unsigned)__builtin_ctzll(c);
        s->alloc_cache = c >> bit >> 1;
        atomic_store_explicit(&s->freeindex, fi + bit + 1, memory_order_relaxed);
        block = (void *)(s->base + (uintptr_t)(fi + bit) * GM_TINY_SIZE);
    } else {
        block = gm_mcache_refill(mc, GM_TINY_SPANCLASS);
        if (!block)
            return NULL;
        s = mc->alloc[GM_TINY_SPANCLASS];
    }
    if (s->needzero)
        zero_object(block, GM_TINY_SIZE);
    _Atomic uint32_t *bounds = &s->tiny_bounds[((uintptr_t)block - s->base) / GM_TINY_SIZE];
    atomic_store_explicit(bounds, tiny_bound_bits(0, size), memory_order_relaxed);
    /* Keep the block with more room left. */
    if (size < mc->tiny_offset || mc->tiny == 0) {
        mc->tiny = (uintptr_t)block;
        mc->tiny_offset = size;
        mc->tiny_bounds = bounds;
    }
    mc->tiny_allocs++;
    return block;
}

/* The next free slot of the thread's span s from its alloc_cache (one ctz),
 * or NULL if the cache is empty (the refill moves to the next word). */
GM_INLINE void *take_slot(gm_span *s, unsigned *index) {
    uint64_t c = s->alloc_cache;
    if (GM_UNLIKELY(c == 0))
        return NULL;
    unsigned bit = (unsigned)__builtin_ctzll(c);
    unsigned idx = atomic_load_explicit(&s->freeindex, memory_order_relaxed) + bit;
    if (GM_UNLIKELY(idx >= s->nelems))
        return NULL;
    s->alloc_cache = c >> bit >> 1;
    atomic_store_explicit(&s->freeindex, idx + 1, memory_order_relaxed);
    *index = idx;
    return (void *)(s->base + (uintptr_t)idx * s->elemsize);
}

GM_INLINE void *alloc_small(gm_mcache *mc, size_t size, bool noscan) {
    uint8_t sc = gm_spanclass(size_to_class(size), noscan);
    gm_span *s = mc->alloc[sc];
    unsigned idx;
    void *p = take_slot(s, &idx);
    if (GM_LIKELY(p != NULL))
        goto zero;
    p = gm_mcache_refill(mc, sc);
    if (GM_UNLIKELY(!p))
        return NULL;
    s = mc->alloc[sc];
    idx = (unsigned)gm_span_index(s, (uintptr_t)p);
zero:
    if (s->needzero)
        zero_object(p, s->elemsize);
    if (GM_UNLIKELY(gm_gc_marking()))
        gm_mark_new_slot(s, idx, &mc->black_bytes);
    return p;
}

void *gm_alloc_large(size_t size, bool noscan, bool *zero_later) {
    size_t npages = (size + GM_PAGE_SIZE - 1) >> GM_PAGE_SHIFT;
    gm_span *s = gm_heap_alloc_span(npages, gm_spanclass(0, noscan));
    if (!s)
        return NULL;
    atomic_store_explicit(&s->alloc_bits[0], 1, memory_order_relaxed);
    s->nalloc = 1;
    if (zero_later)
        *zero_later = s->needzero;
    else if (s->needzero)
        memset((void *)s->base, 0, npages << GM_PAGE_SHIFT);
    size_t bytes = npages << GM_PAGE_SHIFT;
    atomic_fetch_add_explicit(&gm_hstats.large_alloc, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_hstats.large_alloc_bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_hstats.total_alloc, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_hstats.heap_live, bytes, memory_order_relaxed);
    gm_large_add(s);
    gm_gc_on_heap_growth();
    return (void *)s->base;
}

/* A small allocation came back NULL: out of memory, or the heap profile
 * samples the object and wants the caller's stack, taken here outside the
 * no-stop region (sample.c), before the allocation is tried again. */
GM_NOINLINE static void *alloc_small_retry(gm_thread *t, size_t size, bool noscan) {
    gm_mcache *mc = t->mcache;
    if (!mc->sampler.want_stack) {
        errno = ENOMEM;
        return NULL;
    }
    gm_sample_capture(mc);
    gm_nostop_enter(t);
    void *p = alloc_small(mc, size, noscan); /* allocates black while marking */
    mc->sampler.depth = 0;
    mc->sampler.want_stack = false;
    gm_nostop_exit(t);
    if (!p)
        errno = ENOMEM;
    return p;
}

GM_NOINLINE static void *alloc_slow(size_t size, bool noscan) {
    gm_ensure_init();
    gm_thread *t = gm_thread_current();
    void *p;
    bool large = size > GM_MAX_SMALL_SIZE, too_large = size > (SIZE_MAX >> 1);
    bool tiny = !large && noscan && size < GM_TINY_SIZE && size > 0;
    size_t bytes = large && !too_large ? ((size + GM_PAGE_SIZE - 1) & ~(GM_PAGE_SIZE - 1)) : size;
    bool sampled = (large || tiny) && !too_large && GM_UNLIKELY(gm_cfg.memprofilerate != 0) &&
                   gm_sample_other(t->mcache, bytes);
    bool zero_later = false;
    gm_nostop_enter(t);
    if (large) {
        /* Under gccheckmark the check re-marks from the stacks in the final
         * stop and would scan an object not zeroed yet, finding stale
         * pointers to unmarked objects: zeroed in the region there. */
        p = too_large ? NULL : gm_alloc_large(size, noscan, gm_cfg.gccheckmark ? NULL : &zero_later);
    } else if (tiny) {
        p = alloc_tiny(t->mcache, size);
    } else {
        p = alloc_small(t->mcache, size, noscan); /* black while marking; assists at refill */
    }
    if (p && (large || tiny) && gm_gc_marking()) {
        gm_mark_new_object((uintptr_t)p, &t->mcache->black_bytes);
        gm_gc_assist(bytes);
    }
    if (sampled && p)
        gm_sample_record(t->mcache, gm_span_of((uintptr_t)p), p, bytes);
    else if (sampled)
        t->mcache->sampler.depth = 0; /* out of memory: drop the stack taken for it */
    gm_nostop_exit(t);
    /* A large object is zeroed here, out of the no-stop region: a stop
     * does not wait for it (256 MiB take tens of milliseconds).  A cycle
     * that runs meanwhile sees an allocated object reachable from this
     * frame (p), whose old contents it may scan (conservatively: at worst
     * they keep garbage for one cycle); allocated black while marking, it
     * is not scanned at all, and it holds no pointer before it returns. */
    if (zero_later) {
        memset(p, 0, bytes);
        if (!noscan && gm_gc_marking())
            gm_concurrent_forget((uintptr_t)p, (uintptr_t)p + bytes);
    }
    if (!p)
        p = large || tiny ? (errno = ENOMEM, NULL) : alloc_small_retry(t, size, noscan);
    gm_gc_after_alloc();
    return p;
}

/* Out of memory or address space: collect (the garbage's pages come back
 * to the page heap) and try once more, before answering NULL with ENOMEM.
 * Not inside a no-stop region, nor from an unregistered thread. */
GM_NOINLINE static void *alloc_after_collect(size_t size, bool noscan) {
    gm_thread *t = gm_tls_thread;
    if (size > (SIZE_MAX >> 1) || !t || t->nostop) {
        errno = ENOMEM;
        return NULL;
    }
    gm_gc();
    void *p = alloc_slow(size, noscan);
    if (!p)
        errno = ENOMEM;
    return p;
}

GM_INLINE void *alloc_common(size_t size, bool noscan) {
    gm_thread *t = gm_tls_thread;
    if (GM_UNLIKELY(!t || size > GM_MAX_SMALL_SIZE || (noscan && size < GM_TINY_SIZE) ||
                    (atomic_load_explicit(&gm_gc_pressure, memory_order_relaxed) & GM_PRESSURE_WAIT)))
        return alloc_slow(size, noscan);
    gm_nostop_enter(t);
    void *p = alloc_small(t->mcache, size, noscan);
    gm_nostop_exit(t);
    if (GM_UNLIKELY(!p))
        return alloc_small_retry(t, size, noscan);
    return p;
}

GM_NOINLINE static void *alloc_not_fast(size_t size, bool noscan) {
    void *p = alloc_common(size, noscan);
    return GM_LIKELY(p != NULL) ? p : alloc_after_collect(size, noscan);
}

GM_NOINLINE static void *stop_then_return(gm_thread *t, void *p) {
    gm_stop_deferred(t);
    return p;
}

/* The fast path proper, written to need no stack frame (its calls are all
 * tail calls): the next slot of the thread's span, when no collector
 * request is pending and the slot needs at most 64 bytes cleared; anything
 * else goes to alloc_not_fast.  Saving registers for the slow path's calls
 * was a third of gm_alloc's time.  While marking runs the slot is marked
 * here too (allocate black: one byte store); on the slow path, that was a
 * tenth of binary-trees' time.  The pressure is read inside the no-stop
 * region, where the black flag cannot change (stops set and clear it). */
GM_INLINE void *alloc_fast(size_t size, bool noscan) {
    gm_thread *t = gm_tls_thread;
    if (GM_UNLIKELY(!t || size > GM_MAX_SMALL_SIZE || (noscan && size < GM_TINY_SIZE)))
        return alloc_not_fast(size, noscan);
    gm_nostop_enter(t);
    int pressure = atomic_load_explicit(&gm_gc_pressure, memory_order_relaxed);
    gm_mcache *mc = t->mcache;
    gm_span *s = mc->alloc[gm_spanclass(size_to_class(size), noscan)];
    void *p = NULL;
    if (GM_LIKELY(!(pressure & GM_PRESSURE_WAIT) && (!s->needzero || s->elemsize <= 64))) {
        unsigned idx;
        p = take_slot(s, &idx);
        if (p && s->needzero)
            zero_small(p, s->elemsize);
        if (GM_UNLIKELY(pressure & GM_PRESSURE_BLACK) && p)
            gm_mark_new_slot(s, idx, &mc->black_bytes);
    }
    atomic_signal_fence(memory_order_seq_cst);
    if (--t->nostop == 0) {
        atomic_signal_fence(memory_order_seq_cst);
        if (GM_UNLIKELY(t->stop_pending) && p)
            return stop_then_return(t, p);
    }
    if (GM_UNLIKELY(!p)) /* with a stop pending, alloc_common's region ends in the stop */
        return alloc_not_fast(size, noscan);
    return p;
}

GM_API void *gm_alloc(size_t size) {
    return alloc_fast(size, false);
}

GM_API void *gm_alloc_noscan(size_t size) {
    return alloc_fast(size, true);
}

GM_API void *gm_alloc_array(size_t elem_size, size_t n) {
    size_t total;
    if (__builtin_mul_overflow(elem_size, n, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return gm_alloc(total);
}

/* True if the slot is allocated and not freed, counting the calling
 * thread's frees that are not yet published. */
static bool live_slot(gm_span *s, uintptr_t idx) {
    if (idx >= s->nelems || !gm_span_allocated(s, idx))
        return false;
    gm_thread *t = gm_tls_thread;
    if (t && t->mcache->pending_span == s && t->mcache->pending_word == (idx >> 6) &&
        (t->mcache->pending_mask >> (idx & 63) & 1))
        return false;
    return true;
}

/* The live object that p points into: its span, slot, start and usable
 * size.  False if p points into none. */
static bool find_object(uintptr_t p, gm_span **sp, uintptr_t *idx, uintptr_t *start, size_t *size) {
    gm_span *s = gm_span_of(p);
    if (!s)
        return false;
    uintptr_t i = gm_span_index(s, p);
    if (!live_slot(s, i))
        return false;
    if (s->spanclass == GM_TINY_SPANCLASS) {
        if (!gm_tiny_object(s, p, start, size))
            return false;
    } else {
        *start = s->base + i * s->elemsize;
        *size = s->elemsize;
    }
    *sp = s;
    *idx = i;
    return true;
}

/* Validates that p is the start of a live object; returns its span, slot
 * and usable size (or dies naming the problem).  what names the call. */
static gm_span *object_of(void *p, const char *what, uintptr_t *idx_out, size_t *size_out) {
    uintptr_t a = (uintptr_t)p, start;
    gm_span *s;
    size_t size;
    if (!find_object(a, &s, idx_out, &start, &size)) {
        if (!gm_span_of(a)) {
            /* A freed large object's pages are a free run: still the heap's. */
            if (gm_heap_owns(a))
                gm_fatal("%s(%p): pointer is in the gomem heap but in no allocated object (freed "
                         "already: double free of a large object, or a pointer into freed pages)",
                         what, p);
            gm_fatal("%s(%p): pointer is not in the gomem heap", what, p);
        }
        gm_fatal("%s(%p): object is not allocated (double free, or free of a pointer never "
                 "returned by gm_alloc)", what, p);
    }
    if (start != a)
        gm_fatal("%s(%p): pointer is %zu bytes into the %zu-byte object at %p, not its start",
                 what, p, (size_t)(a - start), size, (void *)start);
    *size_out = size;
    return s;
}

/* taken: gm_free took the span off the large set; it goes now.  Else the
 * sweep frees it and takes it off heap_live then (sweep.c): until then its
 * pages are in use, and the pacer must see them (a thread that allocated
 * and freed a large object over and over while marking ran grew the heap
 * without bound: 21 GiB for a 256 MiB object). */
static void free_large(gm_span *s, size_t bytes, bool taken) {
    atomic_fetch_add_explicit(&gm_hstats.large_free, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_hstats.large_free_bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_hstats.bytes_freed, bytes, memory_order_relaxed);
    if (taken) {
        atomic_fetch_sub_explicit(&gm_hstats.heap_live, bytes, memory_order_relaxed);
        gm_heap_free_span(s);
    }
}

/* The free fast path: p in the span of the thread's run of unpublished
 * frees, in the same bitmap word, an allocated slot's start, with no
 * specials and no profile records on the span.  The same checks as
 * object_of, without the arena lookup: the span record is the one the last
 * free validated, and it cannot change while this thread holds frees on
 * it (a stop publishes them first).  False: take gm_free's full path. */
GM_INLINE bool free_fast(gm_thread *t, uintptr_t a) {
    gm_mcache *mc = t->mcache;
    gm_span *s = mc->pending_span;
    if (!s || a - s->base >= (s->npages << GM_PAGE_SHIFT))
        return false;
    uintptr_t idx = gm_span_index(s, a);
    uint64_t bit = 1ull << (idx & 63);
    if ((idx >> 6) != mc->pending_word || s->base + idx * s->elemsize != a || idx >= s->nelems ||
        (mc->pending_mask & bit) || !gm_span_allocated(s, idx) ||
        __atomic_load_n(&s->specials, __ATOMIC_ACQUIRE) || __atomic_load_n(&s->profiled, __ATOMIC_ACQUIRE))
        return false;
    mc->pending_mask |= bit;
    mc->nfree++;
    mc->bytes_freed += s->elemsize;
    return true;
}

GM_API void gm_free(void *p) {
    if (!p)
        return;
    gm_thread *ft = gm_tls_thread;
    if (GM_LIKELY(ft != NULL)) {
        gm_nostop_enter(ft);
        bool done = free_fast(ft, (uintptr_t)p);
        gm_nostop_exit(ft);
        if (GM_LIKELY(done))
            return;
    }
    gm_ensure_init();
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    uintptr_t idx;
    size_t size;
    gm_span *s = object_of(p, "gm_free", &idx, &size);
    if (s->spanclass == GM_TINY_SPANCLASS) {
        /* Tiny objects share blocks; the collector reclaims the block. */
        gm_nostop_exit(t);
        return;
    }
    if (__atomic_load_n(&s->specials, __ATOMIC_ACQUIRE))
        gm_specials_free(s, (uintptr_t)p);
    if (__atomic_load_n(&s->profiled, __ATOMIC_ACQUIRE))
        gm_heap_prof.freed(s, (uintptr_t)p);
    uint64_t bit = 1ull << (idx & 63);
    if (gm_spanclass_sizeclass(s->spanclass) == 0) {
        /* While marking runs no span is freed (markers cache span records);
         * the next sweep frees it by its free bit.  Else, unless the sweeper
         * holds it (it then sees the free bit), it goes now.  Taken off the
         * large set before the bit is set: after, a sweeper holding the span
         * may free it, and its record may hold another span by then. */
        size_t elemsize = s->elemsize;
        bool taken = !gm_gc_marking() && gm_large_remove(s);
        uint64_t old = atomic_fetch_or_explicit(&s->free_bits[0], bit, memory_order_acq_rel);
        if (old & bit)
            gm_fatal("gm_free(%p): double free of the %zu-byte object", p, elemsize);
        atomic_fetch_add_explicit(&s->nfreed, 1, memory_order_relaxed);
        free_large(s, elemsize, taken);
        gm_nostop_exit(t);
        return;
    }
    gm_mcache *mc = t->mcache;
    unsigned word = (unsigned)(idx >> 6);
    if (mc->pending_span == s && mc->pending_word == word) {
        mc->pending_mask |= bit; /* a second free of it was caught by object_of */
    } else {
        gm_mcache_publish_frees(mc);
        mc->pending_span = s;
        mc->pending_word = word;
        mc->pending_mask = bit;
    }
    mc->nfree++;
    mc->bytes_freed += s->elemsize;
    gm_nostop_exit(t);
}

void gm_alloc_entry_points(uintptr_t out[GM_ALLOC_ENTRY_POINTS]) {
    out[0] = (uintptr_t)gm_alloc;
    out[1] = (uintptr_t)gm_alloc_noscan;
    out[2] = (uintptr_t)gm_alloc_array;
    out[3] = (uintptr_t)gm_realloc;
    out[4] = (uintptr_t)alloc_slow;
    out[5] = (uintptr_t)alloc_small_retry;
    out[6] = (uintptr_t)alloc_not_fast;
}

GM_API size_t gm_size(const void *p) {
    gm_span *s;
    uintptr_t idx, start;
    size_t size;
    return find_object((uintptr_t)p, &s, &idx, &start, &size) ? size : 0;
}

GM_API void *gm_base(const void *p) {
    gm_span *s;
    uintptr_t idx, start;
    size_t size;
    return find_object((uintptr_t)p, &s, &idx, &start, &size) ? (void *)start : NULL;
}

GM_API void *gm_realloc(void *p, size_t size) {
    if (!p)
        return gm_alloc(size);
    if (size == 0) {
        gm_free(p);
        return NULL;
    }
    gm_ensure_init();
    uintptr_t idx;
    size_t old;
    gm_span *s = object_of(p, "gm_realloc", &idx, &old);
    if (size <= old && (size >= old / 2 || s->spanclass == GM_TINY_SPANCLASS)) {
        /* Shrunk in place: clear the tail, so that growing back in place
         * later finds zeros past the size asked for, as a new object would. */
        memset((char *)p + size, 0, old - size);
        return p;
    }
    bool noscan = gm_spanclass_noscan(s->spanclass);
    void *q = alloc_common(size, noscan);
    if (!q)
        q = alloc_after_collect(size, noscan);
    if (!q)
        return NULL;
    memcpy(q, p, size < old ? size : old);
    gm_free(p);
    return q;
}
