/*
 * bdwgc.h - what the files of the bdwgc compatibility layer share.
 *
 * The layer is a thin translation of bdwgc's API onto gomem's: every
 * GC_* entry point lives in one of
 *
 *   alloc.c     allocation, GC_free, GC_base/GC_size, GC_realloc
 *   control.c   start-up, collection control, settings, statistics,
 *               exported variables, the collection-event hooks
 *   finalize.c  finalizers (trampoline and the finalize-on-demand queue)
 *   links.c     disappearing links (link -> object map over gomem's links)
 *   threads.c   thread registration, pthread redirections, blocking
 *               regions, the allocation lock
 *   mark.c      kinds, mark procedures, descriptors, GC_mark_and_push,
 *               GC_push_*, typed allocation
 *
 * The layer includes gomem's internal headers for the few core entry
 * points that gomem.h does not export (no-stop regions, the heap's
 * counters, the bdwgc flavours of finalizers and links).
 */
#ifndef GM_BDWGC_H
#define GM_BDWGC_H

#define GC_THREADS 1
#define GC_ATTR_NONNULL(argnum) /* the library checks its arguments itself */
#define GC_NO_THREAD_REDIRECTS 1
#include "gc/gc.h"
#include "gc/gc_mark.h"
#include "gc/gc_typed.h"
#include "gc/gc_inline.h"
#include "gc/gc_gcj.h"
#include "gc/gc_disclaim.h"
#include "gc/javaxfc.h"

#include "gm.h"
#include "heap/heap.h"

#define BDWGC_EXPORT __attribute__((visibility("default")))

/* control.c: called by every allocation entry point.  Makes sure the
 * collector is initialised and that GC_dont_gc / GC_free_space_divisor,
 * which programs may write directly, are applied. */
extern _Atomic int bdwgc_ready;
void bdwgc_init_slow(void);
void bdwgc_settings_changed(void);
extern int bdwgc_applied_dont_gc;
extern GC_word bdwgc_applied_divisor;
static inline void bdwgc_enter(void) {
    if (__builtin_expect(!atomic_load_explicit(&bdwgc_ready, memory_order_acquire), 0))
        bdwgc_init_slow();
    if (__builtin_expect(GC_dont_gc != bdwgc_applied_dont_gc || GC_free_space_divisor != bdwgc_applied_divisor,
                         0))
        bdwgc_settings_changed();
}
/* Calls the out-of-memory function for a failed request of n bytes. */
void *bdwgc_oom(size_t n);
/* Prints a warning through the warn procedure. */
void bdwgc_warn(const char *msg, GC_word arg);

/* finalize.c: finalizers ready to run on the program's threads. */
extern _Atomic long bdwgc_fin_pending;
void bdwgc_run_pending_finalizers(void); /* unless on demand or already inside one */
/* bdwgc runs ready finalizers from the allocation calls that take its
 * general path: objects over half of its 4 KiB block, and the refills of
 * its thread-local free lists, which come once every few hundred small
 * allocations.  This layer does the same: at large allocations and at
 * every 256th small allocation of a thread while finalizers are ready.
 * (ECL's Lisp finalizers fail when they run inside an allocation made with
 * ECL's interrupts disabled, under bdwgc as here; its explicit collections
 * run them safely.) */
#define BDWGC_LARGE_OBJECT 2048
extern __thread unsigned bdwgc_alloc_tick;
static inline void bdwgc_after_alloc(size_t lb) {
    if (__builtin_expect(atomic_load_explicit(&bdwgc_fin_pending, memory_order_relaxed) != 0, 0) &&
        (lb > BDWGC_LARGE_OBJECT || (++bdwgc_alloc_tick & 255) == 0))
        bdwgc_run_pending_finalizers();
}

/* fork: phase 0 takes the file's lock (before fork), 1 releases it (in
 * the parent and the child after fork); control.c registers them. */
void bdwgc_links_fork(int phase);
void bdwgc_finalize_fork(int phase);
void bdwgc_mark_fork(int phase);

/* mark.c: the tracer of the mark procedure or root callback running on
 * this thread (NULL outside them), and the setup at start-up. */
extern __thread gm_tracer *bdwgc_tracer;
void bdwgc_mark_init(void);
/* Allocation of an object of bdwgc kind k (mark.c). */
void *bdwgc_kind_alloc(size_t lb, int k);

/* alloc.c: bytes to ask gomem for a request of lb bytes.  While interior
 * pointers are recognised (GC_all_interior_pointers, bdwgc's default)
 * bdwgc keeps one extra byte so that a pointer just past the end keeps the
 * object, not its neighbour, alive, and so does this layer; programs that
 * turn them off (Guile, ECL, Nix) get objects of the size they ask for,
 * as with bdwgc (gomem still recognises interior pointers: it keeps more,
 * never less). */
static inline size_t bdwgc_request(size_t lb) {
    return lb + (GC_all_interior_pointers && lb != 0 && lb != (size_t)-1);
}

/* Core entry points for the bdwgc flavours: finalizer modes, disappearing
 * links, counts (src/gc/special_api.h). */
#include "gc/special_api.h"
enum { BDWGC_FIN_ORDERED = GM_FIN_ORDERED, BDWGC_FIN_IGNORE_SELF = GM_FIN_IGNORE_SELF,
       BDWGC_FIN_NO_ORDER = GM_FIN_NO_ORDER };

#endif
