/*
 * Copy stacks: goroutines that share their thread's execution stack keep
 * their locals across switches (saved and restored at the same addresses),
 * save areas grow for deep stacks, copy and growable goroutines mix,
 * channel elements on a copy stack travel through bounce buffers (small and
 * large, plain and in select), GOMEM_STACK=copy makes copy the default, and
 * the debug check stops a pointer into a shared stack sent on a channel.
 */
#include <stdbool.h>

#include "task/task.h"
#include "gm_test.h"

static gm_go_options copy_opts = {GM_STACK_COPY, 0};

static int64_t go_copy(void (*fn)(void *), void *arg) {
    int64_t id = gm_go_with(fn, arg, &copy_opts);
    CHECK(id > 0, "gm_go_with copy failed: %s", strerror(errno));
    return id;
}

static int done;

static void locals_keeper(void *arg) {
    long id = (long)(intptr_t)arg;
    volatile long locals[32];
    for (int i = 0; i < 32; i++)
        locals[i] = id * 100 + i;
    volatile long *self = locals; /* a pointer to a local, used in place */
    for (int round = 0; round < 50; round++) {
        gm_yield();
        for (int i = 0; i < 32; i++)
            CHECK(self[i] == id * 100 + i, "goroutine %ld local %d = %ld after %d switches", id,
                  i, self[i], round);
    }
    done++;
}

static void test_locals_survive(void) {
    done = 0;
    for (long i = 0; i < 20; i++)
        go_copy(locals_keeper, (void *)(intptr_t)i);
    for (long i = 20; i < 25; i++) /* growable ones in between */
        gm_go(locals_keeper, (void *)(intptr_t)i);
    while (done < 25)
        gm_yield();
}

static __attribute__((noinline)) long deep(int n, volatile char *up) {
    volatile char pad[512];
    pad[0] = (char)n;
    pad[511] = up ? up[0] : 0;
    if (n == 0) {
        gm_yield(); /* park with ~200 KiB of frames */
        return pad[0];
    }
    long r = deep(n - 1, pad);
    CHECK(pad[0] == (char)n, "frame %d corrupted", n);
    return r + 1;
}

static void deep_copy(void *arg) {
    long r = deep((int)(intptr_t)arg, NULL);
    CHECK(r == (long)(intptr_t)arg, "deep returned %ld", r);
    done++;
}

static void test_save_area_grows(void) {
    done = 0;
    go_copy(deep_copy, (void *)(intptr_t)10);
    go_copy(deep_copy, (void *)(intptr_t)400);
    go_copy(deep_copy, (void *)(intptr_t)50);
    while (done < 3)
        gm_yield();
}

typedef struct {
    char b[100];
} big;

static gm_chan *small_c, *big_c;

static void copy_receiver(void *arg) {
    (void)arg;
    long v = 0;
    big b;
    memset(&b, 0, sizeof b);
    CHECK(gm_chan_recv(small_c, &v) && v == 42, "small element %ld", v);
    CHECK(gm_chan_recv(big_c, &b), "big element");
    for (int i = 0; i < 100; i++)
        CHECK(b.b[i] == (char)(i + 1), "big element byte %d = %d", i, b.b[i]);
    done++;
}

static void copy_big_sender(void *arg) {
    (void)arg;
    long small = 42;
    big b;
    for (int i = 0; i < 100; i++)
        b.b[i] = (char)(i + 1);
    gm_chan_send(small_c, &small);
    gm_chan_send(big_c, &b);
    done++;
}

static void test_bounce(void) {
    /* Both sides copy goroutines, parking with elements on the shared
     * stack, while other copy goroutines run in between. */
    small_c = gm_chan_make(sizeof(long), 0);
    big_c = gm_chan_make(sizeof(big), 0);
    done = 0;
    go_copy(copy_receiver, NULL);
    go_copy(locals_keeper, (void *)(intptr_t)77);
    go_copy(copy_big_sender, NULL);
    while (done < 3)
        gm_yield();
    /* Receiver first blocked, then sender blocked first. */
    done = 0;
    go_copy(copy_big_sender, NULL);
    go_copy(locals_keeper, (void *)(intptr_t)78);
    go_copy(copy_receiver, NULL);
    while (done < 3)
        gm_yield();
}

static void select_copy(void *arg) {
    (void)arg;
    long v = 0;
    big b;
    memset(&b, 0, sizeof b);
    for (int i = 0; i < 2; i++) {
        gm_select_case cs[2] = {{small_c, GM_SELECT_RECV, &v, false},
                                {big_c, GM_SELECT_RECV, &b, false}};
        int k = gm_select(cs, 2, false);
        if (k == 0)
            CHECK(v == 42, "select small %ld", v);
        else
            CHECK(b.b[99] == 100, "select big byte %d", b.b[99]);
    }
    done++;
}

static void test_select_bounce(void) {
    done = 0;
    go_copy(select_copy, NULL);
    go_copy(locals_keeper, (void *)(intptr_t)79);
    go_copy(copy_big_sender, NULL);
    while (done < 3)
        gm_yield();
}

static void leak_local(void *arg) {
    (void)arg;
    gm_copystack_check = true;
    gm_chan *c = gm_chan_make(sizeof(void *), 1);
    long local = 5;
    long *p = &local;
    gm_chan_send(c, &p);
}

static void run_leak(void *arg) {
    (void)arg;
    gm_go_with(leak_local, NULL, &copy_opts);
    gm_yield();
}

static void test_debug_check(void) {
    static gm_child c;
    CHECK(gm_test_run_child(run_leak, NULL, &c) == 0, "could not start a child");
    CHECK(!(c.exited && c.exit_code == 0), "pointer into a shared stack not caught");
    CHECK(strstr(c.err, "pointer into a copy stack"), "message: %s", c.err);
}

static void whoami(void *arg) {
    *(int *)arg = gm_sched_current()->cur->kind;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "default") == 0) {
        static int kind;
        gm_go(whoami, &kind);
        gm_yield();
        CHECK(kind == GM_G_COPY, "GOMEM_STACK=copy: goroutine kind %d", kind);
        return 0;
    }
    test_locals_survive();
    test_save_area_grows();
    test_bounce();
    test_select_bounce();
    test_debug_check();
    /* GOMEM_STACK=copy makes copy stacks the default (a fresh process). */
    char cmd[4096];
    const char *emu = getenv("GM_TEST_EMULATOR"); /* a cross build's tests run under it */
    snprintf(cmd, sizeof cmd, "GOMEM_STACK=copy %s %s default", emu ? emu : "", argv[0]);
    CHECK(system(cmd) == 0, "%s failed", cmd);
    printf("test_task_copystack: ok\n");
    return 0;
}
