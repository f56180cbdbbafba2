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
 * is stopped.  The collector's waiting (assists, the heap limit) happens
 * after the region ends.
 *
 * gm_free validates its argument fully (span lookup, slot start, allocated,
 * not already freed) before marking the slot in free_bits; the slot is
 * reused after the span is next reset or swept.
 */
#include <errno.h>
#include <string.h>

#include "heap/heap.h"

gm_heap_stats gm_hstats;
gm_large_spans gm_large;

void gm_heap_init_lists(void);
void gm_mcentral_init(void);

void gm_heap_init(void) {
    gm_heap_init_lists();
    gm_mcentral_init();
    gm_list_init(&gm_large.set[0]);
    gm_list_init(&gm_large.set[1]);
}

GM_INLINE uint32_t size_to_class(size_t size) {
    if (size <= GM_SMALL_SIZE_MAX - 8)
        return gm_size_to_class8[(size + GM_SMALL_SIZE_DIV - 1) / GM_SMALL_SIZE_DIV];
    return gm_size_to_class128[(size - GM_SMALL_SIZE_MAX + GM_LARGE_SIZE_DIV - 1) / GM_LARGE_SIZE_DIV];
}

GM_INLINE void zero_object(void *p, size_t n) {
    if (n <= 64) {
        uint64_t *q = p;
        for (size_t i = 0; i < n / 8; i++)
            q[i] = 0;
    } else {
        memset(p, 0, n);
    }
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
    /* Keep the block with more room left. */
    if (size < mc->tiny_offset || mc->tiny == 0) {
        mc->tiny = (uintptr_t)block;
        mc->tiny_offset = size;
    }
    mc->tiny_allocs++;
    return block;
}

GM_INLINE void *alloc_small(gm_mcache *mc, size_t size, bool noscan) {
    uint8_t sc = gm_spanclass(size_to_class(size), noscan);
    gm_span *s = mc->alloc[sc];
    uint64_t c = s->alloc_cache;
    void *p;
    if (GM_LIKELY(c != 0)) {
        unsigned bit = (unsigned)__builtin_ctzll(c);
        unsigned idx = atomic_load_explicit(&s->freeindex, memory_order_relaxed) + bit;
        if (GM_LIKELY(idx < s->nelems)) {
            s->alloc_cache = c >> bit >> 1;
            atomic_store_explicit(&s->freeindex, idx + 1, memory_order_relaxed);
            p = (void *)(s->base + (uintptr_t)idx * s->elemsize);
            goto zero;
        }
    }
    p = gm_mcache_refill(mc, sc);
    if (GM_UNLIKELY(!p))
        return NULL;
    s = mc->alloc[sc];
zero:
    if (s->needzero)
        zero_object(p, s->elemsize);
    return p;
}

void *gm_alloc_large(size_t size, bool noscan) {
    size_t npages = (size + GM_PAGE_SIZE - 1) >> GM_PAGE_SHIFT;
    gm_span *s = gm_heap_alloc_span(npages, gm_spanclass(0, noscan));
    if (!s)
        return NULL;
    atomic_store_explicit(&s->alloc_bits[0], 1, memory_order_relaxed);
    s->nalloc = 1;
    if (s->needzero)
        memset((void *)s->base, 0, npages << GM_PAGE_SHIFT);
    size_t bytes = npages << GM_PAGE_SHIFT;
    atomic_fetch_add_explicit(&gm_hstats.large_alloc, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_hstats.large_alloc_bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_hstats.total_alloc, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_hstats.heap_live, bytes, memory_order_relaxed);
    gm_mutex_lock(&gm_large.lock);
    unsigned set = (atomic_load_explicit(&gm_heap.sweepgen, memory_order_relaxed) / 2) % 2;
    s->list = GM_LIST_LARGE;
    s->list_set = (uint8_t)set;
    gm_list_push(&gm_large.set[set], s);
    gm_mutex_unlock(&gm_large.lock);
    gm_gc_on_heap_growth();
    return (void *)s->base;
}

void gm_gc_after_alloc(void); /* pacer: wait or assist outside the no-stop region */
extern _Atomic int gm_gc_pressure;

GM_NOINLINE static void *alloc_slow(size_t size, bool noscan) {
    gm_ensure_init();
    gm_thread *t = gm_thread_current();
    void *p;
    gm_nostop_enter(t);
    if (size > GM_MAX_SMALL_SIZE) {
        p = size > (SIZE_MAX >> 1) ? NULL : gm_alloc_large(size, noscan);
    } else if (noscan && size < GM_TINY_SIZE && size > 0) {
        p = alloc_tiny(t->mcache, size);
    } else {
        p = alloc_small(t->mcache, size, noscan);
    }
    gm_nostop_exit(t);
    if (!p)
        errno = ENOMEM;
    gm_gc_after_alloc();
    return p;
}

GM_INLINE void *alloc_common(size_t size, bool noscan) {
    gm_thread *t = gm_tls_thread;
    if (GM_UNLIKELY(!t || size > GM_MAX_SMALL_SIZE || (noscan && size < GM_TINY_SIZE) ||
                    atomic_load_explicit(&gm_gc_pressure, memory_order_relaxed)))
        return alloc_slow(size, noscan);
    gm_nostop_enter(t);
    void *p = alloc_small(t->mcache, size, noscan);
    gm_nostop_exit(t);
    if (GM_UNLIKELY(!p))
        errno = ENOMEM;
    return p;
}

