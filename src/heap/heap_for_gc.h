/*
 * heap_for_gc.h - what the collector calls in the heap beyond the span
 * lookups and bitmaps of heap.h, and nothing else.
 *
 * The sweeper takes unswept spans off the span lists and puts them back on
 * the swept set; the cycle visits every span (checkmark), returns idle
 * pages to the OS, and takes the heap's locks across fork.  (It also
 * flushes every thread's cache with heap.h's gm_mcache_release_all, which
 * memstats uses too.)  gc/gc_for_heap.h lists the other direction.
 */
#ifndef GM_HEAP_FOR_GC_H
#define GM_HEAP_FOR_GC_H

#include "heap/heap.h"

/* mcentral.c: the sweeper's side of the span lists.  take_unswept pops a
 * span of the unswept set (partial spans first) and the caller owns it;
 * put_swept pushes a span the caller swept onto the swept set, as partial
 * or full by its free slots.  The same for the large objects' spans. */
gm_span *gm_mcentral_take_unswept(gm_mcentral *c);
void gm_mcentral_put_swept(gm_mcentral *c, gm_span *s);
gm_span *gm_large_take_unswept(void);
void gm_large_put_swept(gm_span *s);

/* mcentral.c: calls fn on every in-use span on a list.  World stopped,
 * mcaches flushed (so every in-use span is on a list). */
void gm_heap_for_each_span(void (*fn)(gm_span *, void *), void *ctx);

/* mheap.c: releases free pages beyond keep bytes of idle memory, from runs
 * free for at least min_idle_gens sweep generations (2 per cycle);
 * returns the bytes released. */
uint64_t gm_heap_scavenge(uint64_t keep, uint32_t min_idle_gens);

/* mcentral.c: takes (lock) or releases every lock of the heap, for fork. */
void gm_heap_fork_lock(bool lock);

#endif /* GM_HEAP_FOR_GC_H */
