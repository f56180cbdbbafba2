/*
 * heap.h - the heap's types: spans, arenas, mcache, mcentral, mheap.
 *
 * Object state.  A span holds nelems slots of elemsize bytes.  Two bitmaps
 * of ceil(nelems/64) words and one byte map live in the span record, out of
 * band:
 *
 *   alloc_bits  a slot was allocated when the span was last swept or reset;
 *   free_bits   gm_free released the slot; applied at the next reset/sweep;
 *   mark_bytes  the collector found the slot reachable (this cycle).  One
 *               byte per slot, so parallel markers set marks with plain
 *               stores instead of locked read-modify-writes (two markers may
 *               both see a slot white and both scan it: harmless).
 *
 * While a span is cached by a thread's mcache, that thread allocates the free
 * slots (alloc_bits clear) in address order: freeindex is the slot after the
 * last one handed out and alloc_cache holds the inverted alloc_bits word from
 * freeindex on, so the next free slot is one ctz away.  Hence
 *
 *   allocated(i) = (i < freeindex || alloc_bits[i]) && !free_bits[i]
 *
 * A span that is not cached always has freeindex == 0.  When a thread gives a
 * span back (uncache) it folds the slots below freeindex into alloc_bits; when
 * a thread takes one (reset) it applies free_bits.  Only the span's owner (the
 * mcache that caches it, or whoever holds it off every list) writes alloc_bits
 * and freeindex; anyone may read them (relaxed atomics) and set free_bits.
 *
 * Sweeping.  mheap.sweepgen grows by 2 each cycle.  For a span s:
 *   s.sweepgen == sg - 2   needs sweeping
 *   s.sweepgen == sg - 1   being swept
 *   s.sweepgen == sg       swept, ready to use
 * Sweeping makes the marks the new alloc_bits (minus free_bits) and clears
 * the marks.
 *
 * Span lookup.  Every page of an in-use span maps to it through the arena
 * index (gm_arena_lookup(addr)->spans[page]); a free span maps at least its
 * first and last page, for coalescing.  The index has two levels, so that
 * it costs address space only for the arenas in use (a flat index of the
 * 48-bit space took 32 MiB of it, too much under a small ulimit -v):
 * gm_arena_l1[n >> GM_ARENA_L2_BITS] (n = addr >> 26) points to a chunk of
 * 2048 arena records, made when an arena in its range is first reserved
 * and never freed.  An arena's reservation may be shorter than 64 MiB
 * (limit), when the address space left is small; its pages past the limit
 * map to no span.
 */
#ifndef GM_HEAP_H
#define GM_HEAP_H

#include "gm.h"

/* Span states.  RELEASING: a free run the scavenger took off the free lists
 * to give its pages back to the OS without holding the heap lock (mheap.c);
 * it neither merges nor is handed out until it is put back. */
enum { GM_SPAN_DEAD = 0, GM_SPAN_FREE = 1, GM_SPAN_INUSE = 2, GM_SPAN_RELEASING = 3 };

/* Span class: size class * 2 + noscan.  Class 0 is for large objects.  One
 * extra span class holds the tiny allocator's 16-byte blocks, so that a
 * pointer into a tiny block is known for what it is. */
#define GM_TINY_SPANCLASS GM_NUM_SPAN_CLASSES
#define GM_ALL_SPAN_CLASSES (GM_NUM_SPAN_CLASSES + 1)

GM_INLINE uint8_t gm_spanclass(uint32_t sizeclass, bool noscan) {
    return (uint8_t)(sizeclass << 1 | (noscan ? 1 : 0));
}
GM_INLINE bool gm_spanclass_noscan(uint8_t sc) { return sc == GM_TINY_SPANCLASS || (sc & 1); }
GM_INLINE uint32_t gm_spanclass_sizeclass(uint8_t sc) {
    return sc == GM_TINY_SPANCLASS ? 2 : (uint32_t)sc >> 1;
}

/* Lists a span may be on (span->list), for moving it in O(1). */
enum { GM_LIST_NONE = 0, GM_LIST_HEAP_FREE, GM_LIST_PARTIAL, GM_LIST_FULL, GM_LIST_LARGE };

