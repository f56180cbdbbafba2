/*
 * sweep.c - turning mark bits into allocation bits, span by span.
 *
 * Sweeping a small-object span makes the slots that were marked (and not
 * freed with gm_free meanwhile) its allocated slots and clears the marks;
 * a span left with no object goes back to the page heap.  A large object's
 * span is freed whole if its object was not marked.
 *
 * Who sweeps: a thread that needs a span sweeps it first (mcentral.c, lazy
 * sweeping); the collector's thread sweeps the rest in the background
 * after each cycle; and a new cycle finishes whatever is left, with the
 * world stopped, before it marks (sweep termination).  A span is claimed
 * by moving its sweepgen from sg-2 to sg-1, so no span is swept twice.
 */
#include "gc/kindmark.h"

_Atomic uint64_t gm_swept_spans;

static uint64_t low_mask(unsigned n) {
    return n >= 64 ? ~0ull : ((1ull << n) - 1);
}

/* Packs the 64 mark bytes of bitmap word w (each 0 or 1) into 64 bits and
 * clears them. */
uint64_t gm_take_marks(gm_span *s, unsigned w) {
    _Atomic uint64_t *bytes = (_Atomic uint64_t *)(s->mark_bytes + w * 64);
    uint64_t m = 0;
    for (unsigned k = 0; k < 8; k++) {
        uint64_t x = atomic_load_explicit(&bytes[k], memory_order_relaxed);
        if (x) {
            /* Gather the low bit of each byte into the top byte. */
            m |= (((x & 0x0101010101010101ull) * 0x0102040810204080ull) >> 56) << (k * 8);
            atomic_store_explicit(&bytes[k], 0, memory_order_relaxed);
        }
    }
    return m;
}

bool gm_sweep_span(gm_span *s, bool *freed_span) {
    if (freed_span)
        *freed_span = false;
    uint32_t sg = atomic_load_explicit(&gm_heap.sweepgen, memory_order_acquire);
    uint32_t expected = sg - 2;
    if (!atomic_compare_exchange_strong_explicit(&s->sweepgen, &expected, sg - 1, memory_order_acq_rel,
                                                 memory_order_relaxed)) {
        /* Not ours to sweep: swept, being swept, or (never) stale by more
         * than one cycle. */
        GM_ASSERT(expected == sg || expected == sg - 1);
        return false;
    }
    GM_ASSERT(atomic_load_explicit(&s->state, memory_order_relaxed) == GM_SPAN_INUSE);
    GM_ASSERT(!s->cached && s->list == GM_LIST_NONE); /* the sweeper owns it */
    GM_ASSERT(atomic_load_explicit(&s->freeindex, memory_order_relaxed) == 0);
    if (__atomic_load_n(&s->specials, __ATOMIC_ACQUIRE))
        gm_specials_sweep(s);
    if (__atomic_load_n(&s->profiled, __ATOMIC_ACQUIRE))
        gm_heap_prof.sweep(s);
    uint64_t reclaimed = 0, marked_freed = 0;
    uint32_t applied = 0, live = 0;
    bool large = gm_spanclass_sizeclass(s->spanclass) == 0;
    for (unsigned w = 0; w < s->nwords; w++) {
        uint64_t mask = (w + 1) * 64 > s->nelems ? low_mask(s->nelems - w * 64) : ~0ull;
        uint64_t m = gm_take_marks(s, w) & mask;
        uint64_t f = atomic_exchange_explicit(&s->free_bits[w], 0, memory_order_acq_rel);
        uint64_t a = atomic_load_explicit(&s->alloc_bits[w], memory_order_relaxed) & mask;
        /* Live: marked, allocated and not freed.  A mark alone is not enough:
         * with concurrent marking a slot marked early may be freed (and its
         * free applied by a thread that cached the span) before the cycle ends. */
        uint64_t now = m & a & ~f;
        reclaimed += (uint64_t)gm_popcount64(a & ~f & ~m);
        applied += (uint32_t)gm_popcount64(f);
        if (large) /* one word; small objects' frees left heap_live when published */
            marked_freed += (uint64_t)gm_popcount64(m & a & f);
        live += (uint32_t)gm_popcount64(now);
        atomic_store_explicit(&s->alloc_bits[w], now, memory_order_relaxed);
    }
    GM_ASSERT(live <= s->nelems);
    /* nfreed may lag the bits it counts: gm_free sets a free bit before it
     * adds to nfreed, so no assertion relates the two here.  What is left
     * is not zero while a thread has set bits taken here and not added
     * them yet (a live object's free bit set after this sweep read its
     * word keeps the span in use anyway): that thread still writes the
     * record, so the span is not freed under it, and stays on its list,
     * empty, until it is used or swept again. */
    uint32_t left = atomic_fetch_sub_explicit(&s->nfreed, applied, memory_order_acq_rel) - applied;
    s->nalloc = (uint16_t)live;
    GM_ASSERT(gm_span_count_alloc(s) == live); /* the bitmap agrees with the count */
    if (reclaimed || applied)
        s->needzero = true;
    if (reclaimed) {
        atomic_fetch_add_explicit(large ? &gm_hstats.large_free : &gm_hstats.nfree, reclaimed,
                                  memory_order_relaxed);
        if (large)
            atomic_fetch_add_explicit(&gm_hstats.large_free_bytes, reclaimed * s->elemsize,
                                      memory_order_relaxed);
        atomic_fetch_add_explicit(&gm_hstats.bytes_freed, reclaimed * s->elemsize, memory_order_relaxed);
    }
    /* A large object gm_free could not free at once (marking ran, or this
     * sweep held its span) stayed in heap_live; marked, it is in the
     * marked bytes the cycle left there, so it leaves them now (unmarked,
     * it never entered them).  Small objects' frees leave heap_live when
     * they are published. */
    if (marked_freed)
        atomic_fetch_sub_explicit(&gm_hstats.heap_live, marked_freed * s->elemsize, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_swept_spans, 1, memory_order_relaxed);
    atomic_store_explicit(&s->sweepgen, sg, memory_order_release);
    if (freed_span && live == 0 && left == 0 && !__atomic_load_n(&s->specials, __ATOMIC_ACQUIRE)) {
        gm_heap_free_span(s);
        *freed_span = true;
    }
    return true;
}

