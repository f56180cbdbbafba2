/*
 * sched.c - the per-thread goroutine scheduler.
 *
 * Every thread that starts a goroutine (or blocks on a channel) gets a
 * gm_task_sched.  Its own code becomes the main goroutine, running on the
 * thread's stack; gm_go adds goroutines to a FIFO run queue, and whenever the
 * running goroutine blocks (channel, wait group, gm_sleep) or yields, the
 * next runnable one is switched to directly: the switch is the assembly
 * gm_ctx_switch (callee-saved registers pushed, sp swapped), with no system
 * call and no lock.  Goroutines never migrate: the run queue, the timers and
 * the free lists are the owner thread's alone.  Other threads hand back a
 * goroutine they have woken through the remote queue (see task.h).
 *
 * When nothing is runnable the thread sleeps on its note (a futex) until a
 * remote wake-up or the next timer; the goroutine that found nothing to do
 * sleeps on its own stack, there is no separate scheduler loop.
 *
 * Switch protocol.  A switch is bracketed by a no-stop region: the switching
 * side enters it before it changes cur and t->stack_lo/hi, and the side that
 * resumes leaves it (in gm_sched_switch after gm_ctx_switch returns, or in
 * gm_task_entry for a goroutine's first run).  So the collector never sees a
 * thread whose stack bounds disagree with its stack pointer.  A goroutine
 * cannot free the stack it runs on: on exit it leaves itself in sched.dead
 * and whichever context runs next releases it.
 *
 * Copy goroutines are switched to through g0 (copystack.c) unless their
 * frames are still on the shared stack.
 *
 * Thread exit.  A non-main thread whose start routine returns while it still
 * has goroutines runs them to completion (the thread layer's exit hook,
 * gm_task_thread_exit, parks the main goroutine until the last one exits), then its stacks and
 * records are freed.  When main returns the process exits, as in Go: other
 * goroutines are dropped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gc/gc.h"
#include "task/task.h"

__thread gm_task_sched *gm_tls_sched;
gm_mutex gm_scheds_lock = GM_MUTEX_INIT;

/* fork (gc/cycle.c): held across fork so the child finds the list whole. */
void gm_task_fork_lock(bool lock) {
    if (lock)
        gm_mutex_lock(&gm_scheds_lock);
    else
        gm_mutex_unlock(&gm_scheds_lock);
}
gm_task_sched *gm_scheds;

void gm_task_init(void) {
    gm_copystack_check = gm_cfg.stackcheck;
    gm_thread_add_hooks(NULL, gm_task_thread_exit);
    static const gm_gc_stack_hooks hooks = {
        .scan = gm_task_scan_stacks,
        .records = gm_task_scan_records,
        .shrink = gm_task_shrink_stacks,
        .stats = gm_task_stack_stats,
        .fork_lock = gm_task_fork_lock,
    };
    gm_gc_set_stack_hooks(&hooks);
}

static _Atomic int64_t goid_next = 1;
static bool fibers; /* running under ThreadSanitizer; set once */
static pthread_once_t fibers_once = PTHREAD_ONCE_INIT;
static void detect_fibers(void) { fibers = gm_fiber_current() != NULL; }

#define GM_ID_BATCH 64
#define GM_POOL_MAX 1024 /* pooled stacks per thread */

static size_t round_page(size_t n) {
    size_t page = gm_os_page_size();
    return (n + page - 1) & ~(page - 1);
}

static int64_t next_id(gm_task_sched *s) {
    if (s->id_next == s->id_end) {
        s->id_next = atomic_fetch_add_explicit(&goid_next, GM_ID_BATCH, memory_order_relaxed);
        s->id_end = s->id_next + GM_ID_BATCH;
    }
    return s->id_next++;
}

