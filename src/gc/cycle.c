/*
 * cycle.c - one garbage collection, start to end, on the collector thread.
 *
 * The collector thread sleeps until a cycle is requested: by an allocation
 * that pushed heap_live past the pacer's trigger (pacer.c), or by gm_gc().
 * It then runs the phases listed in gc.h.  Locks are taken in one order
 * everywhere: gm_gc_lock, then gm_threads_lock, then heap locks.
 *
 * gm_gc() waits for a cycle that started after the call, and for its sweep,
 * like Go's runtime.GC().
 *
 * fork: the handlers take every allocator lock before fork, so the child
 * finds them consistent; the child keeps only the forking thread, and
 * starts a new collector thread and new mark workers when it next needs
 * them.
 */
#include <pthread.h>
#include <string.h>

#include "gc/kindmark.h"

gm_gc_stats gm_gcstats;
gm_mutex gm_gc_lock = GM_MUTEX_INIT;
_Atomic int gm_gc_pressure;
_Atomic uint32_t gm_gc_cycles_done;
static _Atomic uint32_t cycles_started;
static _Atomic uint32_t sweeps_done;
static _Atomic int request_pending; /* bit 0: paced, bit 1: forced */
static gm_note request_note;        /* collector sleeps on it */
static gm_note done_note;           /* waiters sleep on it */
static gm_mutex start_lock = GM_MUTEX_INIT;
static _Atomic bool collector_started;

static void *collector_main(void *arg);

static gm_gc_stack_hooks stack_hooks;

void gm_gc_set_stack_hooks(const gm_gc_stack_hooks *h) {
    stack_hooks = *h;
}

void gm_gc_stacks_scan(gm_thread *t, gm_scan_fn scan, void *ctx, gm_roots_pass pass) {
    if (stack_hooks.scan)
        stack_hooks.scan(t, scan, ctx, pass);
}

void gm_gc_stacks_scan_records(gm_scan_fn scan, void *ctx) {
    if (stack_hooks.records)
        stack_hooks.records(scan, ctx);
}

void gm_gc_stacks_shrink(gm_thread *t) {
    if (stack_hooks.shrink)
        stack_hooks.shrink(t);
}

void gm_gc_stacks_stats(uint64_t *inuse, uint64_t *sys) {
    *inuse = *sys = 0;
    if (stack_hooks.stats)
        stack_hooks.stats(inuse, sys);
}

static void stacks_fork_lock(bool lock) {
    if (stack_hooks.fork_lock)
        stack_hooks.fork_lock(lock);
}

static void start_collector(void) {
    if (atomic_load_explicit(&collector_started, memory_order_acquire))
        return;
    gm_mutex_lock(&start_lock);
    if (!atomic_load_explicit(&collector_started, memory_order_relaxed)) {
        int err = gm_os_thread_start(collector_main, NULL);
        if (err)
            gm_fatal("cannot start the collector thread: pthread_create error %d", err);
        atomic_store_explicit(&collector_started, true, memory_order_release);
    }
    gm_mutex_unlock(&start_lock);
}

void gm_gc_request(bool forced) {
    int bit = forced ? 2 : 1;
    if ((atomic_fetch_or(&request_pending, bit) & bit) && !forced)
        return;
    start_collector();
    gm_note_notify_all(&request_note);
}

/* Waiting for the collector happens in a blocking region (gm_blocking):
 * the collector then need not signal the waiting thread to stop it, and a
 * waiter never delays a stop. */
typedef struct wait_arg {
    _Atomic uint32_t *counter;
    uint32_t target;
    int32_t past; /* done when counter - target >= past */
} wait_arg;

static void *wait_counter(void *p) {
    wait_arg *w = p;
    for (;;) {
        uint32_t seq = gm_note_seq(&done_note);
        if ((int32_t)(atomic_load(w->counter) - w->target) >= w->past)
            return NULL;
        gm_note_wait(&done_note, seq, -1);
    }
}

static void wait_for(_Atomic uint32_t *counter, uint32_t target, int32_t past) {
    wait_arg w = {counter, target, past};
    if (gm_tls_thread)
        gm_blocking(wait_counter, &w);
    else
        wait_counter(&w);
}

static void *take_gc_lock(void *arg) {
    (void)arg;
    gm_mutex_lock(&gm_gc_lock);
    return NULL;
}

void gm_gc_lock_mutator(void) {
    if (gm_mutex_trylock(&gm_gc_lock))
        return;
    if (gm_tls_thread)
        gm_blocking(take_gc_lock, NULL);
    else
        gm_mutex_lock(&gm_gc_lock);
}

