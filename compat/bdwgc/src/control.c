/*
 * control.c - start-up, collection control, settings, statistics and the
 * exported variables of the bdwgc API.
 *
 * Start-up (bdwgc_init_slow, once, from GC_init or the first call into
 * the layer): initialises gomem, registers the collection-event hooks
 * (GM_GC_START runs the start callback; GM_GC_STOPPED sets
 * GC_least/greatest_plausible_heap_addr to the heap's arena range before
 * marking, so GC_MARK_AND_PUSH's inline range check sees every object;
 * GM_GC_END counts GC_gc_no), the root scanner of GC_push_other_roots, and
 * with GOMEM_BDWGC_BANNER=path appends "gomem libgc.so.1 pid=N" to path,
 * so that tests can tell which libgc.so.1 a program loaded.
 *
 * Settings that programs write directly (GC_dont_gc, which GC_disable and
 * GC_enable count; GC_free_space_divisor) are compared with the values
 * last applied at every allocation call (bdwgc_enter) and applied to
 * gomem's pacer when they change: GC_dont_gc > 0 turns automatic
 * collections off (GC percent -1) and makes GC_gcollect do nothing, as in
 * bdwgc; the divisor d maps to GC percent 300 / d (bdwgc's default 3 is
 * gomem's default 100).
 *
 * Statistics are read from the heap's counters without stopping the
 * world; they are as exact as bdwgc's (which reads them under its lock)
 * up to the allocations of spans that threads still cache.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bdwgc.h"
#include "heap/heap_for_gc.h" /* gm_heap_scavenge */
#include "os/vmopts.h"

/* ---------------------------------------------------- exported variables */

BDWGC_EXPORT GC_word GC_gc_no;
BDWGC_EXPORT int GC_parallel = 1;
BDWGC_EXPORT GC_oom_func GC_oom_fn;
BDWGC_EXPORT GC_on_heap_resize_proc GC_on_heap_resize;
BDWGC_EXPORT int GC_find_leak;
BDWGC_EXPORT int GC_all_interior_pointers = 1;
BDWGC_EXPORT int GC_finalize_on_demand;
BDWGC_EXPORT int GC_java_finalization = 1;
BDWGC_EXPORT GC_finalizer_notifier_proc GC_finalizer_notifier;
BDWGC_EXPORT int GC_dont_gc;
BDWGC_EXPORT int GC_dont_expand;
BDWGC_EXPORT int GC_use_entire_heap;
BDWGC_EXPORT int GC_full_freq = 19;
BDWGC_EXPORT GC_word GC_non_gc_bytes;
BDWGC_EXPORT int GC_no_dls;
BDWGC_EXPORT GC_word GC_free_space_divisor = 3;
BDWGC_EXPORT GC_word GC_max_retries;
BDWGC_EXPORT char *GC_stackbottom;
BDWGC_EXPORT int GC_dont_precollect;
BDWGC_EXPORT unsigned long GC_time_limit = GC_TIME_UNLIMITED;
BDWGC_EXPORT void *GC_least_plausible_heap_addr = (void *)~(uintptr_t)0;
BDWGC_EXPORT void *GC_greatest_plausible_heap_addr = (void *)0;
BDWGC_EXPORT void (*GC_same_obj_print_proc)(void *, void *);
BDWGC_EXPORT void (*GC_is_valid_displacement_print_proc)(void *);
BDWGC_EXPORT void (*GC_is_visible_print_proc)(void *);
BDWGC_EXPORT void (*GC_on_abort)(const char *);

_Atomic int bdwgc_ready;
int bdwgc_applied_dont_gc;
GC_word bdwgc_applied_divisor = 3;

static GC_warn_proc warn_proc;
static GC_start_callback_proc start_callback;
static GC_on_collection_event_proc collection_event;
static GC_on_thread_event_proc thread_event;
static GC_stop_func stop_func;
static GC_abort_func abort_func;
static GC_has_static_roots_func static_roots_callback;
static int gc_percent_default = 100;
static int force_unmap;
static GC_word bytes_at_last_gc;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t settings_lock = PTHREAD_MUTEX_INITIALIZER;

/* ----------------------------------------------------------- start-up */

static void on_start(void *arg) {
    (void)arg;
    if (start_callback)
        start_callback();
    if (collection_event)
        collection_event(GC_EVENT_START);
}

