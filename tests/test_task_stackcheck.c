/*
 * test_task_stackcheck.c - GOMEM_DEBUG=stackcheck=1 turns on the copy-stack
 * send check.
 *
 * The setting is read once at start-up, so the test runs itself again in
 * child processes (fork, then exec of /proc/self/exe with GOMEM_DEBUG set and
 * a mode argument) and reads each child's stderr and exit:
 *   - with stackcheck=1 (alone, or in a list with another key), a copy
 *     goroutine that sends the address of its own local with gm_chan_send,
 *     gm_chan_try_send or a gm_select send case stops with the fatal error
 *     naming that address, and never gets past the send; so does the main
 *     goroutine sending the address of a parked copy goroutine's local;
 *   - without GOMEM_DEBUG, and with stackcheck=0, the same send goes through
 *     (the check is off by default and the setting turns it off);
 *   - with stackcheck=1 the library's flag is on, and sends that hold no
 *     address in a shared stack (a heap pointer, plain data from a copy
 *     stack, a growable goroutine's local) go through and arrive intact.
 */
#include "gm_test.h"
#include "task/task.h"

#define MARK_LOCAL "stackcheck: local "
#define MARK_PASSED "stackcheck: send went through\n"
#define MARK_CLEAN "stackcheck: clean sends ok\n"

static const gm_go_options copy_opts = {GM_STACK_COPY, 0};
static const gm_go_options growable_opts = {GM_STACK_GROWABLE, 0};

static void go_with(void (*fn)(void *), void *arg, const gm_go_options *o) {
    int64_t id = gm_go_with(fn, arg, o);
    CHECK(id > 0, "gm_go_with failed: %s", strerror(errno));
}

static void say(const char *s) {
    fputs(s, stderr);
    fflush(stderr);
}

static void say_local(const void *p) {
    char buf[64];
    fprintf(stderr, MARK_LOCAL "%s\n", gm_test_ptrstr(p, buf, sizeof buf));
    fflush(stderr);
}

/* ------------------------------------------------- modes of the child */

typedef enum { OP_SEND, OP_TRY, OP_SELECT } send_op;

static volatile int finished;

/* A copy goroutine sends the address of its own local. */
static void leak_own_local(void *arg) {
    send_op op = (send_op)(intptr_t)arg;
    gm_chan *c = gm_chan_make(sizeof(void *), 1);
    CHECK(c, "gm_chan_make failed");
    volatile long local = 5;
    volatile long *p = &local;
    say_local((const void *)p);
    if (op == OP_SEND) {
        gm_chan_send(c, &p);
    } else if (op == OP_TRY) {
        CHECK(gm_chan_try_send(c, &p), "try_send on an empty buffered channel failed");
    } else {
        gm_select_case cs[1] = {{c, GM_SELECT_SEND, &p, false}};
        CHECK(gm_select(cs, 1, false) == 0, "select did not send");
    }
    say(MARK_PASSED);
    volatile long *q = NULL;
    CHECK(gm_chan_recv(c, &q) && q == p, "the pointer did not arrive");
    finished = 1;
}

static void run_leak(send_op op) {
    go_with(leak_own_local, (void *)(intptr_t)op, &copy_opts);
    while (!finished)
        gm_yield();
}

/* The main goroutine sends the address of a parked copy goroutine's local. */
static long *volatile parked_local;
static gm_chan *release_c;

static void park_with_local(void *arg) {
    (void)arg;
    volatile long local = 7;
    parked_local = (long *)&local;
    CHECK(gm_chan_recv(release_c, NULL), "release channel closed");
    CHECK(local == 7, "local changed while parked: %ld", local);
    finished = 1;
}

