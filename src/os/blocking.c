/*
 * blocking.c - leaving a blocking region for a while (gm_unblocked).
 *
 * A thread inside gm_blocking (stw.c) has blocking == 1, or 2 while a stop
 * holds it; the collector scans its stack from blocking_sp and does not
 * signal it.  gm_unblocked leaves the region as gm_blocking's own exit
 * does (1 -> 0, waiting out a stop that holds it), runs the function as an
 * ordinary thread, then re-enters with the region's original blocking_sp:
 * the frames below it belong to calls that have returned.  A stop that
 * holds the thread is waited out by polling the world epoch (even again
 * when the world restarts), with short sleeps: it happens only when a
 * stop coincides with the exit, and the stop is short.
 */
#include <time.h>

#include "os/blocking.h"

bool gm_in_blocking(void) {
    gm_thread *t = gm_tls_thread;
    return t && atomic_load_explicit(&t->blocking, memory_order_acquire) != 0;
}

void *gm_unblocked(void *(*fn)(void *), void *arg) {
    gm_thread *t = gm_tls_thread;
    if (!t || atomic_load_explicit(&t->blocking, memory_order_acquire) == 0)
        return fn(arg);
    void *outer_sp = t->blocking_sp;
    for (;;) {
        int one = 1;
        if (atomic_compare_exchange_strong(&t->blocking, &one, 0))
            break;
        struct timespec ts = {0, 20000};
        if (gm_world_epoch() & 1)
            nanosleep(&ts, NULL);
    }
    void *result = fn(arg);
    t->blocking_sp = outer_sp;
    atomic_store_explicit(&t->blocking, 1, memory_order_release);
    return result;
}
