/*
 * goroutines.c - goroutine benchmarks; bench/go/goroutines.go is the same
 * programs in Go, and bench/bench.py runs both side by side.
 *
 *   goroutines spawn N        spawn+run+exit, batches of 100 behind a wait
 *                             group; prints ns per goroutine
 *   goroutines pingpong N     two goroutines bounce a value over unbuffered
 *                             channels; prints ns per switch (2 per round)
 *   goroutines parked N KIND  N goroutines parked on a channel receive
 *                             (KIND growable or copy); prints resident bytes
 *                             per goroutine and in all (RSS from /proc)
 *   goroutines recurse        a goroutine recurses through 1 MiB of frames,
 *                             returns and parks; prints stack_inuse and RSS
 *                             before and after a collection
 *
 * Output lines are "name value unit" for the script to read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gomem.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long rss_bytes(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

/* ----------------------------------------------------------- spawn+exit */

static void done_fn(void *wg) {
    gm_waitgroup_done(wg);
}

static void bench_spawn(long n) {
    enum { BATCH = 100 };
    gm_waitgroup *wg = gm_waitgroup_make();
    for (int i = 0; i < 1000; i++) { /* warm the stack pool */
        gm_waitgroup_add(wg, 1);
        gm_go(done_fn, wg);
    }
    gm_waitgroup_wait(wg);
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        double t0 = now_ns();
        for (long i = 0; i < n; i += BATCH) {
            gm_waitgroup_add(wg, BATCH);
            for (int j = 0; j < BATCH; j++)
                gm_go(done_fn, wg);
            gm_waitgroup_wait(wg);
        }
        double per = (now_ns() - t0) / (double)n;
        if (per < best)
            best = per;
    }
    printf("spawn_exit %.1f ns/op\n", best);
}

/* ------------------------------------------------------------ ping-pong */

typedef struct {
    gm_chan *in, *out;
    long n;
} pp_arg;

static void ponger(void *p) {
    pp_arg *a = p;
    long v;
    for (long i = 0; i < a->n; i++) {
        gm_chan_recv(a->in, &v);
        gm_chan_send(a->out, &v);
    }
}

static void bench_pingpong(long n) {
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        pp_arg a = {gm_chan_make(sizeof(long), 0), gm_chan_make(sizeof(long), 0), n};
        gm_go(ponger, &a);
        long v = 0;
        double t0 = now_ns();
        for (long i = 0; i < n; i++) {
            gm_chan_send(a.in, &v);
            gm_chan_recv(a.out, &v);
        }
        double per = (now_ns() - t0) / (double)(2 * n);
        if (per < best)
            best = per;
    }
    printf("pingpong %.1f ns/switch\n", best);
}

/* --------------------------------------------------------------- parked */

static void parked_fn(void *c) {
    gm_chan_recv(c, NULL);
}

static void bench_parked(long n, const char *kind) {
    gm_go_options o = {strcmp(kind, "copy") == 0 ? GM_STACK_COPY : GM_STACK_GROWABLE, 0};
    gm_chan *c = gm_chan_make(0, 0);
    gm_go_with(parked_fn, c, &o); /* set up the scheduler (and shared stack) */
    gm_yield();
    gm_gc();
    long before = rss_bytes();
    double t0 = now_ns();
    for (long i = 1; i < n; i++) {
        if (gm_go_with(parked_fn, c, &o) < 0) {
            printf("parked_failed_at %ld goroutines (%s)\n", i, strerror(errno));
            return;
        }
        if (i % 100000 == 0)
            gm_yield(); /* park them as we go */
    }
    gm_yield();
    double t1 = now_ns();
    gm_gc();
    long after = rss_bytes();
    gm_memstats m;
    gm_read_memstats(&m);
    printf("parked_%s_per_goroutine %.0f bytes\n", kind, (double)(after - before) / (double)n);
    printf("parked_%s_total_rss %ld bytes\n", kind, after);
    printf("parked_%s_stack_inuse %llu bytes\n", kind, (unsigned long long)m.stack_inuse);
    printf("parked_%s_spawn %.1f ns/op\n", kind, (t1 - t0) / (double)n);
    fflush(stdout);
    _exit(0); /* like Go's main returning: the parked goroutines are dropped */
}

/* -------------------------------------------------------------- recurse */

static __attribute__((noinline)) int recurse(int n) {
    volatile char frame[1024];
    frame[0] = (char)n;
    frame[1023] = (char)n;
    if (n == 0)
        return 0;
    int r = recurse(n - 1);
    return r + (frame[0] != (char)n) + (frame[1023] != (char)n);
}

static void deep_fn(void *c) {
    recurse(1024);
    gm_chan_recv(c, NULL);
}

static void bench_recurse(void) {
    gm_chan *c = gm_chan_make(0, 0);
    gm_memstats m;
    gm_read_memstats(&m);
    uint64_t base = m.stack_inuse;
    gm_go(deep_fn, c);
    gm_yield();
    gm_read_memstats(&m);
    long rss_deep = rss_bytes();
    printf("recurse_stack_before_gc %llu bytes\n", (unsigned long long)(m.stack_inuse - base));
    gm_gc();
    gm_read_memstats(&m);
    printf("recurse_stack_after_gc %llu bytes\n", (unsigned long long)(m.stack_inuse - base));
    printf("recurse_rss_released %ld bytes\n", rss_deep - rss_bytes());
    gm_chan_send(c, NULL);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s spawn N | pingpong N | parked N growable|copy | recurse\n",
                argv[0]);
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 0;
    if (strcmp(argv[1], "spawn") == 0)
        bench_spawn(n ? n : 1000000);
    else if (strcmp(argv[1], "pingpong") == 0)
        bench_pingpong(n ? n : 1000000);
    else if (strcmp(argv[1], "parked") == 0)
        bench_parked(n ? n : 1000000, argc > 3 ? argv[3] : "copy");
    else if (strcmp(argv[1], "recurse") == 0)
        bench_recurse();
    else
        return 2;
    return 0;
}
