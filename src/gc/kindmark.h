/*
 * kindmark.h - the collector's side of object kinds, typed objects, root
 * scanners and collection events (kindmark.c, typed.c, hooks.c).
 *
 * mark.c queues an object of a span whose kind is not 0 with the low bit
 * of its start set, and its drain calls gm_kind_scan for such ranges;
 * roots.c calls gm_kinds_queue_roots and gm_root_scanners_run after the
 * built-in roots; cycle.c calls gm_gc_events_fire at the three events of
 * gomem.h's gm_on_gc.
 *
 * A gm_tracer handed to client code is the mark worker's gm_gcwork.
 */
#ifndef GM_GC_KINDMARK_H
#define GM_GC_KINDMARK_H

#include "gc/gc.h"
#include "heap/kinds.h"

#define GM_KIND_TAG ((uintptr_t)1)

/* Scans the object [obj, end) of a span with a non-zero kind. */
void gm_kind_scan(gm_gcwork *w, uintptr_t obj, uintptr_t end);

/* World stopped, mcaches and kind spans released: marks every object of
 * the uncollectable kinds. */
void gm_kinds_queue_roots(gm_gcwork *w);

/* typed.c: scans a typed object's pointer words, as its layout (in the
 * slot's last word) names them. */
void gm_typed_scan(gm_gcwork *w, uintptr_t obj, uintptr_t end);

/* hooks.c */
void gm_root_scanners_run(gm_gcwork *w);
void gm_gc_events_fire(gm_gc_event event);

#endif
