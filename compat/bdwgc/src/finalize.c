/*
 * finalize.c - bdwgc's finalizers on gomem's.
 *
 * Every GC_register_finalizer* call registers, with gomem's finalizer of
 * the matching flavour (ordered, ignore-self, no-order), one trampoline
 * whose argument is a small scanned heap record holding the program's
 * function and client data: the client data stays reachable as in bdwgc,
 * and the previous (fn, cd) can be handed back.
 *
 * When gomem finds the object unreachable it runs the trampoline on its
 * finalizer thread.  The trampoline does not call the program's function
 * there: it appends (object, record) to a queue (a list of scanned heap
 * nodes whose head is a global, hence a root, so queued objects stay
 * alive) and, in finalize-on-demand mode, calls GC_finalizer_notifier.
 * The program's functions run where bdwgc runs them: in
 * GC_invoke_finalizers, and (unless on demand) on the program's own
 * threads at their next allocation call or at the end of GC_gcollect, one
 * at a time per thread (a finalizer that allocates does not run others
 * recursively).
 */
#include <pthread.h>
#include <stdio.h>

#include "bdwgc.h"

typedef struct fin_rec {
    GC_finalization_proc fn;
    void *cd;
} fin_rec;

typedef struct fin_node {
    struct fin_node *next;
    void *obj;
    fin_rec *rec;
} fin_node;

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static fin_node *queue_head, *queue_tail;
_Atomic long bdwgc_fin_pending;
static __thread int running_finalizers;
__thread unsigned bdwgc_alloc_tick;

static void trampoline(void *obj, void *arg) {
    fin_node *n = gm_alloc(sizeof *n);
    if (!n) {
        bdwgc_warn("out of memory queueing a finalizer: it does not run\n", 0);
        return;
    }
    n->obj = obj;
    n->rec = arg;
    pthread_mutex_lock(&queue_lock);
    if (queue_tail)
        queue_tail->next = n;
    else
        queue_head = n;
    queue_tail = n;
    atomic_fetch_add_explicit(&bdwgc_fin_pending, 1, memory_order_release);
    pthread_mutex_unlock(&queue_lock);
    GC_finalizer_notifier_proc notify = GC_finalizer_notifier;
    if (GC_finalize_on_demand && notify)
        notify();
}

