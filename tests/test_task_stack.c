/*
 * Growable stacks and memory: a parked goroutine starts with at most 8 KiB
 * resident (as mincore counts it, through memstats stack_inuse); a
 * goroutine that recursed through 1 MiB of frames and returned holds that
 * memory until a collection, which releases it (shrinking below the parked
 * sp); so does a goroutine that recursed as deep and exited, whose stack
 * waits in the pool (a collection returns all but its top page to the OS);
 * stacks are pooled (spawn after exit maps nothing new); stack_max
 * per goroutine is honoured; and stack_sys reports the reservations.
 */
#include "gm_test.h"

static gm_chan *hold;

static void parker(void *arg) {
    (void)arg;
    gm_chan_recv(hold, NULL);
}

static uint64_t stack_inuse(void) {
    gm_memstats m;
    gm_read_memstats(&m);
    return m.stack_inuse;
}

static uint64_t stack_sys(void) {
    gm_memstats m;
    gm_read_memstats(&m);
    return m.stack_sys;
}

static void release_all(int n) {
    for (int i = 0; i < n; i++)
        gm_chan_send(hold, NULL);
}

static void test_small_at_start(void) {
    enum { N = 200 };
    uint64_t before = stack_inuse(), sys_before = stack_sys();
    for (int i = 0; i < N; i++)
        CHECK(gm_go(parker, NULL) > 0, "gm_go: %s", strerror(errno));
    gm_yield();
    uint64_t after = stack_inuse(), sys_after = stack_sys();
    double per = (double)(after - before) / N;
    printf("resident per parked growable goroutine: %.0f bytes\n", per);
    CHECK(per > 0 && per <= 8192, "resident per parked goroutine %.0f bytes (limit 8 KiB)", per);
    CHECK(sys_after - sys_before >= (uint64_t)N * (8u << 20), "stack_sys grew by %llu",
          (unsigned long long)(sys_after - sys_before));
    release_all(N);
    gm_yield();
}

static __attribute__((noinline)) int recurse(int n) {
    volatile char frame[1024];
    frame[0] = (char)n;
    frame[1023] = (char)n;
    if (n == 0)
        return 0;
    int r = recurse(n - 1);
    return r + (frame[0] != (char)n) + (frame[1023] != (char)n);
}

static void deep_then_park(void *arg) {
    (void)arg;
    recurse(1024); /* about 1 MiB of frames */
    gm_chan_recv(hold, NULL);
}

static void test_shrink_after_gc(void) {
    uint64_t base = stack_inuse();
    gm_go(deep_then_park, NULL);
    gm_yield();
    uint64_t deep = stack_inuse();
    printf("after 1 MiB recursion: +%llu bytes resident\n", (unsigned long long)(deep - base));
    CHECK(deep - base >= (1u << 20), "recursion should leave ~1 MiB resident, got %llu",
          (unsigned long long)(deep - base));
    gm_gc();
    uint64_t shrunk = stack_inuse();
    printf("after gm_gc: +%llu bytes resident\n", (unsigned long long)(shrunk - base));
    CHECK(shrunk - base <= 16384, "collection should release the unused stack, still +%llu",
          (unsigned long long)(shrunk - base));
    release_all(1);
    gm_yield();
}

static void deep_then_exit(void *arg) {
    *(int *)arg = recurse(1024);
}

static void test_pooled_released(void) {
    uint64_t base = stack_inuse();
    int r = -1;
    gm_go(deep_then_exit, &r);
    gm_yield();
    CHECK(r == 0, "deep goroutine did not run");
    uint64_t pooled = stack_inuse();
    printf("exited after 1 MiB recursion: +%llu bytes resident in the pool\n",
           (unsigned long long)(pooled - base));
    CHECK(pooled - base >= (1u << 20), "the pooled stack should still hold ~1 MiB, got %llu",
          (unsigned long long)(pooled - base));
    gm_gc();
    uint64_t after = stack_inuse();
    printf("after gm_gc: +%llu bytes resident\n", (unsigned long long)(after - base));
    CHECK(after - base <= 16384, "a collection should return the pooled stack to the OS, still +%llu",
          (unsigned long long)(after - base));
}

static void nop(void *arg) {
    (void)arg;
}

static void test_pool(void) {
    gm_go(nop, NULL);
    gm_yield();
    uint64_t sys = stack_sys();
    for (int i = 0; i < 1000; i++) {
        gm_go(nop, NULL);
        gm_yield();
    }
    CHECK(stack_sys() == sys, "spawn after exit mapped new stacks (%llu -> %llu)",
          (unsigned long long)sys, (unsigned long long)stack_sys());
}

static void small_stack(void *arg) {
    *(int *)arg = recurse(20); /* 20 KiB fits in 64 KiB */
}

static void test_stack_max(void) {
    gm_go_options o = {GM_STACK_GROWABLE, 64 << 10};
    int r = -1;
    uint64_t sys = stack_sys();
    CHECK(gm_go_with(small_stack, &r, &o) > 0, "gm_go_with 64 KiB: %s", strerror(errno));
    CHECK(stack_sys() - sys < (1u << 20), "a 64 KiB stack reserved %llu bytes",
          (unsigned long long)(stack_sys() - sys));
    gm_yield();
    CHECK(r == 0, "small-stack goroutine did not run");
    gm_go_options huge = {GM_STACK_GROWABLE, (size_t)2 << 30};
    errno = 0;
    CHECK(gm_go_with(nop, NULL, &huge) == -1 && errno == EINVAL, "2 GiB stack_max accepted");
    gm_go_options big = {GM_STACK_GROWABLE, (size_t)1 << 30};
    CHECK(gm_go_with(nop, NULL, &big) > 0, "1 GiB stack_max refused: %s", strerror(errno));
    gm_yield();
}

int main(void) {
    hold = gm_chan_make(0, 0);
    test_small_at_start();
    test_shrink_after_gc();
    test_pooled_released();
    test_pool();
    test_stack_max();
    printf("test_task_stack: ok\n");
    return 0;
}