typedef struct gm_span {
    /* What marking reads for every pointer into the span, written only when
     * the span changes hands: the first cache line, shared by the markers
     * and the allocating thread without bouncing. */
    uintptr_t base;
    size_t npages;
    size_t elemsize;     /* bytes per slot; for a large span, the whole span */
    _Atomic uint8_t *mark_bytes;
    _Atomic uint64_t *alloc_bits;
    _Atomic uint64_t *free_bits;
    uint32_t divmagic;   /* slot index = (offset * divmagic) >> 32 */
    uint16_t nelems;
    uint16_t nwords;     /* bitmap words */
    uint8_t spanclass;
    _Atomic uint8_t state;
    uint8_t kind;        /* object kind, 0 = ordinary (src/heap/kinds.h) */
    bool needzero;       /* memory may be dirty: zero objects on allocation */

    /* Lists, sweeping and the rest. */
    struct gm_span *next, *prev;
    uint32_t freed_gen;  /* free span: gm_heap.sweepgen when it last became free */
    uint8_t list;        /* GM_LIST_*, under the lock of that list */
    uint8_t list_set;    /* which of the two sweep sets (mcentral lists) */
    bool scavenged;      /* free span whose pages went back to the OS */
    _Atomic bool cached; /* owned by an mcache (set under the mcentral lock) */
    bool kept_empty;     /* emptied by gm_free, kept on its mcentral (gm_heap_kept_empty) */
    _Atomic uint16_t nalloc; /* allocated slots at the last reset/uncache/sweep */
    _Atomic uint32_t sweepgen;
    _Atomic uint32_t nfreed; /* free_bits set and not applied yet */
    /* Bumped (under the mcentral lock) when span_freed takes the span to
     * free it, never cleared, not even when the record is reused: a thread
     * that read it while its objects were live in the span tells, under
     * that lock, whether the record still holds the same span. */
    _Atomic uint32_t incarnation;
    void *specials;      /* finalizers, cleanups, weak handles (src/gc) */
    void *profiled;      /* records of its sampled objects (heap profile), or NULL */
    /* Tiny spans only: per 16-byte block, bit k set if an object starts at
     * byte k (low 16 bits) or ends at byte k (high 16 bits).  Written by
     * the owning mcache, read by gm_size/gm_base/gm_realloc. */
    _Atomic uint32_t *tiny_bounds;
    gm_mutex specials_lock;

    /* The owning thread's allocation cursor, written on every allocation:
     * a cache line of its own (on the first line, with what the markers
     * read, every allocation took the line from a marker reading the span:
     * a miss on both sides). */
    _Alignas(64) _Atomic uint16_t freeindex;
    uint64_t alloc_cache;
    /* The record is followed by 2 * nwords bitmap words, then 64 * nwords
     * mark bytes; the pointers above point there. */
} gm_span;

/* 64 MiB of address space: the span of each of its pages. */
typedef struct gm_arena {
    uintptr_t base;
    size_t committed; /* bytes from base made read/write */
    bool untracked;   /* write tracking could not be armed here: every page
                       * counts as written (concurrent.c rescans it whole) */
    size_t limit;     /* bytes from base reserved: GM_ARENA_SIZE or less */
    gm_span *_Atomic spans[GM_PAGES_PER_ARENA];
    /* Pages that concurrent marking leaves out of write tracking (set and
     * cleared under the heap lock): those of in-use pointer-free spans,
     * where nothing stored can hide a pointer, and free pages, which hold
     * no object (one that becomes a span with pointers during a cycle was
     * never protected, so it reads as written and is rescanned).  So the
     * program's first write to a page of a new pointer-free span, or of
     * any span carved from free pages while marking runs, takes no fault. */
    _Atomic uint64_t notrack[GM_PAGES_PER_ARENA / 64];
} gm_arena;

#define GM_ARENA_L2_BITS 11
#define GM_ARENA_L1_LEN (GM_ARENA_INDEX_LEN >> GM_ARENA_L2_BITS)
typedef struct gm_arena_l2 {
    gm_arena *_Atomic arenas[(size_t)1 << GM_ARENA_L2_BITS];
} gm_arena_l2;
extern gm_arena_l2 *_Atomic gm_arena_l1[GM_ARENA_L1_LEN];

