/*
 * span.c - span records and the slot bitmaps inside them.
 *
 * A span record is a header plus two bitmaps of nwords 64-bit words each
 * (alloc, free) and 64 * nwords mark bytes (see heap.h for what they mean).  Records come from
 * pools per nwords, carved from chunks of anonymous memory and never given
 * back to the OS, so a stale pointer to a record (from the arena index) is
 * always safe to read: readers check state and bounds.
 */
#include <string.h>

#include "heap/heap.h"

#define RECORD_CHUNK (256 * 1024)


gm_mutex gm_span_records_lock = GM_MUTEX_INIT;
#define records_lock gm_span_records_lock
static gm_span *free_records[GM_BITMAP_WORDS + 1];
static gm_bump records;

static size_t record_size(uint16_t nwords) {
    size_t n = sizeof(gm_span) + 2 * (size_t)nwords * sizeof(uint64_t) + 64 * (size_t)nwords;
    return (n + 63) & ~(size_t)63;
}

gm_span *gm_span_record_alloc(uint16_t nwords) {
    size_t size = record_size(nwords);
    gm_mutex_lock(&records_lock);
    gm_span *s = free_records[nwords];
    if (s) {
        free_records[nwords] = s->next;
    } else {
        s = gm_bump_take(&records, size);
        if (!s) {
            void *chunk = gm_os_alloc(RECORD_CHUNK);
            if (!chunk)
                gm_fatal("out of memory allocating span records (%zu bytes)", (size_t)RECORD_CHUNK);
            gm_bump_reset(&records, chunk, RECORD_CHUNK);
            atomic_fetch_add_explicit(&gm_heap.meta, RECORD_CHUNK, memory_order_relaxed);
            s = gm_bump_take(&records, size);
        }
    }
    gm_mutex_unlock(&records_lock);
    /* Cleared around state, which is DEAD already (a new chunk is zero, a
     * freed record was marked DEAD): concurrent marking may be reading a
     * stale arena-index entry's state right now, and rejects it by that
     * byte alone.  And around incarnation, which a thread late to publish
     * frees into the record's last span may be reading (mcentral.c's
     * span_freed): it must differ from what that thread saw. */
    size_t at = offsetof(gm_span, state), inc = offsetof(gm_span, incarnation);
    _Static_assert(offsetof(gm_span, state) < offsetof(gm_span, incarnation), "state first");
    memset(s, 0, at);
    memset((char *)s + at + sizeof s->state, 0, inc - at - sizeof s->state);
    memset((char *)s + inc + sizeof s->incarnation, 0, size - inc - sizeof s->incarnation);
    GM_ASSERT(atomic_load_explicit(&s->state, memory_order_relaxed) == GM_SPAN_DEAD);
    s->nwords = nwords;
    _Atomic uint64_t *bits = (_Atomic uint64_t *)(s + 1);
    s->alloc_bits = bits;
    s->free_bits = bits + nwords;
    s->mark_bytes = (_Atomic uint8_t *)(bits + 2 * nwords);
    return s;
}

void gm_span_record_free(gm_span *s) {
    atomic_store_explicit(&s->state, GM_SPAN_DEAD, memory_order_release);
    gm_mutex_lock(&records_lock);
    s->next = free_records[s->nwords];
    free_records[s->nwords] = s;
    gm_mutex_unlock(&records_lock);
}

/* Tiny spans' bounds arrays: one uint32 per 16-byte block, from a pool. */
#define TINY_BLOCKS (GM_PAGE_SIZE / GM_TINY_SIZE)
static gm_mutex bounds_lock = GM_MUTEX_INIT;
static void *free_bounds;

static _Atomic uint32_t *tiny_bounds_alloc(void) {
    size_t size = TINY_BLOCKS * sizeof(uint32_t);
    gm_mutex_lock(&bounds_lock);
    void *b = free_bounds;
    if (b)
        free_bounds = *(void **)b;
    gm_mutex_unlock(&bounds_lock);
    if (!b) {
        b = gm_os_alloc(size);
        if (!b)
            gm_fatal("out of memory for tiny-block bounds (%zu bytes)", size);
        atomic_fetch_add_explicit(&gm_heap.meta, size, memory_order_relaxed);
    }
    memset(b, 0, size);
    return b;
}

/* fork (gc/cycle.c): the tiny bounds pool's lock. */
void gm_tiny_bounds_fork_lock(bool lock) {
    if (lock)
        gm_mutex_lock(&bounds_lock);
    else
        gm_mutex_unlock(&bounds_lock);
}

void gm_tiny_bounds_free(gm_span *s) {
    void *b = (void *)s->tiny_bounds;
    if (!b)
        return;
    s->tiny_bounds = NULL;
    gm_mutex_lock(&bounds_lock);
    *(void **)b = free_bounds;
    free_bounds = b;
    gm_mutex_unlock(&bounds_lock);
}

