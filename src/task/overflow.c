/*
 * overflow.c - reporting a goroutine stack overflow.
 *
 * Running off the low end of a growable stack (or of a thread's shared copy
 * stack) faults in its guard.  The SIGSEGV handler runs on an alternate
 * signal stack (sigaltstack, one per thread that runs goroutines), since the
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
#include <string.h>
#include <unistd.h>

#include "task/task.h"

#define GM_ALTSTACK_SIZE ((size_t)64 << 10)

static struct sigaction prev_segv;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void chain(int sig, siginfo_t *si, void *uc) {
    if (prev_segv.sa_flags & SA_SIGINFO) {
        prev_segv.sa_sigaction(sig, si, uc);
    } else if (prev_segv.sa_handler == SIG_DFL || prev_segv.sa_handler == SIG_IGN) {
        /* Return with the default action in place: the fault repeats and
         * kills the process as it would have without us. */
        signal(sig, SIG_DFL);
    } else {
        prev_segv.sa_handler(sig);
    }
}

static void on_segv(int sig, siginfo_t *si, void *uc) {
    gm_task_sched *s = gm_tls_sched;
    if (s) {
        gm_g *g = s->cur;
        char *lo = g->stack_lo, *hi = g->stack_hi;
        size_t limit = (size_t)(hi - lo);
        if (g->kind == GM_G_COPY) {
            lo = s->shared_lo;
            hi = s->shared_hi;
            limit = s->shared_max;
        }
        char *addr = si->si_addr;
        if (g->kind != GM_G_MAIN && lo && addr >= lo - GM_STACK_GUARD && addr < lo) {
            char buf[256];
            int n = gm_snprintf(buf, sizeof buf, "gomem: goroutine %lld stack exceeds %zu-byte limit\n",
                                (long long)g->id, limit);
            gm_write_stderr(buf, (size_t)n);
            n = gm_snprintf(buf, sizeof buf, "gomem: stack [%p, %p), guard [%p, %p), fault at %p\n",
                            (void *)lo, (void *)hi, (void *)(lo - GM_STACK_GUARD), (void *)lo,
                            (void *)addr);
            gm_write_stderr(buf, (size_t)n);
            signal(SIGABRT, SIG_DFL);
            abort();
        }
    }
    chain(sig, si, uc);
}

static void install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &prev_segv);
}

void gm_overflow_init_thread(gm_task_sched *s) {
    pthread_once(&install_once, install);
    stack_t old;
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        return; /* the thread has one already */
    size_t size = GM_ALTSTACK_SIZE;
    long min = sysconf(_SC_SIGSTKSZ);
    if (min > 0 && (size_t)min * 4 > size)
        size = (size_t)min * 4;
    void *p = gm_os_alloc(size);
    if (!p)
        return;
    stack_t ss = {.ss_sp = p, .ss_size = size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        gm_os_free(p, size);
        return;
    }
    s->altstack = p;
    s->altstack_size = size;
}

void gm_overflow_fini_thread(gm_task_sched *s) {
    if (!s->altstack)
        return;
    stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    gm_os_free(s->altstack, s->altstack_size);
    s->altstack = NULL;
}