/* A set of span lists to sweep: an mcentral's, or the large objects'. */
typedef struct sweep_lists {
    gm_mcentral *central; /* NULL: the large objects' spans */
} sweep_lists;

static gm_span *take_unswept(sweep_lists l) {
    return l.central ? gm_mcentral_take_unswept(l.central) : gm_large_take_unswept();
}

static void put_swept(sweep_lists l, gm_span *s) {
    if (l.central)
        gm_mcentral_put_swept(l.central, s);
    else
        gm_large_put_swept(s);
}

/* Sweeps every unswept span of l, or, with a budget, until *pages_wanted
 * pages have gone back to the page heap.  A span is off every list while
 * it is swept: that runs inside the fork gate. */
static void sweep_until(sweep_lists l, size_t *pages_wanted, int *budget) {
    for (;;) {
        if (pages_wanted && *pages_wanted == 0)
            return;
        if (budget && (*budget)-- <= 0)
            return;
        gm_forkgate_enter();
        gm_span *s = take_unswept(l);
        if (!s) {
            gm_forkgate_exit();
            return;
        }
        size_t npages = s->npages;
        bool freed;
        gm_sweep_span(s, &freed);
        if (!freed)
            put_swept(l, s);
        gm_forkgate_exit();
        if (freed && pages_wanted)
            *pages_wanted -= npages < *pages_wanted ? npages : *pages_wanted;
    }
}

static void sweep_everything_until(size_t *pages_wanted, int *budget) {
    sweep_until((sweep_lists){NULL}, pages_wanted, budget);
    for (int i = 0; i < GM_ALL_SPAN_CLASSES && (!pages_wanted || *pages_wanted); i++)
        sweep_until((sweep_lists){&gm_central[i]}, pages_wanted, budget);
    for (size_t i = 0, n = gm_kinds_ncentrals(); i < n && (!pages_wanted || *pages_wanted); i++)
        sweep_until((sweep_lists){gm_kinds_central(i)}, pages_wanted, budget);
}

void gm_sweep_all(void) {
    uint32_t sg = atomic_load_explicit(&gm_heap.sweepgen, memory_order_acquire);
    sweep_everything_until(NULL, NULL);
    gm_sweep_mark_done(sg);
}

/* Set at the end of each cycle, cleared by whoever sees every list swept
 * under the same sweepgen: a hint that lets the page heap skip reclaiming
 * when nothing is left to sweep. */
static _Atomic uint32_t sweep_done_gen;

void gm_sweep_mark_done(uint32_t sg) {
    atomic_store_explicit(&sweep_done_gen, sg, memory_order_release);
    if (gm_heap_prof.sweep_done)
        gm_heap_prof.sweep_done(sg);
}

/* Before the page heap commits new memory, the allocating thread sweeps
 * unswept spans until npages pages have come back to the page heap (Go's
 * mheap reclaim): garbage from the last cycle is reused before the heap
 * grows.  At most RECLAIM_BUDGET spans per call (some tens of
 * microseconds): where the dead spans lie behind thousands of live ones (a
 * FIFO of messages), sweeping them all held one allocation up for 10 ms;
 * the heap grows a little instead, and the background sweeper, or the next
 * reclaim, gets to the rest. */
#define RECLAIM_BUDGET 256
bool gm_sweep_reclaim(size_t npages) {
    uint32_t sg = atomic_load_explicit(&gm_heap.sweepgen, memory_order_acquire);
    if (atomic_load_explicit(&sweep_done_gen, memory_order_acquire) == sg)
        return false;
    size_t wanted = npages;
    int budget = RECLAIM_BUDGET;
    sweep_everything_until(&wanted, &budget);
    if (wanted && budget > 0)
        gm_sweep_mark_done(sg); /* everything was swept */
    return wanted < npages;
}
