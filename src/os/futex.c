/*
 * futex.c - the locks and wake-ups the runtime itself uses.
 *
 * gm_mutex is a three-state futex lock (0 free, 1 locked, 2 locked with
 * waiters): the uncontended path is one compare-and-swap (inline in gm.h),
 * the contended path spins a little, then sleeps in the kernel.  It never
 * allocates, so the allocator and the collector can use it.  gm_note is a
 * sequence counter threads can sleep on until it changes.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gm.h"

void gm_futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns) {
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp = &ts;
    }
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
}

void gm_futex_wake(_Atomic uint32_t *addr, int n) {
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

bool gm_spin_while_equal(_Atomic uint32_t *addr, uint32_t val, uint64_t max_ns) {
    uint64_t deadline = gm_nanotime() + max_ns;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (atomic_load_explicit(addr, memory_order_acquire) != val)
                return true;
            cpu_relax();
        }
        if (gm_nanotime() >= deadline)
            return false;
    }
}

/* Spins briefly for a lock word to go from 0 to 1; true if it did. */
static bool spin_acquire(_Atomic uint32_t *state) {
    for (int spin = 0; spin < 100; spin++) {
        uint32_t expected = 0;
        if (atomic_load_explicit(state, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(state, &expected, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
        cpu_relax();
    }
    return false;
}

void gm_mutex_lock_slow(gm_mutex *m) {
    if (spin_acquire(&m->state))
        return;
    while (atomic_exchange_explicit(&m->state, 2, memory_order_acquire) != 0)
        gm_futex_wait(&m->state, 2, -1);
}

void gm_mutex_unlock_slow(gm_mutex *m) {
    gm_futex_wake(&m->state, 1);
}

void gm_lightlock_lock_slow(gm_lightlock *l) {
    if (spin_acquire(&l->state))
        return;
    atomic_fetch_add(&l->waiters, 1);
    /* Either an unlocker sees waiters > 0 and wakes us, or we see its 0. */
    gm_os_cold_fence();
    for (;;) {
        uint32_t expected = 0;
        if (atomic_compare_exchange_strong_explicit(&l->state, &expected, 1, memory_order_acquire,
                                                    memory_order_relaxed))
            break;
        gm_futex_wait(&l->state, 1, -1);
    }
    atomic_fetch_sub(&l->waiters, 1);
}

void gm_lightlock_wake(gm_lightlock *l) {
    gm_futex_wake(&l->state, 1);
}

bool gm_mutex_trylock(gm_mutex *m) {
    uint32_t expected = 0;
    return atomic_compare_exchange_strong_explicit(&m->state, &expected, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

void gm_note_wait(gm_note *n, uint32_t seen, int64_t timeout_ns) {
    if (timeout_ns < 0) {
        while (gm_note_seq(n) == seen)
            gm_futex_wait(&n->seq, seen, -1);
        return;
    }
    uint64_t deadline = gm_nanotime() + (uint64_t)timeout_ns;
    while (gm_note_seq(n) == seen) {
        uint64_t now = gm_nanotime();
        if (now >= deadline)
            return;
        gm_futex_wait(&n->seq, seen, (int64_t)(deadline - now));
    }
}

void gm_note_notify_all(gm_note *n) {
    atomic_fetch_add_explicit(&n->seq, 1, memory_order_release);
    gm_futex_wake(&n->seq, 0x7fffffff);
}
