/*
 * finalizer.c - the queue of finalizers and cleanups to run, the thread
 * that runs it, and gm_set_finalizer.
 *
 * Queued records (the collector's decisions, special_steps.c) leave their
 * span's list and join a FIFO under q.lock; the collector keeps what they
 * point to alive until they run.  They run in order on a dedicated thread,
 * started by the first gm_set_finalizer or gm_add_cleanup (so it inherits
 * a program thread's signal mask), registered with the collector, waiting
 * in a blocking region when idle; gm_finq_notify wakes it after a cycle.
 * The collector's thread never runs them, nor does an allocation or a
 * signal handler; gm_run_finalizers runs them on its caller.  A record is
 * popped inside a no-stop region with its fn, obj and arg copied to locals
 * (the runner's stack, a root), so they are never out of sight of the
 * collector.  Invariant: q.len is the number of records between q.head and
 * q.tail, every one in state QUEUED or CANCELLED.
 */
#include <pthread.h>
#include <string.h>

#include "gc/specials.h"

/* ------------------------------------------------------------------ queue */

/* Written by the collector and the finalizer thread (every run counts),
 * on lines of their own. */
static struct {
    GM_OWN_LINES gm_mutex lock;
    gm_special *head, *tail;
    _Atomic uint64_t len;
    gm_note note;
    _Atomic uint64_t fin_queued, fin_run, cln_queued, cln_run;
} q = {.lock = GM_MUTEX_INIT};

void gm_finq_push(gm_special *r, gm_finq_batch *b) {
    atomic_store_explicit(&r->state, GM_SPST_QUEUED, memory_order_relaxed);
    r->next = NULL;
    if (b->tail)
        b->tail->next = r;
    else
        b->head = r;
    b->tail = r;
    if (r->kind == GM_SP_FINALIZER)
        b->fin++;
    else
        b->cln++;
}

/* What a popped record runs: on the runner's stack (scanned), so what it
 * points to stays alive after the record is freed. */
typedef struct job {
    gm_special_fn fn;
    void *obj;
    void *arg;
    uint8_t kind;
    bool cancelled;
} job;

#define RUN_BATCH 32

/* Pops up to max queued records (at most RUN_BATCH) and runs them on this
 * thread.  Returns how many it popped (0: the queue was empty); *ran
 * counts those that ran (cancelled cleanups do not). */
GM_NOINLINE static unsigned run_batch(uint64_t max, int *ran) {
    job jobs[RUN_BATCH];
    unsigned n = 0;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    gm_mutex_lock(&q.lock);
    gm_special *first = q.head, *last = NULL;
    for (gm_special *r = first; r && n < RUN_BATCH && n < max; r = r->next, n++) {
        gm_special_prefetch(r, 1);
        job *j = &jobs[n];
        j->kind = r->kind;
        j->fn = r->fn;
        j->obj = (void *)gm_special_key(r);
        j->arg = r->arg;
        j->cancelled = atomic_load_explicit(&r->state, memory_order_relaxed) == GM_SPST_CANCELLED;
        atomic_store_explicit(&r->state, GM_SPST_RUNNING, memory_order_relaxed);
        last = r;
    }
    if (n) {
        q.head = last->next;
        if (!q.head)
            q.tail = NULL;
        atomic_fetch_sub_explicit(&q.len, n, memory_order_relaxed);
    }
    gm_mutex_unlock(&q.lock);
    if (n) {
        for (gm_special *r = first;; r = r->next) {
            gm_special_reset(r);
            if (r == last)
                break;
        }
        last->next = NULL;
        gm_special_release_chain(first);
    }
    /* From here the jobs' inputs are on this stack: roots. */
    gm_nostop_exit(t);
    for (unsigned i = 0; i < n; i++) {
        job *j = &jobs[i];
        if (j->cancelled) {
            /* nothing */
        } else if (j->kind == GM_SP_FINALIZER) {
            j->fn.fin(j->obj, j->arg);
            atomic_fetch_add_explicit(&q.fin_run, 1, memory_order_relaxed);
            (*ran)++;
        } else {
            j->fn.cln(j->arg);
            atomic_fetch_add_explicit(&q.cln_run, 1, memory_order_relaxed);
            (*ran)++;
        }
        /* Done with it: do not keep it alive from this frame. */
        ((volatile job *)j)->obj = NULL;
        ((volatile job *)j)->arg = NULL;
    }
    return n;
}