gm_task_sched *gm_sched_get(void) {
    if (gm_tls_sched)
        return gm_tls_sched;
    gm_ensure_init();
    gm_thread *t = gm_thread_current();
    gm_task_sched *s = gm_os_alloc(sizeof *s);
    if (!s)
        gm_fatal("out of memory for a goroutine scheduler");
    s->thread = t;
    s->gc_epoch = 1; /* records start at 0: not listed (gcscan.c) */
    s->default_kind = gm_cfg.stack_kind == GM_STACK_COPY ? GM_G_COPY : GM_G_GROWABLE;
    size_t max = gm_cfg.stack_max ? gm_cfg.stack_max : GM_STACK_DEFAULT_MAX;
    if (max > GM_STACK_LIMIT)
        max = GM_STACK_LIMIT;
    if (max < GM_STACK_MIN)
        max = GM_STACK_MIN;
    s->default_max = round_page(max);
    s->rng = gm_nanotime() ^ (uint64_t)(uintptr_t)s ^ 0x9e3779b97f4a7c15ull;
    pthread_once(&fibers_once, detect_fibers);

    gm_g *m = &s->main_g;
    m->sched = s;
    m->kind = GM_G_MAIN;
    m->status = GM_G_RUNNING;
    m->id = next_id(s);
    m->timer_index = ~0u;
    m->stack_lo = t->os_stack_lo;
    m->stack_hi = t->os_stack_hi;
    m->fiber = gm_fiber_current();
    s->cur = m;
    atomic_store_explicit(&s->running, m, memory_order_relaxed);

    gm_thread *lk = gm_task_lock(&gm_scheds_lock);
    s->all_next = gm_scheds;
    if (gm_scheds)
        gm_scheds->all_prev = s;
    gm_scheds = s;
    gm_task_unlock(&gm_scheds_lock, lk);

    gm_overflow_init_thread(s);
    t->sched = s;
    gm_tls_sched = s;
    return s;
}

/* ------------------------------------------------------------ g records */

static gm_g *g_record(gm_task_sched *s, int kind) {
    gm_g_slab *slab = s->slabs;
    if (!slab || slab->used == slab->n) {
        /* Slabs double from 64 KiB to 16 MiB; untouched records cost
         * nothing, the kernel commits pages as they are used. */
        size_t bytes = slab ? (sizeof *slab + (size_t)slab->n * sizeof(gm_g)) * 2 : 65536;
        if (bytes > ((size_t)16 << 20))
            bytes = (size_t)16 << 20;
        gm_g_slab *ns = gm_os_alloc(bytes);
        if (!ns)
            return NULL;
        ns->n = (uint32_t)((bytes - sizeof *ns) / sizeof(gm_g));
        gm_thread *lk = gm_task_lock(&s->lock);
        ns->next = s->slabs;
        s->slabs = ns;
        gm_task_unlock(&s->lock, lk);
        slab = ns;
    }
    gm_g *g = &slab->gs[slab->used++];
    g->sched = s;
    g->timer_index = ~0u;
    gm_thread *lk = gm_task_lock(&s->lock); /* stats read kind under the lock */
    g->kind = (uint8_t)kind;
    if (kind == GM_G_GROWABLE)
        slab->ngrowable++;
    gm_task_unlock(&s->lock, lk);
    return g;
}

static bool g_attach_stack(gm_task_sched *s, gm_g *g, size_t max) {
    char *lo, *hi;
    if (!gm_stack_alloc(max, &lo, &hi))
        return false;
    gm_thread *lk = gm_task_lock(&s->lock);
    g->stack_lo = lo;
    g->stack_hi = hi;
    gm_task_unlock(&s->lock, lk);
    atomic_store_explicit(&g->touched, 3, memory_order_relaxed);
    return true;
}

static void g_detach_stack(gm_task_sched *s, gm_g *g) {
    char *lo = g->stack_lo, *hi = g->stack_hi;
    gm_thread *lk = gm_task_lock(&s->lock);
    g->stack_lo = g->stack_hi = NULL;
    g->resident = 0;
    gm_task_unlock(&s->lock, lk);
    gm_stack_free(lo, hi);
}

/* Makes a goroutine's record ready to start; NULL with errno if no stack.
 * Records keep their kind: free lists are per kind. */
static gm_g *g_new(gm_task_sched *s, int kind, size_t max) {
    gm_g *g;
    if (kind == GM_G_COPY) {
        if ((g = s->free_copy))
            s->free_copy = g->next;
        else if (!(g = g_record(s, kind)))
            goto nomem;
        return g;
    }
    if (max == s->default_max && s->free_stacked) {
        g = s->free_stacked;
        s->free_stacked = g->next;
        s->nfree_stacked--;
        gm_fiber_unpoison(g->stack_lo, (size_t)(g->stack_hi - g->stack_lo));
        return g;
    }
    if ((g = s->free_bare))
        s->free_bare = g->next;
    else if (!(g = g_record(s, kind)))
        goto nomem;
    if (!g_attach_stack(s, g, max)) {
        int err = errno;
        g->next = s->free_bare;
        s->free_bare = g;
        errno = err;
        return NULL;
    }
    return g;
nomem:
    errno = ENOMEM;
    return NULL;
}

