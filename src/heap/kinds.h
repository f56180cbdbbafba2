/*
 * kinds.h - object kinds: how the collector treats a span's objects beyond
 * the scan/noscan bit of its span class.
 *
 * A kind is a small number stored in every span (gm_span.kind) whose
 * objects share it.  Kind 0 is the ordinary heap: conservatively scanned or
 * noscan by span class, allocated through the per-thread mcaches.  Every
 * other kind has its own mcentrals (one per size class), so its spans never
 * mix with ordinary ones, and a record here that says:
 *
 *   scan      GM_KIND_SCAN_CONSERVATIVE  every word of the object
 *             GM_KIND_SCAN_NONE          nothing (a noscan span class)
 *             GM_KIND_SCAN_LAYOUT        the pointer words named by the
 *                                        layout in the slot's last word
 *                                        (typed allocation, src/gc/typed.c)
 *             GM_KIND_SCAN_TRACE         a client function traces it
 *   uncollectable  every allocated object of the kind is a root until it is
 *             freed with gm_free (src/gc/kindmark.c queues them).
 *
 * Allocation of a non-zero kind (gm_kind_alloc) takes the kind's lock and
 * allocates from the kind's current span of that size class; the current
 * spans are given back to their mcentrals when the collector flushes the
 * mcaches (gm_kinds_release_cached, world stopped), so that during marking
 * and sweeping every kind span lies on its mcentral's lists, as ordinary
 * spans do.  Large objects of a kind are ordinary large spans with the kind
 * byte set.  A span's kind is reset to 0 whenever the page heap hands it
 * out again (gm_span_init_objects).
 *
 * The mark loop dispatches on the kind only for spans whose kind is not 0:
 * such an object is queued with the low bit of its start set (starts are
 * at least 8-byte aligned), and the drain hands tagged ranges to
 * gm_kind_scan (src/gc/kindmark.c).
 */
#ifndef GM_HEAP_KINDS_H
#define GM_HEAP_KINDS_H

#include "heap/heap.h"

#define GM_MAX_KINDS 64

enum {
    GM_KIND_SCAN_CONSERVATIVE = 0,
    GM_KIND_SCAN_NONE = 1,
    GM_KIND_SCAN_LAYOUT = 2,
    GM_KIND_SCAN_TRACE = 3,
};

typedef struct gm_kind {
    uint8_t scan;           /* GM_KIND_SCAN_* */
    bool uncollectable;
    gm_trace_fn trace;      /* GM_KIND_SCAN_TRACE */
    void *env;
    gm_mutex lock;          /* current[] */
    gm_mcentral *central;   /* GM_NUM_SIZE_CLASSES mcentrals (index 0 unused) */
    gm_span **current;      /* the span each size class allocates from, or NULL */
} gm_kind;

extern gm_kind gm_kinds[GM_MAX_KINDS];
extern _Atomic int gm_nkinds; /* kinds 0 .. gm_nkinds-1 exist */

/* Creates a kind; returns its number (>= 1) or -1 when GM_MAX_KINDS are in
 * use. */
int gm_kind_create(uint8_t scan, bool uncollectable, gm_trace_fn trace, void *env);

/* Allocates size bytes (zeroed) of kind k, k >= 1.  Runs inside the
 * caller's no-stop region (the caller enters it, as malloc.c does) so
 * that the caller can finish the object (typed allocation writes the
 * layout) before any collection sees it.  NULL if out of memory. */
void *gm_kind_alloc_nostop(int k, size_t size);

/* World stopped: gives every kind's current spans back to their mcentrals. */
void gm_kinds_release_cached(void);

/* Calls fn on every span of every kind's mcentrals (world stopped, after
 * gm_kinds_release_cached). */
void gm_kinds_for_each_span(void (*fn)(gm_span *, void *), void *ctx);

/* Number of kind mcentrals, and the i-th, for the sweeper and fork. */
size_t gm_kinds_ncentrals(void);
gm_mcentral *gm_kinds_central(size_t i);


/* The kind of the object p points into (0 if none or ordinary). */
int gm_kind_of_addr(uintptr_t p);

#endif