/* Waits until the cycle count passes `after`. */
void gm_gc_wait_cycle(uint32_t after) {
    wait_for(&gm_gc_cycles_done, after, 1);
}

static void wait_sweep(uint32_t target) {
    wait_for(&sweeps_done, target, 0);
}

GM_API void gm_gc(void) {
    gm_ensure_init();
    uint32_t target = atomic_load(&cycles_started) + 1;
    gm_gc_request(true);
    wait_sweep(target);
}

typedef struct checkmark_state {
    uint64_t *saved;
    size_t pos, cap;
    bool restoring;
    uint64_t missed;
} checkmark_state;

static void checkmark_count(gm_span *s, void *ctx) {
    ((checkmark_state *)ctx)->cap += s->nwords;
}

static void checkmark_save(gm_span *s, void *ctx) {
    checkmark_state *st = ctx;
    for (unsigned w = 0; w < s->nwords; w++)
        st->saved[st->pos++] = gm_take_marks(s, w);
}

static void checkmark_compare(gm_span *s, void *ctx) {
    checkmark_state *st = ctx;
    for (unsigned w = 0; w < s->nwords; w++) {
        uint64_t first = st->saved[st->pos++];
        uint64_t again = gm_take_marks(s, w);
        uint64_t miss = again & ~first;
        if (miss) {
            unsigned bit = (unsigned)__builtin_ctzll(miss);
            uintptr_t obj = s->base + (uintptr_t)(w * 64 + bit) * s->elemsize;
            gm_fatal("gccheckmark: object %p (%zu bytes, span %p) is reachable but was not marked",
                     (void *)obj, (size_t)s->elemsize, (void *)s->base);
        }
        uint64_t all = first | again;
        for (unsigned b = 0; b < 64 && w * 64 + b < s->nelems; b++)
            atomic_store_explicit(&s->mark_bytes[w * 64 + b], (uint8_t)((all >> b) & 1), memory_order_relaxed);
    }
}

void gm_checkmark_verify(void) {
    checkmark_state st = {0};
    gm_heap_for_each_span(checkmark_count, &st);
    size_t bytes = (st.cap ? st.cap : 1) * sizeof(uint64_t);
    st.saved = gm_os_alloc(bytes);
    if (!st.saved)
        gm_fatal("gccheckmark: out of memory saving %zu bytes of mark bits", bytes);
    gm_heap_for_each_span(checkmark_save, &st);
    gm_gcwork *w = gm_mark_root_work();
    gm_roots_queue(w, GM_ROOTS_ALL);
    uint64_t b, o;
    gm_mark_drain_parallel(1, &b, &o);
    st.pos = 0;
    gm_heap_for_each_span(checkmark_compare, &st);
    gm_os_free(st.saved, bytes);
}

/* Returns free pages to the OS beyond 10% over the heap goal, as Go's
 * scavenger does.  The goal used is the largest of the last few cycles', so
 * a heap whose live size swings does not give pages back one cycle only to
 * fault them in again the next. */
#define GOAL_HISTORY 8
static void scavenge_after_cycle(uint32_t n) {
    static uint64_t goals[GOAL_HISTORY];
    uint64_t goal = atomic_load(&gm_pace.goal);
    goals[n % GOAL_HISTORY] = goal;
    uint64_t high = 0;
    for (int i = 0; i < GOAL_HISTORY; i++)
        if (goals[i] > high)
            high = goals[i];
    if (high == UINT64_MAX)
        return;
    uint64_t retain = high + high / 10;
    uint64_t inuse = atomic_load(&gm_heap.inuse);
    /* Only runs that stayed free through two whole cycles: what the last
     * sweep freed is what allocation reuses before the next cycle, and
     * releasing it only to fault it in again (the kernel zeroing every
     * page) costs more than it saves (GCBench ran 1.8x slower so). */
    gm_heap_scavenge(retain > inuse ? retain - inuse : 0, 4);
}

static void scan_root_now(const void *lo, const void *hi, void *ctx) {
    if ((uintptr_t)hi > (uintptr_t)lo)
        gm_scan_now(ctx, (uintptr_t)lo, (uintptr_t)hi);
}

/* Marks what is left on w and what it reaches, and the specials' steps,
 * with the world stopped; returns the bytes and objects it marked. */