void gm_sched_release_dead(gm_task_sched *s) {
    gm_g *g = s->dead;
    s->dead = NULL;
    if (fibers) {
        gm_fiber_destroy(g->fiber);
        g->fiber = NULL;
    }
    g->status = GM_G_FREE;
    if (g->kind == GM_G_GROWABLE) {
        if ((size_t)(g->stack_hi - g->stack_lo) == s->default_max && s->nfree_stacked < GM_POOL_MAX) {
            g->next = s->free_stacked;
            s->free_stacked = g;
            s->nfree_stacked++;
            return;
        }
        g_detach_stack(s, g);
        g->next = s->free_bare;
        s->free_bare = g;
        return;
    }
    if (g->save_cap > 1024) {
        g->save = NULL; /* keep small save areas for the next copy goroutine */
        g->save_cap = 0;
    }
    g->save_len = 0;
    g->next = s->free_copy;
    s->free_copy = g;
}

/* ------------------------------------------------------------- queues */

/* Owner thread only: g ran or is queued to run, so its stack and record
 * may differ from what the collector's first stop scanned. */
GM_INLINE void note_changed(gm_task_sched *s, gm_g *g) {
    if (GM_LIKELY(g->gc_changed == s->gc_epoch))
        return;
    gm_task_note_changed_slow(s, g);
}

GM_INLINE void runq_put(gm_task_sched *s, gm_g *g) {
    GM_ASSERT(g->status == GM_G_RUNNABLE || g->status == GM_G_NEW); /* only runnable g's queue */
    GM_ASSERT(g->sched == s);                                       /* never migrates */
    GM_ASSERT(!s->runq_tail == !s->runq_head);
    g->next = NULL;
    note_changed(s, g);
    if (s->runq_tail)
        s->runq_tail->next = g;
    else
        s->runq_head = g;
    s->runq_tail = g;
}

void gm_sched_ready(gm_g *g) {
    gm_task_sched *s = g->sched;
    if (s == gm_tls_sched) {
        g->status = GM_G_RUNNABLE;
        runq_put(s, g);
        return;
    }
    gm_g *head = atomic_load_explicit(&s->remote, memory_order_relaxed);
    do
        g->next = head;
    while (!atomic_compare_exchange_weak_explicit(&s->remote, &head, g, memory_order_seq_cst,
                                                  memory_order_relaxed));
    if (atomic_load_explicit(&s->idle, memory_order_seq_cst))
        gm_note_notify_all(&s->note);
}

