/*
 * chan.c - channels, as Go's: unbuffered (a rendezvous) or buffered (a
 * ring of cap elements), shared freely between goroutines and threads.
 *
 * Every operation takes the channel's lock, then (Go's order): hands the
 * element straight to a waiting partner if there is one, else uses the
 * buffer, else (blocking variants) queues the goroutine's sudog and parks.
 * The partner that completes a parked goroutine's operation copies the
 * element to or from the sudog, marks it successful, unlocks, and readies
 * the goroutine (on its own thread's scheduler, see sched.c).  Closing wakes
 * every waiter unsuccessfully: a receiver then reports closed, a sender
 * stops the program, as a send on a closed channel panics in Go.
 *
 * A goroutine writes only its own element after it wakes (zeroing it on a
 * close), and a copy goroutine whose element sits on its shared stack parks
 * with a bounce buffer instead (task.h), so a partner never writes into
 * stack bytes that may have moved.
 *
 * A nil channel blocks forever, as in Go.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "task/chan.h"

GM_API gm_chan *gm_chan_make(size_t elem_size, size_t cap) {
    if (elem_size > UINT32_MAX || (elem_size && cap > (SIZE_MAX - GM_CHAN_HDR) / elem_size)) {
        errno = ENOMEM;
        return NULL;
    }
    gm_chan *c = gm_alloc(GM_CHAN_HDR + cap * elem_size);
    if (!c)
        return NULL;
    c->elem_size = (uint32_t)elem_size;
    c->cap = cap;
    return c;
}

/* With c locked: completes a send if a receiver waits or the buffer has
 * room; *wake is the goroutine to ready once unlocked. */
/* The ring's invariants, with c locked: len <= cap, positions inside the
 * ring and len apart; a receiver waits only on an empty buffer, a sender
 * only on a full one. */
static void chan_check(const gm_chan *c) {
    GM_ASSERT(c->len <= c->cap);
    GM_ASSERT(c->cap == 0 || (c->recvx < c->cap && c->sendx < c->cap));
    GM_ASSERT(c->cap == 0 || (c->recvx + c->len) % c->cap == c->sendx);
    GM_ASSERT(!c->recvq.first || c->len == 0);
    GM_ASSERT(!c->sendq.first || c->len == c->cap || c->closed);
    (void)c;
}

bool gm_chan_send_locked(gm_chan *c, const void *elem, gm_g **wake) {
    chan_check(c);
    gm_sudog *sg = gm_waitq_pop(&c->recvq);
    if (sg) {
        gm_elem_copy(sg->elem, elem, c->elem_size);
        sg->success = 1;
        *wake = gm_sudog_g(sg);
        return true;
    }
    if (c->len < c->cap) {
        gm_elem_copy(gm_chan_slot(c, c->sendx), elem, c->elem_size);
        if (++c->sendx == c->cap)
            c->sendx = 0;
        c->len++;
        return true;
    }
    return false;
}

/* With c locked: completes a receive from a waiting sender, the buffer, or
 * a closed channel (*ok false). */
bool gm_chan_recv_locked(gm_chan *c, void *elem, bool *ok, gm_g **wake) {
    chan_check(c);
    gm_sudog *sg = gm_waitq_pop(&c->sendq);
    if (sg) {
        if (c->cap == 0) {
            gm_elem_copy(elem, sg->elem, c->elem_size);
        } else { /* full buffer: take the head, the sender's element goes last */
            char *slot = gm_chan_slot(c, c->recvx);
            gm_elem_copy(elem, slot, c->elem_size);
            gm_elem_copy(slot, sg->elem, c->elem_size);
            if (++c->recvx == c->cap)
                c->recvx = 0;
            c->sendx = c->recvx;
        }
        sg->success = 1;
        *wake = gm_sudog_g(sg);
        *ok = true;
        return true;
    }
    if (c->len > 0) {
        char *slot = gm_chan_slot(c, c->recvx);
        gm_elem_copy(elem, slot, c->elem_size);
        memset(slot, 0, c->elem_size); /* no stale pointer keeps an object alive */
        if (++c->recvx == c->cap)
            c->recvx = 0;
        c->len--;
        *ok = true;
        return true;
    }
    if (c->closed) {
        gm_elem_copy(elem, NULL, c->elem_size);
        *ok = false;
        return true;
    }
    return false;
}

GM_NOINLINE static void block_forever(void) {
    gm_task_sched *s = gm_sched_current();
    s->cur->status = GM_G_WAITING;
    for (;;)
        gm_sched_park(s);
}

/* Parks the current goroutine on q with elem (lock held, released here). */
GM_INLINE gm_sudog *park_on(gm_task_sched *s, gm_chan *c, gm_waitq *q, void *elem,
                                     void *heap_bounce, bool send) {
    gm_g *g = s->cur;
    gm_sudog *sg = &g->wait;
    sg->is_select = 0;
    sg->success = 0;
    sg->elem = elem;
    if (heap_bounce) {
        g->bounce = heap_bounce;
        sg->elem = heap_bounce;
    } else if (gm_elem_needs_bounce(s, g, elem, c->elem_size)) {
        g->bounce = NULL;
        if (send)
            memcpy(&g->bounce, elem, c->elem_size);
        sg->elem = &g->bounce;
    }
    gm_waitq_push(q, sg);
    g->status = GM_G_WAITING;
    gm_lightlock_unlock(&c->lock);
    gm_sched_park(s);
    return sg;
}