static void on_stopped(void *arg) {
    (void)arg;
    uintptr_t lo = atomic_load_explicit(&gm_heap_arenas.lo, memory_order_relaxed);
    uintptr_t hi = atomic_load_explicit(&gm_heap_arenas.hi, memory_order_relaxed);
    if (hi > lo) {
        /* One word below the first arena and its very end: neither value is
         * the address of an object, so these roots keep nothing alive. */
        GC_least_plausible_heap_addr = (void *)((lo << GM_ARENA_SHIFT) - sizeof(void *));
        GC_greatest_plausible_heap_addr = (void *)(hi << GM_ARENA_SHIFT);
    }
    if (collection_event)
        collection_event(GC_EVENT_MARK_START);
}

static void on_end(void *arg) {
    (void)arg;
    GC_gc_no++;
    bytes_at_last_gc = atomic_load_explicit(&gm_hstats.total_alloc, memory_order_relaxed);
    if (collection_event)
        collection_event(GC_EVENT_END);
}

static void write_banner(void) {
    const char *path = getenv("GOMEM_BDWGC_BANNER");
    if (!path || !*path)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char line[128];
    int n = snprintf(line, sizeof line, "gomem libgc.so.1 (bdwgc %d.%d.%d API) pid=%ld\n", GC_VERSION_MAJOR,
                     GC_VERSION_MINOR, GC_VERSION_MICRO, (long)getpid());
    if (n > 0 && write(fd, line, (size_t)n) < 0)
        n = 0;
    close(fd);
}

static void fork_prepare(void) {
    bdwgc_mark_fork(0);
    bdwgc_finalize_fork(0);
    bdwgc_links_fork(0);
}
static void fork_after(void) {
    bdwgc_links_fork(1);
    bdwgc_finalize_fork(1);
    bdwgc_mark_fork(1);
}

void bdwgc_init_slow(void) {
    pthread_mutex_lock(&init_lock);
    if (!atomic_load_explicit(&bdwgc_ready, memory_order_relaxed)) {
        /* bdwgc's heap is not madvise'd for huge pages; asking for them made
         * page faults compact memory (Nix: 3x the system time). */
        const char *hp = getenv("GOMEM_HUGEPAGES");
        gm_os_huge_pages = hp && hp[0] == '1';
        gm_ensure_init();
        gc_percent_default = gm_cfg.gc_percent;
        gm_on_gc(GM_GC_START, on_start, NULL);
        gm_on_gc(GM_GC_STOPPED, on_stopped, NULL);
        gm_on_gc(GM_GC_END, on_end, NULL);
        on_stopped(NULL);
        bdwgc_mark_init();
        pthread_atfork(fork_prepare, fork_after, fork_after);
        write_banner();
        atomic_store_explicit(&bdwgc_ready, 1, memory_order_release);
    }
    pthread_mutex_unlock(&init_lock);
    bdwgc_settings_changed();
}

void bdwgc_settings_changed(void) {
    pthread_mutex_lock(&settings_lock);
    int dont = GC_dont_gc;
    GC_word d = GC_free_space_divisor;
    if (dont != bdwgc_applied_dont_gc || d != bdwgc_applied_divisor) {
        int pct = gc_percent_default;
        if (d != 3 && d > 0)
            pct = (int)(300 / d) > 0 ? (int)(300 / d) : 1;
        if (gm_cfg.gc_percent < 0)
            pct = -1; /* GOMEM_GC=off wins */
        gm_set_gc_percent(dont > 0 ? -1 : pct);
        bdwgc_applied_dont_gc = dont;
        bdwgc_applied_divisor = d;
    }
    pthread_mutex_unlock(&settings_lock);
}

BDWGC_EXPORT void GC_init(void) {
    if (!atomic_load_explicit(&bdwgc_ready, memory_order_acquire))
        bdwgc_init_slow();
}

BDWGC_EXPORT int GC_is_init_called(void) {
    return atomic_load(&bdwgc_ready);
}

BDWGC_EXPORT void GC_deinit(void) {}

BDWGC_EXPORT unsigned GC_get_version(void) {
    return (GC_VERSION_MAJOR << 16) | (GC_VERSION_MINOR << 8) | GC_VERSION_MICRO;
}