/* The record of the arena that holds address p, or NULL. */
GM_INLINE gm_arena *gm_arena_lookup(uintptr_t p) {
    if (GM_UNLIKELY(p >> GM_ADDR_BITS))
        return NULL;
    uintptr_t n = p >> GM_ARENA_SHIFT;
    gm_arena_l2 *l2 = atomic_load_explicit(&gm_arena_l1[n >> GM_ARENA_L2_BITS], memory_order_acquire);
    if (!l2)
        return NULL;
    return atomic_load_explicit(&l2->arenas[n & (((uintptr_t)1 << GM_ARENA_L2_BITS) - 1)],
                                memory_order_acquire);
}

/* True if p lies in address space the heap reserved. */
GM_INLINE bool gm_heap_owns(uintptr_t p) {
    gm_arena *a = gm_arena_lookup(p);
    return a && p - a->base < a->limit;
}
/* The range of arena numbers (address >> GM_ARENA_SHIFT) the heap spans,
 * [lo, hi).  Kept as arena numbers, not addresses, so that these globals
 * (scanned as roots, like every data segment) never look like pointers to
 * the heap's first object. */
typedef struct gm_arena_range {
    _Atomic uintptr_t lo, hi;
} __attribute__((aligned(64))) gm_arena_range;
/* Read for every candidate word a marker tests, written only when the heap
 * grows: alone on its cache line (a counter beside it, written by
 * allocating threads, once cost binary-trees a third of its time). */
extern gm_arena_range gm_heap_arenas;

/* A quick filter for candidate pointers: true if v lies within the range of
 * arenas (it may still point to no object). */
GM_INLINE bool gm_heap_range_contains(uintptr_t v) {
    uintptr_t lo = atomic_load_explicit(&gm_heap_arenas.lo, memory_order_relaxed);
    uintptr_t hi = atomic_load_explicit(&gm_heap_arenas.hi, memory_order_relaxed);
    return (v >> GM_ARENA_SHIFT) - lo < hi - lo;
}

/* The span that owns address p, or NULL.  The span may be free or stale;
 * callers check state and bounds. */
GM_INLINE gm_span *gm_span_of_raw(uintptr_t p) {
    gm_arena *a = gm_arena_lookup(p);
    if (!a)
        return NULL;
    return atomic_load_explicit(&a->spans[(p & (GM_ARENA_SIZE - 1)) >> GM_PAGE_SHIFT],
                                memory_order_acquire);
}

/* The in-use span that contains p, or NULL. */
GM_INLINE gm_span *gm_span_of(uintptr_t p) {
    gm_span *s = gm_span_of_raw(p);
    if (!s || atomic_load_explicit(&s->state, memory_order_acquire) != GM_SPAN_INUSE ||
        p < s->base || p >= s->base + (s->npages << GM_PAGE_SHIFT))
        return NULL;
    return s;
}

GM_INLINE uintptr_t gm_span_index(const gm_span *s, uintptr_t p) {
    return (uintptr_t)(((uint64_t)(p - s->base) * s->divmagic) >> 32);
}

GM_INLINE bool gm_bit(_Atomic uint64_t *bits, uintptr_t i) {
    return (atomic_load_explicit(&bits[i >> 6], memory_order_relaxed) >> (i & 63)) & 1;
}

GM_INLINE bool gm_span_marked(gm_span *s, uintptr_t i) {
    return atomic_load_explicit(&s->mark_bytes[i], memory_order_relaxed) != 0;
}

GM_INLINE bool gm_span_allocated(gm_span *s, uintptr_t i) {
    return (i < atomic_load_explicit(&s->freeindex, memory_order_relaxed) || gm_bit(s->alloc_bits, i)) &&
           !gm_bit(s->free_bits, i);
}

/* ------------------------------------------------------------------ mheap */

#define GM_HEAP_EXACT_LISTS 128

