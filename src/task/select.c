/*
 * select.c - Go's select over several channel operations.
 *
 * As in Go's selectgo: the distinct channels are locked in address order
 * (so two selects never deadlock), the cases are polled in a random order
 * (so every ready case is chosen with equal chance), and the first that can
 * proceed is done.  If none can and the select blocks, one sudog per case
 * is queued on its channel, all locks are dropped and the goroutine parks.
 * A partner on any thread claims the select through the goroutine's
 * select_done flag (chan.h); the goroutine wakes, relocks, unqueues the
 * losing sudogs and reports the winning case.
 *
 * Select sudogs come from the scheduler's cache, never from the stack, and
 * a copy goroutine's elements that live on its shared stack get one heap
 * bounce block (held in g.bounce, so it is a root while parked).
 */
#include <stdlib.h>
#include <string.h>

#include "task/chan.h"

#define SMALL 16

static void lock_all(gm_select_case *cases, const uint16_t *lockorder, int n) {
    gm_chan *prev = NULL;
    for (int k = 0; k < n; k++) {
        gm_chan *c = cases[lockorder[k]].chan;
        if (c && c != prev)
            gm_lightlock_lock(&c->lock);
        prev = c;
    }
}

static void unlock_all(gm_select_case *cases, const uint16_t *lockorder, int n) {
    for (int k = n - 1; k >= 0; k--) {
        gm_chan *c = cases[lockorder[k]].chan;
        if (c && (k == 0 || cases[lockorder[k - 1]].chan != c))
            gm_lightlock_unlock(&c->lock);
    }
}

static void release(uint16_t *order, gm_select_sudog **sgv, uint16_t *small_order,
                    gm_select_sudog **small_sgv) {
    if (order != small_order)
        free(order);
    if (sgv != small_sgv)
        free(sgv);
}

GM_API int gm_select(gm_select_case *cases, int n, bool nonblocking) {
    if (n < 0 || n > 32768)
        gm_fatal("gm_select: %d cases (at most 32768)", n);
    gm_task_sched *s = gm_sched_current();
    gm_g *g = s->cur;
    uint16_t small_order[2 * SMALL];
    gm_select_sudog *small_sgv[SMALL];
    uint16_t *order = small_order;
    gm_select_sudog **sgv = small_sgv;
    if (n > SMALL) {
        order = malloc(sizeof *order * 2 * (size_t)n);
        sgv = malloc(sizeof *sgv * (size_t)n);
        if (!order || !sgv)
            gm_fatal("out of memory for a %d-case select", n);
    }
    uint16_t *lockorder = order + n;

    /* Poll order: a uniform random permutation. */
    for (int i = 0; i < n; i++)
        order[i] = (uint16_t)i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(gm_sched_rand(s) % (uint64_t)(i + 1));
        uint16_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    /* Lock order: by channel address (insertion sort; selects are small). */
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && (uintptr_t)cases[lockorder[j - 1]].chan > (uintptr_t)cases[i].chan) {
            lockorder[j] = lockorder[j - 1];
            j--;
        }
        lockorder[j] = (uint16_t)i;
    }

    /* Bounce space for a copy goroutine's elements on the shared stack. */
    size_t bounce_size = 0;
    for (int i = 0; i < n; i++) {
        gm_chan *c = cases[i].chan;
        if (c && gm_elem_needs_bounce(s, g, cases[i].elem, c->elem_size))
            bounce_size += (c->elem_size + 15) & ~(size_t)15;
    }
    char *bounce = NULL;
    if (bounce_size && !nonblocking && !(bounce = gm_alloc(bounce_size)))
        gm_fatal("out of memory for select");

    lock_all(cases, lockorder, n);
    for (int k = 0; k < n; k++) {
        int i = order[k];
        gm_chan *c = cases[i].chan;
        if (!c)
            continue;
        gm_g *wake = NULL;
        bool done;
        if (cases[i].dir == GM_SELECT_SEND) {
            if (c->closed) {
                unlock_all(cases, lockorder, n);
                gm_fatal("send on closed channel %p (select case %d)", (void *)c, i);
            }
            if (GM_UNLIKELY(gm_copystack_check))
                gm_copystack_check_send(cases[i].elem, c->elem_size, c);
            done = gm_chan_send_locked(c, cases[i].elem, &wake);
        } else {
            done = gm_chan_recv_locked(c, cases[i].elem, &cases[i].ok, &wake);
        }
        if (done) {
            unlock_all(cases, lockorder, n);
            if (wake)
                gm_sched_ready(wake);
            release(order, sgv, small_order, small_sgv);
            return i;
        }
    }
    if (nonblocking) {
        unlock_all(cases, lockorder, n);
        release(order, sgv, small_order, small_sgv);
        return -1;
    }

    /* Block: one sudog per case, queued in lock order. */
    atomic_store_explicit(&g->select_done, 0, memory_order_relaxed);
    g->select_winner = NULL;
    g->bounce = bounce;
    size_t off = 0;
    for (int k = 0; k < n; k++) {
        int i = lockorder[k];
        sgv[i] = gm_sudog_get(s, g);
        gm_sudog *sg = &sgv[i]->sg;
        sg->index = (uint16_t)i;
        sg->success = 0;
        sg->elem = cases[i].elem;
        gm_chan *c = cases[i].chan;
        if (!c)
            continue;
        if (gm_elem_needs_bounce(s, g, cases[i].elem, c->elem_size)) {
            sg->elem = bounce + off;
            off += (c->elem_size + 15) & ~(size_t)15;
            if (cases[i].dir == GM_SELECT_SEND)
                memcpy(sg->elem, cases[i].elem, c->elem_size);
        }
        gm_waitq_push(cases[i].dir == GM_SELECT_SEND ? &c->sendq : &c->recvq, sg);
    }
    g->status = GM_G_WAITING;
    unlock_all(cases, lockorder, n);
    gm_sched_park(s);

    lock_all(cases, lockorder, n);
    gm_sudog *win = g->select_winner;
    for (int i = 0; i < n; i++) {
        gm_chan *c = cases[i].chan;
        if (c && &sgv[i]->sg != win)
            gm_waitq_remove(cases[i].dir == GM_SELECT_SEND ? &c->sendq : &c->recvq, &sgv[i]->sg);
    }
    unlock_all(cases, lockorder, n);

    int i = win->index;
    gm_chan *c = cases[i].chan;
    if (cases[i].dir == GM_SELECT_SEND) {
        if (!win->success)
            gm_fatal("send on closed channel %p (select case %d)", (void *)c, i);
    } else {
        cases[i].ok = win->success;
        if (!win->success)
            gm_elem_copy(cases[i].elem, NULL, c->elem_size);
        else if (win->elem != cases[i].elem)
            gm_elem_copy(cases[i].elem, win->elem, c->elem_size);
    }
    g->bounce = NULL;
    for (int k = 0; k < n; k++)
        gm_sudog_put(s, sgv[k]);
    release(order, sgv, small_order, small_sgv);
    return i;
}
