/*
 * special_steps.c - what the collector does with specials: after marking,
 * at sweeping, and when gm_free releases an object that has some.
 *
 * What the collector does (gm_specials_after_mark, world stopped, after the
 * main drain; each step returning true makes the collector drain again):
 *
 *   A. Roots and ordering, in one walk: every finalizer's and cleanup's arg
 *      and every queued record's obj and arg are marked; the body of every
 *      finalizable object still unmarked is queued for scanning (its
 *      contents, not the object itself), so the parallel drain marks what
 *      it reaches.  An object reachable from another unreachable
 *      finalizable object is thereby kept.  (With the arg check on, each
 *      unmarked object's own arg is marked and drained first, and an arg
 *      that reaches its object is a fatal error.)
 *   B. Decision, per object: if it has a finalizer and is still unmarked,
 *      its finalizer is queued, its weak handles are cleared and it is
 *      marked again (resurrected for one cycle: its body was scanned in A,
 *      so its mark is set without a rescan); its cleanups stay.  Else, if
 *      it is unmarked, its weak handles are cleared and its cleanups are
 *      queued.  Else (alive) its weak handles are marked, as the handle is a
 *      heap object the special keeps alive.
 *
 * The concurrent pass (gm_specials_premark, while marking runs, after the
 * first drain): under each span's lock, a list whose every record's object
 * is marked already gets its args and weak handles marked and is noted
 * clean for this cycle (clean_gen); any change to a list clears that.  Both
 * steps leave a clean list alone: its objects stay marked to the end of the
 * cycle, so none of its records can be queued, dropped or cleared.  So the
 * final stop costs the lists that hold unreachable or new objects, and a
 * walk of the registry's headers, not every record (1 M live finalizable
 * objects: 15-20 ms per stop before, 0.2-0.45 ms after).  The walk that
 * checks the headers (reg_validate) gathers the lists that are not clean
 * into todo, which both steps and the release of emptied lists go through;
 * a few lists are done on this thread without waking the mark threads.
 *
 * Both steps run on every mark thread, each on its share of the registry's
 * lists (my_list), draining what it queued; step B's queued records are
 * kept per thread and appended to the queue in thread order.  Dangling
 * links are dropped before step B, on this thread alone.
 *
 * So weak handles read NULL as soon as the object is unreachable, before
 * its finalizer runs; a chain A -> B of finalizable objects runs A's
 * finalizer in one cycle and B's in a later one; a cycle of finalizable
 * objects (a self-pointer included) marks itself in B and is never
 * collected, as in Go.  Modes for the bdwgc layer (gm_specials_set_finalizer):
 * IGNORE_SELF skips pointers from an object into itself in A; NO_ORDER
 * queues the finalizer of every finalizable object that was unmarked when A
 * visited it, even if another body then marked it.
 *
 * gm_free.  An object released with gm_free loses its specials without
 * running them (the program took over its lifetime): gm_specials_free does
 * that when gm_free calls it; sweeping and step B also drop the specials of
 * slots whose free bit is set.
 */
#include <string.h>

#include "gc/specials.h"

/* Drains now on this thread (arg check), keeping the accounting in w. */
static void drain_now(gm_gcwork *w) {
    uint64_t b, o;
    gm_mark_drain_parallel(1, &b, &o);
    w->marked_bytes += b;
    w->marked_objects += o;
}

GM_INLINE bool slot_marked(gm_span *s, uintptr_t idx) {
    return gm_span_marked(s, idx);
}

/* This cycle's mark for clean lists (gm_special_list.clean_gen): set anew
 * by each concurrent pass and moved on when the final stop's steps end, so
 * that no list is clean in a cycle that had no pass (a stop-the-world
 * one). */
static uint32_t clean_gen = 1;

static void next_clean_gen(void) {
    if (++clean_gen == 0)
        clean_gen = 1;
}

