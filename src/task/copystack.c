/*
 * copystack.c - copy stacks: goroutines that share one execution stack.
 *
 * A copy goroutine has no stack of its own.  It runs on its thread's shared
 * stack (a growable stack of GOMEM_STACK_MAX bytes); the goroutine whose
 * frames are on it now is sched.shared_owner.  When another copy goroutine
 * is to run, the owner's used bytes [sp, shared_hi) are copied into its save
 * area, a heap object sized to fit (scanned by the collector through the
 * goroutine's record; bytes past the saved ones are kept zero), grown by
 * allocating a larger one; then the new goroutine's bytes are copied back to the same addresses,
 * so its saved sp and frame pointers are valid again.  A parked goroutine
 * thus costs its used bytes (a few hundred) plus its record.
 *
 * Saving is lazy: switching from a copy goroutine to a growable one (or to
 * the thread's main goroutine) copies nothing, and switching back to the
 * owner copies nothing either.
 *
 * The copying cannot run on the stack it rewrites, so it runs on g0, a
 * small context of its own: gm_sched_switch jumps to g0 with the target in
 * sched.g0_next, and g0 saves, restores and jumps on.  g0 may allocate a
 * save area; it leaves the no-stop region to do so, at a point where the
 * state is consistent for the collector (the old owner is parked with its
 * bytes still on the shared stack, and is scanned there).
 *
 * Rule, as in Go: the address of a local must not leave its goroutine, as
 * the bytes move.  With GOMEM_DEBUG=stackcheck=1 every channel send (plain,
 * try and select) checks each pointer-sized word of the element for an
 * address inside any thread's shared stack, and a hit is a fatal error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "task/task.h"

/* The check's switch, read on every send.  gm_init sets it from
 * gm_cfg.stackcheck (GOMEM_DEBUG=stackcheck) through gm_task_init, before
 * the library is marked initialised and so before any channel exists; tests
 * may set it directly afterwards. */
bool gm_copystack_check;

#define GM_G0_STACK ((size_t)1 << 20)

bool gm_copystack_init(gm_task_sched *s) {
    if (s->g0)
        return true;
    char *lo, *hi, *g0lo, *g0hi;
    if (!gm_stack_alloc(s->default_max, &lo, &hi))
        return false;
    if (!gm_stack_alloc(GM_G0_STACK, &g0lo, &g0hi)) {
        int err = errno;
        gm_stack_free(lo, hi);
        errno = err;
        return false;
    }
    gm_g *g0 = &s->g0_rec;
    g0->sched = s;
    g0->kind = GM_G_SCHED;
    g0->status = GM_G_RUNNABLE;
    g0->id = 0;
    g0->timer_index = ~0u;
    g0->fiber = gm_fiber_create();
    gm_thread *lk = gm_task_lock(&s->lock);
    s->shared_lo = lo;
    s->shared_hi = hi;
    s->shared_max = s->default_max;
    g0->stack_lo = g0lo;
    g0->stack_hi = g0hi;
    gm_task_unlock(&s->lock, lk);
    g0->sp = gm_ctx_make(g0hi, gm_g0_loop, g0);
    s->g0 = g0;
    return true;
}

/* Copies the owner's frames off the shared stack. */
static void save_owner(gm_task_sched *s, gm_g *owner) {
    size_t len = (size_t)(s->shared_hi - (char *)owner->sp);
    if (len > owner->save_cap) {
        /* Allocation may start a collection: leave the no-stop region. */
        gm_thread *t = s->thread;
        gm_nostop_exit(t);
        size_t want = len; /* sized to fit; the heap rounds to its class */
        void *area = gm_alloc(want);
        if (!area)
            gm_fatal("out of memory saving the %zu-byte copy stack of goroutine %lld", len,
                     (long long)owner->id);
        size_t cap = gm_size(area);
        void *old = owner->save;
        owner->save = area;
        owner->save_cap = (uint32_t)(cap > want ? cap : want);
        if (old)
            gm_free(old);
        gm_nostop_enter(t);
    }
    gm_ctx_copy(owner->save, owner->sp, len);
    if (owner->save_cap > len) /* no stale words for the collector */
        memset((char *)owner->save + len, 0, owner->save_cap - len);
    owner->save_len = (uint32_t)len;
    s->shared_owner = NULL;
}

gm_entry gm_g0_loop(gm_g *g0) {
    gm_task_sched *s = g0->sched;
    for (;;) {
        /* Entered inside the switcher's no-stop region. */
        if (s->dead)
            gm_sched_release_dead(s);
        gm_g *next = s->g0_next;
        gm_g *owner = s->shared_owner;
        if (owner && owner != next)
            save_owner(s, owner);
        if (next->status == GM_G_NEW) {
            gm_fiber_unpoison(s->shared_lo, (size_t)(s->shared_hi - s->shared_lo));
            next->sp = gm_ctx_make(s->shared_hi, gm_task_entry, next);
        } else if (s->shared_owner != next) {
            gm_fiber_unpoison(next->sp, next->save_len);
            gm_ctx_copy(next->sp, next->save, next->save_len);
        }
        next->save_len = 0; /* its bytes are on the shared stack again */
        s->shared_owner = next;
        next->status = GM_G_RUNNING;
        gm_sched_jump(s, g0, next);
    }
}

bool gm_copystack_on_shared(gm_task_sched *s, const void *p, size_t n) {
    const char *c = p;
    return s->shared_lo && c + n > s->shared_lo && c < s->shared_hi;
}

/* Debug mode: no word of a sent element may point into a shared stack. */
GM_NO_SANITIZE void gm_copystack_check_send(const void *elem, size_t n, const void *chan) {
    if (!elem)
        return;
    gm_thread *lk = gm_task_lock(&gm_scheds_lock);
    for (size_t off = 0; off + sizeof(void *) <= n; off += sizeof(void *)) {
        const char *w;
        memcpy(&w, (const char *)elem + off, sizeof w);
        for (gm_task_sched *s = gm_scheds; s; s = s->all_next) {
            if (s->shared_lo && w >= s->shared_lo && w < s->shared_hi) {
                gm_task_unlock(&gm_scheds_lock, lk);
                gm_fatal("goroutine %lld sent a pointer into a copy stack (%p, shared stack "
                         "[%p, %p)) on channel %p: locals of copy-stack goroutines move",
                         (long long)gm_goid(), (const void *)w, (void *)s->shared_lo,
                         (void *)s->shared_hi, chan);
            }
        }
    }
    gm_task_unlock(&gm_scheds_lock, lk);
}