/* ------------------------------------------------- warnings, oom, abort */

static void default_warn(char *msg, GC_word arg) {
    fprintf(stderr, msg, arg);
}

BDWGC_EXPORT void GC_ignore_warn_proc(char *msg, GC_word arg) {
    (void)msg, (void)arg;
}

void bdwgc_warn(const char *msg, GC_word arg) {
    GC_warn_proc p = warn_proc ? warn_proc : default_warn;
    p((char *)msg, arg);
}

void *bdwgc_oom(size_t n) {
    GC_oom_func f = GC_oom_fn;
    if (f)
        return f(n);
    return NULL;
}

BDWGC_EXPORT void GC_set_warn_proc(GC_warn_proc p) {
    warn_proc = p;
}
BDWGC_EXPORT GC_warn_proc GC_get_warn_proc(void) {
    return warn_proc ? warn_proc : default_warn;
}
BDWGC_EXPORT void GC_set_oom_fn(GC_oom_func f) {
    GC_oom_fn = f;
}
BDWGC_EXPORT GC_oom_func GC_get_oom_fn(void) {
    return GC_oom_fn ? GC_oom_fn : (GC_oom_func)bdwgc_oom;
}
BDWGC_EXPORT void GC_set_abort_func(GC_abort_func f) {
    abort_func = f;
}
BDWGC_EXPORT GC_abort_func GC_get_abort_func(void) {
    return abort_func;
}
BDWGC_EXPORT void GC_abort_on_oom(void) {
    fprintf(stderr, "gomem libgc: out of memory\n");
    if (abort_func)
        abort_func("Out of memory");
    abort();
}
BDWGC_EXPORT void GC_set_log_fd(int fd) {
    (void)fd;
}

/* ------------------------------------------------------------ collection */

/* After a collection: every finalizer it found is queued here (gomem's
 * finalizer thread or this one runs the trampolines), so that, as with
 * bdwgc, GC_gcollect returns with the finalizers it made ready either run
 * (not on demand) or ready for GC_invoke_finalizers. */
static void settle_finalizers(void) {
    gm_run_finalizers();
    for (int spins = 0; spins < 100000; spins++) {
        uint64_t fq, fr, cq, cr;
        gm_specials_counts(&fq, &fr, &cq, &cr);
        if (fr >= fq)
            break;
        sched_yield(); /* a trampoline is running on the finalizer thread */
    }
    if (!GC_finalize_on_demand)
        bdwgc_run_pending_finalizers();
}

BDWGC_EXPORT void GC_gcollect(void) {
    bdwgc_enter();
    if (GC_dont_gc > 0)
        return;
    gm_gc();
    if (force_unmap)
        gm_heap_scavenge(0, 0);
    settle_finalizers();
}

BDWGC_EXPORT void GC_gcollect_and_unmap(void) {
    bdwgc_enter();
    if (GC_dont_gc > 0)
        return;
    gm_gc();
    gm_heap_scavenge(0, 0);
    settle_finalizers();
}

BDWGC_EXPORT int GC_try_to_collect(GC_stop_func f) {
    if (f && f())
        return 0;
    if (GC_dont_gc > 0)
        return 0;
    GC_gcollect();
    return 1;
}
BDWGC_EXPORT void GC_set_stop_func(GC_stop_func f) {
    stop_func = f;
}
BDWGC_EXPORT GC_stop_func GC_get_stop_func(void) {
    return stop_func;
}
BDWGC_EXPORT int GC_collect_a_little(void) {
    if (atomic_load(&bdwgc_fin_pending))
        bdwgc_run_pending_finalizers();
    return 0;
}
BDWGC_EXPORT void GC_start_incremental_collection(void) {
    GC_gcollect();
}
BDWGC_EXPORT void GC_disable(void) {
    __atomic_fetch_add(&GC_dont_gc, 1, __ATOMIC_RELAXED);
    bdwgc_enter();
}
BDWGC_EXPORT void GC_enable(void) {
    __atomic_fetch_sub(&GC_dont_gc, 1, __ATOMIC_RELAXED);
    bdwgc_enter();
}
BDWGC_EXPORT int GC_is_disabled(void) {
    return GC_dont_gc != 0;
}
BDWGC_EXPORT void GC_enable_incremental(void) {}
BDWGC_EXPORT int GC_is_incremental_mode(void) {
    return 0;
}
BDWGC_EXPORT int GC_incremental_protection_needs(void) {
    return GC_PROTECTS_NONE;
}
BDWGC_EXPORT void GC_set_manual_vdb_allowed(int v) {
    (void)v;
}
BDWGC_EXPORT int GC_get_manual_vdb_allowed(void) {
    return 0;
}

