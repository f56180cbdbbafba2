/*
 * forkgate.c - keeping fork from catching a sweep or a special in mid-air.
 *
 * fork copies only the calling thread, so the child must not inherit work
 * another thread had half done.  Most of the heap's state is guarded by
 * the locks cycle.c takes before fork; two kinds of work are not:
 *
 *   - sweeping a span: the sweeper takes the span off its mcentral list and
 *     sweeps it without the list's lock (the span's sweepgen says it is
 *     being swept); forked in between, the child would hold a span that is
 *     on no list and never finishes sweeping;
 *   - a span's specials list, guarded by a lock in the span itself (there
 *     are as many such locks as spans with specials).
 *
 * Such work runs inside the gate (gm_forkgate_enter/exit).  Before fork the
 * forking thread closes the gate and waits until no thread is inside it;
 * threads that arrive meanwhile wait for it to open, which it does again in
 * the parent and in the child after fork.  Entries nest: a thread already
 * inside (a sweep that visits the span's specials) never waits.
 *
 * Deadlock freedom: the gate is closed while holding gm_gc_lock, so no
 * collection (which stops the world) can be in progress or start while a
 * thread waits at the gate; and no code holds, while entering the gate, a
 * lock that the forking thread takes before it has drained the gate.
 */
#include "gc/gc.h"

static _Atomic uint32_t inside;  /* threads in the gate */
static _Atomic uint32_t closed;  /* 1 while a fork is being prepared */
static __thread unsigned depth; /* this thread's nesting */

void gm_forkgate_enter(void) {
    if (depth++)
        return;
    for (;;) {
        atomic_fetch_add(&inside, 1);
        if (!atomic_load(&closed))
            return;
        /* Closed: step back out and wait for it to open. */
        if (atomic_fetch_sub(&inside, 1) == 1)
            gm_futex_wake(&inside, 1);
        while (atomic_load(&closed))
            gm_futex_wait(&closed, 1, -1);
    }
}

void gm_forkgate_exit(void) {
    if (--depth)
        return;
    if (atomic_fetch_sub(&inside, 1) == 1 && atomic_load(&closed))
        gm_futex_wake(&inside, 1);
}

void gm_forkgate_close(void) {
    atomic_store(&closed, 1);
    uint32_t n;
    while ((n = atomic_load(&inside)) != 0)
        gm_futex_wait(&inside, n, -1);
}

void gm_forkgate_open(void) {
    atomic_store(&closed, 0);
    gm_futex_wake(&closed, 0x7fffffff);
}