static void mark_to_the_end(gm_gcwork *w, uint64_t *bytes, uint64_t *objects) {
    uint64_t b, o;
    gm_mark_drain_parallel(gm_cfg.procs, &b, &o);
    *bytes += b;
    *objects += o;
    while (gm_specials_after_mark(w)) {
        gm_mark_drain_parallel(gm_cfg.procs, &b, &o);
        *bytes += b;
        *objects += o;
    }
}

/* The concurrent part of a cycle, between the two stops: the world runs,
 * new objects are allocated black, and the mark workers (a quarter of
 * GOMEM_PROCS, at least one, as Go's background workers) drain what the
 * roots reached; then rescan rounds of written pages while they shrink. */
#define MAX_RESCAN_ROUNDS 4
static void mark_concurrently(gm_gcwork *w, uint64_t *bytes, uint64_t *objects, uint64_t *rescanned) {
    int workers = gm_cfg.procs / 4 > 1 ? gm_cfg.procs / 4 : 1;
    uint64_t b, o, last = UINT64_MAX;
    gm_mark_drain_parallel(workers, &b, &o);
    *bytes += b;
    *objects += o;
    /* Most of what is reachable is marked now: the specials of objects
     * found live are dealt with here, not in the final stop (the first
     * round's drain takes what this queues). */
    gm_specials_premark(w);
    for (int round = 0; round < MAX_RESCAN_ROUNDS; round++) {
        uint64_t written = gm_concurrent_rescan(w, false);
        *rescanned += written;
        gm_mark_drain_parallel(workers, &b, &o);
        *bytes += b;
        *objects += o;
        /* Stop when a round no longer shrinks the work, or it is small. */
        if (written <= (64u << 10) || written >= last)
            break;
        last = written;
    }
}

/* Client trace functions (GM_KIND_SCAN_TRACE: a runtime's mark procedures)
 * were written for a collector that stops the world while they run; a
 * program that has them is marked with the world stopped. */
static bool client_traced_kinds(void) {
    int n = atomic_load_explicit(&gm_nkinds, memory_order_acquire);
    for (int i = 1; i < n; i++)
        if (gm_kinds[i].scan == GM_KIND_SCAN_TRACE)
            return true;
    return false;
}

