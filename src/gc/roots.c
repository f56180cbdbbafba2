/*
 * roots.c - where marking starts: stacks, registers, globals, user roots.
 *
 * Data segments: every writable PT_LOAD segment of the executable and of
 * each loaded shared object, read again at every cycle with
 * dl_iterate_phdr, so a dlopen'ed library's globals are roots from its first
 * cycle on.  The world is stopped from inside the first dl_iterate_phdr
 * callback: the loader's lock is then held by the collector, so no stopped
 * thread can be holding it (a thread stopped inside dlopen would otherwise
 * deadlock the cycle).
 *
 * Thread stacks: each stopped thread from the stack pointer it recorded
 * when it stopped (its registers were spilled above that, by the kernel's
 * signal frame or by gm_os_spill_registers) up to the top of the stack it
 * runs on; a thread in a blocking region from the point where it entered it.  Parked
 * goroutines' stacks come from the scheduler (gm_gc_stacks_scan).
 *
 * User roots: ranges added with gm_add_roots, kept in a growable array.
 * Exclusions (gm_exclude_roots) cut parts out of the data segments each
 * time they are collected; they do not apply to user roots.
 */
#include <link.h>
#include <string.h>

#include "gc/kindmark.h"

#define MAX_SEGMENTS 8192

static gm_range *segments;
static size_t nsegments;
uint64_t gm_globals_bytes;

gm_mutex gm_roots_lock = GM_MUTEX_INIT;
#define roots_lock gm_roots_lock
static gm_range *user_roots;
static size_t nuser_roots, cap_user_roots;

/* The user roots' lock is taken by the collector with the world stopped
 * (gm_roots_enumerate), so a registered thread holds it only inside a
 * no-stop region: stopped while holding it, it hung every collection
 * (a thread adding and removing roots beside gm_gc() in a loop: the first
 * few cycles).  An unregistered thread is never stopped. */
static gm_thread *roots_lock_take(void) {
    gm_thread *t = gm_tls_thread;
    if (t)
        gm_nostop_enter(t);
    gm_mutex_lock(&roots_lock);
    return t;
}

static void roots_lock_give(gm_thread *t) {
    gm_mutex_unlock(&roots_lock);
    if (t)
        gm_nostop_exit(t);
}

static int segment_callback(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    bool *stopped = data;
    if (!*stopped) {
        gm_stop_world();
        *stopped = true;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        if (nsegments == MAX_SEGMENTS)
            gm_fatal("more than %d writable segments loaded: cannot record them all as roots", MAX_SEGMENTS);
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        segments[nsegments++] = (gm_range){lo, lo + ph->p_memsz};
    }
    return 0;
}

/* Exclusions: parts of the data segments not to scan (gm_exclude_roots),
 * under roots_lock, sorted by address, not overlapping. */
#define MAX_EXCLUSIONS 512
static gm_range exclusions[MAX_EXCLUSIONS];
static size_t nexclusions;

/* Keeps part of segment i: in its own slot for the first part, appended
 * for the others. */
static void keep_part(size_t i, bool *first, gm_range part) {
    if (*first) {
        segments[i] = part;
        *first = false;
    } else if (nsegments < MAX_SEGMENTS) {
        segments[nsegments++] = part;
    } else {
        gm_fatal("more than %d root segments once %zu exclusions are applied", MAX_SEGMENTS, nexclusions);
    }
}

/* Removes the excluded parts from the segments just collected (the world
 * is stopped: no registered thread holds roots_lock). */
static void apply_exclusions(void) {
    gm_mutex_lock(&roots_lock);
    size_t n = nsegments;
    for (size_t i = 0; i < n && nexclusions; i++) {
        gm_range seg = segments[i];
        bool first = true;
        uintptr_t at = seg.lo;
        for (size_t e = 0; e < nexclusions && at < seg.hi; e++) {
            gm_range x = exclusions[e];
            if (x.hi <= at || x.lo >= seg.hi)
                continue;
            if (x.lo > at) /* the part before the exclusion */
                keep_part(i, &first, (gm_range){at, x.lo});
            at = x.hi;
        }
        if (at < seg.hi)
            keep_part(i, &first, (gm_range){at, seg.hi});
        if (first)
            segments[i] = (gm_range){seg.lo, seg.lo}; /* excluded whole */
    }
    gm_mutex_unlock(&roots_lock);
}

GM_API void gm_exclude_roots(void *lo, void *hi) {
    uintptr_t a = (uintptr_t)lo, b = (uintptr_t)hi;
    if (b <= a)
        return;
    gm_ensure_init();
    gm_thread *self = roots_lock_take();
    /* Merge with every exclusion it touches, then insert in order. */
    size_t j = 0;
    for (size_t i = 0; i < nexclusions; i++) {
        gm_range x = exclusions[i];
        if (x.hi < a || x.lo > b) {
            exclusions[j++] = x;
        } else {
            a = x.lo < a ? x.lo : a;
            b = x.hi > b ? x.hi : b;
        }
    }
    nexclusions = j;
    if (nexclusions == MAX_EXCLUSIONS)
        gm_fatal("gm_exclude_roots(%p, %p): more than %d excluded ranges", lo, hi, MAX_EXCLUSIONS);
    size_t at = 0;
    while (at < nexclusions && exclusions[at].lo < a)
        at++;
    memmove(&exclusions[at + 1], &exclusions[at], (nexclusions - at) * sizeof(gm_range));
    exclusions[at] = (gm_range){a, b};
    nexclusions++;
    roots_lock_give(self);
}

