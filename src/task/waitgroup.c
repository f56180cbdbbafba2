/*
 * waitgroup.c - Go's sync.WaitGroup, usable across threads.
 *
 * The counter is an atomic; add and done take no lock unless the counter
 * reaches zero while someone waits.  A waiter announces itself (nwaiters)
 * before it rechecks the counter under the lock, and add reads nwaiters
 * after it changes the counter; with both sequentially consistent, either
 * the waiter sees zero or add sees the waiter (Dekker), so no wake-up is
 * lost.  Waiters are the goroutines' own sudogs, queued under the lock.
 */
#include "task/chan.h"

struct gm_waitgroup {
    _Atomic int64_t count;
    _Atomic int64_t nwaiters;
    gm_mutex lock;
    gm_waitq waiters;
};

GM_API gm_waitgroup *gm_waitgroup_make(void) {
    return gm_alloc(sizeof(gm_waitgroup));
}

GM_API void gm_waitgroup_add(gm_waitgroup *wg, int64_t delta) {
    int64_t v = atomic_fetch_add_explicit(&wg->count, delta, memory_order_seq_cst) + delta;
    if (GM_UNLIKELY(v < 0))
        gm_fatal("negative wait group counter (%lld) in wait group %p", (long long)v, (void *)wg);
    if (v != 0 || atomic_load_explicit(&wg->nwaiters, memory_order_seq_cst) == 0)
        return;
    gm_mutex_lock(&wg->lock);
    gm_sudog *list = wg->waiters.first;
    wg->waiters.first = wg->waiters.last = NULL;
    atomic_store_explicit(&wg->nwaiters, 0, memory_order_relaxed);
    gm_mutex_unlock(&wg->lock);
    while (list) {
        gm_sudog *next = list->next;
        gm_sched_ready(gm_sudog_g(list));
        list = next;
    }
}

GM_API void gm_waitgroup_done(gm_waitgroup *wg) {
    gm_waitgroup_add(wg, -1);
}

GM_API void gm_waitgroup_wait(gm_waitgroup *wg) {
    if (atomic_load_explicit(&wg->count, memory_order_seq_cst) == 0)
        return;
    gm_task_sched *s = gm_sched_current();
    gm_g *g = s->cur;
    gm_mutex_lock(&wg->lock);
    atomic_fetch_add_explicit(&wg->nwaiters, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&wg->count, memory_order_seq_cst) == 0) {
        atomic_fetch_sub_explicit(&wg->nwaiters, 1, memory_order_relaxed);
        gm_mutex_unlock(&wg->lock);
        return;
    }
    gm_sudog *sg = &g->wait;
    sg->is_select = 0;
    sg->elem = NULL;
    gm_waitq_push(&wg->waiters, sg);
    g->status = GM_G_WAITING;
    gm_mutex_unlock(&wg->lock);
    gm_sched_park(s);
}
