/*
 * overflow.c - reporting a goroutine stack overflow.
 *
 * Running off the low end of a growable stack (or of a thread's shared copy
 * stack) faults in its guard.  The SIGSEGV handler (src/os/signal.c) runs on
 * an alternate signal stack, one per thread that runs goroutines, since the
 * faulting stack has no room left.  If the fault address lies in the guard
 * of the stack the thread is running on, it prints
 *
 *   gomem: goroutine N stack exceeds LIMIT-byte limit
 *   gomem: stack [lo, hi), guard [lo - guard, lo), fault at ADDR
 *
 * with async-signal-safe writes only, and aborts.  Any other fault goes to
 * the handler that was installed before ours (or the default action), so
 * other users of SIGSEGV keep working.
 */
#include <signal.h>
#include <stdlib.h>

#include "task/task.h"

#define GM_ALTSTACK_SIZE ((size_t)64 << 10)

/* The fault at addr: a guard hit of the running goroutine's stack is
 * reported and aborts; anything else returns (signal.c chains it). */
static void on_fault(void *fault) {
    gm_task_sched *s = gm_tls_sched;
    if (!s)
        return;
    gm_g *g = s->cur;
    char *lo = g->stack_lo, *hi = g->stack_hi;
    size_t limit = (size_t)(hi - lo);
    if (g->kind == GM_G_COPY) {
        lo = s->shared_lo;
        hi = s->shared_hi;
        limit = s->shared_max;
    }
    char *addr = fault;
    if (g->kind == GM_G_MAIN || !lo || addr < lo - GM_STACK_GUARD || addr >= lo)
        return;
    char buf[256];
    int n = gm_snprintf(buf, sizeof buf, "gomem: goroutine %lld stack exceeds %zu-byte limit\n",
                        (long long)g->id, limit);
    gm_write_stderr(buf, (size_t)n);
    n = gm_snprintf(buf, sizeof buf, "gomem: stack [%p, %p), guard [%p, %p), fault at %p\n", (void *)lo,
                    (void *)hi, (void *)(lo - GM_STACK_GUARD), (void *)lo, (void *)addr);
    gm_write_stderr(buf, (size_t)n);
    signal(SIGABRT, SIG_DFL);
    abort();
}

void gm_overflow_init_thread(gm_task_sched *s) {
    gm_os_on_segv(on_fault);
    size_t mapped = 0;
    void *p = gm_os_altstack_add(GM_ALTSTACK_SIZE, &mapped);
    if (!p)
        return; /* the thread has one already, or none could be had */
    s->altstack = p;
    s->altstack_size = mapped;
}

void gm_overflow_fini_thread(gm_task_sched *s) {
    if (!s->altstack)
        return;
    gm_os_altstack_remove(s->altstack, s->altstack_size);
    s->altstack = NULL;
}
