/*
 * kindmark.c - marking objects of non-ordinary kinds, uncollectable
 * objects as roots, and the tracer calls of gomem.h.
 *
 * Dispatch.  mark.c queues an object of kind k != 0 as the range
 * [obj | GM_KIND_TAG, obj + size); gm_kind_scan looks the kind up again
 * from the span and scans the object conservatively, by its layout
 * (typed.c) or with the kind's trace function.  Client trace functions
 * get the worker's gm_gcwork as their tracer: gm_trace_mark marks (and
 * queues) the object a pointer points into, gm_trace_range queues a range
 * for conservative scanning.  Neither recurses, so deep structures cost
 * work-buffer entries, not stack.
 *
 * Uncollectable objects.  Two kinds, created on first use, hold the
 * objects of gm_alloc_uncollectable (scanned and noscan).  Every cycle,
 * with the world stopped and every kind span back on its mcentral's lists,
 * gm_kinds_queue_roots marks each allocated, not freed slot of every span
 * of every uncollectable kind, and each large object of one; marking them
 * queues them for scanning as usual.  gm_free releases them.
 */
#include <errno.h>

#include "gc/kindmark.h"

void gm_kind_scan(gm_gcwork *w, uintptr_t obj, uintptr_t end) {
    gm_span *s = gm_span_of(obj);
    if (!s)
        return;
    gm_kind *k = &gm_kinds[s->kind];
    switch (k->scan) {
    case GM_KIND_SCAN_LAYOUT:
        gm_typed_scan(w, obj, end);
        break;
    case GM_KIND_SCAN_TRACE:
        k->trace((void *)obj, end - obj, (gm_tracer *)w, k->env);
        break;
    case GM_KIND_SCAN_NONE:
        break;
    default:
        gm_scan_range(w, obj, end);
        break;
    }
}

GM_API void gm_trace_mark(gm_tracer *tracer, const void *p) {
    uintptr_t v = (uintptr_t)p;
    if (gm_heap_range_contains(v))
        gm_mark_value((gm_gcwork *)tracer, v);
}

/* A range in the heap (spans are not freed while marking runs) is queued;
 * any other range is scanned now: a root scanner's ranges are the
 * program's memory, which it may free or unmap once the world restarts
 * (ECL's thread environments: a concurrent drain of a queued one faulted). */
GM_API void gm_trace_range(gm_tracer *tracer, const void *lo, const void *hi) {
    if ((uintptr_t)hi <= (uintptr_t)lo)
        return;
    if (gm_heap_owns((uintptr_t)lo))
        gm_gcwork_push((gm_gcwork *)tracer, (uintptr_t)lo, (uintptr_t)hi);
    else
        gm_scan_now((gm_gcwork *)tracer, (uintptr_t)lo, (uintptr_t)hi);
}

/* ---------------------------------------------------- uncollectable roots */

static void mark_span_objects(gm_span *s, void *ctx) {
    gm_gcwork *w = ctx;
    if (!gm_kinds[s->kind].uncollectable)
        return;
    for (unsigned wd = 0; wd < s->nwords; wd++) {
        uint64_t live = atomic_load_explicit(&s->alloc_bits[wd], memory_order_relaxed) &
                        ~atomic_load_explicit(&s->free_bits[wd], memory_order_relaxed);
        while (live) {
            unsigned b = (unsigned)__builtin_ctzll(live);
            live &= live - 1;
            uintptr_t idx = (uintptr_t)wd * 64 + b;
            if (idx < s->nelems)
                gm_mark_value(w, s->base + idx * s->elemsize);
        }
    }
}

void gm_kinds_queue_roots(gm_gcwork *w) {
    bool any = false;
    int n = atomic_load_explicit(&gm_nkinds, memory_order_acquire);
    for (int i = 1; i < n; i++)
        any |= gm_kinds[i].uncollectable;
    if (!any)
        return;
    gm_kinds_for_each_span(mark_span_objects, w);
    for (int set = 0; set < 2; set++)
        for (gm_span *s = gm_large.set[set].next; s != &gm_large.set[set]; s = s->next)
            if (s->kind && gm_kinds[s->kind].uncollectable)
                mark_span_objects(s, w);
}

static gm_mutex uncollectable_lock = GM_MUTEX_INIT;
static _Atomic int uncollectable_kind[2];

GM_API void *gm_alloc_uncollectable(size_t size, bool noscan) {
    gm_ensure_init();
    int k = atomic_load_explicit(&uncollectable_kind[noscan], memory_order_acquire);
    if (!k) {
        gm_mutex_lock(&uncollectable_lock);
        k = atomic_load_explicit(&uncollectable_kind[noscan], memory_order_relaxed);
        if (!k) {
            k = gm_kind_create(noscan ? GM_KIND_SCAN_NONE : GM_KIND_SCAN_CONSERVATIVE, true, NULL, NULL);
            if (k < 0)
                gm_fatal("no object kind left for uncollectable objects (%d in use)", GM_MAX_KINDS);
            atomic_store_explicit(&uncollectable_kind[noscan], k, memory_order_release);
        }
        gm_mutex_unlock(&uncollectable_lock);
    }
    return gm_alloc_kind(k, size);
}