typedef struct gm_mheap {
    gm_mutex lock;
    gm_span free_exact[GM_HEAP_EXACT_LISTS]; /* sentinels: free runs of n pages */
    gm_span free_large;                       /* sentinel: runs >= 128 pages */
    _Atomic uint32_t sweepgen;
    /* Accounting, in bytes (under lock unless atomic). */
    _Atomic uint64_t sys;       /* committed */
    _Atomic uint64_t reserved;  /* address space */
    _Atomic uint64_t inuse;     /* pages of in-use spans */
    _Atomic uint64_t released;  /* free pages given back to the OS */
    _Atomic uint64_t meta;      /* span records, arena records */
} gm_mheap;
extern gm_mheap gm_heap;

/* The swept one of the two sweep sets of span lists (mcentral's, the large
 * objects'): finishing a cycle adds 2 to sweepgen, which turns every swept
 * list into an unswept one without touching a span. */
GM_INLINE unsigned gm_heap_swept_set(void) {
    return (atomic_load_explicit(&gm_heap.sweepgen, memory_order_acquire) / 2) % 2;
}

void gm_heap_init(void);       /* malloc.c: the heap's lists, once */
void gm_heap_init_lists(void); /* mheap.c */
gm_span *gm_heap_alloc_span(size_t npages, uint8_t spanclass); /* in use, swept */
void gm_heap_free_span(gm_span *s);
void gm_heap_idle_bytes(uint64_t *idle, uint64_t *released);

/* span.c */
gm_span *gm_span_record_alloc(uint16_t nwords);
void gm_span_record_free(gm_span *s);
void gm_span_init_objects(gm_span *s, uint8_t spanclass);
/* Folds the slots below freeindex into alloc_bits (uncache). */
void gm_span_fold_freeindex(gm_span *s);
/* Applies pending frees to alloc_bits; returns how many it applied. */
uint32_t gm_span_apply_frees(gm_span *s);
/* Loads alloc_cache for the word that holds freeindex. */
void gm_span_refill_cache(gm_span *s);
uint32_t gm_span_count_alloc(gm_span *s);
/* The tiny object that p points into: its start and its size, or false if p
 * is in no object of its 16-byte block. */
bool gm_tiny_object(gm_span *s, uintptr_t p, uintptr_t *start, size_t *size);
/* A tiny span's bounds map goes back to its pool when the span is freed. */
void gm_tiny_bounds_free(gm_span *s);
/* Span records come from a pool under this lock (span.c). */
extern gm_mutex gm_span_records_lock;
/* fork: the tiny bounds maps' pool lock (span.c). */
void gm_tiny_bounds_fork_lock(bool lock);

/* --------------------------------------------------------------- mcentral */

/* Two sets of lists per span class, swept and unswept; which is which flips
 * every cycle (gm_heap_swept_set). */
typedef struct gm_mcentral {
    gm_mutex lock;
    uint8_t spanclass;
    gm_span partial[2]; /* sentinels: spans with free slots */
    gm_span full[2];    /* sentinels: spans without */
} gm_mcentral;
extern gm_mcentral gm_central[GM_ALL_SPAN_CLASSES];
/* The mcentral a small span belongs to: its kind's (src/heap/kinds.c) or
 * its span class's. */
gm_mcentral *gm_kind_home_central(gm_span *s);
GM_INLINE gm_mcentral *gm_span_home(gm_span *s) {
    return GM_LIKELY(s->kind == 0) ? &gm_central[s->spanclass] : gm_kind_home_central(s);
}

void gm_mcentral_init(void);

gm_span *gm_mcentral_cache_span(gm_mcentral *c);
void gm_mcentral_uncache_span(gm_mcentral *c, gm_span *s);
/* A gm_free made the first pending free of an uncached span, or its last
 * one; incarnation is s->incarnation, read before the frees were published. */
void gm_mcentral_span_freed(gm_mcentral *c, gm_span *s, uint32_t incarnation);

/* Bytes of spans that gm_free emptied and their mcentral kept for reuse
 * instead of freeing them to the page heap (mcentral.c), at most
 * GM_KEPT_EMPTY_MAX; a kept span leaves the count when it is cached again
 * or freed (a sweep frees it if it is still empty at the next cycle). */
