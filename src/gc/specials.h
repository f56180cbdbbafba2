/*
 * specials.h - records attached to heap objects: finalizers, cleanups, weak
 * handles and disappearing links ("specials"), shared by the files that
 * implement them:
 *
 *   special_records.c  record pools, the per-span lists and their registry
 *   special_steps.c    what the collector does with them after marking
 *   finalizer.c        the finalizer queue, its thread, gm_set_finalizer
 *   cleanup.c          gm_add_cleanup, gm_cleanup_stop
 *   weak.c             weak handles and disappearing links
 *
 * A special is a finalizer (Go's runtime.SetFinalizer), a cleanup (Go
 * 1.24's runtime.AddCleanup), a weak handle (Go 1.24's weak.Pointer), or a
 * disappearing link (bdwgc's, for its drop-in layer: a location set to NULL
 * when the object dies, short ones with the weak handles, long ones when the
 * object is freed).
 *
 * Records.  Each record is 48 bytes of non-GC memory (pools of gm_os_alloc
 * chunks, never given back to the OS, counted in gm_heap.meta), so the
 * collector never reads them as roots: the record's pointer to its object
 * is invisible to marking.  A span with specials points (s->specials) at a
 * list header; the list is sorted by the record's address key (the pointer
 * the special was set on; records of one object are therefore contiguous)
 * and guarded by s->specials_lock.  Appending past the last key is O(1),
 * which is the common case (objects are allocated in address order).
 * Invariants: s->specials != NULL if and only if the list holds a record,
 * so a span without specials is freed by sweeping as usual; keys along a
 * list never decrease; the list's counts (nfin, nnoorder, nargs, nlinks)
 * equal what its records hold.  Headers are also on a global registry
 * (gm_specials_registry) so that the collector can visit every special
 * without walking the heap.
 *
 * Keys.  A finalizer's key is its object's start; a cleanup's is the exact
 * pointer given (interior pointers are allowed, as in Go); a weak handle's
 * is the object's start.  In the tiny allocator's 16-byte blocks, which
 * pack several small noscan objects, the key is always the exact pointer:
 * the block is the unit of liveness, each packed object its own key.
 *
 * Locks and the stop.  Every critical section on specials (span lists,
 * registry, pools, queue) runs inside a no-stop region of a registered
 * thread, or on the collector's thread outside a cycle's stop (background
 * sweep).  So while the world is stopped none is in progress, and the
 * collector's steps take no lock.  Lock order: a span's specials_lock, then
 * the registry's lock, then the pools' locks; the queue's lock is taken
 * alone.
 */
#ifndef GM_SPECIALS_H
#define GM_SPECIALS_H

#include "gc/gc.h"
#include "gc/special_api.h"

enum { GM_SP_FINALIZER = 1, GM_SP_CLEANUP = 2, GM_SP_WEAK = 3, GM_SP_LINK = 4 };
enum { GM_LINK_SHORT = 0, GM_LINK_LONG = 1 };
/* A record's life: free in a pool, linked on a span's list, queued to run,
 * running (popped), or a queued cleanup that was stopped. */
enum { GM_SPST_FREE = 0, GM_SPST_LINKED, GM_SPST_QUEUED, GM_SPST_RUNNING, GM_SPST_CANCELLED };


typedef union gm_special_fn {
    gm_finalizer_fn fin;
    gm_cleanup_fn cln;
} gm_special_fn;

typedef struct gm_special {
    struct gm_special *next;  /* span list, queue or pool free list */
    _Atomic uintptr_t key;    /* the pointer the special is set on */
    gm_special_fn fn;
    void *arg;                /* weak: the gm_weak handle; link: the link */
    _Atomic uint64_t id;      /* cleanup id while linked or queued, else 0 */
    uint32_t slot;            /* index in the record pool, fixed */
    uint8_t kind;             /* GM_SP_* */
    uint8_t mode;             /* finalizer mode, or link kind */
    _Atomic uint8_t state;    /* GM_SPST_* */
    uint8_t pending;          /* step A found the finalizable object unmarked */
} gm_special;

typedef struct gm_special_list {
    gm_special *first, *last;
    gm_span *span;
    struct gm_special_list *reg_next, *reg_prev;
    /* What the collector's steps look for, so they skip lists without it:
     * finalizers, NO_ORDER finalizers, finalizers and cleanups with an arg,
     * disappearing links. */
    uint32_t nfin, nnoorder, nargs, nlinks;
    /* The concurrent pass (gm_specials_premark) found every record's object
     * marked in the cycle this names, and marked what the records keep
     * alive; any change to the list clears it (gm_special_list_count).  The
     * final stop leaves such a list alone: its objects are still marked,
     * so nothing on it can change. */
    uint32_t clean_gen;
} gm_special_list;

/* A weak handle: a 16-byte noscan heap object (the address inside is not a
 * reference). */
struct gm_weak {
    _Atomic uintptr_t obj;
    uintptr_t reserved;
};

GM_INLINE uintptr_t gm_special_key(const gm_special *r) {
    return atomic_load_explicit(&r->key, memory_order_relaxed);
}

/* The slot of s that key lies in. */
GM_INLINE uintptr_t gm_special_slot(gm_span *s, uintptr_t key) {
    return gm_span_index(s, key);
}

GM_INLINE void gm_special_weak_clear(gm_special *r) {
    struct gm_weak *w = r->arg;
    if (w)
        atomic_store_explicit(&w->obj, 0, memory_order_release);
}