/* bdwgc grows its heap by n bytes and collects only once that space is
 * used up; here the requests add up to a heap size below which no paced
 * collection starts. */
static uint64_t expanded;
BDWGC_EXPORT int GC_expand_hp(size_t n) {
    bdwgc_enter();
    uint64_t total = __atomic_add_fetch(&expanded, (uint64_t)n, __ATOMIC_RELAXED);
    gm_set_heap_minimum(total);
    return 1;
}

BDWGC_EXPORT void GC_set_max_heap_size(GC_word n) {
    bdwgc_enter();
    gm_set_memory_limit(n == 0 ? INT64_MAX : (int64_t)(n > INT64_MAX ? INT64_MAX : n));
}

/* ---------------------------------------------------------------- roots */

BDWGC_EXPORT void GC_add_roots(void *lo, void *hi) {
    bdwgc_enter();
    gm_add_roots(lo, hi);
}
BDWGC_EXPORT void GC_remove_roots(void *lo, void *hi) {
    bdwgc_enter();
    gm_remove_roots(lo, hi);
}
BDWGC_EXPORT void GC_clear_roots(void) {
    bdwgc_enter();
    gm_remove_roots((void *)0, (void *)~(uintptr_t)0);
}
BDWGC_EXPORT void GC_exclude_static_roots(void *lo, void *hi) {
    bdwgc_enter();
    gm_exclude_roots(lo, hi);
}
BDWGC_EXPORT void GC_clear_exclusion_table(void) {
    bdwgc_enter();
    gm_clear_root_exclusions();
}
BDWGC_EXPORT void GC_register_displacement(size_t n) {
    (void)n;
}
BDWGC_EXPORT void GC_debug_register_displacement(size_t n) {
    (void)n;
}
BDWGC_EXPORT void GC_register_has_static_roots_callback(GC_has_static_roots_func f) {
    static_roots_callback = f;
}
BDWGC_EXPORT int GC_is_tmp_root(void *p) {
    (void)p;
    return 0;
}

/* ------------------------------------------------------------- statistics */

typedef struct usage {
    GC_word heap, free_bytes, unmapped, since_gc, total, live, os;
} usage;

static void read_usage(usage *u) {
    uint64_t sys = atomic_load_explicit(&gm_heap.sys, memory_order_relaxed);
    uint64_t released = atomic_load_explicit(&gm_heap.released, memory_order_relaxed);
    uint64_t live = atomic_load_explicit(&gm_hstats.heap_live, memory_order_relaxed);
    uint64_t total = atomic_load_explicit(&gm_hstats.total_alloc, memory_order_relaxed);
    u->heap = sys > released ? sys - released : 0;
    u->free_bytes = u->heap > live ? u->heap - live : 0;
    u->unmapped = released;
    u->total = total;
    u->since_gc = total > bytes_at_last_gc ? total - bytes_at_last_gc : 0;
    u->live = live;
    u->os = sys + atomic_load_explicit(&gm_heap.meta, memory_order_relaxed);
}

BDWGC_EXPORT size_t GC_get_heap_size(void) {
    usage u;
    read_usage(&u);
    return u.heap;
}
BDWGC_EXPORT size_t GC_get_free_bytes(void) {
    usage u;
    read_usage(&u);
    return u.free_bytes;
}
BDWGC_EXPORT size_t GC_get_unmapped_bytes(void) {
    usage u;
    read_usage(&u);
    return u.unmapped;
}
BDWGC_EXPORT size_t GC_get_bytes_since_gc(void) {
    usage u;
    read_usage(&u);
    return u.since_gc;
}
BDWGC_EXPORT size_t GC_get_expl_freed_bytes_since_gc(void) {
    return 0;
}
BDWGC_EXPORT size_t GC_get_total_bytes(void) {
    usage u;
    read_usage(&u);
    return u.total;
}
BDWGC_EXPORT size_t GC_get_obtained_from_os_bytes(void) {
    usage u;
    read_usage(&u);
    return u.os;
}
BDWGC_EXPORT size_t GC_get_memory_use(void) {
    usage u;
    read_usage(&u);
    return u.live;
}
BDWGC_EXPORT void GC_get_heap_usage_safe(GC_word *heap, GC_word *free_bytes, GC_word *unmapped, GC_word *since,
                                         GC_word *total) {
    usage u;
    read_usage(&u);
    if (heap)
        *heap = u.heap;
    if (free_bytes)
        *free_bytes = u.free_bytes;
    if (unmapped)
        *unmapped = u.unmapped;
    if (since)
        *since = u.since_gc;
    if (total)
        *total = u.total;
}