#define GM_KEPT_EMPTY_MAX ((uint64_t)64 << 20)
extern _Atomic uint64_t gm_heap_kept_empty;
GM_INLINE void gm_span_unkeep(gm_span *s) {
    if (s->kept_empty) {
        s->kept_empty = false;
        atomic_fetch_sub_explicit(&gm_heap_kept_empty, s->npages << GM_PAGE_SHIFT, memory_order_relaxed);
    }
}

/* List helpers (sentinel-based doubly linked lists). */
GM_INLINE void gm_list_init(gm_span *head) { head->next = head->prev = head; }
GM_INLINE bool gm_list_empty(const gm_span *head) { return head->next == head; }
GM_INLINE void gm_list_push(gm_span *head, gm_span *s) {
    s->next = head->next;
    s->prev = head;
    head->next->prev = s;
    head->next = s;
}
GM_INLINE void gm_list_remove(gm_span *s) {
    s->prev->next = s->next;
    s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

/* Large objects' spans, in two sweep sets like an mcentral's lists. */
typedef struct gm_large_spans {
    gm_mutex lock;
    gm_span set[2];
} gm_large_spans;
extern gm_large_spans gm_large;

/* ------------------------------------------------------- heap profiling */

/* Allocation sampling for the heap profile (sample.c).  While
 * gm_cfg.memprofilerate > 0, one allocated byte in memprofilerate on
 * average starts a sample, the distances between samples drawn from an
 * exponential distribution.  Small objects are counted per span class: the
 * refill slow path debits the countdown for every object a newly loaded
 * alloc_cache holds, and cuts alloc_cache short just before the sampled
 * object, so that object comes back to the slow path; the fast path pays
 * nothing.  Tiny and large objects, which always take the slow path, share
 * one byte countdown. */
#define GM_SAMPLE_MAX_DEPTH 64
typedef struct gm_mcache_sampler {
    int64_t left[GM_ALL_SPAN_CLASSES]; /* bytes to the next sample, per span class */
    int64_t left_other;                /* tiny and large objects */
    uint64_t rng;
    bool want_stack; /* the refill stopped before a sampled object: capture, retry */
    int depth;       /* > 0: stack captured for the next sampled object */
    uintptr_t stack[GM_SAMPLE_MAX_DEPTH];
} gm_mcache_sampler;

/* Hooks of the heap profiler (src/obs/heapprof.c), all set or all NULL. */
typedef struct gm_heap_profiler {
    /* Fills pcs with the return addresses of the allocating call, its
     * caller first; returns how many.  Outside any no-stop region. */
    int (*capture)(uintptr_t *pcs, int max);
    /* A sampled object of size bytes was allocated at obj in span s
     * (inside the allocation's no-stop region). */
    void (*sampled)(gm_span *s, uintptr_t obj, size_t size, const uintptr_t *pcs, int depth);
    /* gm_free releases obj, in a span whose profiled is set. */
    void (*freed)(gm_span *s, uintptr_t obj);
    /* A span whose profiled is set is being swept, marks not yet taken. */
    void (*sweep)(gm_span *s);
    /* Every span has been swept for sweepgen sg. */
    void (*sweep_done)(uint32_t sg);
} gm_heap_profiler;
extern gm_heap_profiler gm_heap_prof;

void gm_sample_init(gm_mcache *mc);
/* Seeds the calling thread's sampling from seed and gives back its cached
 * spans, so that a single-threaded program that allocates the same way
 * (and does not collect) samples the same objects: for tests. */
void gm_sample_reseed(uint64_t seed);
/* The refill slow path of span class sc (not the tiny class): begin returns
 * false if the next object is sampled and its stack is not taken yet (the
 * refill then returns NULL with want_stack set); end counts the object p
 * just taken from mc->alloc[sc] and the rest of the span's alloc_cache. */
bool gm_sample_refill_begin(gm_mcache *mc, uint8_t sc);
void gm_sample_refill_end(gm_mcache *mc, uint8_t sc, void *p);
/* Tiny and large objects: true if an object of size bytes is sampled; then
 * the stack has been taken (call before the no-stop region). */
bool gm_sample_other(gm_mcache *mc, size_t size);
/* Takes the calling thread's stack into mc (outside the no-stop region). */
void gm_sample_capture(gm_mcache *mc);
/* The start addresses of the functions that a program's allocating call
 * can have last on the stack (the public calls, and the slow paths they
 * may tail-call), where the profile cuts the allocator's own frames off. */
#define GM_ALLOC_ENTRY_POINTS 7
void gm_alloc_entry_points(uintptr_t out[GM_ALLOC_ENTRY_POINTS]);
/* Records the sample whose stack mc holds (inside the no-stop region). */
void gm_sample_record(gm_mcache *mc, gm_span *s, void *p, size_t size);

/* ----------------------------------------------------------------- mcache */

struct gm_mcache {
    gm_span *alloc[GM_ALL_SPAN_CLASSES]; /* never NULL: &gm_empty_span */
    uintptr_t tiny;                      /* current tiny block, or 0 */
    uintptr_t tiny_offset;
    _Atomic uint32_t *tiny_bounds;       /* its entry in the span's tiny_bounds */
    /* Statistics, flushed into the global counters at uncache and at GC. */
    uint64_t nmalloc;     /* objects allocated in spans already given back */
    uint64_t nfree;       /* objects freed by gm_free */
    uint64_t bytes_freed;
    uint64_t tiny_allocs;
    /* Bytes allocated black while marking runs (gm_mark_new_object), kept
     * here so that allocation touches no shared cache line; handed to the
     * collector when the mcache is flushed (every thread's at the final
     * stop, and at thread exit). */
    uint64_t black_bytes;
    /* Frees not yet published: gm_free gathers consecutive frees that hit
     * the same bitmap word of the same span and sets their free_bits (and
     * counts them in nfreed) with one atomic operation each when the run
     * ends, or when the thread next takes the slow path or is flushed. */
    gm_span *pending_span;
    unsigned pending_word;
    uint64_t pending_mask;
    gm_mcache_sampler sampler; /* heap profile sampling (sample.c) */
};
extern gm_span gm_empty_span;

void gm_mcache_init(gm_mcache *mc);
/* Returns an object; NULL when out of memory, or when the heap profile
 * samples it and wants its caller's stack first (sampler.want_stack). */
void *gm_mcache_refill(gm_mcache *mc, uint8_t spanclass);
void gm_mcache_release_all(gm_mcache *mc);               /* uncache every span */
void gm_mcache_publish_frees(gm_mcache *mc);             /* pending frees -> free_bits */

/* ----------------------------------------------------------------- malloc */

/* Global counters (atomics), read by memstats and the pacer. */
typedef struct gm_heap_stats {
    _Atomic uint64_t heap_live;    /* bytes in cached spans + allocated objects */
    _Atomic uint64_t nmalloc;      /* small objects, counted at uncache */
    _Atomic uint64_t nfree;
    _Atomic uint64_t total_alloc;  /* bytes */
    _Atomic uint64_t bytes_freed;  /* all objects, small and large */
    _Atomic uint64_t large_alloc;  /* large objects: count, bytes */
    _Atomic uint64_t large_alloc_bytes;
    _Atomic uint64_t large_free;
    _Atomic uint64_t large_free_bytes;
    _Atomic uint64_t tiny_allocs;
} gm_heap_stats;
extern gm_heap_stats gm_hstats;

/* A large object of size bytes, its span on the large set.  Memory that may
 * be dirty is zeroed before the return, or, given zero_later, left to the
 * caller (*zero_later says whether it must be), which zeroes it outside
 * its no-stop region. */
void *gm_alloc_large(size_t size, bool noscan, bool *zero_later);
/* Puts a new large object's span on the swept set (mcentral.c). */
void gm_large_add(gm_span *s);
/* gm_free of a large object: takes its span off the large set and returns
 * true, or false if the sweeper holds it (the sweeper then sees the free
 * bit). */
bool gm_large_remove(gm_span *s);

#endif /* GM_HEAP_H */
