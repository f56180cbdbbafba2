/*
 * gc.h - the collector's internal interface.
 *
 * A cycle (cycle.c) runs on the collector's own thread:
 *
 *   1. stop the world (inside dl_iterate_phdr, so the loader lock is ours
 *      and no stopped thread holds it), recording the data segments;
 *   2. sweep termination: finish sweeping last cycle's spans; flush every
 *      thread's mcache;
 *   3. mark: roots (stacks, registers, data segments, user roots, goroutine
 *      stacks) and then the heap, by GOMEM_PROCS workers in parallel;
 *   4. mark termination: heap_live = marked bytes, next goal from the pacer,
 *      sweepgen += 2 (every span now needs sweeping), restart the world;
 *   5. sweep in the background (the allocating threads sweep the spans they
 *      need first), then return idle pages to the OS.
 *
 * Marking is stop-the-world in this version; the phases are kept apart so
 * that step 3 can run concurrently with a write barrier or dirty-page
 * tracking later.
 */
#ifndef GM_GC_H
#define GM_GC_H

#include "gc/gc_for_heap.h"
#include "gc/special_api.h" /* gm_specials_counts */
#include "heap/heap.h"
#include "heap/heap_for_gc.h"

/* A range of words to scan conservatively. */
typedef struct gm_range {
    uintptr_t lo, hi;
} gm_range;

#define GM_WORKBUF_ENTRIES 254
typedef struct gm_workbuf {
    struct gm_workbuf *next;
    uint32_t n;
    gm_range r[GM_WORKBUF_ENTRIES];
} gm_workbuf;

/* One per mark worker, each on cache lines of its own (128 bytes: the
 * adjacent-line prefetcher pairs lines), so workers never write to a line
 * another worker reads. */
typedef struct gm_gcwork {
    _Alignas(128) gm_workbuf *buf;
    /* The span the last candidate pointer fell in: consecutive pointers
     * mostly hit the same span.  Valid for one drain (spans do not change
     * while the world is stopped).  Kept as page numbers, not addresses:
     * this lives in the library's data segment, which is scanned as a
     * root, and must not keep the span's first object alive. */
    gm_span *span;
    uintptr_t span_first_page, span_npages;
    uint64_t marked_bytes;
    uint64_t marked_objects;
    uint64_t scanned_bytes;
    uint64_t reported_bytes; /* of scanned_bytes, added to gm_scan_progress */
} gm_gcwork;

/* mark.c */
void gm_mark_init(void);
void gm_gcwork_push(gm_gcwork *w, uintptr_t lo, uintptr_t hi);
/* Queues a run of written pages [lo, hi) (page-aligned, at most
 * GM_RESCAN_ITEM bytes) whose marked objects are to be rescanned: one work
 * item for the run, not one per object (concurrent.c). */
void gm_gcwork_push_rescan(gm_gcwork *w, uintptr_t lo, uintptr_t hi);
void gm_gcwork_flush(gm_gcwork *w);
/* Marks the object v points into (interior pointers too) and queues it for
 * scanning; returns true if it was white. */
bool gm_mark_value(gm_gcwork *w, uintptr_t v);
/* True if the object v points into is marked (or is not a heap object). */
bool gm_is_marked(uintptr_t v);
/* Scans [lo, hi) conservatively now, marking what it points to (a range
 * over GM_SCAN_CHUNK is split: the rest is queued on w). */
void gm_scan_range(gm_gcwork *w, uintptr_t lo, uintptr_t hi);
/* Scans all of [lo, hi) now, however long, queueing only what it marks. */
void gm_scan_now(gm_gcwork *w, uintptr_t lo, uintptr_t hi);
/* Bytes allocated black (marked at allocation) in the current cycle, and
 * bytes marked by assists. */
extern _Atomic uint64_t gm_black_bytes, gm_assist_bytes;
/* CPU time allocating threads spent in mark assists (their thread CPU
 * clocks), taken by each cycle. */
extern _Atomic uint64_t gm_assist_ns;
/* Bytes scanned so far in the current concurrent cycle, by workers (every
 * few hundred ranges), assists and rescans: the pacer's measure of how far
 * marking has come (cycle.c resets it at the first stop). */
extern _Atomic uint64_t gm_scan_progress;
/* Scans about budget bytes of grey objects on the calling mutator's
 * behalf (inside its no-stop region, while marking runs); returns the
 * bytes scanned (0: no grey work was queued). */
uint64_t gm_mark_assist(uint64_t budget);
/* Runs the queued work to completion on nworkers threads (this one plus
 * helpers).  Returns the bytes marked. */
void gm_mark_drain_parallel(int nworkers, uint64_t *marked_bytes, uint64_t *marked_objects);
/* The same, where each of the n threads first runs job(its work, its index
 * 0..n-1, n, ctx), queueing on its work what it finds (the world stopped:
 * the specials' steps split their lists so).  A thread that is still in
 * its job counts as busy, so the drain does not end before every job has
 * ended. */