GM_INLINE bool list_clean(const gm_special_list *l) {
    return l->clean_gen == clean_gen;
}

static bool pending_work(gm_gcwork *w) {
    return w->buf && w->buf->n > 0;
}

/* The lists the final stop's steps visit: those not noted clean, gathered
 * by reg_validate in registry order (world stopped). */
static gm_special_list **todo;
static size_t ntodo, todo_cap;

static void todo_add(gm_special_list *l) {
    if (!gm_os_grow((void **)&todo, &todo_cap, ntodo, sizeof *todo, ntodo + 1, 1024, &gm_heap.meta))
        gm_fatal("out of memory for the collector's list of %zu finalizer and weak handle lists", ntodo + 1);
    todo[ntodo++] = l;
}

/* Drops the lists whose span went away without telling us (a large object
 * released by gm_free before gm_free called gm_specials_free), and gathers
 * the others that are not clean into todo. */
static void reg_validate(void) {
    ntodo = 0;
    gm_special_list *l = gm_specials_registry, *next;
    for (; l; l = next) {
        next = l->reg_next;
        gm_span *s = l->span;
        if (s->specials == l && atomic_load_explicit(&s->state, memory_order_acquire) == GM_SPAN_INUSE) {
            if (!list_clean(l))
                todo_add(l);
            continue;
        }
        for (gm_special *r = l->first, *rn; r; r = rn) {
            rn = r->next;
            gm_special_discard(r);
        }
        l->first = l->last = NULL;
        gm_special_list_discard(l);
    }
}

static void check_args(gm_gcwork *w) {
    for (gm_special_list *l = gm_specials_registry; l; l = l->reg_next) {
        gm_span *s = l->span;
        for (gm_special *r = l->first; l->nargs && r; r = r->next) {
            if ((r->kind != GM_SP_FINALIZER && r->kind != GM_SP_CLEANUP) || !r->arg)
                continue;
            uintptr_t idx = gm_special_slot(s, gm_special_key(r));
            if (slot_marked(s, idx) || gm_bit(s->free_bits, idx))
                continue;
            if (gm_mark_value(w, (uintptr_t)r->arg))
                drain_now(w);
            if (slot_marked(s, idx))
                gm_fatal("%s of object %p: its argument %p reaches the object, which therefore never "
                         "becomes unreachable (found by GOMEM_DEBUG=cleanupcheck=1)",
                         r->kind == GM_SP_CLEANUP ? "cleanup" : "finalizer", (void *)gm_special_key(r), r->arg);
        }
    }
}

/* Marks what [base, base+size) points to, except the object itself. */
GM_NO_SANITIZE static void scan_ignoring_self(gm_gcwork *w, uintptr_t base, uintptr_t size) {
    for (uintptr_t p = base; p + sizeof(uintptr_t) <= base + size; p += sizeof(uintptr_t)) {
        uintptr_t v = *(const uintptr_t *)p;
        if (gm_heap_range_contains(v) && (v < base || v >= base + size))
            gm_mark_value(w, v);
    }
}

/* One list, under its span's lock: if every record's object is marked (and
 * not freed), marks the args and weak handles the records keep alive and
 * notes the list clean; else leaves it to the final stop. */
static void premark_list(gm_gcwork *w, gm_span *s, gm_special_list *l) {
    for (gm_special *r = l->first; r; r = r->next) {
        gm_special_prefetch(r, 0);
        uintptr_t idx = gm_special_slot(s, gm_special_key(r));
        if (!slot_marked(s, idx) || gm_bit(s->free_bits, idx))
            return;
        if (r->arg && (r->kind == GM_SP_FINALIZER || r->kind == GM_SP_CLEANUP || r->kind == GM_SP_WEAK))
            gm_mark_value(w, (uintptr_t)r->arg);
    }
    l->clean_gen = clean_gen;
}

