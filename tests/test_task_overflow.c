/*
 * Stack overflow and stack exhaustion.  In forked children: a growable
 * goroutine and a copy goroutine that recurse without end stop the program
 * with "gomem: goroutine N stack exceeds LIMIT-byte limit" and the stack's
 * bounds (printed from the alternate signal stack) and SIGABRT; a fault
 * that is not a guard hit still reaches the handler installed before
 * gomem's; and running out of memory maps (vm.max_map_count) makes gm_go
 * fail with ENOMEM and a message naming the sysctl and copy stacks.
 */
#include <setjmp.h>
#include <signal.h>

#include "gm_test.h"

static volatile int stop_depth = -1; /* never reached; keeps the compiler honest */

static __attribute__((noinline)) int forever(int n) {
    volatile char frame[512];
    frame[0] = (char)n;
    frame[511] = (char)n;
    if (n == stop_depth)
        return 0;
    return forever(n + 1) + frame[0] + frame[511];
}

static int64_t child_id;

static void overflow_fn(void *arg) {
    (void)arg;
    forever(0);
}

static void run_overflow(void *arg) {
    gm_go_options o = {(gm_stack_kind)(intptr_t)arg, 256 << 10};
    if ((gm_stack_kind)(intptr_t)arg == GM_STACK_COPY)
        o.stack_max = 0; /* copy: the shared stack's limit (GOMEM_STACK_MAX) */
    child_id = gm_go_with(overflow_fn, NULL, &o);
    fprintf(stderr, "id=%lld\n", (long long)child_id);
    gm_yield();
}

static void check_overflow(gm_stack_kind kind, const char *limit) {
    static gm_child c;
    char how[64];
    CHECK(gm_test_run_child(run_overflow, (void *)(intptr_t)kind, &c) == 0, "could not start a child");
    const char *out = c.err;
    CHECK(c.signaled && c.signo == SIGABRT, "%s overflow: %s, stderr: %s",
          kind == GM_STACK_COPY ? "copy" : "growable", gm_child_how(&c, how, sizeof how), out);
    long long id = -1;
    const char *p = strstr(out, "id=");
    CHECK(p && sscanf(p, "id=%lld", &id) == 1, "no id in: %s", out);
    char want[128];
    snprintf(want, sizeof want, "gomem: goroutine %lld stack exceeds %s-byte limit\n", id, limit);
    CHECK(strstr(out, want), "want \"%s\" in: %s", want, out);
    CHECK(strstr(out, "gomem: stack [0x"), "no bounds in: %s", out);
}

static sigjmp_buf jump;
static void on_segv(int sig) {
    (void)sig;
    siglongjmp(jump, 1);
}

static void chained(void *arg) {
    (void)arg;
    static volatile uintptr_t addr = 16;
    volatile int *bad = (volatile int *)addr;
    if (sigsetjmp(jump, 1) == 0) {
        *bad = 1;
        fprintf(stderr, "no fault\n");
        return;
    }
    fprintf(stderr, "previous handler ran\n");
}

static void run_chain(void *arg) {
    (void)arg;
    signal(SIGSEGV, on_segv); /* before gomem installs its handler */
    gm_go(chained, NULL);
    gm_yield();
}

static long read_max_map_count(void) {
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static void idle_fn(void *arg) {
    gm_chan_recv(arg, NULL);
}

static void run_exhaust(void *arg) {
    (void)arg;
    gm_chan *c = gm_chan_make(0, 0);
    for (long i = 0;; i++) {
        errno = 0;
        if (gm_go(idle_fn, c) < 0) {
            fprintf(stderr, "failed after %ld errno=%d\n", i, errno);
            _exit(errno == ENOMEM ? 0 : 3);
        }
        if (i > 2000000)
            _exit(4);
    }
}

int main(void) {
    check_overflow(GM_STACK_GROWABLE, "262144");
    check_overflow(GM_STACK_COPY, "8388608");

    static gm_child c;
    char how[64];
    CHECK(gm_test_run_child(run_chain, NULL, &c) == 0, "could not start a child");
    CHECK(c.exited && c.exit_code == 0 && strstr(c.err, "previous handler ran"),
          "fault outside a guard did not chain: %s, %s", gm_child_how(&c, how, sizeof how), c.err);

    long maps = read_max_map_count();
    const char *emu = getenv("GM_TEST_EMULATOR");
    if (emu && *emu) {
        /* qemu-user adds its own mappings and emulates each one slowly. */
        printf("under an emulator (%s): map exhaustion test skipped\n", emu);
    } else if (maps > 0 && maps <= 300000) {
        CHECK(gm_test_run_child(run_exhaust, NULL, &c) == 0, "could not start a child");
        CHECK(c.exited && c.exit_code == 0, "exhaustion: %s, %s", gm_child_how(&c, how, sizeof how), c.err);
        CHECK(strstr(c.err, "vm.max_map_count") && strstr(c.err, "GOMEM_STACK=copy"),
              "exhaustion message should name the sysctl and copy stacks: %s", c.err);
    } else {
        printf("vm.max_map_count is %ld: map exhaustion test skipped\n", maps);
    }
    printf("test_task_overflow: ok\n");
    return 0;
}
