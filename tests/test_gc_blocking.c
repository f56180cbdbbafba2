/*
 * test_gc_blocking.c - a thread inside gm_blocking does not hold up
 * collections, keeps what its stack references, and resumes.
 *
 * Part 1: a registered thread allocates an object, keeps the only pointer
 * to it in its stack frame and enters gm_blocking around a read() on an
 * empty pipe.  While it is blocked the main thread runs ten gm_gc() calls
 * and allocates 64 MiB of garbage (collections start on their own too):
 * all of them complete (a watchdog alarm turns a hang into a failure).
 * Then the main thread writes to the pipe; the blocked thread returns
 * from gm_blocking with fn's result, finds its object intact, allocates
 * and collects.
 *
 * Part 2: ping-pong: the thread does 2000 (300 quick) gm_blocking reads of
 * one byte, allocating and checking an object after each; the main thread
 * writes a byte and forces a collection each time, so the thread often
 * leaves its blocking region while the world is stopped (it must wait for
 * the restart, not run on).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "gm_test.h"

#define NOINLINE __attribute__((noinline))

static bool quick;
static int pipefd[2];
static _Atomic int in_region;
static _Atomic int region_calls;

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] =
        "test_gc_blocking: timed out: a collection did not complete while a thread was inside gm_blocking, "
        "or the thread did not resume\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(2);
}

static void *blocking_read(void *arg) {
    (void)arg;
    atomic_store(&in_region, 1);
    atomic_fetch_add(&region_calls, 1);
    char c;
    ssize_t r;
    do {
        r = read(pipefd[0], &c, 1);
    } while (r < 0 && errno == EINTR);
    atomic_store(&in_region, 0);
    return r == 1 ? (void *)(uintptr_t)(unsigned char)c : NULL;
}

NOINLINE static void *make_obj(size_t n, uint64_t tag) {
    void *p = gm_alloc(n);
    CHECK(p, "gm_alloc(%zu) failed", n);
    gm_test_fill(p, n, tag);
    return p;
}

static void *part1_thread(void *arg) {
    (void)arg;
    void *volatile mine = make_obj(5000, 42);
    void *volatile big = make_obj(200000, 43);
    void *res = gm_blocking(blocking_read, NULL);
    CHECK(res == (void *)(uintptr_t)'x', "gm_blocking returned %p, fn returned 'x'", res);
    CHECK(gm_base(mine) == mine && gm_base(big) == big, "objects held on the blocked thread's stack were freed");
    size_t off = gm_test_verify(mine, 5000, 42);
    CHECK(off == (size_t)-1, "object held by the blocked thread changed at %zu", off);
    off = gm_test_verify(big, 200000, 43);
    CHECK(off == (size_t)-1, "large object held by the blocked thread changed at %zu", off);
    for (int i = 0; i < 10000; i++) {
        char *p = gm_alloc(100);
        CHECK(p, "gm_alloc after gm_blocking failed");
        p[99] = 1;
    }
    gm_gc();
    off = gm_test_verify(mine, 5000, 42);
    CHECK(off == (size_t)-1, "object changed at %zu after the thread resumed", off);
    return NULL;
}

NOINLINE static void churn(size_t bytes) {
    for (size_t done = 0; done < bytes; done += 4096) {
        char *p = gm_alloc(4096);
        CHECK(p, "gm_alloc failed");
        p[0] = 1;
    }
}

static void part1(void) {
    pthread_t th;
    CHECK(gm_thread_create(&th, NULL, part1_thread, NULL) == 0, "gm_thread_create failed");
    while (!atomic_load(&in_region))
        sched_yield();
    gm_memstats m0, m1;
    gm_read_memstats(&m0);
    for (int i = 0; i < 10; i++)
        gm_gc();
    churn(64u << 20);
    gm_gc();
    gm_read_memstats(&m1);
    CHECK(atomic_load(&in_region) == 1, "the thread left its blocking region before the pipe was written");
    CHECK(m1.num_gc >= m0.num_gc + 11, "num_gc %u -> %u while the thread was blocked", m0.num_gc, m1.num_gc);
    char c = 'x';
    CHECK(write(pipefd[1], &c, 1) == 1, "write to the pipe failed");
    pthread_join(th, NULL);
    printf("  part 1: %u collections completed while a thread was blocked in gm_blocking; it resumed\n",
           m1.num_gc - m0.num_gc);
}

static int pingpong_rounds;

static void *part2_thread(void *arg) {
    (void)arg;
    void *volatile keep = make_obj(300, 7);
    for (int i = 0; i < pingpong_rounds; i++) {
        void *res = gm_blocking(blocking_read, NULL);
        CHECK(res == (void *)(uintptr_t)'p', "round %d: gm_blocking returned %p", i, res);
        void *p = make_obj(64 + (size_t)(i % 16) * 32, (uint64_t)i);
        size_t off = gm_test_verify(p, 64 + (size_t)(i % 16) * 32, (uint64_t)i);
        CHECK(off == (size_t)-1, "round %d: new object changed at %zu", i, off);
        off = gm_test_verify(keep, 300, 7);
        CHECK(off == (size_t)-1, "round %d: kept object changed at %zu", i, off);
    }
    return NULL;
}

static void part2(void) {
    pingpong_rounds = quick ? 300 : 2000;
    atomic_store(&region_calls, 0);
    pthread_t th;
    CHECK(gm_thread_create(&th, NULL, part2_thread, NULL) == 0, "gm_thread_create failed");
    gm_memstats m0, m1;
    gm_read_memstats(&m0);
    for (int i = 0; i < pingpong_rounds; i++) {
        char c = 'p';
        CHECK(write(pipefd[1], &c, 1) == 1, "write to the pipe failed");
        /* Not after the last byte: the thread then exits, and under
         * ThreadSanitizer a thread leaving waits for the thread list's lock
         * in a futex call where the stop signal is held back. */
        if (i + 1 < pingpong_rounds)
            gm_gc();
    }
    pthread_join(th, NULL);
    gm_gc();
    gm_read_memstats(&m1);
    CHECK(atomic_load(&region_calls) == pingpong_rounds, "%d blocking regions for %d rounds",
          atomic_load(&region_calls), pingpong_rounds);
    printf("  part 2: %d blocking reads interleaved with %u collections\n", pingpong_rounds, m1.num_gc - m0.num_gc);
}

int main(void) {
    quick = gm_test_quick();
    signal(SIGALRM, on_alarm);
    alarm(120);
    CHECK(pipe(pipefd) == 0, "pipe failed: %s", strerror(errno));
    part1();
    part2();
    printf("test_gc_blocking: ok\n");
    return 0;
}
