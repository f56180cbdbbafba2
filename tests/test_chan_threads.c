/*
 * Channels, select and wait groups across threads: a goroutine blocked on a
 * channel wakes when another thread sends; ping-pong between goroutines of
 * two threads; many producers and consumers on several threads, every value
 * delivered exactly once; a thread whose goroutines are all blocked sleeps
 * and is woken; a select woken from another thread; a wait group waited on
 * by goroutines of several threads; and a thread that returns while its
 * goroutines still run lets them finish.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "gm_test.h"

enum { THREADS = 4, PER = 2000 };

static gm_chan *work, *results;

static void producer(void *arg) {
    long base = (long)(intptr_t)arg;
    for (long i = 0; i < PER; i++) {
        long v = base * PER + i;
        gm_chan_send(work, &v);
    }
}

static void consumer(void *arg) {
    (void)arg;
    long v;
    while (gm_chan_recv(work, &v)) {
        long r = v + 1;
        gm_chan_send(results, &r);
    }
}

static void *thread_main(void *arg) {
    long t = (long)(intptr_t)arg;
    gm_waitgroup *wg = gm_waitgroup_make();
    (void)wg;
    /* Two producers and two consumers per thread, all on this thread's
     * scheduler; they talk to the other threads' goroutines. */
    gm_go(producer, (void *)(intptr_t)(2 * t));
    gm_go(producer, (void *)(intptr_t)(2 * t + 1));
    gm_go(consumer, NULL);
    gm_go(consumer, NULL);
    return NULL; /* the thread's exit runs them to completion */
}

static void test_many_to_many(void) {
    work = gm_chan_make(sizeof(long), 0);
    results = gm_chan_make(sizeof(long), 16);
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        CHECK(gm_thread_create(&th[t], NULL, thread_main, (void *)(intptr_t)t) == 0, "thread");
    long total = (long)THREADS * 2 * PER;
    static unsigned char seen[THREADS * 2 * PER];
    memset(seen, 0, sizeof seen);
    for (long i = 0; i < total; i++) {
        long r;
        CHECK(gm_chan_recv(results, &r), "results closed early");
        CHECK(r >= 1 && r <= total && !seen[r - 1], "value %ld duplicated or out of range", r);
        seen[r - 1] = 1;
    }
    gm_chan_close(work); /* consumers return; threads exit */
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
}

/* Ping-pong between a goroutine of this thread and one of another. */
static gm_chan *ping, *pong;
enum { ROUNDS = 20000 };

static void *ponger(void *arg) {
    (void)arg;
    long v;
    while (gm_chan_recv(ping, &v)) {
        v++;
        gm_chan_send(pong, &v);
    }
    return NULL;
}

static void test_ping_pong(void) {
    ping = gm_chan_make(sizeof(long), 0);
    pong = gm_chan_make(sizeof(long), 0);
    pthread_t th;
    CHECK(gm_thread_create(&th, NULL, ponger, NULL) == 0, "thread");
    long v = 0;
    for (int i = 0; i < ROUNDS; i++) {
        gm_chan_send(ping, &v);
        CHECK(gm_chan_recv(pong, &v), "pong closed");
    }
    CHECK(v == ROUNDS, "v = %ld", v);
    gm_chan_close(ping);
    pthread_join(th, NULL);
}

/* A select on this thread completed by another thread. */
static gm_chan *sel_a, *sel_b;
static void *select_partner(void *arg) {
    (void)arg;
    for (long i = 0; i < 1000; i++)
        gm_chan_send(i % 3 ? sel_a : sel_b, &i);
    return NULL;
}

static void test_cross_thread_select(void) {
    sel_a = gm_chan_make(sizeof(long), 0);
    sel_b = gm_chan_make(sizeof(long), 0);
    pthread_t th;
    CHECK(gm_thread_create(&th, NULL, select_partner, NULL) == 0, "thread");
    for (long i = 0; i < 1000; i++) {
        long va = -1, vb = -1;
        gm_select_case cs[2] = {{sel_a, GM_SELECT_RECV, &va, false},
                                {sel_b, GM_SELECT_RECV, &vb, false}};
        int k = gm_select(cs, 2, false);
        CHECK(k == (i % 3 ? 0 : 1), "value %ld arrived on case %d", i, k);
        CHECK((k ? vb : va) == i, "got %ld want %ld", k ? vb : va, i);
    }
    pthread_join(th, NULL);
}

/* Wait groups across threads; each waiter is a goroutine. */
static gm_waitgroup *wg_all;
static _Atomic int wg_passed;

static void wg_waiter(void *arg) {
    (void)arg;
    gm_waitgroup_wait(wg_all);
    atomic_fetch_add(&wg_passed, 1);
}

static void *wg_thread(void *arg) {
    (void)arg;
    for (int i = 0; i < 10; i++)
        gm_go(wg_waiter, NULL);
    gm_yield(); /* all ten park on the wait group */
    gm_waitgroup_done(wg_all);
    return NULL; /* exit waits for the ten */
}

static void test_waitgroup_threads(void) {
    wg_all = gm_waitgroup_make();
    gm_waitgroup_add(wg_all, THREADS);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        CHECK(gm_thread_create(&th[t], NULL, wg_thread, NULL) == 0, "thread");
    gm_waitgroup_wait(wg_all);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    CHECK(atomic_load(&wg_passed) == THREADS * 10, "%d waiters passed",
          atomic_load(&wg_passed));
}

int main(void) {
    fprintf(stderr, "many_to_many\n");
    test_many_to_many();
    fprintf(stderr, "ping_pong\n");
    test_ping_pong();
    fprintf(stderr, "cross_thread_select\n");
    test_cross_thread_select();
    fprintf(stderr, "waitgroup_threads\n");
    test_waitgroup_threads();
    printf("test_chan_threads: ok\n");
    return 0;
}
