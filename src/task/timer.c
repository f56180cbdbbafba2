/*
 * timer.c - sleeping goroutines: a per-thread min-heap on wake-up time.
 *
 * gm_sleep puts the current goroutine in its scheduler's heap (keyed on
 * g.u.when, the position kept in g.timer_index) and parks it.  The
 * scheduler runs due timers whenever it looks for work and, when idle,
 * sleeps the thread no longer than the earliest one.  The heap is the owner
 * thread's alone.
 */
#include <stdlib.h>

#include "task/task.h"

static void heap_set(gm_task_sched *s, uint32_t i, gm_g *g) {
    s->timers[i] = g;
    g->timer_index = i;
}

static void sift_up(gm_task_sched *s, uint32_t i) {
    gm_g *g = s->timers[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (s->timers[p]->u.when <= g->u.when)
            break;
        heap_set(s, i, s->timers[p]);
        i = p;
    }
    heap_set(s, i, g);
}

static void sift_down(gm_task_sched *s, uint32_t i) {
    gm_g *g = s->timers[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= s->ntimers)
            break;
        if (c + 1 < s->ntimers && s->timers[c + 1]->u.when < s->timers[c]->u.when)
            c++;
        if (g->u.when <= s->timers[c]->u.when)
            break;
        heap_set(s, i, s->timers[c]);
        i = c;
    }
    heap_set(s, i, g);
}

void gm_timer_add(gm_task_sched *s, gm_g *g) {
    if (s->ntimers == s->timers_cap) {
        uint32_t cap = s->timers_cap ? s->timers_cap * 2 : 16;
        gm_g **t = realloc(s->timers, cap * sizeof *t);
        if (!t)
            gm_fatal("out of memory for %u timers", cap);
        s->timers = t;
        s->timers_cap = cap;
    }
    uint32_t i = s->ntimers++;
    heap_set(s, i, g);
    sift_up(s, i);
}

bool gm_timer_run(gm_task_sched *s, uint64_t now) {
    bool any = false;
    while (s->ntimers && s->timers[0]->u.when <= now) {
        gm_g *g = s->timers[0];
        g->timer_index = ~0u;
        if (--s->ntimers) {
            s->timers[0] = s->timers[s->ntimers];
            sift_down(s, 0);
        }
        gm_sched_ready(g);
        any = true;
    }
    return any;
}

int64_t gm_timer_next(gm_task_sched *s, uint64_t now) {
    if (!s->ntimers)
        return -1;
    uint64_t when = s->timers[0]->u.when;
    return when <= now ? 0 : (int64_t)(when - now);
}

GM_API void gm_sleep(int64_t ns) {
    if (ns <= 0) {
        gm_yield();
        return;
    }
    gm_task_sched *s = gm_sched_current();
    gm_g *g = s->cur;
    g->u.when = gm_nanotime() + (uint64_t)ns;
    gm_timer_add(s, g);
    g->status = GM_G_WAITING;
    gm_sched_park(s);
}