void gm_specials_premark(gm_gcwork *w) {
    next_clean_gen();
    gm_special_list_ref *refs;
    size_t n = gm_special_registry_snapshot(&refs);
    for (size_t i = 0; i < n; i++) {
        gm_span *s = refs[i].span;
        gm_specials_lock(s);
        if (s->specials == refs[i].list)
            premark_list(w, s, refs[i].list);
        gm_specials_unlock(s);
    }
}

/* The registry's lists are split among the mark threads in blocks of
 * LIST_BLOCK (neighbouring headers share cache lines): list i goes to
 * thread (i / LIST_BLOCK) % n, the same one in steps A and B.  While the
 * threads run, no list joins or leaves the registry, and each list and its
 * records are touched by its own thread only. */
#define LIST_BLOCK 16
GM_INLINE bool my_list(unsigned i, int worker, int nworkers) {
    return (int)((i / LIST_BLOCK) % (unsigned)nworkers) == worker;
}

/* Step A for one list: the roots its specials own, and the bodies of its
 * finalizable objects still unmarked, queued as ranges so that the
 * parallel drain scans them (an object's own mark is not set by scanning
 * its body).  pending notes which finalizable objects were unmarked here:
 * NO_ORDER finalizers are queued for those even if a body marks them. */
static void mark_list_roots(gm_gcwork *w, gm_special_list *l) {
    if ((!l->nargs && !l->nfin) || list_clean(l))
        return;
    gm_span *s = l->span;
    bool scan = !gm_spanclass_noscan(s->spanclass);
    uintptr_t last_base = 0;
    for (gm_special *r = l->first; r; r = r->next) {
        gm_special_prefetch(r, 0);
        if (r->kind != GM_SP_FINALIZER && r->kind != GM_SP_CLEANUP)
            continue;
        if (r->arg)
            gm_mark_value(w, (uintptr_t)r->arg);
        if (r->kind != GM_SP_FINALIZER)
            continue;
        uintptr_t idx = gm_special_slot(s, gm_special_key(r));
        r->pending = !slot_marked(s, idx) && !gm_bit(s->free_bits, idx);
        uintptr_t base = s->base + idx * s->elemsize;
        if (!r->pending || !scan || base == last_base)
            continue;
        last_base = base;
        if (r->mode == GM_FIN_IGNORE_SELF)
            scan_ignoring_self(w, base, s->elemsize);
        else
            gm_gcwork_push(w, base, base + s->elemsize);
    }
}

/* Step A on one mark thread: its share of the lists; the first thread
 * also marks what the queued records hold. */
static void mark_roots_job(gm_gcwork *w, int worker, int nworkers, void *ctx) {
    (void)ctx;
    for (size_t i = 0; i < ntodo; i++)
        if (my_list((unsigned)i, worker, nworkers))
            mark_list_roots(w, todo[i]);
    if (worker != 0)
        return;
    for (gm_special *r = gm_finq_first(); r; r = r->next) {
        if (atomic_load_explicit(&r->state, memory_order_relaxed) != GM_SPST_QUEUED)
            continue;
        if (r->kind == GM_SP_FINALIZER)
            gm_mark_value(w, gm_special_key(r));
        if (r->arg)
            gm_mark_value(w, (uintptr_t)r->arg);
    }
}

/* Fewer lists than this are done on this thread alone: waking the mark
 * threads costs more. */
#define PARALLEL_LISTS 64

/* Runs job on the mark threads, each then draining what it queued, and
 * adds what they marked to w, for the collector's sum; or, for a few
 * lists, on this thread, leaving its grey work on w.  True if work is left
 * on w for the collector to drain. */
static bool run_on_mark_threads(gm_gcwork *w, gm_mark_job job) {
    if (ntodo < PARALLEL_LISTS || gm_cfg.procs < 2) {
        job(w, 0, 1, NULL);
        return pending_work(w);
    }
    uint64_t b, o;
    gm_mark_drain_parallel_job(gm_cfg.procs, job, NULL, &b, &o);
    w->marked_bytes += b;
    w->marked_objects += o;
    return false;
}

