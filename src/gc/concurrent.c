/*
 * concurrent.c - what concurrent marking adds to a cycle: finding the marked
 * objects on pages the program wrote while marking ran.
 *
 * C has no write barrier, so gomem marks mostly concurrently, as Boehm,
 * Demers and Shenker described: the kernel tracks which heap pages are
 * written (src/os/dirty.c) and the collector rescans, on each written page,
 * the marked objects that lie on it (only the part on that page: a pointer
 * stored into an object is on the page it was written to).  Roots (stacks,
 * registers, data segments, user roots) are rescanned whole in the final
 * stop, so they need no tracking.
 *
 * Why this is enough.  Every heap page is write-protected again just
 * before the first stop (gm_concurrent_reset, while the program still runs:
 * a page written between that and the stop is only rescanned needlessly)
 * and the roots are scanned in the stop.  While marking runs, a mutator can hide a white object only by
 * storing a pointer to it somewhere: in a root (rescanned at the end), in
 * a white object (scanned when it is reached), in a grey object (scanned
 * later, reading the new value), or in a black (marked, already scanned)
 * object, whose page the store makes written: its rescan finds the pointer.
 * Objects allocated while marking runs are marked at allocation (black), so
 * what is stored in them is found the same way.  Rescan rounds while the
 * program runs shrink what the final stop has left to do; the final stop
 * collects the pages written since the last round.  Once marking is over
 * the protection comes off (gm_concurrent_release): between cycles nothing
 * needs tracking, and a protected page costs the program a fault on its
 * first write (Nix's evaluator took 370,000 such faults in a 10 s run).
 *
 * Invariant while marking runs: no span is freed (gm_free and mcentral
 * defer it to the next sweep; nothing needs sweeping), so the span records
 * that scanning caches never change meaning under it.
 */
#include "gc/gc.h"

/* Scans the parts of the marked objects of scan spans that lie on the
 * written pages [lo, hi): a work item queued by rescan_run, run by a mark
 * worker or an assist.  Marks read here may be newer than when the item was
 * queued: an object marked since is scanned again needlessly, never
 * missed. */
GM_NO_SANITIZE void gm_concurrent_rescan_item(gm_gcwork *w, uintptr_t lo, uintptr_t hi) {
    w->scanned_bytes += (hi - lo) / 16; /* the mark checks (gc.h) */
    uintptr_t p = lo;
    while (p < hi) {
        gm_span *s = gm_span_of(p);
        if (!s) {
            p = (p + GM_PAGE_SIZE) & ~(uintptr_t)(GM_PAGE_SIZE - 1);
            continue;
        }
        uintptr_t span_end = s->base + (s->npages << GM_PAGE_SHIFT);
        uintptr_t stop = hi < span_end ? hi : span_end;
        if (!gm_spanclass_noscan(s->spanclass)) {
            uintptr_t first = gm_span_index(s, p), last = gm_span_index(s, stop - 1);
            if (last >= s->nelems)
                last = s->nelems - 1u;
            for (uintptr_t i = first; i <= last; i++) {
                if (!gm_span_marked(s, i))
                    continue;
                uintptr_t obj = s->base + i * s->elemsize, end = obj + s->elemsize;
                uintptr_t a = obj > p ? obj : p, b = end < stop ? end : stop;
                if (b > a)
                    gm_scan_range(w, a, b);
            }
        }
        p = stop;
    }
}

/* The callback of the written-page scan: queues [lo, hi) as work items of
 * at most GM_RESCAN_ITEM bytes.  One item per run of pages, where one range
 * per marked object on them was queued before: rescanning binary-trees'
 * 1.5 MB of written pages a cycle queued 50,000 ranges and held 2.5 MB of
 * work buffers. */
static void rescan_run(uintptr_t lo, uintptr_t hi, void *ctx) {
    gm_gcwork *w = ctx;
    for (uintptr_t p = lo; p < hi; p += GM_RESCAN_ITEM)
        gm_gcwork_push_rescan(w, p, hi - p > GM_RESCAN_ITEM ? p + GM_RESCAN_ITEM : hi);
}

/* Runs of untracked pages shorter than this stay inside a tracked run: one
 * PAGEMAP_SCAN call costs more than protecting a few pages needlessly. */
#define MIN_UNTRACKED_PAGES 8

/* The first page at or after page, below npages, whose untracked bit is want;
 * npages if none. */