static void run_cycle(bool forced) {
    gm_trace_cycle tc;
    memset(&tc, 0, sizeof tc);
    bool concurrent = gm_dirty_available() && !client_traced_kinds();
    gm_gc_events_fire(GM_GC_START);
    uint64_t t0 = gm_nanotime(), c0 = gm_thread_cputime();
    gm_mutex_lock(&gm_gc_lock);
    /* Re-protect the heap while the program still runs (concurrent.c says
     * why that is early enough), before the thread list's lock: threads
     * that register or exit meanwhile need not wait for it. */
    if (concurrent)
        gm_concurrent_reset();
    gm_mutex_lock(&gm_threads_lock);
    tc.n = atomic_fetch_add(&cycles_started, 1) + 1;
    tc.forced = forced;
    tc.start_ns = t0 - gm_gcstats.start_ns;
    uint64_t ts1 = gm_nanotime(); /* the first stop begins */

    /* Stop the world; sweep termination; flush the mcaches.  The heap at
     * the start is read once the world is stopped: read before, it missed
     * what the mutators allocated while the stop was under way, and the
     * live heap marked could exceed it (gctrace's X->Y->Z with Z > X). */
    gm_roots_collect_segments();
    tc.heap_start = atomic_load(&gm_hstats.heap_live);
    tc.goal = atomic_load(&gm_pace.goal); /* this cycle's, as Go prints */
    gm_sweep_all();
    for (gm_thread *t = gm_threads; t; t = t->next)
        gm_mcache_release_all(t->mcache);
    gm_kinds_release_cached();
    gm_gc_events_fire(GM_GC_STOPPED);
    gm_gcwork *w = gm_mark_root_work();
    uint64_t marked = 0, objects = 0, rescanned = 0;
    atomic_store(&gm_scan_progress, 0);
    uint64_t stop1_ns = 0, t2, c2, t3, c3;
    if (concurrent) {
        /* Arm: new objects black, the roots scanned now (they are
         * rescanned whole at the end), the world restarted. */
        atomic_store(&gm_black_bytes, 0);
        atomic_fetch_or(&gm_gc_pressure, GM_PRESSURE_BLACK);
        gm_roots_enumerate(scan_root_now, w, GM_ROOTS_FIRST);
        gm_roots_queue_extra(w);
        /* The stop ends when the world is released, as the final one does
         * (t4): on 2 CPUs the woken thread often takes this one's CPU at
         * the wake-up, and this thread then waits to run again (1.4 ms
         * seen) while the program runs. */
        t2 = gm_nanotime(), c2 = gm_thread_cputime();
        stop1_ns = t2 - ts1;
        gm_start_world();
        gm_mutex_unlock(&gm_threads_lock);
        gm_gc_stacks_scan_records(scan_root_now, w); /* left out of the stop */
        mark_concurrently(w, &marked, &objects, &rescanned);
        /* Mark termination: the roots again, the pages written since the
         * last round, and everything they reach. */
        gm_mutex_lock(&gm_threads_lock);
        t3 = gm_nanotime(), c3 = gm_thread_cputime();
        gm_roots_collect_segments();
        /* World stopped: no allocation, no assist from here on. */
        atomic_fetch_and(&gm_gc_pressure, ~GM_PRESSURE_BLACK);
        gm_roots_queue(w, GM_ROOTS_CHANGED);
        rescanned += gm_concurrent_rescan(w, true);
        mark_to_the_end(w, &marked, &objects);
        for (gm_thread *t = gm_threads; t; t = t->next)
            gm_mcache_release_all(t->mcache);
        gm_kinds_release_cached(); /* kind spans cached while marking ran */
        marked += atomic_exchange(&gm_black_bytes, 0) + atomic_exchange(&gm_assist_bytes, 0);
    } else {
        t2 = gm_nanotime(), c2 = gm_thread_cputime();
        gm_roots_queue(w, GM_ROOTS_ALL);
        mark_to_the_end(w, &marked, &objects);
        t3 = gm_nanotime(), c3 = gm_thread_cputime();
    }
    if (gm_cfg.gccheckmark)
        gm_checkmark_verify();
    uint64_t worker_cpu = gm_mark_take_worker_cpu();

    /* Mark termination. */
    uint64_t stack_inuse, stack_sys;
    for (gm_thread *t = gm_threads; t; t = t->next)
        if (t->sched)
            gm_gc_stacks_shrink(t);
    gm_gc_stacks_stats(&stack_inuse, &stack_sys);
    tc.heap_end = atomic_load(&gm_hstats.heap_live);
    atomic_store(&gm_hstats.heap_live, marked);
    atomic_fetch_add(&gm_heap.sweepgen, 2);
    gm_pacer_end_cycle(marked, stack_inuse, gm_globals_bytes, atomic_load(&gm_scan_progress));
    uint64_t t4 = gm_nanotime(), c4 = gm_thread_cputime();
    gm_start_world();
    gm_mutex_unlock(&gm_threads_lock);

    /* Pauses: both stops; the concurrent part is not one. */
    uint64_t pause = concurrent ? stop1_ns + (t4 - t3) : t4 - ts1;
    gm_gcstats.pause_ns[gm_gcstats.num_gc % 256] = pause;
    gm_gcstats.pause_total_ns += pause;
    gm_gcstats.num_gc++;
    gm_gcstats.last_concurrent = concurrent;
    if (forced)
        gm_gcstats.num_forced_gc++;
    gm_gcstats.last_gc_ns = gm_walltime();
    uint64_t assist_cpu = atomic_exchange(&gm_assist_ns, 0);
    uint64_t cycle_cpu = (c4 - c0) + worker_cpu + assist_cpu;
    gm_gcstats.gc_cpu_ns += cycle_cpu;
    uint64_t wall = t4 - t0 ? t4 - t0 : 1;
    gm_pacer_note_cpu((double)cycle_cpu / (double)(wall * (uint64_t)gm_os_ncpu()));
    tc.stw1_ns = t2 - ts1; /* the stop, not the locks or the re-protecting before it */
    tc.mark_ns = t3 - t2;
    tc.stw2_ns = t4 - t3;
    tc.stw1_cpu_ns = c2 - c0;
    tc.mark_cpu_ns = (c3 - c2) + worker_cpu;
    tc.stw2_cpu_ns = c4 - c3;
    tc.assist_cpu_ns = assist_cpu;
    tc.heap_live = marked;
    tc.stacks = stack_inuse;
    tc.globals = gm_globals_bytes;
    tc.procs = gm_cfg.procs;
    tc.checkmark = gm_cfg.gccheckmark;
    tc.concurrent = concurrent;
    tc.rescanned = rescanned;
    gm_mutex_unlock(&gm_gc_lock);
    atomic_fetch_and(&gm_gc_pressure, ~GM_PRESSURE_WAIT);
    atomic_fetch_add(&gm_gc_cycles_done, 1);
    gm_note_notify_all(&done_note);
    if (concurrent) /* after the waiters go: they need none of it */
        gm_concurrent_release();
    gm_specials_after_cycle();
    gm_gc_events_fire(GM_GC_END);
    if (gm_cfg.gctrace) {
        uint64_t fr, cr;
        gm_specials_counts(&tc.finalizers_queued, &fr, &tc.cleanups_queued, &cr);
        gm_gctrace_print(&tc);
    }

    /* Background sweep, then give idle memory back to the OS. */
    uint64_t cs = gm_thread_cputime();
    gm_sweep_all();
    scavenge_after_cycle(tc.n);
    gm_mutex_lock(&gm_gc_lock);
    gm_gcstats.gc_cpu_ns += gm_thread_cputime() - cs;
    gm_mutex_unlock(&gm_gc_lock);
    atomic_store(&sweeps_done, tc.n);
    gm_note_notify_all(&done_note);
}

