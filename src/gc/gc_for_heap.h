/*
 * gc_for_heap.h - what the heap calls in the collector, and nothing else.
 *
 * The heap and the collector are one machine, as Go's mheap and mgc are:
 * the heap's slow paths must sweep before reusing memory, tell the pacer
 * that the heap grew, keep fork out of half-done list edits, and drop the
 * specials of an object that gm_free releases.  These are all the calls
 * that go that way; heap/heap_for_gc.h lists the other direction.
 */
#ifndef GM_GC_FOR_HEAP_H
#define GM_GC_FOR_HEAP_H

#include "heap/heap.h"

/* sweep.c: sweeps span s if it needs it (claims it first).  Returns true if
 * it swept it; *freed_span is set if the span became empty and was freed.
 * With freed_span NULL an empty span is kept: the caller allocates from it. */
bool gm_sweep_span(gm_span *s, bool *freed_span);
/* sweep.c: sweeps unswept spans until npages pages are free again (Go's
 * reclaim); false if sweeping freed no span. */
bool gm_sweep_reclaim(size_t npages);

/* pacer.c: the heap grew (a span was handed out); may request a cycle. */
void gm_gc_on_heap_growth(void);
/* pacer.c: after an allocation's no-stop region: wait for the collector or
 * assist it, when gm_gc_pressure says so. */
void gm_gc_after_alloc(void);
/* The collector's requests of allocation: WAIT, the heap is past its goal
 * and allocations take the slow path and wait for the cycle (pacer.c);
 * BLACK, marking runs concurrently and new objects are allocated marked
 * (cycle.c; small objects on the fast path, gm_mark_new_slot). */
enum { GM_PRESSURE_WAIT = 1, GM_PRESSURE_BLACK = 2 };
extern _Atomic int gm_gc_pressure;
GM_INLINE bool gm_gc_marking(void) {
    return atomic_load_explicit(&gm_gc_pressure, memory_order_acquire) & GM_PRESSURE_BLACK;
}
/* mark.c: marks the object that starts at p, allocated while marking runs
 * (allocate-black: it is not scanned now; what is stored in it later is on
 * a written page, which the final stop rescans).  Inside the allocation's
 * no-stop region.  Its bytes are added to *black_bytes (the allocating
 * thread's mcache; gm_gc_add_black_bytes hands them over at its flush). */
void gm_mark_new_object(uintptr_t p, uint64_t *black_bytes);
/* The same for slot idx of span s, where the allocator holds the span. */
GM_INLINE void gm_mark_new_slot(gm_span *s, uintptr_t idx, uint64_t *black_bytes) {
    if (!atomic_load_explicit(&s->mark_bytes[idx], memory_order_relaxed)) {
        atomic_store_explicit(&s->mark_bytes[idx], 1, memory_order_relaxed);
        *black_bytes += s->elemsize;
    }
}
void gm_gc_add_black_bytes(uint64_t bytes);
/* pacer.c: charges an allocation of bytes made while marking runs; past the
 * pacer's assist point the allocating thread does some marking itself
 * (Go's mark assist), in small steps.  Inside the allocation's no-stop
 * region. */
void gm_gc_assist(size_t bytes);

/* forkgate.c: work that fork must not split runs between enter and exit. */
void gm_forkgate_enter(void);
void gm_forkgate_exit(void);

/* special_steps.c: drops the finalizers, cleanups and weak handles of the
 * object at base, which gm_free is releasing. */
void gm_specials_free(gm_span *s, uintptr_t base);

/* concurrent.c: the pages [lo, hi) of a large object allocated black
 * while marking runs were just zeroed by the allocating thread, which has
 * not returned it yet: those writes hold no pointer, so the pages are
 * protected again instead of rescanned (before, every large allocation
 * while marking ran had its zeros rescanned: 256 MiB for 256 MiB). */
void gm_concurrent_forget(uintptr_t lo, uintptr_t hi);

#endif /* GM_GC_FOR_HEAP_H */
