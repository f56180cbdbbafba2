/*
 * pacer.c - when to collect, and what allocation pays while marking runs:
 * Go's pacer (1.18+) and its mark assists.
 *
 *   goal = live + (live + stacks + globals) * GOGC / 100
 *          at least 4 MiB * GOGC / 100
 *
 * where live is the heap marked by the last cycle.  A cycle is requested
 * when heap_live crosses the trigger.  Go places the trigger between 0.7
 * and 0.95 of the runway (goal - live) so concurrent marking can finish
 * before the goal; here it sits at 0.8 when marking runs concurrently, and
 * at 0.95 when it stops the world (the runway needed is then only the
 * collector thread's wake-up).
 *
 * Soft memory limit (GOMEMLIMIT semantics): the goal is capped so that the
 * heap plus everything else gomem has from the OS stays under the limit,
 * but never below live + 1/16 of live; and when the collector used more
 * than half of the CPU over recent cycles, the cap is lifted to twice the
 * live heap so the program keeps running (no death spiral).
 *
 * Allocation checks the trigger only on its slow path (a new span or a
 * large object), as Go does.  If a cycle is late and the heap passes the
 * goal by more than 1/8 (1/32 under a memory limit), gm_gc_pressure sends
 * every allocation to the slow path, which waits for the cycle to end.
 */
#include <errno.h>

#include "gc/gc.h"

#define MIN_HEAP ((uint64_t)4 << 20)

gm_pacer gm_pace;

static uint64_t last_stacks, last_globals;
static _Atomic uint64_t heap_minimum;
static double recent_gc_cpu_fraction;

void gm_pacer_init(void) {
    atomic_store(&gm_pace.gc_percent, gm_cfg.gc_percent);
    atomic_store(&gm_pace.memory_limit, gm_cfg.memory_limit);
    gm_pacer_recompute();
}

void gm_pacer_recompute(void) {
    int gcp = atomic_load(&gm_pace.gc_percent);
    int64_t limit = atomic_load(&gm_pace.memory_limit);
    uint64_t live = gm_pace.heap_marked;
    uint64_t goal;
    if (gcp < 0) {
        goal = UINT64_MAX;
    } else {
        goal = live + (live + last_stacks + last_globals) * (uint64_t)gcp / 100;
        uint64_t min = MIN_HEAP * (uint64_t)gcp / 100;
        if (goal < min)
            goal = min;
        uint64_t floor = atomic_load(&heap_minimum); /* gm_set_heap_minimum */
        if (goal < floor)
            goal = floor;
    }
    if (limit != INT64_MAX) {
        uint64_t other = atomic_load(&gm_heap.meta) + last_stacks;
        uint64_t cap = (uint64_t)limit > other ? (uint64_t)limit - other : 0;
        uint64_t floor = live + live / 16;
        if (recent_gc_cpu_fraction > 0.5)
            floor = live * 2;
        if (cap < floor)
            cap = floor;
        if (cap < MIN_HEAP / 4)
            cap = MIN_HEAP / 4;
        if (cap < goal)
            goal = cap;
    }
    /* Marking that runs concurrently needs runway while the program keeps
     * allocating: the trigger sits at 0.8 of it then (Go's lies between 0.7
     * and 0.95); marking that stops the world needs only the collector's
     * wake-up: 0.95. */
    uint64_t num = gm_dirty_available() ? 16 : 19;
    uint64_t trigger = goal == UINT64_MAX ? UINT64_MAX : live + (goal - live) / 20 * num;
    atomic_store(&gm_pace.goal, goal);
    atomic_store(&gm_pace.trigger, trigger);
}

void gm_pacer_end_cycle(uint64_t marked, uint64_t stacks, uint64_t globals, uint64_t scanned) {
    gm_pace.heap_marked = marked;
    atomic_store(&gm_pace.scan_expected, scanned);
    last_stacks = stacks;
    last_globals = globals + gm_roots_user_bytes();
    /* Exponential average of the collector's share of CPU per cycle. */
    gm_pacer_recompute();
}

void gm_pacer_note_cpu(double fraction) {
    recent_gc_cpu_fraction = recent_gc_cpu_fraction * 0.5 + fraction * 0.5;
}

/* How far past the goal allocation may run before it waits for the cycle:
 * 1/8 of the goal, or 1/32 under a memory limit, which is a promise about
 * memory rather than a pacing hint. */
static uint64_t hard_goal(uint64_t goal) {
    if (goal == UINT64_MAX)
        return UINT64_MAX;
    bool limited = atomic_load_explicit(&gm_pace.memory_limit, memory_order_relaxed) != INT64_MAX;
    return goal + (limited ? goal / 32 : goal / 8);
}

void gm_gc_on_heap_growth(void) {
    uint64_t live = atomic_load_explicit(&gm_hstats.heap_live, memory_order_relaxed);
    if (live < atomic_load_explicit(&gm_pace.trigger, memory_order_relaxed))
        return;
    gm_gc_request(false);
    if (live > hard_goal(atomic_load_explicit(&gm_pace.goal, memory_order_relaxed)))
        atomic_fetch_or_explicit(&gm_gc_pressure, GM_PRESSURE_WAIT, memory_order_relaxed);
}