#define GM_MAX_WORKERS 64 /* mark threads at most, this one included */
typedef void (*gm_mark_job)(gm_gcwork *w, int worker, int nworkers, void *ctx);
void gm_mark_drain_parallel_job(int nworkers, gm_mark_job job, void *ctx, uint64_t *marked_bytes,
                                uint64_t *marked_objects);
/* The collector thread's own work state, where roots are queued. */
gm_gcwork *gm_mark_root_work(void);
/* CPU time the helper workers spent since the last call. */
uint64_t gm_mark_take_worker_cpu(void);
/* After fork: the child has no worker threads. */
void gm_mark_forget_workers(void);

/* roots.c: gm_roots_collect_segments stops the world (see roots.c) and
 * records the data segments; gm_roots_enumerate calls fn on every root
 * range (world stopped); gm_roots_queue queues them all on w, with the
 * extra roots below. */
void gm_roots_collect_segments(void);
void gm_roots_enumerate(gm_scan_fn fn, void *ctx, gm_roots_pass pass);
void gm_roots_queue(gm_gcwork *w, gm_roots_pass pass);
/* The roots that are not ranges: uncollectable objects and the root
 * scanners runtimes register (kindmark.c); gm_roots_queue includes them. */
void gm_roots_queue_extra(gm_gcwork *w);
extern uint64_t gm_globals_bytes;
uint64_t gm_roots_user_bytes(void); /* counted with the globals by the pacer */
extern gm_mutex gm_roots_lock;      /* the user roots' table (fork takes it) */

/* sweep.c */
/* Packs span s's mark bytes for bitmap word w into bits, clearing them. */
uint64_t gm_take_marks(gm_span *s, unsigned w);
void gm_sweep_all(void); /* sweeps every span that still needs it */

/* forkgate.c: work that fork must not split (sweeping a span taken off its
 * list, a span's specials) runs between enter and exit; cycle.c closes the
 * gate (holding gm_threads_lock) and waits for it to empty before fork, and
 * opens it after. */
void gm_forkgate_close(void);
void gm_forkgate_open(void);
void gm_sweep_mark_done(uint32_t sweepgen); /* nothing left to sweep under sweepgen */
extern _Atomic uint64_t gm_swept_spans;

/* pacer.c */
typedef struct gm_pacer {
    _Atomic uint64_t trigger;   /* heap_live that starts a cycle */
    _Atomic uint64_t goal;      /* heap_live the cycle aims to end below */
    uint64_t heap_marked;       /* live bytes found by the last cycle */
    _Atomic uint64_t scan_expected; /* bytes the next concurrent cycle will scan (the last one's) */
    _Atomic int gc_percent;
    _Atomic int64_t memory_limit;
} gm_pacer;
extern gm_pacer gm_pace;
void gm_pacer_init(void);
void gm_pacer_end_cycle(uint64_t marked, uint64_t stacks, uint64_t globals, uint64_t scanned);
void gm_pacer_recompute(void);
/* The fraction of the machine's CPU the last cycle used (for the limit's
 * CPU cap). */
void gm_pacer_note_cpu(double fraction);

/* Goroutine stacks, the scheduler's side of a collection.  The collector
 * calls no upper layer by name: the scheduler registers these from
 * gm_task_init (before any goroutine exists); until then there are no
 * goroutine stacks and the calls do nothing.
 *   scan       world stopped: calls scan(lo, hi, ctx) for each range of
 *              thread t's parked goroutine stacks (and the memory that
 *              holds copy stacks' save areas), for the pass (below);
 *   records    world running, between the stops of a concurrent cycle:
 *              calls scan on every scheduler's goroutine records, which
 *              the first stop's scan leaves out (GM_ROOTS_FIRST): a record
 *              that changes after that stop belongs to a goroutine the
 *              final stop rescans, the others read as the stop left them;
 *   shrink     world stopped: releases unused pages of t's parked stacks;
 *   stats      resident and reserved bytes of goroutine stacks;
 *   fork_lock  takes (true) or releases the scheduler's locks for fork. */
typedef struct gm_gc_stack_hooks {
    void (*scan)(gm_thread *t, gm_scan_fn scan, void *ctx, gm_roots_pass pass);
    void (*records)(gm_scan_fn scan, void *ctx);
    void (*shrink)(gm_thread *t);
    void (*stats)(uint64_t *inuse, uint64_t *sys);
    void (*fork_lock)(bool lock);
} gm_gc_stack_hooks;
void gm_gc_set_stack_hooks(const gm_gc_stack_hooks *h);
void gm_gc_stacks_scan(gm_thread *t, gm_scan_fn scan, void *ctx, gm_roots_pass pass);
void gm_gc_stacks_scan_records(gm_scan_fn scan, void *ctx);
void gm_gc_stacks_shrink(gm_thread *t);
void gm_gc_stacks_stats(uint64_t *inuse, uint64_t *sys);