static size_t next_page(const gm_arena *a, size_t page, size_t npages, bool want) {
    while (page < npages) {
        uint64_t w = atomic_load_explicit(&a->notrack[page >> 6], memory_order_relaxed);
        w = (want ? w : ~w) >> (page & 63);
        if (w) {
            page += (size_t)__builtin_ctzll(w);
            break;
        }
        page = (page | 63) + 1;
    }
    return page < npages ? page : npages;
}

/* Calls the tracker on the committed bytes of arena a, less the runs of
 * untracked pages (a->notrack: pages of pointer-free spans and free pages):
 * those are never protected, so the program's first write to each of them
 * in a cycle takes no fault.  A page left unprotected reads as written; if
 * it becomes part of a span with pointers (carved from free pages while
 * marking runs, or its pointer-free span freed and its pages reused), it is
 * rescanned until the next reset protects it: conservative, never unsafe. */
typedef struct tracker_op {
    bool release; /* remove the protection; else collect (and maybe reprotect) */
    bool reprotect;
    void (*fn)(uintptr_t, uintptr_t, void *);
    void *ctx;
} tracker_op;

static uint64_t track_run(uintptr_t lo, uintptr_t hi, const tracker_op *op) {
    if (op->release) {
        gm_dirty_release(lo, hi);
        return 0;
    }
    return gm_dirty_collect(lo, hi, op->reprotect, op->fn, op->ctx);
}

static uint64_t collect_tracked(gm_arena *a, size_t committed, const tracker_op *op) {
    size_t npages = (committed + GM_PAGE_SIZE - 1) >> GM_PAGE_SHIFT;
    uint64_t written = 0;
    size_t run = 0, page = 0; /* run: the first page of the tracked run */
    while ((page = next_page(a, page, npages, true)) < npages) {
        size_t end = next_page(a, page, npages, false);
        if (end - page >= MIN_UNTRACKED_PAGES) {
            if (page > run)
                written += track_run(a->base + (run << GM_PAGE_SHIFT), a->base + (page << GM_PAGE_SHIFT), op);
            run = end;
        }
        page = end;
    }
    if (run < npages)
        written += track_run(a->base + (run << GM_PAGE_SHIFT), a->base + committed, op);
    return written;
}

/* Calls the tracker on the committed part of every arena. */
static uint64_t for_each_arena(const tracker_op *op) {
    uint64_t written = 0;
    uintptr_t lo = atomic_load_explicit(&gm_heap_arenas.lo, memory_order_acquire);
    uintptr_t hi = atomic_load_explicit(&gm_heap_arenas.hi, memory_order_acquire);
    for (uintptr_t n = lo; n < hi; n++) {
        gm_arena *a = gm_arena_lookup(n << GM_ARENA_SHIFT);
        size_t committed = a ? __atomic_load_n(&a->committed, __ATOMIC_ACQUIRE) : 0;
        if (!committed)
            continue;
        if (!a->untracked) {
            written += collect_tracked(a, committed, op);
        } else if (op->fn) { /* no tracking here: every page counts as written */
            op->fn(a->base, a->base + committed, op->ctx);
            written += committed;
        }
    }
    return written;
}

void gm_concurrent_reset(void) {
    tracker_op op = {.reprotect = true};
    if (gm_dirty_available())
        for_each_arena(&op);
}

/* The tracked runs only: pointer-free runs were never protected (one that
 * was, as a span with pointers before, costs one fault once). */
void gm_concurrent_release(void) {
    tracker_op op = {.release = true};
    if (gm_dirty_available())
        for_each_arena(&op);
}

void gm_concurrent_forget(uintptr_t lo, uintptr_t hi) {
    if (!gm_dirty_available())
        return;
    while (lo < hi) { /* arena by arena: an object may cross into the next */
        uintptr_t end = (lo | (((uintptr_t)1 << GM_ARENA_SHIFT) - 1)) + 1;
        end = end < hi ? end : hi;
        gm_arena *a = gm_arena_lookup(lo);
        if (a && !a->untracked)
            gm_dirty_collect(lo, end, true, NULL, NULL);
        lo = end;
    }
}

uint64_t gm_concurrent_rescan(gm_gcwork *w, bool final) {
    if (!gm_dirty_available())
        return 0;
    /* The final stop only reads: the next cycle re-protects before it
     * starts, so the stop does not pay for write-protecting. */
    tracker_op op = {.reprotect = !final, .fn = rescan_run, .ctx = w};
    return for_each_arena(&op);
}