BDWGC_EXPORT size_t GC_get_prof_stats(struct GC_prof_stats_s *s, size_t size) {
    usage u;
    read_usage(&u);
    struct GC_prof_stats_s st;
    memset(&st, 0xff, sizeof st);
    st.heapsize_full = u.heap + u.unmapped;
    st.free_bytes_full = u.free_bytes + u.unmapped;
    st.unmapped_bytes = u.unmapped;
    st.bytes_allocd_since_gc = u.since_gc;
    st.allocd_bytes_before_gc = u.total - u.since_gc;
    st.non_gc_bytes = GC_non_gc_bytes;
    st.gc_no = GC_gc_no;
    st.markers_m1 = (GC_word)(gm_cfg.procs - 1);
    st.obtained_from_os_bytes = u.os;
    if (size > sizeof st)
        size = sizeof st;
    memcpy(s, &st, size);
    return size;
}
BDWGC_EXPORT size_t GC_get_prof_stats_unsafe(struct GC_prof_stats_s *s, size_t size) {
    return GC_get_prof_stats(s, size);
}
BDWGC_EXPORT size_t GC_get_size_map_at(int i) {
    if (i < 0)
        return 0;
    return ((size_t)i + 15) & ~(size_t)15;
}
BDWGC_EXPORT GC_word GC_get_gc_no(void) {
    return GC_gc_no;
}
BDWGC_EXPORT unsigned long GC_get_full_gc_total_time(void) {
    gm_memstats m;
    gm_read_memstats(&m);
    return (unsigned long)(m.pause_total_ns / 1000000);
}
BDWGC_EXPORT void GC_start_performance_measurement(void) {}

static void dump(const char *name) {
    usage u;
    read_usage(&u);
    printf("***Heap (gomem libgc.so.1)%s%s\n", name ? " " : "", name ? name : "");
    printf("Heap size: %lu bytes, free: %lu, unmapped: %lu\n", (unsigned long)u.heap,
           (unsigned long)u.free_bytes, (unsigned long)u.unmapped);
    printf("Allocated: %lu bytes in total, %lu since the last collection; collections: %lu\n",
           (unsigned long)u.total, (unsigned long)u.since_gc, (unsigned long)GC_gc_no);
    fflush(stdout);
}
BDWGC_EXPORT void GC_dump(void) {
    dump(NULL);
}
BDWGC_EXPORT void GC_dump_named(const char *name) {
    dump(name);
}
BDWGC_EXPORT void GC_dump_regions(void) {
    dump(NULL);
}
BDWGC_EXPORT void GC_print_free_list(int kind, size_t granules) {
    printf("free list of kind %d, %zu granules: kept by gomem's mcaches\n", kind, granules);
}

/* -------------------------------------------- setters and getters (plain) */

#define ACCESSORS(type, name, var)                      \
    BDWGC_EXPORT void GC_set_##name(type v) { var = v; } \
    BDWGC_EXPORT type GC_get_##name(void) { return var; }

static int markers_m1;
static GC_word allocd_bytes_per_finalizer = 10000;
static int pages_executable;
static size_t min_bytes_allocd = 1;
static int gc_rate = 10;
static int max_prior_attempts = 1;
static int disable_automatic;

