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
#include <sys/syscall.h>
#include <unistd.h>

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

extern gm_mutex gm_span_records_lock, gm_roots_lock;
gm_gcwork *gm_mark_root_work(void);
uint64_t gm_mark_take_worker_cpu(void);
void gm_mark_forget_workers(void);
void gm_pacer_note_cpu(double fraction);
void gm_threads_init(void);

static void *collector_main(void *arg);

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

/* Calls fn on every in-use span; with the world stopped and mcaches flushed
 * every span is on a list. */
static void for_each_span(void (*fn)(gm_span *, void *), void *ctx) {
    for (int i = 0; i < GM_ALL_SPAN_CLASSES; i++) {
        gm_mcentral *c = &gm_central[i];
        gm_span *heads[4] = {&c->partial[0], &c->partial[1], &c->full[0], &c->full[1]};
        for (int h = 0; h < 4; h++)
            for (gm_span *s = heads[h]->next; s != heads[h]; s = s->next)
                fn(s, ctx);
    }
    for (int k = 0; k < 2; k++)
        for (gm_span *s = gm_large.set[k].next; s != &gm_large.set[k]; s = s->next)
            fn(s, ctx);
    gm_kinds_for_each_span(fn, ctx);
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
    for_each_span(checkmark_count, &st);
    size_t bytes = (st.cap ? st.cap : 1) * sizeof(uint64_t);
    st.saved = gm_os_alloc(bytes);
    if (!st.saved)
        gm_fatal("gccheckmark: out of memory saving %zu bytes of mark bits", bytes);
    for_each_span(checkmark_save, &st);
    gm_gcwork *w = gm_mark_root_work();
    gm_roots_queue(w);
    uint64_t b, o;
    gm_mark_drain_parallel(1, &b, &o);
    st.pos = 0;
    for_each_span(checkmark_compare, &st);
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

static void run_cycle(bool forced) {
    gm_trace_cycle tc;
    memset(&tc, 0, sizeof tc);
    gm_gc_events_fire(GM_GC_START);
    uint64_t t0 = gm_nanotime(), c0 = gm_thread_cputime();
    gm_mutex_lock(&gm_gc_lock);
    gm_mutex_lock(&gm_threads_lock);
    tc.n = atomic_fetch_add(&cycles_started, 1) + 1;
    tc.forced = forced;
    tc.start_ns = t0 - gm_gcstats.start_ns;
    tc.heap_start = atomic_load(&gm_hstats.heap_live);

    /* Stop the world; sweep termination; flush the mcaches. */
    gm_roots_collect_segments();
    uint64_t t1 = gm_nanotime();
    gm_sweep_all();
    for (gm_thread *t = gm_threads; t; t = t->next)
        gm_mcache_release_all(t->mcache);
    gm_kinds_release_cached();
    gm_gc_events_fire(GM_GC_STOPPED);
    uint64_t t2 = gm_nanotime(), c2 = gm_thread_cputime();

    /* Mark. */
    gm_gcwork *w = gm_mark_root_work();
    gm_roots_queue(w);
    uint64_t marked, objects;
    gm_mark_drain_parallel(gm_cfg.procs, &marked, &objects);
    while (gm_specials_after_mark(w)) {
        uint64_t more_bytes, more_objects;
        gm_mark_drain_parallel(gm_cfg.procs, &more_bytes, &more_objects);
        marked += more_bytes;
        objects += more_objects;
    }
    if (gm_cfg.gccheckmark)
        gm_checkmark_verify();
    uint64_t t3 = gm_nanotime(), c3 = gm_thread_cputime();
    uint64_t worker_cpu = gm_mark_take_worker_cpu();

    /* Mark termination. */
    uint64_t stack_inuse, stack_sys;
    for (gm_thread *t = gm_threads; t; t = t->next)
        if (t->sched)
            gm_task_shrink_stacks(t);
    gm_task_stack_stats(&stack_inuse, &stack_sys);
    atomic_store(&gm_hstats.heap_live, marked);
    tc.heap_end = tc.heap_start;
    atomic_fetch_add(&gm_heap.sweepgen, 2);
    gm_pacer_end_cycle(marked, stack_inuse, gm_globals_bytes);
    uint64_t t4 = gm_nanotime(), c4 = gm_thread_cputime();
    gm_start_world();
    gm_mutex_unlock(&gm_threads_lock);

    uint64_t pause = t4 - t1;
    gm_gcstats.pause_ns[gm_gcstats.num_gc % 256] = pause;
    gm_gcstats.pause_total_ns += pause;
    gm_gcstats.num_gc++;
    if (forced)
        gm_gcstats.num_forced_gc++;
    gm_gcstats.last_gc_ns = gm_walltime();
    uint64_t cycle_cpu = (c4 - c0) + worker_cpu;
    gm_gcstats.gc_cpu_ns += cycle_cpu;
    uint64_t wall = t4 - t0 ? t4 - t0 : 1;
    gm_pacer_note_cpu((double)cycle_cpu / (double)(wall * (uint64_t)gm_os_ncpu()));
    tc.stw1_ns = t2 - t0;
    tc.mark_ns = t3 - t2;
    tc.stw2_ns = t4 - t3;
    tc.stw1_cpu_ns = c2 - c0;
    tc.mark_cpu_ns = (c3 - c2) + worker_cpu;
    tc.stw2_cpu_ns = c4 - c3;
    tc.heap_live = marked;
    tc.goal = atomic_load(&gm_pace.goal);
    tc.stacks = stack_inuse;
    tc.globals = gm_globals_bytes;
    tc.procs = gm_cfg.procs;
    tc.checkmark = gm_cfg.gccheckmark;
    gm_mutex_unlock(&gm_gc_lock);
    atomic_store(&gm_gc_pressure, 0);
    atomic_fetch_add(&gm_gc_cycles_done, 1);
    gm_note_notify_all(&done_note);
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
void gm_specials_fork_lock(void);
void gm_specials_fork_unlock(void);
void gm_tiny_bounds_fork_lock(bool lock);
void gm_task_fork_lock(bool lock);

static void lock_all(void) {
    gm_mutex_lock(&gm_gc_lock);
    gm_mutex_lock(&start_lock);
    gm_mutex_lock(&gm_threads_lock);
    gm_forkgate_close();
    gm_mutex_lock(&gm_roots_lock);
    gm_task_fork_lock(true);
    gm_specials_fork_lock();
    for (int i = 0; i < GM_ALL_SPAN_CLASSES; i++)
        gm_mutex_lock(&gm_central[i].lock);
    for (int i = 1; i < atomic_load(&gm_nkinds); i++)
        gm_mutex_lock(&gm_kinds[i].lock);
    for (size_t i = 0, n = gm_kinds_ncentrals(); i < n; i++)
        gm_mutex_lock(&gm_kinds_central(i)->lock);
    gm_mutex_lock(&gm_large.lock);
    gm_mutex_lock(&gm_heap.lock);
    gm_mutex_lock(&gm_span_records_lock);
    gm_tiny_bounds_fork_lock(true);
}

static void unlock_all(void) {
    gm_tiny_bounds_fork_lock(false);
    gm_mutex_unlock(&gm_span_records_lock);
    gm_mutex_unlock(&gm_heap.lock);
    gm_mutex_unlock(&gm_large.lock);
    for (size_t i = gm_kinds_ncentrals(); i-- > 0;)
        gm_mutex_unlock(&gm_kinds_central(i)->lock);
    for (int i = atomic_load(&gm_nkinds) - 1; i >= 1; i--)
        gm_mutex_unlock(&gm_kinds[i].lock);
    for (int i = GM_ALL_SPAN_CLASSES - 1; i >= 0; i--)
        gm_mutex_unlock(&gm_central[i].lock);
    gm_specials_fork_unlock();
    gm_task_fork_lock(false);
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
        self->tid = (pid_t)syscall(SYS_gettid);
    }
    atomic_store(&collector_started, false);
    atomic_store(&request_pending, 0);
    gm_mark_forget_workers();
    unlock_all();
    while (gone) {
        gm_thread *next = gone->next;
        gm_mcache_release_all(gone->mcache);
        gm_os_free(gone, sizeof(gm_thread) + sizeof(gm_mcache));
        gone = next;
    }
}

void gm_gc_init(void) {
    gm_gcstats.start_ns = gm_nanotime();
    gm_gcstats.start_cpu_ns = gm_process_cputime();
    gm_threads_init();
    gm_mark_init();
    gm_pacer_init();
    pthread_atfork(lock_all, unlock_all, fork_child);
}
