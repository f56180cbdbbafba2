/*
 * signal.c - SIGSEGV for the upper layers, and alternate signal stacks.
 *
 * A stack overflow faults with no stack left to run a handler on, so the
 * handler runs on an alternate signal stack (sigaltstack), one per thread
 * that needs it.  gm_os_on_segv's handler asks the upper layer's function
 * whether the fault is its own (the function does not return then); any
 * other fault goes to the handler that was installed before ours, or to
 * the default action, so other users of SIGSEGV keep working.
 * (The collector's stop signal is set up in stw.c.)
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "gm.h"

static struct sigaction prev_segv;
static void (*segv_fn)(void *addr);
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
    segv_fn(si->si_addr);
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

void gm_os_on_segv(void (*fn)(void *addr)) {
    if (!segv_fn)
        segv_fn = fn;
    pthread_once(&install_once, install);
}

void *gm_os_altstack_add(size_t size, size_t *mapped) {
    stack_t old;
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        return NULL; /* the thread has one already */
    long min = sysconf(_SC_SIGSTKSZ);
    if (min > 0 && (size_t)min * 4 > size)
        size = (size_t)min * 4;
    void *p = gm_os_alloc(size);
    if (!p)
        return NULL;
    stack_t ss = {.ss_sp = p, .ss_size = size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        gm_os_free(p, size);
        return NULL;
    }
    *mapped = size;
    return p;
}

void gm_os_altstack_remove(void *stack, size_t mapped) {
    stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    gm_os_free(stack, mapped);
}
