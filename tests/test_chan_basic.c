/*
 * Channels on one thread: unbuffered rendezvous, buffered FIFO order,
 * close semantics (receivers drain then see closed, zeroed), non-blocking
 * variants, len and cap, NULL elements, large and empty elements, and
 * waiters woken by close.
 */
#include "gm_test.h"

static void sender(void *arg) {
    gm_chan *c = arg;
    for (long i = 1; i <= 100; i++)
        gm_chan_send(c, &i);
    gm_chan_close(c);
}

static void test_unbuffered(void) {
    gm_chan *c = gm_chan_make(sizeof(long), 0);
    CHECK(c, "gm_chan_make failed");
    CHECK(gm_chan_cap(c) == 0, "cap %zu", gm_chan_cap(c));
    gm_go(sender, c);
    long v, want = 1;
    while (gm_chan_recv(c, &v)) {
        CHECK(v == want, "received %ld, want %ld", v, want);
        want++;
    }
    CHECK(want == 101, "received %ld values", want - 1);
    CHECK(v == 0, "receive on closed channel left %ld, want zero", v);
}

static void test_buffered(void) {
    gm_chan *c = gm_chan_make(sizeof(int), 4);
    for (int i = 0; i < 4; i++)
        CHECK(gm_chan_try_send(c, &i), "try_send %d into a buffer with room failed", i);
    int x = 99;
    CHECK(!gm_chan_try_send(c, &x), "try_send into a full buffer succeeded");
    CHECK(gm_chan_len(c) == 4 && gm_chan_cap(c) == 4, "len %zu cap %zu", gm_chan_len(c),
          gm_chan_cap(c));
    for (int i = 0; i < 4; i++) {
        int v = -1;
        bool ok = false;
        CHECK(gm_chan_try_recv(c, &v, &ok) && ok && v == i, "try_recv %d got %d ok %d", i, v, ok);
    }
    bool ok = false;
    CHECK(!gm_chan_try_recv(c, &x, &ok) && ok, "try_recv from an empty open channel");
    gm_chan_send(c, &x);
    gm_chan_close(c);
    int v = 0;
    CHECK(gm_chan_recv(c, &v) && v == 99, "buffered value lost at close (%d)", v);
    CHECK(!gm_chan_recv(c, &v) && v == 0, "closed and drained: recv should report closed");
    CHECK(gm_chan_try_recv(c, &v, &ok) && !ok, "try_recv on closed channel: done, !ok");
}

static void blocked_sender(void *arg) {
    gm_chan *c = arg;
    for (int i = 0; i < 10; i++)
        gm_chan_send(c, &i); /* cap 2: blocks and is resumed by receives */
}

static void test_buffered_blocking(void) {
    gm_chan *c = gm_chan_make(sizeof(int), 2);
    gm_go(blocked_sender, c);
    gm_yield();
    CHECK(gm_chan_len(c) == 2, "sender should fill the buffer then block (len %zu)",
          gm_chan_len(c));
    for (int i = 0; i < 10; i++) {
        int v = -1;
        CHECK(gm_chan_recv(c, &v) && v == i, "recv %d got %d", i, v);
    }
}

typedef struct {
    char bytes[200];
} big;

static void big_sender(void *arg) {
    gm_chan *c = arg;
    big b;
    for (int i = 0; i < 200; i++)
        b.bytes[i] = (char)i;
    gm_chan_send(c, &b);
    gm_chan_send(c, NULL); /* NULL sends a zero element */
}

static void test_elements(void) {
    gm_chan *c = gm_chan_make(sizeof(big), 0);
    gm_go(big_sender, c);
    big b;
    CHECK(gm_chan_recv(c, &b), "recv big");
    for (int i = 0; i < 200; i++)
        CHECK(b.bytes[i] == (char)i, "byte %d is %d", i, b.bytes[i]);
    memset(&b, 1, sizeof b);
    CHECK(gm_chan_recv(c, &b), "recv zero");
    for (int i = 0; i < 200; i++)
        CHECK(b.bytes[i] == 0, "NULL send should deliver zeros");

    gm_chan *e = gm_chan_make(0, 3); /* chan struct{} */
    CHECK(gm_chan_try_send(e, NULL) && gm_chan_try_send(e, NULL), "empty elements");
    CHECK(gm_chan_len(e) == 2, "len %zu", gm_chan_len(e));
    CHECK(gm_chan_recv(e, NULL), "recv empty element into NULL");
}

static int woken;
static void close_waiter(void *arg) {
    long v = 7;
    CHECK(!gm_chan_recv(arg, &v), "waiter saw a value on a closed channel");
    CHECK(v == 0, "waiter's element not zeroed on close");
    woken++;
}

static void test_close_wakes_all(void) {
    gm_chan *c = gm_chan_make(sizeof(long), 0);
    woken = 0;
    for (int i = 0; i < 5; i++)
        gm_go(close_waiter, c);
    gm_yield();
    CHECK(woken == 0, "waiters did not block");
    gm_chan_close(c);
    gm_yield();
    CHECK(woken == 5, "close woke %d of 5 receivers", woken);
}

static void closed_send(void *arg) {
    (void)arg;
    gm_chan *c = gm_chan_make(sizeof(int), 1);
    gm_chan_close(c);
    int x = 1;
    gm_chan_send(c, &x);
}

static void double_close(void *arg) {
    (void)arg;
    gm_chan *c = gm_chan_make(sizeof(int), 1);
    gm_chan_close(c);
    gm_chan_close(c);
}

static void test_fatal_misuse(void) {
    static gm_child c;
    CHECK(gm_test_run_child(closed_send, NULL, &c) == 0, "could not start a child");
    CHECK(!(c.exited && c.exit_code == 0), "send on closed channel did not stop");
    CHECK(strstr(c.err, "send on closed channel"), "message: %s", c.err);
    CHECK(gm_test_run_child(double_close, NULL, &c) == 0, "could not start a child");
    CHECK(!(c.exited && c.exit_code == 0), "double close did not stop");
    CHECK(strstr(c.err, "close of closed channel"), "message: %s", c.err);
}

int main(void) {
    test_unbuffered();
    test_buffered();
    test_buffered_blocking();
    test_elements();
    test_close_wakes_all();
    test_fatal_misuse();
    printf("test_chan_basic: ok\n");
    return 0;
}