/* Step A (the arg check, when on, first and alone: it drains after each
 * arg). */
static bool mark_special_roots(gm_gcwork *w) {
    reg_validate();
    if (!gm_specials_registry && !gm_finq_first())
        return false;
    if (gm_cfg.cleanupcheck) /* GOMEM_DEBUG=cleanupcheck=1 */
        check_args(w);
    return run_on_mark_threads(w, mark_roots_job);
}

/* Marks slot idx of s, which step B resurrects, without scanning it again:
 * its body was queued by step A and drained. */
static void mark_slot(gm_gcwork *w, gm_span *s, uintptr_t idx) {
    if (gm_span_marked(s, idx))
        return;
    atomic_store_explicit(&s->mark_bytes[idx], 1, memory_order_relaxed);
    w->marked_bytes += s->elemsize;
    w->marked_objects++;
}

/* Step B for one span's list. */
static void decide_span(gm_gcwork *w, gm_span *s, gm_special_list *l, gm_finq_batch *c) {
    gm_special *prev = NULL, *r = l->first;
    while (r) {
        gm_special_prefetch(r, 1);
        uintptr_t idx = gm_special_slot(s, gm_special_key(r));
        gm_special *end = r->next;
        while (end && gm_special_slot(s, gm_special_key(end)) == idx)
            end = end->next;
        bool marked = slot_marked(s, idx);
        bool freed = gm_bit(s->free_bits, idx);
        bool fin = false;
        if (!freed)
            for (gm_special *q = r; q != end; q = q->next)
                if (q->kind == GM_SP_FINALIZER && (!marked || (q->mode == GM_FIN_NO_ORDER && q->pending)))
                    fin = true;
        gm_special *next;
        for (gm_special *q = r; q != end; q = next) {
            next = q->next;
            bool queue = false, drop = false;
            if (freed) {
                drop = true;
            } else if (q->kind == GM_SP_WEAK) {
                if (fin || !marked)
                    drop = true;
                else
                    gm_mark_value(w, (uintptr_t)q->arg); /* the handle: noscan */
            } else if (q->kind == GM_SP_LINK) {
                /* short: cleared with the weak handles; long: when the
                 * object is freed (not while a finalizer keeps it) */
                if (q->mode == GM_LINK_SHORT ? (fin || !marked) : (!marked && !fin)) {
                    *(void *volatile *)q->arg = NULL;
                    drop = true;
                }
            } else if (q->kind == GM_SP_FINALIZER) {
                queue = !marked || (q->mode == GM_FIN_NO_ORDER && q->pending);
            } else { /* cleanup */
                queue = !marked && !fin;
            }
            q->pending = 0;
            if (!queue && !drop) {
                prev = q;
                continue;
            }
            if (drop) {
                gm_special_list_drop(l, prev, q);
            } else {
                gm_special_list_unlink(l, prev, q);
                gm_finq_push(q, c);
            }
        }
        if (fin && !marked)
            mark_slot(w, s, idx); /* resurrected */
        r = end;
    }
}

/* Forgets the disappearing links that lie in objects found unreachable
 * (before any is resurrected, as bdwgc does): nothing will read them. */
static void drop_dangling_links(void) {
    for (gm_special_list *l = gm_specials_registry; l; l = l->reg_next) {
        if (!l->nlinks)
            continue;
        bool was_clean = list_clean(l), dropped = false;
        gm_special *prev = NULL, *next;
        for (gm_special *r = l->first; r; r = next) {
            next = r->next;
            if (r->kind == GM_SP_LINK && !gm_is_marked((uintptr_t)r->arg)) {
                gm_special_list_drop(l, prev, r);
                dropped = true;
                continue;
            }
            prev = r;
        }
        /* A clean list changed here goes through step B too (a no-op on
         * its records), so that the lists left empty are released. */
        if (dropped && was_clean)
            todo_add(l);
    }
}