GM_API int gm_run_finalizers(void) {
    gm_ensure_init();
    uint64_t budget = atomic_load_explicit(&q.len, memory_order_acquire);
    int ran = 0;
    while (budget) {
        unsigned n = run_batch(budget, &ran);
        if (!n)
            break;
        budget -= n;
    }
    return ran;
}

/* ------------------------------------------------------- finalizer thread */

/* Read by every gm_set_finalizer: on a line of its own.  wanted: a
 * finalizer or cleanup was set, so the thread should run. */
static struct {
    GM_OWN_LINES _Atomic bool started;
    _Atomic bool wanted;
    bool atfork;
    gm_mutex lock;
} fin_start = {.lock = GM_MUTEX_INIT};

GM_NOINLINE static void run_all(void) {
    int ran = 0;
    while (run_batch(UINT64_MAX, &ran))
        ;
}

static void *wait_for_work(void *arg) {
    gm_note_wait(&q.note, *(uint32_t *)arg, -1);
    return NULL;
}

static void *finalizer_main(void *arg) {
    (void)arg;
    gm_thread_register();
    for (;;) {
        uint32_t seen = gm_note_seq(&q.note);
        if (atomic_load_explicit(&q.len, memory_order_acquire)) {
            run_all();
            gm_os_scrub_stack(4096); /* run_one's frames left the last objects' addresses */
            continue;
        }
        gm_blocking(wait_for_work, &seen);
    }
    return NULL;
}

static void fin_fork_child(void) {
    /* The finalizer thread is gone from the child; the next gm_set_finalizer
     * or gm_add_cleanup starts another, or the collector after a cycle that
     * queued some. */
    atomic_store(&fin_start.started, false);
    fin_start.lock = (gm_mutex)GM_MUTEX_INIT;
}

/* No caller waits for another: one that finds the lock taken (another
 * thread is starting it, or a fork is being prepared) goes on, and the
 * collector tries again after its next cycle (gm_finq_notify).  Waiting
 * here deadlocked under ThreadSanitizer: the starter was stopped for a
 * collection inside pthread_create, and the waiters, asleep in a raw futex
 * call, never took the stop signal that ThreadSanitizer holds back there. */
void gm_finalizer_thread_start(void) {
    if (atomic_load_explicit(&fin_start.started, memory_order_acquire))
        return;
    if (!atomic_load_explicit(&fin_start.wanted, memory_order_relaxed))
        atomic_store_explicit(&fin_start.wanted, true, memory_order_relaxed);
    if (!gm_mutex_trylock(&fin_start.lock))
        return;
    if (!atomic_load_explicit(&fin_start.started, memory_order_relaxed)) {
        if (!fin_start.atfork) {
            pthread_atfork(NULL, NULL, fin_fork_child);
            fin_start.atfork = true;
        }
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int err = pthread_create(&th, &attr, finalizer_main, NULL);
        pthread_attr_destroy(&attr);
        if (err)
            gm_print("gomem: cannot start the finalizer thread (pthread_create error %d); finalizers "
                     "run only in gm_run_finalizers\n", err);
        atomic_store_explicit(&fin_start.started, true, memory_order_release);
    }
    gm_mutex_unlock(&fin_start.lock);
}

/* ------------------------------------------------------ the collector's side */

void gm_finq_publish(gm_finq_batch *b) {
    if (!b->head)
        return;
    if (q.tail)
        q.tail->next = b->head;
    else
        q.head = b->head;
    q.tail = b->tail;
    atomic_fetch_add_explicit(&q.fin_queued, b->fin, memory_order_relaxed);
    atomic_fetch_add_explicit(&q.cln_queued, b->cln, memory_order_relaxed);
    atomic_fetch_add_explicit(&q.len, b->fin + b->cln, memory_order_release);
    b->head = b->tail = NULL;
    b->fin = b->cln = 0;
}

gm_special *gm_finq_first(void) {
    return q.head;
}