GM_API void *gm_alloc(size_t size) {
    return alloc_common(size, false);
}

GM_API void *gm_alloc_noscan(size_t size) {
    return alloc_common(size, true);
}

GM_API void *gm_alloc_array(size_t elem_size, size_t n) {
    size_t total;
    if (__builtin_mul_overflow(elem_size, n, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return gm_alloc(total);
}

/* Validates that p is the start of a live object; returns its span and slot
 * (or dies naming the problem).  what names the call, for the message. */
static gm_span *object_of(void *p, const char *what, uintptr_t *idx_out) {
    uintptr_t a = (uintptr_t)p;
    gm_span *s = gm_span_of(a);
    if (!s)
        gm_fatal("%s(%p): pointer is not in the gomem heap", what, p);
    uintptr_t idx = gm_span_index(s, a);
    uintptr_t start = s->base + idx * s->elemsize;
    if (s->spanclass == GM_TINY_SPANCLASS) {
        *idx_out = idx;
        return s;
    }
    if (start != a)
        gm_fatal("%s(%p): pointer is %zu bytes into the %zu-byte object at %p, not its start",
                 what, p, (size_t)(a - start), (size_t)s->elemsize, (void *)start);
    if (idx >= s->nelems || !gm_span_allocated(s, idx))
        gm_fatal("%s(%p): object is not allocated (double free, or free of a pointer never "
                 "returned by gm_alloc)", what, p);
    *idx_out = idx;
    return s;
}

static void free_large(gm_span *s) {
    size_t bytes = s->npages << GM_PAGE_SHIFT;
    atomic_fetch_add_explicit(&gm_hstats.large_free, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_hstats.large_free_bytes, bytes, memory_order_relaxed);
    atomic_fetch_sub_explicit(&gm_hstats.heap_live, bytes, memory_order_relaxed);
    gm_mutex_lock(&gm_large.lock);
    if (s->list != GM_LIST_LARGE) {
        /* The sweeper holds it; it sees the free bit. */
        gm_mutex_unlock(&gm_large.lock);
        return;
    }
    gm_list_remove(s);
    s->list = GM_LIST_NONE;
    gm_mutex_unlock(&gm_large.lock);
    gm_heap_free_span(s);
}

GM_API void gm_free(void *p) {
    if (!p)
        return;
    gm_ensure_init();
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    uintptr_t idx;
    gm_span *s = object_of(p, "gm_free", &idx);
    if (s->spanclass == GM_TINY_SPANCLASS) {
        /* Tiny objects share blocks; the collector reclaims the block. */
        gm_nostop_exit(t);
        return;
    }
    uint64_t bit = 1ull << (idx & 63);
    uint64_t old = atomic_fetch_or_explicit(&s->free_bits[idx >> 6], bit, memory_order_acq_rel);
    if (old & bit)
        gm_fatal("gm_free(%p): double free of the %zu-byte object", p, (size_t)s->elemsize);
    if (s->elemsize > GM_MAX_SMALL_SIZE || gm_spanclass_sizeclass(s->spanclass) == 0) {
        atomic_fetch_add_explicit(&s->nfreed, 1, memory_order_relaxed);
        free_large(s);
        gm_nostop_exit(t);
        return;
    }
    uint32_t n = atomic_fetch_add_explicit(&s->nfreed, 1, memory_order_acq_rel) + 1;
    t->mcache->nfree++;
    t->mcache->bytes_freed += s->elemsize;
    if (!atomic_load_explicit(&s->cached, memory_order_acquire) &&
        (n == 1 || n >= atomic_load_explicit(&s->nalloc, memory_order_relaxed)))
        gm_mcentral_span_freed(&gm_central[s->spanclass], s);
    gm_nostop_exit(t);
}

GM_API size_t gm_size(const void *p) {
    gm_span *s = gm_span_of((uintptr_t)p);
    if (!s)
        return 0;
    uintptr_t idx = gm_span_index(s, (uintptr_t)p);
    if (idx >= s->nelems || !gm_span_allocated(s, idx))
        return 0;
    if (s->spanclass == GM_TINY_SPANCLASS)
        return GM_TINY_SIZE - (((uintptr_t)p - s->base) & (GM_TINY_SIZE - 1));
    return s->elemsize;
}

GM_API void *gm_base(const void *p) {
    gm_span *s = gm_span_of((uintptr_t)p);
    if (!s)
        return NULL;
    uintptr_t idx = gm_span_index(s, (uintptr_t)p);
    if (idx >= s->nelems || !gm_span_allocated(s, idx))
        return NULL;
    return (void *)(s->base + idx * s->elemsize);
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
    gm_span *s = object_of(p, "gm_realloc", &idx);
    size_t old = s->elemsize;
    if (s->spanclass == GM_TINY_SPANCLASS)
        old = GM_TINY_SIZE - (((uintptr_t)p - s->base) & (GM_TINY_SIZE - 1));
    if (size <= old && size >= old / 2)
        return p;
    void *q = alloc_common(size, gm_spanclass_noscan(s->spanclass));
    if (!q)
        return NULL;
    memcpy(q, p, size < old ? size : old);
    gm_free(p);
    return q;
}