/* Walks along a list or the queue prefetch the next record and the one
 * AHEAD records further on in memory: records handed out one after another
 * (the thread's stash is a run of a pool chunk) are mostly adjacent, and a
 * pointer chase alone waits for every cache miss in turn.  A prefetch of
 * memory that is not a record, or not mapped, costs nothing. */
#define GM_SPECIAL_PREFETCH_AHEAD 8
GM_INLINE void gm_special_prefetch(const gm_special *r, int rw) {
    if (rw) {
        __builtin_prefetch(r->next, 1);
        __builtin_prefetch(r + GM_SPECIAL_PREFETCH_AHEAD, 1);
    } else {
        __builtin_prefetch(r->next, 0);
        __builtin_prefetch(r + GM_SPECIAL_PREFETCH_AHEAD, 0);
    }
}

/* ----------------------------------------------- special_records.c: pools */

/* A zeroed record (slot kept), from this thread's stash.  Inside a no-stop
 * region. */
gm_special *gm_special_alloc(void);
/* Clears a record's contents (slot kept). */
void gm_special_reset(gm_special *r);
/* Resets r and returns it to the pool. */
void gm_special_release(gm_special *r);
/* Returns a chain of reset records (ending with next == NULL) to the pool. */
void gm_special_release_chain(gm_special *first);
/* The record in pool slot `slot`, or NULL if there is none. */
gm_special *gm_special_at(uint64_t slot);

/* ------------------------------------------ special_records.c: span lists */

/* The registry: every span's list header (world stopped, or under its
 * lock inside the records file). */
extern gm_special_list *gm_specials_registry;

/* A span's specials lock, taken inside the fork gate (forkgate.c). */
void gm_specials_lock(gm_span *s);
void gm_specials_unlock(gm_span *s);
/* The list of s, created if create (caller holds s->specials_lock). */
gm_special_list *gm_special_list_get(gm_span *s, bool create);
/* Drops l from s once it is empty (caller holds s->specials_lock, or the
 * world is stopped). */
void gm_special_list_release_if_empty(gm_span *s, gm_special_list *l);
/* Takes l off the registry and frees its header, whatever it holds (the
 * caller freed its records). */
void gm_special_list_discard(gm_special_list *l);
/* Adds d (+1 or -1) to l's counts for what r holds. */
void gm_special_list_count(gm_special_list *l, gm_special *r, int d);
/* Inserts r by key, after the records with the same key. */
void gm_special_list_insert(gm_special_list *l, gm_special *r);
/* Unlinks r, whose predecessor is prev (NULL if r is first). */
void gm_special_list_unlink(gm_special_list *l, gm_special *prev, gm_special *r);
/* Links record r (kind, fn, arg, mode filled in) on s's list with key
 * (caller holds s->specials_lock). */
void gm_special_link(gm_span *s, gm_special *r, uintptr_t key);
/* Frees r, which is on no list, without running it (a weak handle is
 * cleared first). */
void gm_special_discard(gm_special *r);
/* Unlinks r (predecessor prev) and discards it. */
void gm_special_list_drop(gm_special_list *l, gm_special *prev, gm_special *r);
/* The registry's lists and their spans, copied under its lock into a
 * buffer the records file keeps; returns how many.  For the concurrent
 * pass, on the collector's thread: a list may leave the registry (and its
 * header be reused) once the lock is dropped, so each is checked against
 * its span's list under the span's lock before use. */
typedef struct gm_special_list_ref {
    gm_special_list *list;
    gm_span *span;
} gm_special_list_ref;
size_t gm_special_registry_snapshot(gm_special_list_ref **out);
/* The first record of kind with key k, and the one before it. */
gm_special *gm_special_list_find(gm_special_list *l, uintptr_t k, uint8_t kind, gm_special **prev_out);
/* Checks a list's order and counts (GM_ASSERT builds only). */
void gm_special_list_check(const gm_special_list *l);

/* The in-use span holding an allocated object at p, and the object's slot
 * and start; NULL if p is in none. */
gm_span *gm_specials_object_at(uintptr_t p, uintptr_t *idx_out, uintptr_t *base_out);

/* fork: the records' locks (registry, headers, records). */
void gm_special_records_fork_lock(bool lock);

/* --------------------------------------------------- finalizer.c: queue */

/* What one mark thread queued in one pass of the collector's decisions:
 * a chain in its order, and its counts, appended to the queue and the
 * shared counters at the pass's end (gm_finq_publish), so that the threads
 * that decide in parallel share nothing. */
typedef struct gm_finq_batch {
    GM_OWN_LINES gm_special *head, *tail;
    uint64_t fin, cln;
} gm_finq_batch;

/* World stopped: appends r to batch b. */
void gm_finq_push(gm_special *r, gm_finq_batch *b);
/* World stopped: appends b's chain to the queue, adds its counts, and
 * empties it. */
void gm_finq_publish(gm_finq_batch *b);
/* World stopped: the first queued record (then follow next). */
gm_special *gm_finq_first(void);
/* Marks a queued cleanup whose id's low bits are `low` cancelled; false if
 * it is no longer queued as that cleanup. */
bool gm_finq_cancel_cleanup(gm_special *r, uint32_t low);
/* Wakes the finalizer thread if anything is queued. */
void gm_finq_notify(void);
void gm_finq_counts_read(uint64_t *fin_queued, uint64_t *fin_run, uint64_t *cln_queued, uint64_t *cln_run);
/* Starts the thread that runs the queue, once. */
void gm_finalizer_thread_start(void);
/* fork: the queue's and the thread starter's locks. */
void gm_finq_fork_lock(bool lock);



#endif /* GM_SPECIALS_H */