bool gm_finq_cancel_cleanup(gm_special *r, uint32_t low) {
    bool stopped = false;
    gm_mutex_lock(&q.lock);
    if ((uint32_t)atomic_load_explicit(&r->id, memory_order_relaxed) == low && r->kind == GM_SP_CLEANUP &&
        atomic_load_explicit(&r->state, memory_order_relaxed) == GM_SPST_QUEUED) {
        atomic_store_explicit(&r->state, GM_SPST_CANCELLED, memory_order_relaxed);
        r->arg = NULL; /* nothing to keep alive for it */
        stopped = true;
    }
    gm_mutex_unlock(&q.lock);
    return stopped;
}

void gm_finq_notify(void) {
    if (!atomic_load_explicit(&q.len, memory_order_acquire))
        return;
    if (atomic_load_explicit(&fin_start.wanted, memory_order_relaxed) &&
        !atomic_load_explicit(&fin_start.started, memory_order_acquire))
        gm_finalizer_thread_start();
    gm_note_notify_all(&q.note);
}

void gm_finq_counts_read(uint64_t *fq, uint64_t *fr, uint64_t *cq, uint64_t *cr) {
    *fq = atomic_load_explicit(&q.fin_queued, memory_order_relaxed);
    *fr = atomic_load_explicit(&q.fin_run, memory_order_relaxed);
    *cq = atomic_load_explicit(&q.cln_queued, memory_order_relaxed);
    *cr = atomic_load_explicit(&q.cln_run, memory_order_relaxed);
}

void gm_finq_fork_lock(bool lock) {
    if (lock) {
        gm_mutex_lock(&fin_start.lock);
        gm_mutex_lock(&q.lock);
    } else {
        gm_mutex_unlock(&q.lock);
        gm_mutex_unlock(&fin_start.lock);
    }
}

/* -------------------------------------------------------- gm_set_finalizer */

void gm_specials_set_finalizer(void *obj, gm_finalizer_fn fn, void *arg, int mode, gm_finalizer_fn *old_fn,
                               void **old_arg) {
    gm_ensure_init();
    if (old_fn)
        *old_fn = NULL;
    if (old_arg)
        *old_arg = NULL;
    uintptr_t p = (uintptr_t)obj, idx, base;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    gm_span *s = gm_specials_object_at(p, &idx, &base);
    if (!s) {
        gm_nostop_exit(t);
        gm_fatal("gm_set_finalizer(%p): pointer is not in an allocated heap object", obj);
    }
    if (base != p && s->spanclass != GM_TINY_SPANCLASS) {
        gm_nostop_exit(t);
        gm_fatal("gm_set_finalizer(%p): pointer is %zu bytes into the %zu-byte object at %p, not its start",
                 obj, (size_t)(p - base), (size_t)s->elemsize, (void *)base);
    }
    gm_special *fresh = fn ? gm_special_alloc() : NULL;
    gm_specials_lock(s);
    gm_special_list *l = s->specials;
    gm_special *prev = NULL;
    gm_special *r = gm_special_list_find(l, p, GM_SP_FINALIZER, &prev);
    if (r) {
        if (old_fn)
            *old_fn = r->fn.fin;
        if (old_arg)
            *old_arg = r->arg;
        if (fn) {
            gm_special_list_count(l, r, -1);
            r->fn.fin = fn;
            r->arg = arg;
            r->mode = (uint8_t)mode;
            gm_special_list_count(l, r, 1);
        } else {
            gm_special_list_drop(l, prev, r);
            gm_special_list_release_if_empty(s, l);
        }
    } else if (fn) {
        fresh->kind = GM_SP_FINALIZER;
        fresh->mode = (uint8_t)mode;
        fresh->fn.fin = fn;
        fresh->arg = arg;
        gm_special_link(s, fresh, p);
        fresh = NULL;
    }
    gm_specials_unlock(s);
    if (fresh)
        gm_special_release(fresh);
    gm_nostop_exit(t);
    if (fn)
        gm_finalizer_thread_start();
    gm_keep_alive(obj);
    gm_keep_alive(arg);
}

GM_API void gm_set_finalizer(void *obj, gm_finalizer_fn fn, void *arg) {
    gm_specials_set_finalizer(obj, fn, arg, GM_FIN_ORDERED, NULL, NULL);
}
