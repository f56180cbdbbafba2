/*
 * gcscan.c - what the collector sees of the goroutines: their stacks and
 * records as roots, stack shrinking and stack statistics (the hooks that
 * sched.c registers with the collector, src/gc/gc.h gm_gc_stack_hooks).
 *
 * Roots.  A parked goroutine's roots are its g record (argument, save
 * area, element in transit) and, for a growable goroutine, its stack from
 * the saved stack pointer up; a copy goroutine's frames are in its save
 * area, a heap object.  Marking that stops the world scans them all.  A
 * concurrent cycle scans the stacks in its first stop and the records
 * right after it, with the world running; its final stop scans only the
 * goroutines on the scheduler's changed list (those switched to or queued
 * to run since the first stop, each listed once) and on its remote queue.
 * Invariant: a goroutine's gc_changed equals the scheduler's gc_epoch
 * exactly when it is on the list (or the list overflowed, and the final
 * stop scans everything).  The first stop starts a new list by moving the
 * epoch on (1 to EPOCH_LAST, never 0, which new records have); when it
 * wraps, every record's gc_changed is cleared first, so that a value left
 * from EPOCH_LAST cycles ago cannot read as listed.  Debug builds wrap
 * every few cycles, so the tests run that path.
 */
#include <string.h>

#include "gc/gc.h"
#include "task/task.h"

#define EPOCH_LAST (GM_ASSERTS ? 3 : 255)

/* In a no-stop region: a stop signal taken between setting the flag and
 * appending (or mid-way through the append) would show the final stop a
 * flagged goroutine missing from the list, or a count ahead of its
 * entries. */
void gm_task_note_changed_slow(gm_task_sched *s, gm_g *g) {
    gm_thread *t = gm_tls_thread;
    if (t)
        gm_nostop_enter(t);
    g->gc_changed = s->gc_epoch;
    if (s->gc_nchanged == s->gc_changed_cap) {
        uint32_t cap = s->gc_changed_cap ? s->gc_changed_cap * 2 : 256;
        gm_g **n = gm_os_alloc((size_t)cap * sizeof *n);
        if (!n) {
            s->gc_changed_overflow = true;
            goto out;
        }
        if (s->gc_changed) {
            memcpy(n, s->gc_changed, (size_t)s->gc_nchanged * sizeof *n);
            gm_os_free(s->gc_changed, (size_t)s->gc_changed_cap * sizeof *n);
        }
        s->gc_changed = n;
        s->gc_changed_cap = cap;
    }
    s->gc_changed[s->gc_nchanged] = g;
    s->gc_nchanged++;
out:
    if (t)
        gm_nostop_exit(t);
}


/* g records are scanned a slab at a time (their args, save area and
 * bounce pointers are the roots; the rest are not heap pointers), so a
 * parked copy goroutine costs the collector no range of its own: its save
 * area is a scanned heap object, reached through its record.
 *
 * The final stop of a concurrent cycle (GM_ROOTS_CHANGED) scans only the
 * records and stacks of the goroutines on the changed list (switched to or
 * queued to run since the first stop, and the one running then) and those
 * on the remote queue (readied by another thread, not yet queued here).
 * Whatever writes a parked goroutine's stack or record (a channel partner
 * delivering an element, a select's winner, a timer) makes it runnable, so
 * one that stayed parked is as the first stop scanned it: 100,000 parked
 * goroutines cost the final stop nothing.  A copy goroutine's save area is
 * a heap object, covered by the heap's write tracking. */
GM_NO_SANITIZE static void scan_g_stack(gm_task_sched *s, gm_g *g, gm_scan_fn scan, void *ctx) {
    if (g == s->cur || g->status == GM_G_FREE || g->status == GM_G_DEAD || g->status == GM_G_NEW)
        return;
    if (g->kind == GM_G_GROWABLE) {
        char *lo = (char *)g->sp - GM_STACK_REDZONE;
        scan(lo < g->stack_lo ? g->stack_lo : lo, g->stack_hi, ctx);
    } else if (s->shared_owner == g) {
        char *lo = (char *)g->sp - GM_STACK_REDZONE;
        scan(lo < s->shared_lo ? s->shared_lo : lo, s->shared_hi, ctx);
    }
}

GM_NO_SANITIZE static void scan_changed(gm_task_sched *s, gm_g *g, gm_scan_fn scan, void *ctx) {
    if (g->status == GM_G_FREE)
        return;
    scan(g, g + 1, ctx);
    scan_g_stack(s, g, scan, ctx);
}

