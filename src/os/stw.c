/*
 * stw.c - stopping and restarting the world with signals.
 *
 * The collector (holding gm_threads_lock) makes world_epoch odd and sends
 * SIGPWR to every other registered thread.  The handler records the
 * thread's stack pointer (the interrupted registers lie above it, in the
 * signal frame), counts itself stopped and sleeps on world_epoch until the
 * collector makes it even again.  The handler runs on the thread's own
 * stack (not the alternate one) and is installed with SA_RESTART.
 *
 * Safe points: a thread inside a no-stop region (allocator, goroutine
 * switch) only notes the request; it stops itself when it leaves the
 * region, after spilling its registers (spill.c: setjmp would store the
 * frame pointer mangled, hiding a heap pointer a caller keeps there).
 *
 * Blocking regions: a thread inside gm_blocking is not signalled.  The
 * collector moves its blocking flag from 1 to 2 (held) for the stop; a
 * thread leaving the region while held waits for the restart.
 *
 * Signals are never lost: the collector waits for one acknowledgement per
 * thread signalled, and a request that arrives while the handler is still
 * leaving the previous stop stays pending and is delivered after it.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "gm.h"

#define SIG_SUSPEND SIGPWR
#define STOP_SPIN_NS 50000 /* how long the stopper spins for each answer */

static _Atomic uint32_t world_epoch;
static _Atomic uint32_t stop_acks;
static pthread_t stopper;

/* Stops this thread for the stop whose (odd) epoch the caller read: a
 * thread held in a blocking region may take a stop signal late, after the
 * world restarted, and must then not wait for the next stop to end. */
GM_NO_SANITIZE static void stop_self(gm_thread *t, uint32_t epoch) {
    gm_spilled_regs regs;
    char *sp = gm_os_spill_registers(&regs);
    t->stop_pending = 0;
    atomic_store_explicit(&t->stopped_sp, sp, memory_order_release);
    atomic_store_explicit(&t->stopped_epoch, epoch, memory_order_release);
    atomic_fetch_add_explicit(&stop_acks, 1, memory_order_acq_rel);
    gm_futex_wake(&stop_acks, 1);
    while (atomic_load_explicit(&world_epoch, memory_order_acquire) == epoch)
        gm_futex_wait(&world_epoch, epoch, -1);
    atomic_store_explicit(&t->stopped_sp, NULL, memory_order_release);
    __asm__ volatile("" : : "r"(&regs) : "memory"); /* regs stays live until here */
}

static void suspend_handler(int sig, siginfo_t *info, void *uctx) {
    (void)sig, (void)info, (void)uctx;
    int saved_errno = errno;
    gm_thread *t = gm_tls_thread;
    uint32_t epoch = atomic_load_explicit(&world_epoch, memory_order_acquire);
    if (t && (epoch & 1)) {
        if (t->nostop)
            t->stop_pending = 1;
        else
            stop_self(t, epoch);
    }
    errno = saved_errno;
}

void gm_stop_deferred(gm_thread *t) {
    uint32_t epoch = atomic_load_explicit(&world_epoch, memory_order_acquire);
    if (epoch & 1)
        stop_self(t, epoch);
    else
        t->stop_pending = 0;
}

void gm_stw_init(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = suspend_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigdelset(&sa.sa_mask, SIGSEGV);
    sigdelset(&sa.sa_mask, SIGBUS);
    if (sigaction(SIG_SUSPEND, &sa, NULL) != 0)
        gm_fatal("cannot install the stop-the-world handler for signal %d", SIG_SUSPEND);
}

void gm_stop_world(void) {
    gm_thread *self = gm_tls_thread;
    stopper = pthread_self();
    atomic_store_explicit(&stop_acks, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&world_epoch, 1, memory_order_acq_rel); /* odd: stopping */
    uint32_t epoch = atomic_load_explicit(&world_epoch, memory_order_acquire);
    for (gm_thread *t = gm_threads; t; t = t->next) {
        t->stop_signaled = false;
        if (t == self)
            continue;
        int one = 1;
        if (atomic_compare_exchange_strong(&t->blocking, &one, 2))
            continue;
        int err = pthread_kill(t->pthread, SIG_SUSPEND);
        if (err)
            gm_fatal("cannot signal thread %lu (tid %d) to stop: error %d", (unsigned long)t->id,
                     (int)t->tid, err);
        t->stop_signaled = true;
    }
    /* Wait until each signalled thread has answered, or has entered a
     * blocking region since (then it is held like the others: a thread may
     * get the signal only after it is inside, where it sleeps in the
     * kernel, and some runtimes deliver it only later). */
    for (;;) {
        uint32_t n = atomic_load_explicit(&stop_acks, memory_order_acquire);
        int pending = 0;
        for (gm_thread *t = gm_threads; t; t = t->next) {
            if (!t->stop_signaled || atomic_load_explicit(&t->stopped_epoch, memory_order_acquire) == epoch)
                continue;
            int one = 1;
            if (atomic_compare_exchange_strong(&t->blocking, &one, 2)) {
                t->stop_signaled = false;
                continue;
            }
            pending++;
        }
        if (!pending)
            return;
        /* Answers come within microseconds from threads that run: spin for
         * them first (Go's stop spins too), sleep only for the late. */
        if (!gm_spin_while_equal(&stop_acks, n, STOP_SPIN_NS))
            gm_futex_wait(&stop_acks, n, 1000000);
    }
}

uint32_t gm_world_epoch(void) {
    return atomic_load_explicit(&world_epoch, memory_order_acquire);
}

void gm_start_world(void) {
    for (gm_thread *t = gm_threads; t; t = t->next) {
        int two = 2;
        atomic_compare_exchange_strong(&t->blocking, &two, 1);
    }
    atomic_fetch_add_explicit(&world_epoch, 1, memory_order_acq_rel); /* even: running */
    gm_futex_wake(&world_epoch, 0x7fffffff);
}

GM_API void *gm_blocking(void *(*fn)(void *), void *arg) {
    gm_thread *t = gm_thread_current();
    gm_spilled_regs regs;
    t->blocking_sp = gm_os_spill_registers(&regs);
    atomic_store_explicit(&t->blocking, 1, memory_order_release);
    void *result = fn(arg);
    for (;;) {
        int one = 1;
        if (atomic_compare_exchange_strong(&t->blocking, &one, 0))
            break;
        /* Held by a stop in progress: wait for the restart. */
        uint32_t e = atomic_load_explicit(&world_epoch, memory_order_acquire);
        if (e & 1)
            gm_futex_wait(&world_epoch, e, -1);
    }
    __asm__ volatile("" : : "r"(&regs) : "memory"); /* regs stays live until here */
    return result;
}