/* What each mark thread queued in step B. */
static gm_finq_batch decided[GM_MAX_WORKERS];

/* Step B on one mark thread: its share of the lists. */
static void decide_job(gm_gcwork *w, int worker, int nworkers, void *ctx) {
    (void)ctx;
    for (size_t i = 0; i < ntodo; i++) {
        if (!my_list((unsigned)i, worker, nworkers))
            continue;
        gm_special_list_check(todo[i]);
        decide_span(w, todo[i]->span, todo[i], &decided[worker]);
    }
}

/* Step B: the dangling links first (before anything is resurrected), the
 * decisions on the mark threads, then their queues in thread order and the
 * lists left empty. */
static bool decide(gm_gcwork *w) {
    drop_dangling_links();
    bool more = run_on_mark_threads(w, decide_job);
    for (int i = 0; i < GM_MAX_WORKERS; i++)
        gm_finq_publish(&decided[i]);
    for (size_t i = 0; i < ntodo; i++)
        gm_special_list_release_if_empty(todo[i]->span, todo[i]);
    ntodo = 0;
    return more;
}

static int after_mark_step;

/* Each step returns true if it left work queued; the collector also drains
 * after a step that marked anything, so that the drain's sum of marked
 * bytes (heap_live) includes what the step marked. */
bool gm_specials_after_mark(gm_gcwork *w) {
    for (;;) {
        uint64_t before = w->marked_objects;
        bool more;
        switch (after_mark_step++) {
        case 0:
            more = mark_special_roots(w);
            break;
        case 1:
            more = decide(w);
            break;
        default:
            after_mark_step = 0;
            next_clean_gen(); /* no list is clean in the next cycle until its pass */
            return false;
        }
        if (more || w->marked_objects != before)
            return true;
    }
}

void gm_specials_after_cycle(void) {
    gm_finq_notify();
}

void gm_specials_sweep(gm_span *s) {
    gm_specials_lock(s);
    gm_special_list *l = s->specials;
    if (!l) {
        gm_specials_unlock(s);
        return;
    }
    gm_special *prev = NULL, *next;
    for (gm_special *r = l->first; r; r = next) {
        next = r->next;
        uintptr_t idx = gm_special_slot(s, gm_special_key(r));
        if (slot_marked(s, idx) && !gm_bit(s->free_bits, idx)) {
            prev = r;
            continue;
        }
        /* Not marked: only an object released by gm_free gets here (step B
         * saw every other), so its specials go without running. */
        gm_special_list_drop(l, prev, r);
    }
    gm_special_list_release_if_empty(s, l);
    gm_specials_unlock(s);
}

void gm_specials_counts(uint64_t *fq, uint64_t *fr, uint64_t *cq, uint64_t *cr) {
    gm_finq_counts_read(fq, fr, cq, cr);
}

/* Called by gm_free (in its no-stop region) before it releases the object
 * that starts at base in s: its specials go without running. */
void gm_specials_free(gm_span *s, uintptr_t base) {
    gm_specials_lock(s);
    gm_special_list *l = s->specials;
    if (l) {
        gm_special *prev = NULL, *next;
        for (gm_special *r = l->first; r; r = next) {
            next = r->next;
            uintptr_t k = gm_special_key(r);
            if (k < base || k >= base + s->elemsize) {
                prev = r;
                continue;
            }
            gm_special_list_drop(l, prev, r);
        }
        gm_special_list_release_if_empty(s, l);
    }
    gm_specials_unlock(s);
}

void gm_specials_fork_lock(bool lock) {
    if (lock) {
        gm_finq_fork_lock(true);
        gm_special_records_fork_lock(true);
    } else {
        gm_special_records_fork_lock(false);
        gm_finq_fork_lock(false);
    }
}