/* Assists (Go's, in outline).  While marking runs, allocation is charged
 * here a span (or a large or tiny object) at a time.  The charge is the
 * bytes allocated times the assist ratio:
 *
 *   ratio = scan work left / heap left before the goal
 *
 * where the work left is what the last cycle scanned (scan_expected) less
 * what this one has scanned so far (gm_scan_progress), and the heap left is
 * goal - heap_live (hard goal - heap_live once past the goal, at least
 * MIN_RUNWAY).  So the program pays for the marking its allocation makes
 * necessary, and the cycle ends near the goal however fast the program
 * allocates; with the collector's own workers ahead the ratio is small.
 * Once scanned passes expected, twice expected is taken as the estimate.
 * The thread pays in bounded steps (at most ASSIST_MAX scanned per call,
 * some hundreds of microseconds), and keeps what it could not pay (no grey
 * work free) for its next charge, up to ASSIST_STEP.  A thread past the hard
 * goal assists until marking ends or has no work to hand out, and only then
 * waits for the cycle (gm_gc_after_alloc). */
#define ASSIST_STEP ((uint64_t)64 << 10)
#define ASSIST_MAX ((uint64_t)512 << 10)
#define MIN_RUNWAY ((uint64_t)256 << 10)
static __thread uint64_t assist_debt;

static double assist_ratio(uint64_t live) {
    uint64_t goal = atomic_load_explicit(&gm_pace.goal, memory_order_relaxed);
    uint64_t expected = atomic_load_explicit(&gm_pace.scan_expected, memory_order_relaxed);
    uint64_t done = atomic_load_explicit(&gm_scan_progress, memory_order_relaxed);
    if (!expected)
        expected = live; /* the first cycle: everything may be live */
    if (done >= expected)
        expected *= 2;
    uint64_t left = expected > done ? expected - done : 0;
    uint64_t hard = hard_goal(goal);
    uint64_t runway = live < goal ? goal - live : live < hard ? hard - live : 0;
    if (runway < MIN_RUNWAY)
        runway = MIN_RUNWAY;
    return (double)left / (double)runway;
}

void gm_gc_assist(size_t bytes) {
    uint64_t live = atomic_load_explicit(&gm_hstats.heap_live, memory_order_relaxed);
    assist_debt += (uint64_t)((double)bytes * assist_ratio(live));
    if (assist_debt < ASSIST_STEP)
        return;
    uint64_t budget = assist_debt < ASSIST_MAX ? assist_debt : ASSIST_MAX;
    uint64_t paid = gm_mark_assist(budget);
    assist_debt -= paid < assist_debt ? paid : assist_debt;
    if (assist_debt > ASSIST_STEP)
        assist_debt = ASSIST_STEP;
}

/* Past the hard goal while marking runs: scan rather than wait idle.  An
 * assist that finds no grey work on the global list has asked the workers
 * to share theirs (they look every few dozen objects): it yields and looks
 * again a few times before it gives up and waits for the cycle. */
#define HUNGRY_RETRIES 64
static void assist_until_done(uint32_t done) {
    gm_thread *t = gm_tls_thread;
    if (!t || t->nostop)
        return;
    int misses = 0;
    while (atomic_load(&gm_gc_cycles_done) == done && misses < HUNGRY_RETRIES) {
        gm_nostop_enter(t);
        bool marking = gm_gc_marking();
        uint64_t paid = marking ? gm_mark_assist(ASSIST_MAX) : 0;
        gm_nostop_exit(t);
        if (!marking)
            return;
        if (paid) {
            misses = 0;
        } else {
            misses++;
            gm_os_yield();
        }
    }
}

void gm_gc_after_alloc(void) {
    if (!(atomic_load_explicit(&gm_gc_pressure, memory_order_relaxed) & GM_PRESSURE_WAIT))
        return;
    /* The count of finished cycles is read before the heap: a cycle that
     * ends between the two readings then ends the wait at once, rather
     * than the wait starting after it for a cycle nobody asks for. */
    uint32_t done = atomic_load(&gm_gc_cycles_done);
    uint64_t live = atomic_load(&gm_hstats.heap_live);
    if (live > hard_goal(atomic_load(&gm_pace.goal))) {
        gm_gc_request(false); /* make sure one is coming */
        assist_until_done(done);
        gm_gc_wait_cycle(done);
    } else {
        atomic_fetch_and_explicit(&gm_gc_pressure, ~GM_PRESSURE_WAIT, memory_order_relaxed);
    }
}

/* A heap size below which no paced collection starts (bdwgc's
 * GC_expand_hp asks for this); the memory limit still caps the goal. */
GM_API uint64_t gm_set_heap_minimum(uint64_t bytes) {
    gm_ensure_init();
    uint64_t old = atomic_exchange(&heap_minimum, bytes);
    gm_mutex_lock(&gm_gc_lock);
    gm_pacer_recompute();
    gm_mutex_unlock(&gm_gc_lock);
    return old;
}

GM_API int gm_set_gc_percent(int percent) {
    gm_ensure_init();
    int old = atomic_exchange(&gm_pace.gc_percent, percent < 0 ? -1 : percent);
    gm_gc_lock_mutator();
    gm_pacer_recompute();
    gm_mutex_unlock(&gm_gc_lock);
    if (percent >= 0)
        gm_gc_on_heap_growth();
    return old;
}

GM_API int64_t gm_set_memory_limit(int64_t bytes) {
    gm_ensure_init();
    if (bytes < 0)
        return atomic_load(&gm_pace.memory_limit);
    int64_t old = atomic_exchange(&gm_pace.memory_limit, bytes);
    gm_gc_lock_mutator();
    gm_pacer_recompute();
    gm_mutex_unlock(&gm_gc_lock);
    gm_gc_on_heap_growth();
    return old;
}
