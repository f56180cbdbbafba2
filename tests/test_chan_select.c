/*
 * Select: ready cases chosen uniformly at random (fairness), the default
 * case (non-blocking), blocking until a partner arrives on any case,
 * sends and receives mixed, closed channels, and losing cases unqueued.
 */
#include "gm_test.h"

static void test_fairness(void) {
    gm_chan *a = gm_chan_make(sizeof(int), 1), *b = gm_chan_make(sizeof(int), 1);
    int na = 0, nb = 0, x = 0;
    enum { N = 20000 };
    for (int i = 0; i < N; i++) {
        gm_chan_try_send(a, &x);
        gm_chan_try_send(b, &x);
        gm_select_case cs[2] = {{a, GM_SELECT_RECV, &x, false}, {b, GM_SELECT_RECV, &x, false}};
        int k = gm_select(cs, 2, false);
        CHECK(k == 0 || k == 1, "select returned %d", k);
        CHECK(cs[k].ok, "ok false on an open channel");
        if (k == 0)
            na++;
        else
            nb++;
    }
    /* Binomial(20000, 0.5): sd 71; 5 sd is 355. */
    CHECK(na > N / 2 - 355 && nb > N / 2 - 355, "unfair: %d vs %d", na, nb);
}

static void test_default(void) {
    gm_chan *a = gm_chan_make(sizeof(int), 0);
    int x = 5;
    gm_select_case cs[2] = {{a, GM_SELECT_RECV, &x, false}, {a, GM_SELECT_SEND, &x, false}};
    CHECK(gm_select(cs, 2, true) == -1, "nothing ready: default expected");
    CHECK(gm_select(NULL, 0, true) == -1, "empty select with default");
    gm_select_case nil[1] = {{NULL, GM_SELECT_RECV, &x, false}};
    CHECK(gm_select(nil, 1, true) == -1, "nil channel is never ready");
}

typedef struct {
    gm_chan *c;
    int v;
} send_arg;

static void later_send(void *p) {
    send_arg *a = p;
    gm_yield();
    gm_yield();
    gm_chan_send(a->c, &a->v);
}

static void test_blocking(void) {
    gm_chan *a = gm_chan_make(sizeof(int), 0), *b = gm_chan_make(sizeof(int), 0);
    for (int round = 0; round < 50; round++) {
        send_arg sa = {round % 2 ? a : b, round};
        gm_go(later_send, &sa);
        int va = -1, vb = -1;
        gm_select_case cs[2] = {{a, GM_SELECT_RECV, &va, false}, {b, GM_SELECT_RECV, &vb, false}};
        int k = gm_select(cs, 2, false);
        CHECK(k == (round % 2 ? 0 : 1), "round %d: case %d won", round, k);
        CHECK((k == 0 ? va : vb) == round && cs[k].ok, "round %d: value %d", round,
              k == 0 ? va : vb);
        /* The losing case's sudog must be gone: a later send must not
         * complete into it. */
        CHECK(!gm_chan_try_send(k == 0 ? b : a, &round), "stale select waiter took a value");
    }
}

static void receiver(void *p) {
    gm_chan *c = p;
    int v;
    while (gm_chan_recv(c, &v)) {
    }
}

static void test_send_case(void) {
    gm_chan *out = gm_chan_make(sizeof(int), 0), *never = gm_chan_make(sizeof(int), 0);
    gm_go(receiver, out);
    for (int i = 0; i < 100; i++) {
        int v = 0;
        gm_select_case cs[2] = {{never, GM_SELECT_RECV, &v, false}, {out, GM_SELECT_SEND, &i, false}};
        CHECK(gm_select(cs, 2, false) == 1, "send case should win");
    }
    gm_chan_close(out);
    gm_yield();
}

static void closer(void *p) {
    gm_yield();
    gm_chan_close(p);
}

static void test_closed(void) {
    gm_chan *a = gm_chan_make(sizeof(long), 0), *b = gm_chan_make(sizeof(long), 0);
    gm_go(closer, b);
    long va = 1, vb = 1;
    gm_select_case cs[2] = {{a, GM_SELECT_RECV, &va, true}, {b, GM_SELECT_RECV, &vb, true}};
    CHECK(gm_select(cs, 2, false) == 1, "closed channel's case should win");
    CHECK(!cs[1].ok && vb == 0, "closed receive: ok %d value %ld", cs[1].ok, vb);
    CHECK(gm_select(cs, 2, true) == 1 && !cs[1].ok, "closed channel is always ready");
}

int main(void) {
    test_fairness();
    test_default();
    test_blocking();
    test_send_case();
    test_closed();
    printf("test_chan_select: ok\n");
    return 0;
}