static void run_leak_from_main(void) {
    release_c = gm_chan_make(sizeof(long), 0);
    gm_chan *c = gm_chan_make(sizeof(void *), 1);
    CHECK(release_c && c, "gm_chan_make failed");
    go_with(park_with_local, NULL, &copy_opts);
    while (!parked_local)
        gm_yield();
    say_local(parked_local);
    long *p = parked_local;
    gm_chan_send(c, &p);
    say(MARK_PASSED);
    gm_chan_send(release_c, NULL);
    while (!finished)
        gm_yield();
}

/* Sends that hold no address in a shared stack, with the check on. */
typedef struct plain {
    long v[6];
} plain;

static gm_chan *ptr_c, *plain_c, *ack_c;

static void copy_sends_plain(void *arg) {
    (void)arg;
    plain x; /* on the shared stack; its words are not addresses */
    for (int i = 0; i < 6; i++)
        x.v[i] = 1000 + i;
    gm_chan_send(plain_c, &x);
    long *h = gm_new(long); /* a heap object's address */
    CHECK(h, "gm_new failed");
    *h = 99;
    gm_chan_send(ptr_c, &h);
    CHECK(gm_chan_try_send(ptr_c, &h), "try_send of a heap pointer failed");
    gm_select_case cs[1] = {{plain_c, GM_SELECT_SEND, &x, false}};
    CHECK(gm_select(cs, 1, false) == 0, "select did not send");
    finished++;
}

static void growable_sends_local(void *arg) {
    (void)arg;
    volatile long local = 11; /* a growable stack is not shared */
    volatile long *p = &local;
    gm_chan_send(ptr_c, &p);
    CHECK(gm_chan_recv(ack_c, NULL), "ack channel closed"); /* *p is read while we wait */
    finished++;
}

static void run_clean(void) {
    CHECK(gm_copystack_check, "GOMEM_DEBUG=%s did not turn the check on",
          getenv("GOMEM_DEBUG") ? getenv("GOMEM_DEBUG") : "(unset)");
    ptr_c = gm_chan_make(sizeof(void *), 4);
    plain_c = gm_chan_make(sizeof(plain), 4);
    ack_c = gm_chan_make(sizeof(long), 0);
    CHECK(ptr_c && plain_c && ack_c, "gm_chan_make failed");
    go_with(copy_sends_plain, NULL, &copy_opts);
    while (finished < 1)
        gm_yield();
    plain x;
    for (int k = 0; k < 2; k++) {
        CHECK(gm_chan_recv(plain_c, &x), "plain element missing");
        for (int i = 0; i < 6; i++)
            CHECK(x.v[i] == 1000 + i, "plain element %d word %d = %ld", k, i, x.v[i]);
    }
    for (int k = 0; k < 2; k++) {
        long *h = NULL;
        CHECK(gm_chan_recv(ptr_c, &h) && h && *h == 99, "heap pointer %d wrong", k);
    }
    go_with(growable_sends_local, NULL, &growable_opts);
    volatile long *p = NULL;
    CHECK(gm_chan_recv(ptr_c, &p) && p && *p == 11, "growable local's address wrong");
    gm_chan_send(ack_c, NULL);
    while (finished < 2)
        gm_yield();
    say(MARK_CLEAN);
}

/* ------------------------------------------------------------- driver */

static const char *self_path;

typedef struct spawn {
    const char *debug; /* GOMEM_DEBUG, or NULL to unset it */
    const char *mode;
} spawn;

/* In the forked child: exec this program in `mode` with GOMEM_DEBUG set. */
static void exec_mode(void *arg) {
    const spawn *sp = arg;
    if (sp->debug)
        setenv("GOMEM_DEBUG", sp->debug, 1);
    else
        unsetenv("GOMEM_DEBUG");
    char *args[] = {(char *)self_path, (char *)sp->mode, NULL};
    gm_test_execv("/proc/self/exe", args);
    fprintf(stderr, "exec of /proc/self/exe failed: %s\n", strerror(errno));
    _exit(127);
}