static fin_node *pop(void) {
    pthread_mutex_lock(&queue_lock);
    fin_node *n = queue_head;
    if (n) {
        queue_head = n->next;
        if (!queue_head)
            queue_tail = NULL;
        atomic_fetch_sub_explicit(&bdwgc_fin_pending, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&queue_lock);
    return n;
}

void bdwgc_finalize_fork(int phase) {
    if (phase == 0)
        pthread_mutex_lock(&queue_lock);
    else
        pthread_mutex_unlock(&queue_lock);
}

BDWGC_EXPORT int GC_invoke_finalizers(void) {
    int ran = 0;
    running_finalizers++;
    fin_node *n;
    while ((n = pop()) != NULL) {
        void *obj = n->obj;
        fin_rec *r = n->rec;
        n->obj = NULL;
        r->fn(obj, r->cd);
        ran++;
    }
    running_finalizers--;
    return ran;
}

void bdwgc_run_pending_finalizers(void) {
    if (GC_finalize_on_demand || running_finalizers)
        return;
    GC_invoke_finalizers();
}

BDWGC_EXPORT int GC_should_invoke_finalizers(void) {
    return atomic_load_explicit(&bdwgc_fin_pending, memory_order_acquire) != 0;
}

static void register_finalizer(void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn,
                               void **ocd, int mode) {
    if (ofn)
        *ofn = NULL;
    if (ocd)
        *ocd = NULL;
    bdwgc_enter();
    void *base = gm_base(obj);
    if (!base)
        return; /* not a heap object: ignored, as bdwgc does */
    fin_rec *rec = NULL;
    if (fn) {
        rec = gm_alloc(sizeof *rec);
        if (!rec) {
            bdwgc_warn("out of memory registering a finalizer\n", 0);
            return;
        }
        rec->fn = fn;
        rec->cd = cd;
    }
    gm_finalizer_fn old_fn = NULL;
    void *old_arg = NULL;
    gm_specials_set_finalizer(base, fn ? trampoline : NULL, rec, mode, &old_fn, &old_arg);
    if (old_fn == trampoline && old_arg) {
        fin_rec *old = old_arg;
        if (ofn)
            *ofn = old->fn;
        if (ocd)
            *ocd = old->cd;
    }
}

BDWGC_EXPORT void GC_register_finalizer(void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn,
                                        void **ocd) {
    register_finalizer(obj, fn, cd, ofn, ocd, BDWGC_FIN_ORDERED);
}
BDWGC_EXPORT void GC_register_finalizer_ignore_self(void *obj, GC_finalization_proc fn, void *cd,
                                                    GC_finalization_proc *ofn, void **ocd) {
    register_finalizer(obj, fn, cd, ofn, ocd, BDWGC_FIN_IGNORE_SELF);
}
BDWGC_EXPORT void GC_register_finalizer_no_order(void *obj, GC_finalization_proc fn, void *cd,
                                                 GC_finalization_proc *ofn, void **ocd) {
    register_finalizer(obj, fn, cd, ofn, ocd, BDWGC_FIN_NO_ORDER);
}
BDWGC_EXPORT void GC_register_finalizer_unreachable(void *obj, GC_finalization_proc fn, void *cd,
                                                    GC_finalization_proc *ofn, void **ocd) {
    register_finalizer(obj, fn, cd, ofn, ocd, BDWGC_FIN_NO_ORDER);
}
BDWGC_EXPORT void GC_debug_register_finalizer(void *obj, GC_finalization_proc fn, void *cd,
                                              GC_finalization_proc *ofn, void **ocd) {
    register_finalizer(obj, fn, cd, ofn, ocd, BDWGC_FIN_ORDERED);
}
BDWGC_EXPORT void GC_debug_register_finalizer_ignore_self(void *obj, GC_finalization_proc fn, void *cd,
                                                          GC_finalization_proc *ofn, void **ocd) {
    register_finalizer(obj, fn, cd, ofn, ocd, BDWGC_FIN_IGNORE_SELF);
}
BDWGC_EXPORT void GC_debug_register_finalizer_no_order(void *obj, GC_finalization_proc fn, void *cd,
                                                       GC_finalization_proc *ofn, void **ocd) {
    register_finalizer(obj, fn, cd, ofn, ocd, BDWGC_FIN_NO_ORDER);
}
BDWGC_EXPORT void GC_debug_register_finalizer_unreachable(void *obj, GC_finalization_proc fn, void *cd,
                                                          GC_finalization_proc *ofn, void **ocd) {
    register_finalizer(obj, fn, cd, ofn, ocd, BDWGC_FIN_NO_ORDER);
}

BDWGC_EXPORT void GC_finalize_all(void) {
    for (int i = 0; i < 4; i++) {
        GC_gcollect();
        gm_run_finalizers();
        GC_invoke_finalizers();
    }
}

/* Toggle references and the await-finalize hook are not supported: the
 * calls are accepted and report so. */
static GC_toggleref_func toggleref_func;
static GC_await_finalize_proc await_proc;
BDWGC_EXPORT void GC_set_toggleref_func(GC_toggleref_func f) {
    toggleref_func = f;
}
BDWGC_EXPORT GC_toggleref_func GC_get_toggleref_func(void) {
    return toggleref_func;
}
BDWGC_EXPORT int GC_toggleref_add(void *obj, int strong) {
    (void)obj, (void)strong;
    return GC_UNIMPLEMENTED;
}
BDWGC_EXPORT void GC_set_await_finalize_proc(GC_await_finalize_proc f) {
    await_proc = f;
}
BDWGC_EXPORT GC_await_finalize_proc GC_get_await_finalize_proc(void) {
    return await_proc;
}
BDWGC_EXPORT void GC_dump_finalization(void) {
    printf("finalizers ready to run: %ld\n", (long)atomic_load(&bdwgc_fin_pending));
}

/* Finalized allocation: the closure runs as an unordered finalizer. */
static void run_closure(void *obj, void *cd) {
    const struct GC_finalizer_closure *fc = cd;
    fc->proc(obj, fc->cd);
}
BDWGC_EXPORT void GC_init_finalized_malloc(void) {}
BDWGC_EXPORT void *GC_finalized_malloc(size_t size, const struct GC_finalizer_closure *fc) {
    void *p = GC_malloc(size);
    if (p)
        GC_register_finalizer_no_order(p, run_closure, (void *)fc, NULL, NULL);
    return p;
}
BDWGC_EXPORT void GC_register_disclaim_proc(int kind, GC_disclaim_proc proc, int mark_from_all) {
    (void)kind, (void)proc, (void)mark_from_all;
}
