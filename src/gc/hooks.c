/*
 * hooks.c - root scanners and collection events registered by runtimes.
 *
 * Two fixed tables of (function, argument) pairs, appended under a lock and
 * never shrunk; an entry is complete before the count that publishes it
 * (release store), so the collector reads the tables without the lock:
 *
 *   root scanners  run by gm_roots_queue with the world stopped, each given
 *                  the root work buffer as its tracer;
 *   events         GM_GC_START (collector thread, before the stop),
 *                  GM_GC_STOPPED (world stopped, before marking),
 *                  GM_GC_END (after the world restarts), fired by cycle.c.
 */
#include <errno.h>

#include "gc/kindmark.h"

#define MAX_HOOKS 16

typedef struct hook {
    void (*fn)(void *);
    void (*scan)(gm_tracer *, void *);
    void *arg;
} hook;

typedef struct hook_table {
    hook h[MAX_HOOKS];
    _Atomic int n;
} hook_table;

static gm_mutex hooks_lock = GM_MUTEX_INIT;
static hook_table scanners;
static hook_table events[3];

static int add(hook_table *t, hook h) {
    gm_mutex_lock(&hooks_lock);
    int n = atomic_load_explicit(&t->n, memory_order_relaxed);
    if (n == MAX_HOOKS) {
        gm_mutex_unlock(&hooks_lock);
        errno = ENOSPC;
        return -1;
    }
    t->h[n] = h;
    atomic_store_explicit(&t->n, n + 1, memory_order_release);
    gm_mutex_unlock(&hooks_lock);
    return 0;
}

GM_API int gm_add_root_scanner(void (*fn)(gm_tracer *tracer, void *arg), void *arg) {
    if (!fn) {
        errno = EINVAL;
        return -1;
    }
    return add(&scanners, (hook){NULL, fn, arg});
}

GM_API int gm_on_gc(gm_gc_event event, void (*fn)(void *arg), void *arg) {
    if (!fn || (unsigned)event > GM_GC_END) {
        errno = EINVAL;
        return -1;
    }
    return add(&events[event], (hook){fn, NULL, arg});
}

void gm_root_scanners_run(gm_gcwork *w) {
    int n = atomic_load_explicit(&scanners.n, memory_order_acquire);
    for (int i = 0; i < n; i++)
        scanners.h[i].scan((gm_tracer *)w, scanners.h[i].arg);
}

void gm_gc_events_fire(gm_gc_event event) {
    hook_table *t = &events[event];
    int n = atomic_load_explicit(&t->n, memory_order_acquire);
    for (int i = 0; i < n; i++)
        t->h[i].fn(t->h[i].arg);
}