ACCESSORS(int, find_leak, GC_find_leak)
ACCESSORS(int, finalize_on_demand, GC_finalize_on_demand)
ACCESSORS(int, java_finalization, GC_java_finalization)
ACCESSORS(GC_finalizer_notifier_proc, finalizer_notifier, GC_finalizer_notifier)
ACCESSORS(int, dont_expand, GC_dont_expand)
ACCESSORS(int, full_freq, GC_full_freq)
ACCESSORS(GC_word, non_gc_bytes, GC_non_gc_bytes)
ACCESSORS(int, no_dls, GC_no_dls)
ACCESSORS(GC_word, max_retries, GC_max_retries)
ACCESSORS(int, dont_precollect, GC_dont_precollect)
ACCESSORS(unsigned long, time_limit, GC_time_limit)
ACCESSORS(GC_on_heap_resize_proc, on_heap_resize, GC_on_heap_resize)
ACCESSORS(GC_on_collection_event_proc, on_collection_event, collection_event)
ACCESSORS(GC_on_thread_event_proc, on_thread_event, thread_event)
ACCESSORS(GC_start_callback_proc, start_callback, start_callback)
ACCESSORS(GC_word, allocd_bytes_per_finalizer, allocd_bytes_per_finalizer)
ACCESSORS(int, pages_executable, pages_executable)
ACCESSORS(size_t, min_bytes_allocd, min_bytes_allocd)
ACCESSORS(int, rate, gc_rate)
ACCESSORS(int, max_prior_attempts, max_prior_attempts)
ACCESSORS(int, force_unmap_on_gcollect, force_unmap)

BDWGC_EXPORT void GC_set_disable_automatic_collection(int v) {
    disable_automatic = v;
    bdwgc_enter();
    gm_set_gc_percent(v ? -1 : gc_percent_default);
}
BDWGC_EXPORT int GC_get_disable_automatic_collection(void) {
    return disable_automatic;
}
BDWGC_EXPORT void GC_set_free_space_divisor(GC_word d) {
    GC_free_space_divisor = d;
    bdwgc_enter();
}
BDWGC_EXPORT GC_word GC_get_free_space_divisor(void) {
    return GC_free_space_divisor;
}
BDWGC_EXPORT void GC_set_all_interior_pointers(int v) {
    GC_all_interior_pointers = v;
}
BDWGC_EXPORT int GC_get_all_interior_pointers(void) {
    return GC_all_interior_pointers;
}
BDWGC_EXPORT int GC_get_parallel(void) {
    return GC_parallel;
}
BDWGC_EXPORT void GC_set_markers_count(unsigned n) {
    markers_m1 = (int)n - 1;
}
BDWGC_EXPORT void GC_set_time_limit_tv(struct GC_timeval_s tv) {
    GC_time_limit = tv.tv_ms;
}
BDWGC_EXPORT struct GC_timeval_s GC_get_time_limit_tv(void) {
    struct GC_timeval_s tv = {GC_time_limit, 0};
    return tv;
}
BDWGC_EXPORT void GC_set_handle_fork(int v) {
    (void)v; /* gomem's fork handlers are always installed */
}
BDWGC_EXPORT void GC_atfork_prepare(void) {}
BDWGC_EXPORT void GC_atfork_parent(void) {}
BDWGC_EXPORT void GC_atfork_child(void) {}

/* ------------------------------------------------- checks and arithmetic */

BDWGC_EXPORT void *GC_same_obj(void *p, void *q) {
    (void)q;
    return p;
}
BDWGC_EXPORT void *GC_pre_incr(void **p, ptrdiff_t how_much) {
    *p = (char *)*p + how_much;
    return *p;
}
BDWGC_EXPORT void *GC_post_incr(void **p, ptrdiff_t how_much) {
    void *old = *p;
    *p = (char *)old + how_much;
    return old;
}
BDWGC_EXPORT void *GC_is_visible(void *p) {
    return p;
}
BDWGC_EXPORT void *GC_is_valid_displacement(void *p) {
    return p;
}
BDWGC_EXPORT void GC_noop1(GC_word x) {
    __asm__ __volatile__("" : : "r"(x) : "memory");
}
BDWGC_EXPORT void *GC_clear_stack(void *p) {
    return p;
}

/* --------------------------------------------------------- printing */

BDWGC_EXPORT void GC_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fflush(stdout);
}
BDWGC_EXPORT void GC_err_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}
BDWGC_EXPORT void GC_log_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}
BDWGC_EXPORT void GC_incr_bytes_allocd(size_t n) {
    (void)n;
}
BDWGC_EXPORT void GC_incr_bytes_freed(size_t n) {
    (void)n;
}
