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
 * Who is inside: a registered thread says so in its own record
 * (in_forkgate), so the common case writes only to a line the thread owns
 * (a shared counter bounced between the threads that set finalizers, run
 * them and sweep); threads that are not registered (the collector's) use a
 * shared counter.  Entering is "say inside, fence, check closed"; closing
 * is "set closed, fence, check each"; so either the entering thread sees
 * the gate closed and steps back, or the closer sees it inside and waits
 * for its exit (Dekker's pattern).  The entering side's fence is only a
 * compiler barrier where membarrier(2) lets the closer make every thread
 * fence instead (src/os/barrier.c); leaving does not fence at all, and the
 * closer polls (1 ms) in case it misses the leaver's wake-up.  The closer holds gm_threads_lock, so the
 * thread list does not change under it; no code inside the gate takes that
 * lock.
 *
 * Deadlock freedom: the gate is closed while holding gm_gc_lock, so no
 * collection (which stops the world) can be in progress or start while a
 * thread waits at the gate; and no code holds, while entering the gate, a
 * lock that the forking thread takes before it has drained the gate.
 */
#include "gc/gc.h"

/* Read by every specials lock and heap walk: on lines of their own. */
static struct {
    GM_OWN_LINES _Atomic uint32_t closed; /* 1 while a fork is being prepared */
    _Atomic uint32_t shared_inside;       /* unregistered threads in the gate */
} gate;
static __thread unsigned depth;        /* this thread's nesting */

static __thread _Atomic uint32_t *entered; /* the word this thread set */

static void leave(_Atomic uint32_t *word, bool shared) {
    if (shared)
        atomic_fetch_sub_explicit(word, 1, memory_order_release);
    else
        atomic_store_explicit(word, 0, memory_order_release);
    /* No fence: a closer that misses this wake-up sees the word change at
     * its next timed poll (wait_out). */
    if (atomic_load_explicit(&gate.closed, memory_order_relaxed))
        gm_futex_wake(word, 1);
}

/* Says "inside" on *word and returns true, or steps back and returns false
 * if the gate is closed. */
static bool try_enter(_Atomic uint32_t *word, bool shared) {
    if (shared)
        atomic_fetch_add(word, 1);
    else
        atomic_store_explicit(word, 1, memory_order_relaxed);
    gm_os_hot_fence();
    if (!atomic_load_explicit(&gate.closed, memory_order_acquire))
        return true;
    leave(word, shared);
    return false;
}

void gm_forkgate_enter(void) {
    if (depth++)
        return;
    gm_thread *t = gm_tls_thread;
    _Atomic uint32_t *word = t ? &t->in_forkgate : &gate.shared_inside;
    while (!try_enter(word, !t))
        while (atomic_load(&gate.closed))
            gm_futex_wait(&gate.closed, 1, -1);
    entered = word; /* a thread may register while inside */
}

void gm_forkgate_exit(void) {
    if (--depth)
        return;
    leave(entered, entered == &gate.shared_inside);
}

static void wait_out(_Atomic uint32_t *word) {
    uint32_t n;
    while ((n = atomic_load_explicit(word, memory_order_acquire)) != 0)
        gm_futex_wait(word, n, 1000000); /* 1 ms: leave() does not fence */
}

/* The caller holds gm_threads_lock. */
void gm_forkgate_close(void) {
    atomic_store(&gate.closed, 1);
    gm_os_cold_fence();
    wait_out(&gate.shared_inside);
    for (gm_thread *t = gm_threads; t; t = t->next)
        wait_out(&t->in_forkgate);
}

void gm_forkgate_open(void) {
    atomic_store(&gate.closed, 0);
    gm_futex_wake(&gate.closed, 0x7fffffff);
}