static bool drain_remote(gm_task_sched *s) {
    if (!atomic_load_explicit(&s->remote, memory_order_relaxed))
        return false;
    gm_g *list = atomic_exchange_explicit(&s->remote, NULL, memory_order_acquire);
    gm_g *rev = NULL;
    while (list) { /* the remote queue is LIFO: restore arrival order */
        gm_g *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    while (rev) {
        gm_g *n = rev->next;
        rev->status = GM_G_RUNNABLE;
        runq_put(s, rev);
        rev = n;
    }
    return true;
}

/* Sleeps the thread until a remote wake-up or the next timer. */
/* An idle thread sleeps in a blocking region: the collector scans its
 * stack from there without signalling it, as Go leaves idle Ps alone. */
typedef struct idle_wait {
    gm_task_sched *s;
    uint32_t seen;
    int64_t timeout;
} idle_wait;

static void *idle_sleep(void *p) {
    idle_wait *w = p;
    gm_note_wait(&w->s->note, w->seen, w->timeout);
    return NULL;
}

/* The handshake with gm_sched_ready is Dekker's: each side stores (idle,
 * remote) and then loads the other's word.  The store here is an exchange,
 * a read-modify-write, not a plain seq_cst store: qemu-user on an x86 host
 * translates aarch64's store-release and load-acquire with fences only
 * before the store and after the load, so a plain store-then-load may
 * reorder there and a wake-up was lost (a hang, about 1 run in 100 of
 * test_chan_threads).  An atomic exchange is a full barrier everywhere,
 * and this is the path into sleep, where it costs nothing that matters. */
static void idle(gm_task_sched *s) {
    uint32_t seen = gm_note_seq(&s->note);
    atomic_exchange_explicit(&s->idle, 1, memory_order_seq_cst);
    if (!atomic_load_explicit(&s->remote, memory_order_seq_cst)) {
        int64_t timeout = s->ntimers ? gm_timer_next(s, gm_nanotime()) : -1;
        if (timeout != 0) {
            idle_wait w = {s, seen, timeout};
            gm_blocking(idle_sleep, &w);
        }
    }
    atomic_store_explicit(&s->idle, 0, memory_order_relaxed);
}

/* The next goroutine to run; sleeps the thread while there is none.  May
 * return the current goroutine if it was readied meanwhile (or yielded). */
GM_NOINLINE static gm_g *pick_next(gm_task_sched *s) {
    for (;;) {
        drain_remote(s);
        if (s->ntimers)
            gm_timer_run(s, gm_nanotime());
        gm_g *g = s->runq_head;
        if (g) {
            GM_ASSERT(g->status == GM_G_RUNNABLE || g->status == GM_G_NEW);
            s->runq_head = g->next;
            if (!s->runq_head)
                s->runq_tail = NULL;
            return g;
        }
        idle(s);
    }
}

/* ------------------------------------------------------------- switch */

/* Inside a no-stop region: makes next the running context and jumps to it.
 * Returns when something switches back to cur. */
GM_INLINE void sched_jump(gm_task_sched *s, gm_thread *t, gm_g *cur, gm_g *next) {
    s->cur = next;
    atomic_store_explicit(&s->running, next, memory_order_relaxed);
    atomic_store_explicit(&next->touched, 3, memory_order_relaxed);
    note_changed(s, next);
    if (next->kind == GM_G_COPY) {
        t->stack_lo = s->shared_lo;
        t->stack_hi = s->shared_hi;
    } else {
        t->stack_lo = next->stack_lo;
        t->stack_hi = next->stack_hi;
    }
    if (fibers)
        gm_fiber_switch(next->fiber);
    gm_ctx_switch(&cur->sp, next->sp);
}

void gm_sched_jump(gm_task_sched *s, gm_g *cur, gm_g *next) {
    sched_jump(s, s->thread, cur, next);
}

GM_INLINE void sched_switch(gm_task_sched *s, gm_g *cur, gm_g *next) {
    gm_thread *t = s->thread;
    gm_nostop_enter(t);
    if (next->kind == GM_G_COPY && s->shared_owner != next) {
        s->g0_next = next; /* g0 moves the stacks, then switches to next */
        next = s->g0;
    } else {
        next->status = GM_G_RUNNING;
    }
    sched_jump(s, t, cur, next);
    gm_nostop_exit(t);
    if (GM_UNLIKELY(s->dead != NULL))
        gm_sched_release_dead(s);
}

void gm_sched_switch(gm_task_sched *s, gm_g *cur, gm_g *next) {
    sched_switch(s, cur, next);
}

/* Frames here are part of every parked copy stack: keep them few. */
void gm_sched_park(gm_task_sched *s) {
    gm_g *cur = s->cur;
    gm_g *next = pick_next(s);
    if (next == cur) { /* woken while parking */
        cur->status = GM_G_RUNNING;
        return;
    }
    sched_switch(s, cur, next);
}

gm_entry gm_task_entry(gm_g *g) {
    gm_task_sched *s = g->sched;
    gm_nostop_exit(s->thread);
    if (s->dead)
        gm_sched_release_dead(s);
    return (gm_entry){g->u.fn, g->arg};
}

void gm_task_exit(void) {
    gm_task_sched *s = gm_tls_sched;
    gm_g *g = s->cur;
    g->status = GM_G_DEAD;
    g->arg = NULL;
    g->bounce = NULL;
    s->nlive--;
    if (s->shared_owner == g)
        s->shared_owner = NULL; /* its frames are garbage now */
    s->dead = g;
    if (s->nlive == 0 && s->exit_waiter) {
        gm_sched_ready(s->exit_waiter);
        s->exit_waiter = NULL;
    }
    gm_sched_switch(s, g, pick_next(s));
    __builtin_unreachable();
}

/* ---------------------------------------------------------------- API */

GM_API int64_t gm_go_with(void (*fn)(void *), void *arg, const gm_go_options *opts) {
    gm_task_sched *s = gm_sched_current();
    int kind = opts && opts->stack_kind ? (int)opts->stack_kind : s->default_kind;
    size_t max = s->default_max;
    if (opts && opts->stack_max) {
        if (opts->stack_max > GM_STACK_LIMIT) {
            errno = EINVAL;
            return -1;
        }
        max = round_page(opts->stack_max < GM_STACK_MIN ? GM_STACK_MIN : opts->stack_max);
    }
    if (!fn || (kind != GM_G_GROWABLE && kind != GM_G_COPY)) {
        errno = EINVAL;
        return -1;
    }
    if (kind == GM_G_COPY && !s->g0 && !gm_copystack_init(s))
        return -1;
    gm_g *g = g_new(s, kind, max);
    if (!g)
        return -1;
    g->u.fn = fn;
    g->arg = arg;
    g->id = next_id(s);
    g->status = GM_G_NEW;
    if (fibers)
        g->fiber = gm_fiber_create();
    if (kind == GM_G_GROWABLE)
        g->sp = gm_ctx_make(g->stack_hi, gm_task_entry, g);
    s->nlive++;
    runq_put(s, g);
    return g->id;
}

GM_API int64_t gm_go(void (*fn)(void *), void *arg) {
    return gm_go_with(fn, arg, NULL);
}

GM_API void gm_yield(void) {
    gm_task_sched *s = gm_tls_sched;
    if (!s || (!s->runq_head && !atomic_load_explicit(&s->remote, memory_order_relaxed) &&
               !s->ntimers))
        return;
    gm_g *cur = s->cur;
    cur->status = GM_G_RUNNABLE;
    runq_put(s, cur);
    gm_sched_park(s);
}

GM_API int64_t gm_goid(void) {
    return gm_sched_current()->cur->id;
}

/* -------------------------------------------------------------- misc */

uint64_t gm_sched_rand(gm_task_sched *s) {
    /* wyrand */
    s->rng += 0xa0761d6478bd642full;
    __uint128_t m = (__uint128_t)s->rng * (s->rng ^ 0xe7037ed1a0b428dbull);
    return (uint64_t)(m >> 64) ^ (uint64_t)m;
}

gm_select_sudog *gm_sudog_get(gm_task_sched *s, gm_g *g) {
    if (!s->free_sudogs) {
        size_t bytes = 16384;
        gm_select_sudog *chunk = gm_os_alloc(bytes);
        if (!chunk)
            gm_fatal("out of memory for select records");
        for (size_t j = 0; j < bytes / sizeof *chunk; j++) {
            chunk[j].sg.next = s->free_sudogs ? &s->free_sudogs->sg : NULL;
            s->free_sudogs = &chunk[j];
        }
    }
    gm_select_sudog *ss = s->free_sudogs;
    s->free_sudogs = (gm_select_sudog *)ss->sg.next;
    memset(ss, 0, sizeof *ss);
    ss->g = g;
    ss->sg.is_select = 1;
    return ss;
}

void gm_sudog_put(gm_task_sched *s, gm_select_sudog *ss) {
    ss->g = NULL;
    ss->sg.elem = NULL;
    ss->sg.next = &s->free_sudogs->sg;
    s->free_sudogs = ss;
}

/* ------------------------------------------------------- thread exit */

static void sched_free(gm_task_sched *s) {
    gm_thread *lk = gm_task_lock(&gm_scheds_lock);
    if (s->all_prev)
        s->all_prev->all_next = s->all_next;
    else
        gm_scheds = s->all_next;
    if (s->all_next)
        s->all_next->all_prev = s->all_prev;
    gm_task_unlock(&gm_scheds_lock, lk);

    gm_overflow_fini_thread(s);
    if (s->shared_lo) {
        gm_stack_free(s->shared_lo, s->shared_hi);
        gm_stack_free(s->g0_rec.stack_lo, s->g0_rec.stack_hi);
        gm_fiber_destroy(s->g0_rec.fiber);
    }
    gm_g_slab *slab = s->slabs;
    while (slab) {
        gm_g_slab *next = slab->next;
        for (uint32_t i = 0; i < slab->used; i++) {
            gm_g *g = &slab->gs[i];
            if (g->kind == GM_G_GROWABLE && g->stack_lo)
                gm_stack_free(g->stack_lo, g->stack_hi);
            if (g->fiber)
                gm_fiber_destroy(g->fiber);
        }
        gm_os_free(slab, sizeof *slab + (size_t)slab->n * sizeof(gm_g));
        slab = next;
    }
    free(s->timers);
    if (s->gc_changed)
        gm_os_free(s->gc_changed, (size_t)s->gc_changed_cap * sizeof *s->gc_changed);
    s->thread->sched = NULL;
    gm_tls_sched = NULL;
    gm_os_free(s, sizeof *s);
}

/* Called by the thread layer when a thread unregisters (at its exit). */
void gm_task_thread_exit(gm_thread *t) {
    gm_task_sched *s = t->sched;
    if (!s || s != gm_tls_sched)
        return;
    if (s->cur != &s->main_g)
        gm_fatal("goroutine %lld ended its thread (pthread_exit) while goroutines remain",
                 (long long)s->cur->id);
    while (s->nlive > 0) { /* run the thread's goroutines to completion */
        s->exit_waiter = &s->main_g;
        s->main_g.status = GM_G_WAITING;
        gm_sched_park(s);
    }
    sched_free(s);
}