GM_API void gm_clear_root_exclusions(void) {
    gm_ensure_init();
    gm_thread *self = roots_lock_take();
    nexclusions = 0;
    roots_lock_give(self);
}

void gm_roots_collect_segments(void) {
    if (!segments) {
        segments = gm_os_alloc(MAX_SEGMENTS * sizeof(gm_range));
        if (!segments)
            gm_fatal("out of memory for the root segment table");
    }
    nsegments = 0;
    bool stopped = false;
    dl_iterate_phdr(segment_callback, &stopped);
    if (!stopped)
        gm_stop_world();
    apply_exclusions();
    gm_globals_bytes = 0;
    for (size_t i = 0; i < nsegments; i++)
        gm_globals_bytes += segments[i].hi - segments[i].lo;
}

static void queue_thread(gm_thread *t, gm_scan_fn fn, void *ctx, gm_roots_pass pass) {
    /* A thread was either held in a blocking region (scanned from where it
     * entered it) or answered this stop (its stack pointer then).  Held
     * comes first: a held thread may still take a stop signal sent before
     * it entered the region, and answer it from inside at any moment of
     * the cycle; scanning it from that deeper point for one pass and from
     * its entry for another would give two passes (mark, checkmark)
     * different roots. */
    void *sp = NULL;
    if (atomic_load_explicit(&t->blocking, memory_order_acquire) == 2)
        sp = t->blocking_sp;
    else if (atomic_load_explicit(&t->stopped_epoch, memory_order_acquire) == gm_world_epoch())
        sp = atomic_load_explicit(&t->stopped_sp, memory_order_acquire);
    if (!sp)
        gm_fatal("thread %lu (tid %d) is registered but did not stop", (unsigned long)t->id, (int)t->tid);
    uintptr_t lo = (uintptr_t)sp, hi = (uintptr_t)t->stack_hi;
    if (lo >= hi || hi - lo > ((uintptr_t)1 << 30))
        gm_fatal("thread %lu (tid %d) stopped with stack pointer %p outside its stack [%p, %p)",
                 (unsigned long)t->id, (int)t->tid, sp, t->stack_lo, t->stack_hi);
    fn((void *)lo, (void *)hi, ctx);
    if (t->sched)
        gm_gc_stacks_scan(t, fn, ctx, pass);
}

void gm_roots_enumerate(gm_scan_fn fn, void *ctx, gm_roots_pass pass) {
    for (size_t i = 0; i < nsegments; i++)
        fn((void *)segments[i].lo, (void *)segments[i].hi, ctx);
    gm_thread *self = gm_tls_thread;
    for (gm_thread *t = gm_threads; t; t = t->next) {
        if (t == self)
            continue; /* the collector's own thread is never registered */
        queue_thread(t, fn, ctx, pass);
    }
    gm_mutex_lock(&roots_lock);
    for (size_t i = 0; i < nuser_roots; i++)
        fn((void *)user_roots[i].lo, (void *)user_roots[i].hi, ctx);
    gm_mutex_unlock(&roots_lock);
}

void gm_roots_queue_extra(gm_gcwork *w) {
    gm_kinds_queue_roots(w);
    gm_root_scanners_run(w);
}

static void push_range(const void *lo, const void *hi, void *ctx) {
    if ((uintptr_t)hi > (uintptr_t)lo)
        gm_gcwork_push(ctx, (uintptr_t)lo, (uintptr_t)hi);
}

void gm_roots_queue(gm_gcwork *w, gm_roots_pass pass) {
    gm_roots_enumerate(push_range, w, pass);
    gm_roots_queue_extra(w);
}

GM_API void gm_add_roots(void *lo, void *hi) {
    if ((uintptr_t)hi <= (uintptr_t)lo)
        return;
    gm_ensure_init();
    gm_thread *self = roots_lock_take();
    if (!gm_os_grow((void **)&user_roots, &cap_user_roots, nuser_roots, sizeof *user_roots, nuser_roots + 1, 64,
                    NULL))
        gm_fatal("out of memory growing the root table beyond %zu entries", cap_user_roots);
    user_roots[nuser_roots++] = (gm_range){(uintptr_t)lo, (uintptr_t)hi};
    roots_lock_give(self);
}

GM_API void gm_remove_roots(void *lo, void *hi) {
    gm_ensure_init();
    gm_thread *self = roots_lock_take();
    size_t j = 0;
    for (size_t i = 0; i < nuser_roots; i++) {
        gm_range r = user_roots[i];
        if (r.lo >= (uintptr_t)lo && r.hi <= (uintptr_t)hi)
            continue;
        user_roots[j++] = r;
    }
    nuser_roots = j;
    roots_lock_give(self);
}

/* Bytes of user roots, counted with the globals by the pacer. */
uint64_t gm_roots_user_bytes(void) {
    uint64_t n = 0;
    gm_thread *self = roots_lock_take();
    for (size_t i = 0; i < nuser_roots; i++)
        n += user_roots[i].hi - user_roots[i].lo;
    roots_lock_give(self);
    return n;
}
