/*
 * Goroutines on one thread: gm_go, run order, gm_yield, gm_goid, wait
 * groups, gm_sleep, many goroutines, deep growable stacks, and the
 * per-goroutine floating-point control state the switch preserves.
 */
#include <fenv.h>
#include <math.h>

#include "gm_test.h"

static int order[16];
static int norder;

static void record(void *arg) {
    order[norder++] = (int)(intptr_t)arg;
}

static void test_run_order(void) {
    norder = 0;
    for (int i = 0; i < 5; i++)
        CHECK(gm_go(record, (void *)(intptr_t)i) > 0, "gm_go failed: %s", strerror(errno));
    CHECK(norder == 0, "goroutines ran before main blocked (%d)", norder);
    gm_yield();
    CHECK(norder == 5, "after one yield %d of 5 ran", norder);
    for (int i = 0; i < 5; i++)
        CHECK(order[i] == i, "order[%d] = %d: run queue is not FIFO", i, order[i]);
}

static int turns[64];
static int nturns;

static void yielder(void *arg) {
    for (int i = 0; i < 3; i++) {
        turns[nturns++] = (int)(intptr_t)arg;
        gm_yield();
    }
}

static void test_yield_interleaves(void) {
    nturns = 0;
    gm_go(yielder, (void *)1);
    gm_go(yielder, (void *)2);
    while (nturns < 6)
        gm_yield();
    int want[] = {1, 2, 1, 2, 1, 2};
    for (int i = 0; i < 6; i++)
        CHECK(turns[i] == want[i], "turn %d was goroutine %d, want %d", i, turns[i], want[i]);
    gm_yield();
}

static int64_t seen_id;
static void save_id(void *arg) {
    (void)arg;
    seen_id = gm_goid();
}

static void test_goid(void) {
    int64_t main_id = gm_goid();
    CHECK(main_id > 0, "main goroutine id %lld", (long long)main_id);
    CHECK(gm_goid() == main_id, "main id changed");
    int64_t id = gm_go(save_id, NULL);
    gm_yield();
    CHECK(seen_id == id, "goroutine saw id %lld, gm_go returned %lld", (long long)seen_id,
          (long long)id);
    CHECK(id != main_id, "goroutine has main's id");
}

typedef struct {
    gm_waitgroup *wg;
    int *count;
} wg_arg;

static void wg_worker(void *p) {
    wg_arg *a = p;
    gm_yield();
    (*a->count)++;
    gm_waitgroup_done(a->wg);
}

#ifdef GOMEM_SANITIZED
enum { N = 1000 }; /* sanitizers shadow every stack */
#else
enum { N = 10000 };
#endif

static void test_waitgroup_many(void) {
    static int count;
    count = 0;
    gm_waitgroup *wg = gm_waitgroup_make();
    wg_arg a = {wg, &count};
    for (int i = 0; i < N; i++) {
        gm_waitgroup_add(wg, 1);
        CHECK(gm_go(wg_worker, &a) > 0, "gm_go %d failed: %s", i, strerror(errno));
    }
    gm_waitgroup_wait(wg);
    CHECK(count == N, "wait returned with %d of %d done", count, N);
    gm_waitgroup_wait(wg); /* zero: returns at once */
}

static uint64_t woke_at[3];
static void sleeper(void *arg) {
    int i = (int)(intptr_t)arg;
    gm_sleep((int64_t)(3 - i) * 2000000); /* 6, 4, 2 ms */
    woke_at[i] = (uint64_t)norder++;
}

static void test_sleep_order(void) {
    norder = 0;
    gm_waitgroup *wg = gm_waitgroup_make();
    (void)wg;
    for (int i = 0; i < 3; i++)
        gm_go(sleeper, (void *)(intptr_t)i);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    gm_sleep(10000000); /* main sleeps longest; the others wake in between */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK(ms >= 10.0, "gm_sleep(10 ms) returned after %.3f ms", ms);
    CHECK(norder == 3, "%d sleepers woke", norder);
    CHECK(woke_at[2] == 0 && woke_at[1] == 1 && woke_at[0] == 2, "wake order %llu %llu %llu",
          (unsigned long long)woke_at[0], (unsigned long long)woke_at[1],
          (unsigned long long)woke_at[2]);
}

/* 1 MiB of frames on a growable stack. */
static __attribute__((noinline)) int recurse(int depth, volatile char *prev) {
    volatile char frame[1000];
    frame[0] = (char)depth;
    frame[999] = prev ? prev[0] : 0;
    if (depth == 0)
        return frame[0];
    return recurse(depth - 1, frame) + frame[999] * 0;
}

static int deep_result = -1;
static void deep(void *arg) {
    (void)arg;
    deep_result = recurse(1000, NULL);
}

static void test_deep_stack(void) {
    gm_go(deep, NULL);
    gm_yield();
    CHECK(deep_result == 0, "deep recursion returned %d", deep_result);
}

/* The rounding mode is per goroutine: the switch saves MXCSR (FPCR). */
static volatile int fp_ok = 0;
static void fp_changer(void *arg) {
    (void)arg;
    fesetround(FE_UPWARD);
    gm_yield();
    volatile double x = 1.0, y = 3.0;
    fp_ok = (fegetround() == FE_UPWARD) && (x / y > 0.3333333333333333);
}

static void test_fp_state(void) {
    fesetround(FE_TONEAREST);
    gm_go(fp_changer, NULL);
    gm_yield();
    CHECK(fegetround() == FE_TONEAREST, "a goroutine's rounding mode leaked into main");
    gm_yield();
    CHECK(fp_ok, "rounding mode not kept across a switch");
}

/* Callee-saved registers survive switches with many live values. */
static volatile long sink;
static void reg_churn(void *arg) {
    long a = (long)(intptr_t)arg, b = a * 3, c = a * 5, d = a * 7, e = a * 11, f = a * 13;
    for (int i = 0; i < 100; i++) {
        gm_yield();
        a += 1; b += 3; c += 5; d += 7; e += 11; f += 13;
    }
    long base = (long)(intptr_t)arg;
    CHECK(a == base + 100 && b == base * 3 + 300 && c == base * 5 + 500 && d == base * 7 + 700 &&
              e == base * 11 + 1100 && f == base * 13 + 1300,
          "registers of goroutine %ld corrupted", base);
    sink = a + b + c + d + e + f;
}

static void test_registers(void) {
    for (int i = 1; i <= 8; i++)
        gm_go(reg_churn, (void *)(intptr_t)(i * 1000));
    for (int i = 0; i < 110; i++)
        gm_yield();
}

int main(void) {
    test_run_order();
    test_yield_interleaves();
    test_goid();
    test_waitgroup_many();
    test_sleep_order();
    test_deep_stack();
    test_fp_state();
    test_registers();
    printf("test_task_basic: ok\n");
    return 0;
}
