/*
 * chan.h - channel layout and wait queues, shared by chan.c and select.c.
 *
 * A channel is one heap object (gm_alloc, scanned conservatively): this
 * header, then cap elements of elem_size bytes in a ring.  All its state is
 * guarded by its lock, a futex mutex that is uncontended (one CAS) when only
 * one thread uses the channel.  Waiting goroutines are gm_sudogs linked into
 * recvq or sendq; a sudog of a select may be claimed by a partner only
 * after winning the CAS on its goroutine's select_done, so a select
 * completes once even when partners on several threads race.
 */
#ifndef GM_TASK_CHAN_H
#define GM_TASK_CHAN_H

#include <string.h>

#include "task/task.h"

typedef struct gm_waitq {
    gm_sudog *first, *last;
} gm_waitq;

struct gm_chan {
    gm_lightlock lock;
    uint32_t elem_size;
    uint8_t closed;
    size_t cap, len;
    size_t recvx, sendx; /* ring positions */
    gm_waitq recvq, sendq;
};
#define GM_CHAN_HDR ((sizeof(struct gm_chan) + 15) & ~(size_t)15)
GM_INLINE char *gm_chan_slot(gm_chan *c, size_t i) {
    return (char *)c + GM_CHAN_HDR + i * c->elem_size;
}

GM_INLINE void gm_waitq_push(gm_waitq *q, gm_sudog *sg) {
    GM_ASSERT(!sg->prev && q->first != sg); /* on one queue, once (next may be stale: select_winner shares it) */
    GM_ASSERT(!q->first == !q->last);
    sg->next = NULL;
    sg->prev = q->last;
    if (q->last)
        q->last->next = sg;
    else
        q->first = sg;
    q->last = sg;
}

GM_INLINE void gm_waitq_unlink(gm_waitq *q, gm_sudog *sg) {
    GM_ASSERT(sg->prev ? sg->prev->next == sg : q->first == sg);
    GM_ASSERT(sg->next ? sg->next->prev == sg : q->last == sg);
    if (sg->prev)
        sg->prev->next = sg->next;
    else
        q->first = sg->next;
    if (sg->next)
        sg->next->prev = sg->prev;
    else
        q->last = sg->prev;
    sg->next = sg->prev = NULL;
}

/* Removes sg if it is still queued on q (a select's losing cases). */
GM_INLINE void gm_waitq_remove(gm_waitq *q, gm_sudog *sg) {
    if (sg->prev || q->first == sg)
        gm_waitq_unlink(q, sg);
}

/* The first waiter that may be completed, claimed; NULL if none. */
GM_INLINE gm_sudog *gm_waitq_pop(gm_waitq *q) {
    for (;;) {
        gm_sudog *sg = q->first;
        if (!sg)
            return NULL;
        gm_waitq_unlink(q, sg);
        if (!sg->is_select)
            return sg;
        gm_g *g = gm_sudog_g(sg);
        uint32_t expect = 0;
        if (atomic_compare_exchange_strong_explicit(&g->select_done, &expect, 1,
                                                    memory_order_acq_rel, memory_order_relaxed)) {
            g->select_winner = sg;
            return sg;
        }
    }
}

GM_INLINE void gm_elem_copy(void *dst, const void *src, size_t n) {
    if (!dst)
        return;
    if (src)
        memcpy(dst, src, n);
    else
        memset(dst, 0, n);
}

/* Where a parking goroutine's partner should copy its element: the user's
 * memory, unless that lies on a copy goroutine's shared stack (it moves
 * while parked); then the bounce word (elements up to 8 bytes) or a heap
 * block the caller allocated beforehand (*heap, else NULL). */
GM_INLINE bool gm_elem_needs_bounce(gm_task_sched *s, gm_g *g, const void *elem, size_t n) {
    return elem && g->kind == GM_G_COPY && gm_copystack_on_shared(s, elem, n);
}

/* Channel operations with the lock held, shared with select. */
bool gm_chan_send_locked(gm_chan *c, const void *elem, gm_g **wake);
bool gm_chan_recv_locked(gm_chan *c, void *elem, bool *ok, gm_g **wake);

#endif /* GM_TASK_CHAN_H */