static void *collector_main(void *arg) {
    (void)arg;
    /* Wait until the thread that started us has let go of start_lock: a
     * cycle stops the world, and a thread stopped while holding it would
     * hold up any thread that waits for it inside a no-stop region (an
     * allocation requesting a cycle), which never answers the stop. */
    gm_mutex_lock(&start_lock);
    gm_mutex_unlock(&start_lock);
    for (;;) {
        uint32_t seq = gm_note_seq(&request_note);
        int req = atomic_exchange(&request_pending, 0);
        if (req) {
            bool forced = req & 2;
            uint64_t live = atomic_load(&gm_hstats.heap_live);
            if (forced || live >= atomic_load(&gm_pace.trigger))
                run_cycle(forced);
            continue;
        }
        gm_note_wait(&request_note, seq, -1);
    }
    return NULL;
}

/* fork.  Before: no cycle may run (gm_gc_lock), no thread may be halfway
 * through sweeping a span or editing a span's specials (the fork gate), and
 * every lock the allocator and the collector use is taken, so the child
 * finds them all free.  In the child only the forking thread exists. */
static void lock_all(void) {
    gm_gc_lock_mutator();
    gm_mutex_lock(&start_lock);
    gm_mutex_lock(&gm_threads_lock);
    gm_forkgate_close();
    gm_mutex_lock(&gm_roots_lock);
    stacks_fork_lock(true);
    gm_specials_fork_lock(true);
    gm_heap_fork_lock(true);
}

static void unlock_all(void) {
    gm_heap_fork_lock(false);
    gm_specials_fork_lock(false);
    stacks_fork_lock(false);
    gm_mutex_unlock(&gm_roots_lock);
    gm_forkgate_open();
    gm_mutex_unlock(&gm_threads_lock);
    gm_mutex_unlock(&start_lock);
    gm_mutex_unlock(&gm_gc_lock);
}

static void fork_child(void) {
    /* Only this thread exists now.  The other threads' records leave the
     * thread list; once the locks are free again, the spans their mcaches
     * held go back to the mcentrals (so they are swept and collected like
     * any other) and the records are freed. */
    gm_thread *self = gm_tls_thread;
    gm_thread *gone = gm_threads;
    gm_threads = self;
    if (self) {
        if (self->prev)
            self->prev->next = self->next;
        else
            gone = self->next;
        if (self->next)
            self->next->prev = self->prev;
        self->next = self->prev = NULL;
        self->pthread = pthread_self();
        self->tid = gm_os_gettid();
    }
    atomic_store(&collector_started, false);
    atomic_store(&request_pending, 0);
    gm_dirty_forked_child();
    gm_mark_forget_workers();
    unlock_all();
    while (gone) {
        gm_thread *next = gone->next;
        gm_mcache_release_all(gone->mcache);
        gm_thread_record_free(gone);
        gone = next;
    }
}

void gm_gc_init(void) {
    if (gm_cfg.gctrace) {
        if (gm_dirty_available())
            gm_print("gomem: concurrent marking (written pages from userfaultfd write-protect and "
                     "PAGEMAP_SCAN)\n");
        else
            gm_print("gomem: marking stops the world (%s)\n", gm_dirty_unavailable_reason());
    }
    gm_gcstats.start_ns = gm_nanotime();
    gm_gcstats.start_cpu_ns = gm_process_cputime();
    gm_mark_init();
    gm_pacer_init();
    pthread_atfork(lock_all, unlock_all, fork_child);
}
