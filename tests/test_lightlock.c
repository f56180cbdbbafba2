/*
 * test_lightlock.c - the channel lock (gm_lightlock, src/os/futex.c): its
 * unlock is a plain store, and a thread that sleeps on it relies on the
 * asymmetric barrier (membarrier, src/os/barrier.c) to be woken.
 *
 * Four threads each add 1 to a pair of plain counters, protected by
 * nothing else, 200 000 times (50 000 quick) under one lock; every 64th
 * time a thread holds the lock across sched_yield, so the others exhaust
 * their spinning and sleep in the kernel.  The test checks that:
 *   - the counters are exact and equal (no two threads were inside at once);
 *   - threads did sleep on the lock (the waiters count was seen above zero),
 *     so the slow path and its wake-up ran;
 *   - the run ends (a lost wake-up would hang it; ctest's timeout catches
 *     that).
 * Not in the ThreadSanitizer run: TSan does not model membarrier(2), on
 * which the wake-up handshake relies.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "gm_test.h"
#include "gm.h"

#define THREADS 4

static gm_lightlock lock;
static volatile uint64_t count_a, count_b;
static _Atomic uint64_t waiters_seen;
static long iterations = 200000;

static void *worker(void *arg) {
    (void)arg;
    for (long i = 0; i < iterations; i++) {
        gm_lightlock_lock(&lock);
        uint64_t a = count_a;
        if (i % 64 == 0)
            sched_yield(); /* hold it long enough for others to sleep */
        count_a = a + 1;
        count_b = count_b + 1;
        if (atomic_load_explicit(&lock.waiters, memory_order_relaxed))
            atomic_fetch_add_explicit(&waiters_seen, 1, memory_order_relaxed);
        gm_lightlock_unlock(&lock);
    }
    return NULL;
}

int main(void) {
    if (gm_test_quick_env())
        iterations = 50000;
    gm_alloc(16); /* initialise the library (barrier registration) */
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, worker, NULL) == 0, "pthread_create failed");
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    uint64_t want = (uint64_t)THREADS * (uint64_t)iterations;
    printf("counts %llu and %llu of %llu; a waiter was seen %llu times; light barriers: %s\n",
           (unsigned long long)count_a, (unsigned long long)count_b, (unsigned long long)want,
           (unsigned long long)atomic_load(&waiters_seen), gm_os_light_barriers ? "membarrier" : "fences");
    CHECK(count_a == want && count_b == want, "lost updates: %llu and %llu of %llu",
          (unsigned long long)count_a, (unsigned long long)count_b, (unsigned long long)want);
    CHECK(atomic_load(&waiters_seen) > 0, "no thread ever slept on the lock: the slow path was not exercised");
    CHECK(atomic_load(&lock.waiters) == 0 && atomic_load(&lock.state) == 0, "lock left in state %u with %u waiters",
          atomic_load(&lock.state), atomic_load(&lock.waiters));
    printf("test_lightlock: ok\n");
    return 0;
}