/* cycle.c */
void gm_gc_init(void); /* once, from gm_init */
void gm_gc_request(bool forced);
/* Waits until the count of finished cycles passes `after`. */
void gm_gc_wait_cycle(uint32_t after);
extern _Atomic int gm_gc_pressure;
extern _Atomic uint32_t gm_gc_cycles_done;

/* Statistics kept by the cycle (under gm_gc_lock). */
typedef struct gm_gc_stats {
    uint32_t num_gc, num_forced_gc;
    uint64_t last_gc_ns;
    uint64_t pause_total_ns;
    uint64_t pause_ns[256];
    uint64_t gc_cpu_ns;       /* CPU time spent collecting */
    uint64_t start_ns;        /* process start (init) */
    uint64_t start_cpu_ns;
    bool last_concurrent;     /* the last cycle marked with the world started */
} gm_gc_stats;
extern gm_gc_stats gm_gcstats;
extern gm_mutex gm_gc_lock;
/* Takes gm_gc_lock on a program thread.  The collector holds it for a
 * whole cycle, concurrent marking included, and stops the world at the end
 * of it: a thread that waits for the lock does so in a blocking region, so
 * the stop need not wait for it to answer. */
void gm_gc_lock_mutator(void);

/* obs/gctrace.c */
typedef struct gm_trace_cycle {
    uint32_t n;
    bool forced;
    uint64_t start_ns;               /* since init */
    uint64_t stw1_ns, mark_ns, stw2_ns;
    uint64_t stw1_cpu_ns, mark_cpu_ns, stw2_cpu_ns;
    uint64_t assist_cpu_ns; /* mark assists of the allocating threads */
    uint64_t heap_start, heap_end, heap_live, goal;
    uint64_t stacks, globals;
    int procs;
    bool checkmark;
    bool concurrent;    /* marking ran with the world started */
    uint64_t rescanned; /* bytes of written pages rescanned */
    uint64_t finalizers_queued, cleanups_queued; /* cumulative */
} gm_trace_cycle;
void gm_gctrace_print(const gm_trace_cycle *c);

/* Finalizers, cleanups, weak handles (special_steps.c; specials.h has the
 * rest).
 * gm_specials_after_mark runs with the world stopped once marking has
 * drained: it clears the weak handles of unmarked objects, queues the
 * cleanups of unmarked objects, marks what unmarked finalizable objects
 * reach (not the objects themselves: that orders finalizers) and then the
 * finalizable objects, queueing their finalizers.  New grey objects go on
 * w; it returns true if the collector must drain again.
 * gm_specials_after_cycle runs after the world restarts (wake the
 * finalizer thread).  gm_specials_sweep drops the specials of the objects
 * that sweeping frees in s.  gm_specials_counts reports cumulative counts. */
bool gm_specials_after_mark(gm_gcwork *w);
/* While marking runs (collector thread): marks what the lists whose objects
 * are all marked already keep alive, onto w, and notes them clean, so that
 * gm_specials_after_mark leaves them alone (a program with many live
 * finalizable objects then stops for its lists, not its records). */
void gm_specials_premark(gm_gcwork *w);
void gm_specials_after_cycle(void);
void gm_specials_sweep(gm_span *s);
/* fork: takes (lock) or releases every lock of the specials' files. */
void gm_specials_fork_lock(bool lock);

/* Checkmark mode: re-marks with the world stopped and dies on a miss. */
void gm_checkmark_verify(void);

/* concurrent.c: the dirty-page side of concurrent marking.
 * gm_concurrent_reset write-protects every heap page again (just before a
 * cycle's first stop); gm_concurrent_rescan queues the runs of heap pages
 * written since the last reset or non-final rescan as work items, which
 * the scan resolves to the parts of the marked scan objects that lie on
 * them, and returns the bytes of written pages (final: in the last stop,
 * which leaves the pages written).
 * gm_concurrent_release removes the protection once marking is over, so
 * that the program's writes between cycles take no fault (the next reset
 * protects every page again).  All are no-ops where tracking is
 * unavailable. */
void gm_concurrent_reset(void);
void gm_concurrent_release(void);
uint64_t gm_concurrent_rescan(gm_gcwork *w, bool final);
/* A queued work item is a run of written pages when its start carries
 * GM_RESCAN_TAG (page starts leave the low bits free; bit 0 is
 * GM_KIND_TAG): gm_concurrent_rescan_item scans, on [lo, hi), the parts of
 * the marked objects of scan spans that lie there.  Items are at most
 * GM_RESCAN_ITEM bytes, so that work on a long run of written pages is
 * shared between the workers and an assist's step stays short.  An item
 * counts its pages' mark checks as scan work (a sixteenth of its length:
 * one mark byte per 16-byte slot at most) beside the objects it scans, in
 * the one measure the pacer and the assists' budgets use, so that an
 * assist over pages with few marked objects still comes to an end. */
#define GM_RESCAN_TAG ((uintptr_t)2)
#define GM_RESCAN_ITEM ((uintptr_t)64 << 10)
void gm_concurrent_rescan_item(gm_gcwork *w, uintptr_t lo, uintptr_t hi);

#endif