bool gm_tiny_object(gm_span *s, uintptr_t p, uintptr_t *start, size_t *size) {
    uintptr_t block = (p - s->base) / GM_TINY_SIZE;
    unsigned off = (unsigned)(p & (GM_TINY_SIZE - 1));
    uint32_t e = atomic_load_explicit(&s->tiny_bounds[block], memory_order_relaxed);
    uint32_t starts = (e & 0xffff) & ((2u << off) - 1);
    if (!starts)
        return false;
    unsigned first = 31 - (unsigned)__builtin_clz(starts);
    uint32_t ends = (e >> 16) & ~((1u << first) - 1);
    if (!ends)
        return false;
    unsigned last = (unsigned)__builtin_ctz(ends);
    if (off > last)
        return false;
    *start = (p & ~(uintptr_t)(GM_TINY_SIZE - 1)) + first;
    *size = last - first + 1;
    return true;
}

/* Lays out slots of the span class over the span's pages; all slots free. */
void gm_span_init_objects(gm_span *s, uint8_t spanclass) {
    uint32_t sizeclass = gm_spanclass_sizeclass(spanclass);
    s->spanclass = spanclass;
    s->kind = 0; /* kinds.c sets it for its spans */
    if (sizeclass == 0) {
        s->elemsize = s->npages << GM_PAGE_SHIFT;
        s->nelems = 1;
        s->divmagic = 0;
    } else {
        s->elemsize = gm_class_to_size[sizeclass];
        s->nelems = gm_class_to_nobjs[sizeclass];
        s->divmagic = gm_class_to_divmagic[sizeclass];
    }
    /* Both bitmaps and the mark bytes (8 per word). */
    _Atomic uint64_t *bits = (_Atomic uint64_t *)(s + 1);
    for (unsigned w = 0; w < 2u * s->nwords + 8u * s->nwords; w++)
        atomic_store_explicit(&bits[w], 0, memory_order_relaxed);
    atomic_store_explicit(&s->freeindex, 0, memory_order_relaxed);
    atomic_store_explicit(&s->nfreed, 0, memory_order_relaxed);
    s->nalloc = 0;
    s->alloc_cache = 0;
    s->cached = false;
    s->specials = NULL;
    if (spanclass == GM_TINY_SPANCLASS)
        s->tiny_bounds = tiny_bounds_alloc();
}

static uint64_t low_mask(unsigned n) {
    return n >= 64 ? ~0ull : ((1ull << n) - 1);
}

void gm_span_fold_freeindex(gm_span *s) {
    unsigned fi = atomic_load_explicit(&s->freeindex, memory_order_relaxed);
    GM_ASSERT(fi <= s->nelems);
    for (unsigned w = 0; w * 64 < fi; w++) {
        uint64_t m = low_mask(fi - w * 64);
        uint64_t a = atomic_load_explicit(&s->alloc_bits[w], memory_order_relaxed);
        atomic_store_explicit(&s->alloc_bits[w], a | m, memory_order_relaxed);
    }
    atomic_store_explicit(&s->freeindex, 0, memory_order_release);
    s->alloc_cache = 0;
}

uint32_t gm_span_apply_frees(gm_span *s) {
    if (atomic_load_explicit(&s->nfreed, memory_order_acquire) == 0)
        return 0;
    uint32_t applied = 0;
    for (unsigned w = 0; w < s->nwords; w++) {
        if (atomic_load_explicit(&s->free_bits[w], memory_order_relaxed) == 0)
            continue;
        uint64_t f = atomic_exchange_explicit(&s->free_bits[w], 0, memory_order_acq_rel);
        uint64_t a = atomic_load_explicit(&s->alloc_bits[w], memory_order_relaxed);
        GM_ASSERT((f & ~a) == 0); /* only allocated slots are freed (freeindex was folded) */
        atomic_store_explicit(&s->alloc_bits[w], a & ~f, memory_order_relaxed);
        applied += (uint32_t)gm_popcount64(f);
    }
    /* nfreed may lag the bits it counts: gm_free sets a free bit before it
     * adds to nfreed, so no assertion relates the two here. */
    atomic_fetch_sub_explicit(&s->nfreed, applied, memory_order_acq_rel);
    s->needzero = true;
    return applied;
}

void gm_span_refill_cache(gm_span *s) {
    unsigned fi = atomic_load_explicit(&s->freeindex, memory_order_relaxed);
    GM_ASSERT(fi <= s->nelems);
    uint64_t a = atomic_load_explicit(&s->alloc_bits[fi >> 6], memory_order_relaxed);
    s->alloc_cache = ~a >> (fi & 63);
}

uint32_t gm_span_count_alloc(gm_span *s) {
    uint32_t n = 0;
    for (unsigned w = 0; w < s->nwords; w++) {
        uint64_t a = atomic_load_explicit(&s->alloc_bits[w], memory_order_relaxed);
        if ((w + 1) * 64 > s->nelems)
            a &= low_mask(s->nelems - w * 64);
        n += (uint32_t)gm_popcount64(a);
    }
    return n;
}