/* A heap bounce buffer for a copy goroutine's element over 8 bytes on its
 * shared stack, allocated before the lock is taken (allocation may run a
 * collection). */
GM_NOINLINE static void *heap_bounce_for(gm_task_sched *s, const void *elem, size_t n, bool send) {
    if (n <= sizeof(void *) || !gm_elem_needs_bounce(s, s->cur, elem, n))
        return NULL;
    void *b = gm_alloc(n);
    if (!b)
        gm_fatal("out of memory for a %zu-byte channel element", n);
    if (send)
        memcpy(b, elem, n);
    return b;
}

GM_INLINE bool chan_send(gm_chan *c, const void *elem, bool block) {
    if (GM_UNLIKELY(!c)) {
        if (block)
            block_forever();
        return false;
    }
    if (GM_UNLIKELY(gm_copystack_check))
        gm_copystack_check_send(elem, c->elem_size, c);
    gm_task_sched *s = block ? gm_sched_current() : NULL;
    void *heap_bounce = block && c->elem_size > sizeof(void *) && s->cur->kind == GM_G_COPY
                            ? heap_bounce_for(s, elem, c->elem_size, true)
                            : NULL;
    gm_lightlock_lock(&c->lock);
    if (GM_UNLIKELY(c->closed)) {
        gm_lightlock_unlock(&c->lock);
        gm_fatal("send on closed channel %p", (void *)c);
    }
    gm_g *wake = NULL;
    if (gm_chan_send_locked(c, elem, &wake)) {
        gm_lightlock_unlock(&c->lock);
        if (wake)
            gm_sched_ready(wake);
        return true;
    }
    if (!block) {
        gm_lightlock_unlock(&c->lock);
        return false;
    }
    gm_sudog *sg = park_on(s, c, &c->sendq, (void *)elem, heap_bounce, true);
    s->cur->bounce = NULL;
    if (!sg->success)
        gm_fatal("send on closed channel %p", (void *)c);
    return true;
}

GM_INLINE bool chan_recv(gm_chan *c, void *elem, bool block, bool *ok) {
    if (GM_UNLIKELY(!c)) {
        if (block)
            block_forever();
        return false;
    }
    gm_task_sched *s = block ? gm_sched_current() : NULL;
    void *heap_bounce = block && c->elem_size > sizeof(void *) && s->cur->kind == GM_G_COPY
                            ? heap_bounce_for(s, elem, c->elem_size, false)
                            : NULL;
    gm_lightlock_lock(&c->lock);
    gm_g *wake = NULL;
    if (gm_chan_recv_locked(c, elem, ok, &wake)) {
        gm_lightlock_unlock(&c->lock);
        if (wake)
            gm_sched_ready(wake);
        return true;
    }
    if (!block) {
        gm_lightlock_unlock(&c->lock);
        return false;
    }
    gm_sudog *sg = park_on(s, c, &c->recvq, elem, heap_bounce, false);
    gm_g *g = s->cur;
    if (sg->success) {
        if (sg->elem != elem)
            gm_elem_copy(elem, sg->elem, c->elem_size);
    } else {
        gm_elem_copy(elem, NULL, c->elem_size);
    }
    g->bounce = NULL;
    *ok = sg->success;
    return true;
}

GM_API void gm_chan_send(gm_chan *c, const void *elem) {
    chan_send(c, elem, true);
}

GM_API bool gm_chan_try_send(gm_chan *c, const void *elem) {
    return chan_send(c, elem, false);
}

GM_API bool gm_chan_recv(gm_chan *c, void *elem) {
    bool ok = false;
    chan_recv(c, elem, true, &ok);
    return ok;
}

GM_API bool gm_chan_try_recv(gm_chan *c, void *elem, bool *ok) {
    bool got = true;
    bool done = chan_recv(c, elem, false, &got);
    if (ok)
        *ok = done ? got : true;
    return done;
}

GM_API void gm_chan_close(gm_chan *c) {
    if (!c)
        gm_fatal("close of nil channel");
    gm_lightlock_lock(&c->lock);
    if (c->closed) {
        gm_lightlock_unlock(&c->lock);
        gm_fatal("close of closed channel %p", (void *)c);
    }
    c->closed = 1;
    gm_sudog *list = NULL, *sg;
    while ((sg = gm_waitq_pop(&c->recvq)) || (sg = gm_waitq_pop(&c->sendq))) {
        sg->success = 0;
        sg->next = list;
        list = sg;
    }
    gm_lightlock_unlock(&c->lock);
    while (list) {
        gm_sudog *next = list->next;
        gm_sched_ready(gm_sudog_g(list));
        list = next;
    }
}

GM_API size_t gm_chan_len(gm_chan *c) {
    if (!c)
        return 0;
    gm_lightlock_lock(&c->lock);
    size_t n = c->len;
    gm_lightlock_unlock(&c->lock);
    return n;
}

GM_API size_t gm_chan_cap(gm_chan *c) {
    return c ? c->cap : 0;
}