static void run_mode(const char *debug, const char *mode, gm_child *c) {
    spawn sp = {debug, mode};
    CHECK(gm_test_run_child(exec_mode, &sp, c) == 0, "could not start a child: %s",
          strerror(errno));
    CHECK(!(c->exited && c->exit_code == 127), "exec failed: %s", c->err);
}

/* The address the child printed before its send ("" if none). */
static void printed_local(const gm_child *c, char *out, size_t n) {
    out[0] = 0;
    const char *s = strstr(c->err, MARK_LOCAL);
    if (!s)
        return;
    s += strlen(MARK_LOCAL);
    size_t len = strcspn(s, "\n");
    if (len >= n)
        len = n - 1;
    memcpy(out, s, len);
    out[len] = 0;
}

static void expect_caught(const char *debug, const char *mode) {
    gm_child c;
    char how[64], local[64], want[128];
    run_mode(debug, mode, &c);
    printed_local(&c, local, sizeof local);
    CHECK(local[0], "GOMEM_DEBUG=%s %s: the child never reached its send (%s): %s", debug, mode,
          gm_child_how(&c, how, sizeof how), c.err);
    CHECK(!(c.exited && c.exit_code == 0), "GOMEM_DEBUG=%s %s: not stopped: %s", debug, mode,
          c.err);
    snprintf(want, sizeof want, "sent a pointer into a copy stack (%s, shared stack", local);
    CHECK(strstr(c.err, "gomem: fatal error: goroutine ") && strstr(c.err, want),
          "GOMEM_DEBUG=%s %s: no fatal error naming %s (%s): %s", debug, mode, local,
          gm_child_how(&c, how, sizeof how), c.err);
    CHECK(!strstr(c.err, MARK_PASSED), "GOMEM_DEBUG=%s %s: the send went through: %s", debug,
          mode, c.err);
    printf("GOMEM_DEBUG=%s %s: stopped (%s)\n", debug, mode, gm_child_how(&c, how, sizeof how));
}

static void expect_passed(const char *debug, const char *mode, const char *marker) {
    gm_child c;
    char how[64];
    run_mode(debug, mode, &c);
    const char *shown = debug ? debug : "(unset)";
    CHECK(c.exited && c.exit_code == 0, "GOMEM_DEBUG=%s %s: %s: %s", shown, mode,
          gm_child_how(&c, how, sizeof how), c.err);
    CHECK(strstr(c.err, marker) && !strstr(c.err, "fatal error"),
          "GOMEM_DEBUG=%s %s: expected \"%s\": %s", shown, mode, marker, c.err);
    printf("GOMEM_DEBUG=%s %s: went through\n", shown, mode);
}

int main(int argc, char **argv) {
    if (argc > 1) {
        const char *m = argv[1];
        if (strcmp(m, "send") == 0)
            run_leak(OP_SEND);
        else if (strcmp(m, "try") == 0)
            run_leak(OP_TRY);
        else if (strcmp(m, "select") == 0)
            run_leak(OP_SELECT);
        else if (strcmp(m, "main") == 0)
            run_leak_from_main();
        else if (strcmp(m, "clean") == 0)
            run_clean();
        else
            CHECK(0, "unknown mode %s", m);
        return 0;
    }
    self_path = argv[0];

    /* Off by default and with stackcheck=0: the bad send goes through (so
     * the stops below are the setting's doing). */
    expect_passed(NULL, "send", MARK_PASSED);
    expect_passed("stackcheck=0", "send", MARK_PASSED);
    expect_passed("stackcheck=0", "main", MARK_PASSED);

    /* On: every kind of send is checked, whoever sends. */
    expect_caught("stackcheck=1", "send");
    expect_caught("stackcheck=1", "try");
    expect_caught("stackcheck=1", "select");
    expect_caught("stackcheck=1", "main");
    expect_caught("gctrace=0,stackcheck=1", "send");

    /* On, with sends that are allowed. */
    expect_passed("stackcheck=1", "clean", MARK_CLEAN);

    printf("test_task_stackcheck: ok\n");
    return 0;
}