GM_NO_SANITIZE void gm_task_scan_stacks(gm_thread *t, gm_scan_fn scan, void *ctx, gm_roots_pass pass) {
    gm_task_sched *s = t->sched;
    if (!s)
        return;
    gm_g *m = &s->main_g;
    if (m != s->cur) {
        char *lo = (char *)m->sp - GM_STACK_REDZONE;
        scan(lo < m->stack_lo ? m->stack_lo : lo, m->stack_hi, ctx);
    }
    if (pass == GM_ROOTS_CHANGED && !s->gc_changed_overflow) {
        for (uint32_t i = 0; i < s->gc_nchanged; i++)
            scan_changed(s, s->gc_changed[i], scan, ctx);
        for (gm_g *g = atomic_load_explicit(&s->remote, memory_order_acquire); g; g = g->next)
            scan_changed(s, g, scan, ctx);
        if (s->shared_owner)
            scan_g_stack(s, s->shared_owner, scan, ctx);
        return;
    }
    for (gm_g_slab *slab = s->slabs; slab; slab = slab->next) {
        if (pass != GM_ROOTS_FIRST) /* the first stop leaves them to gm_task_scan_records */
            scan(slab->gs, slab->gs + slab->used, ctx);
        if (!slab->ngrowable)
            continue; /* copy goroutines: their bytes are in save areas */
        for (uint32_t i = 0; i < slab->used; i++)
            if (slab->gs[i].kind == GM_G_GROWABLE)
                scan_g_stack(s, &slab->gs[i], scan, ctx);
    }
    if (s->shared_owner) /* the copy goroutine whose frames are on the shared stack */
        scan_g_stack(s, s->shared_owner, scan, ctx);
    if (pass == GM_ROOTS_FIRST) { /* start a new changed list */
        if (s->gc_epoch >= EPOCH_LAST) {
            for (gm_g_slab *slab = s->slabs; slab; slab = slab->next)
                for (uint32_t i = 0; i < slab->used; i++)
                    slab->gs[i].gc_changed = 0;
            m->gc_changed = 0;
            s->g0_rec.gc_changed = 0;
            s->gc_epoch = 0;
        }
        s->gc_epoch++;
        s->gc_nchanged = 0;
        s->gc_changed_overflow = false;
        if (s->cur != m && s->cur->gc_changed != s->gc_epoch)
            gm_task_note_changed_slow(s, s->cur); /* it runs on: its stack changes */
    }
}

/* While the world runs (a concurrent cycle, after its first stop).  The
 * schedulers' list lock keeps every scheduler, and so its slabs, alive
 * (sched_free unlinks under it before it frees); a slab list only grows at
 * its head, and a slab's used count only grows: a record added meanwhile
 * is a new goroutine, queued to run, so on the changed list.  The records
 * are read while their goroutines run: conservatively, word by word. */
GM_NO_SANITIZE void gm_task_scan_records(gm_scan_fn scan, void *ctx) {
    gm_thread *lk = gm_task_lock(&gm_scheds_lock);
    for (gm_task_sched *s = gm_scheds; s; s = s->all_next) {
        gm_thread *lk2 = gm_task_lock(&s->lock);
        gm_g_slab *slab = s->slabs;
        gm_task_unlock(&s->lock, lk2);
        for (; slab; slab = slab->next) {
            uint32_t used = __atomic_load_n(&slab->used, __ATOMIC_RELAXED);
            scan(slab->gs, slab->gs + used, ctx);
        }
    }
    gm_task_unlock(&gm_scheds_lock, lk);
}

void gm_task_shrink_stacks(gm_thread *t) {
    gm_task_sched *s = t->sched;
    if (!s)
        return;
    for (gm_g_slab *slab = s->slabs; slab; slab = slab->next) {
        if (!slab->ngrowable)
            continue; /* copy goroutines only: nothing to shrink */
        for (uint32_t i = 0; i < slab->used; i++) {
            gm_g *g = &slab->gs[i];
            if (g->kind != GM_G_GROWABLE || !g->stack_lo || g == s->cur)
                continue;
            if (!(atomic_fetch_and_explicit(&g->touched, (uint8_t)~1u, memory_order_relaxed) & 1))
                continue;
            if (g->status == GM_G_FREE)
                gm_stack_release_all_but_top(g->stack_lo, g->stack_hi);
            else if (g->status != GM_G_NEW && g->status != GM_G_DEAD)
                gm_stack_shrink(g->stack_lo, g->stack_hi, g->sp);
            /* measure again at the next stats read */
            atomic_fetch_or_explicit(&g->touched, 2, memory_order_relaxed);
        }
    }
    if (s->shared_lo && s->cur->kind != GM_G_COPY)
        gm_stack_shrink(s->shared_lo, s->shared_hi,
                        s->shared_owner ? s->shared_owner->sp : s->shared_hi);
}

void gm_task_stack_stats(uint64_t *inuse, uint64_t *sys) {
    uint64_t resident = 0;
    gm_thread *lk = gm_task_lock(&gm_scheds_lock);
    for (gm_task_sched *s = gm_scheds; s; s = s->all_next) {
        gm_thread *lk2 = gm_task_lock(&s->lock);
        gm_g *run = atomic_load_explicit(&s->running, memory_order_relaxed);
        for (gm_g_slab *slab = s->slabs; slab; slab = slab->next) {
            if (!slab->ngrowable)
                continue;
            for (uint32_t i = 0; i < slab->n; i++) {
                gm_g *g = &slab->gs[i];
                if (g->kind != GM_G_GROWABLE || !g->stack_lo)
                    continue;
                if ((atomic_fetch_and_explicit(&g->touched, (uint8_t)~2u, memory_order_relaxed) & 2) ||
                    g == run)
                    g->resident = (uint32_t)(gm_stack_resident(g->stack_lo, g->stack_hi) >> 12);
                resident += (uint64_t)g->resident << 12;
            }
        }
        if (s->shared_lo) {
            resident += gm_stack_resident(s->shared_lo, s->shared_hi);
            resident += gm_stack_resident(s->g0_rec.stack_lo, s->g0_rec.stack_hi);
        }
        gm_task_unlock(&s->lock, lk2);
    }
    gm_task_unlock(&gm_scheds_lock, lk);
    *inuse = resident;
    *sys = atomic_load_explicit(&gm_stack_reserved, memory_order_relaxed);
}
