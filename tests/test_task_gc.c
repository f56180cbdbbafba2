/*
 * The collector scans goroutine stacks: an object reachable only from a
 * parked goroutine survives collections (growable stack; copy stack whose
 * bytes are in a save area; copy stack still on the shared stack; a
 * goroutine's argument before it starts; a goroutine parked on another
 * thread; the main goroutine parked while a goroutine collects), and, as a
 * control, objects that nothing reaches are freed.
 */
#include <pthread.h>

#include "gm_test.h"

enum { OBJ = 256, WORDS = OBJ / 8 };

static void fill(uint64_t *p, uint64_t tag) {
    for (int i = 0; i < WORDS; i++)
        p[i] = tag * 1000003u + (uint64_t)i;
}

static void verify(const uint64_t *p, uint64_t tag, const char *what) {
    CHECK(gm_size(p) >= OBJ, "%s: object %p was freed while reachable", what, (const void *)p);
    for (int i = 0; i < WORDS; i++)
        CHECK(p[i] == tag * 1000003u + (uint64_t)i, "%s: word %d of %p overwritten", what, i,
              (const void *)p);
}

/* Allocate garbage of the same size so freed slots get reused. */
static void churn(void) {
    for (int i = 0; i < 20000; i++) {
        uint64_t *g = gm_alloc(OBJ);
        g[0] = ~(uint64_t)0;
    }
}

static void collect(void) {
    for (int i = 0; i < 3; i++) {
        gm_gc();
        churn();
    }
}

static gm_chan *resume;
static int checked;

/* Holds its object only in a local while parked on the channel. */
static void holder(void *arg) {
    uint64_t tag = (uint64_t)(uintptr_t)arg;
    uint64_t *volatile p = gm_alloc(OBJ);
    fill(p, tag);
    gm_chan_recv(resume, NULL);
    verify(p, tag, "parked goroutine's local");
    checked++;
}

static void arg_holder(void *arg) {
    verify(arg, 77, "argument of a goroutine not yet started");
    checked++;
}

static gm_go_options copy_opts = {GM_STACK_COPY, 0};

static void test_parked_goroutines(void) {
    resume = gm_chan_make(0, 0);
    checked = 0;
    gm_go(holder, (void *)1);                     /* growable */
    gm_go_with(holder, (void *)2, &copy_opts);    /* copy: saved when 3 runs */
    gm_go_with(holder, (void *)3, &copy_opts);    /* copy: still on the shared stack */
    gm_yield();                                   /* all three park */
    {
        uint64_t *a = gm_alloc(OBJ);
        fill(a, 77);
        gm_go(arg_holder, a); /* not started: only its record holds a */
        a = NULL;
    }
    collect();
    for (int i = 0; i < 3; i++)
        gm_chan_send(resume, NULL);
    gm_yield();
    CHECK(checked == 4, "%d of 4 holders checked", checked);
}

/* A goroutine parked on another thread holds the only reference. */
static gm_chan *remote_resume, *remote_done;
static void *remote_thread(void *arg) {
    (void)arg;
    gm_go(holder, (void *)5);
    resume = remote_resume;
    gm_yield();
    gm_chan_send(remote_done, NULL); /* tell main the holder is parked */
    return NULL;                     /* exit runs the holder to the end */
}

static void test_other_thread(void) {
    remote_resume = gm_chan_make(0, 0);
    remote_done = gm_chan_make(0, 0);
    resume = remote_resume;
    checked = 0;
    pthread_t th;
    CHECK(gm_thread_create(&th, NULL, remote_thread, NULL) == 0, "thread");
    gm_chan_recv(remote_done, NULL);
    collect();
    gm_chan_send(remote_resume, NULL);
    pthread_join(th, NULL);
    CHECK(checked == 1, "remote holder did not check");
}

/* The main goroutine parks while another goroutine collects. */
static void collector(void *arg) {
    collect();
    gm_chan_send(arg, NULL);
}

static void test_main_parked(void) {
    uint64_t *volatile p = gm_alloc(OBJ);
    fill(p, 9);
    gm_chan *c = gm_chan_make(0, 0);
    gm_go(collector, c);
    gm_chan_recv(c, NULL);
    verify(p, 9, "parked main goroutine's local");
}

/* Control: objects only a finished goroutine held are freed. */
static uintptr_t hidden[100];
static void drop(void *arg) {
    (void)arg;
    for (int i = 0; i < 100; i++) {
        uint64_t *p = gm_alloc(OBJ);
        hidden[i] = (uintptr_t)p ^ 0x5555;
    }
}

static void test_control(void) {
    gm_go(drop, NULL);
    gm_yield();
    gm_gc(); /* no churn after: freed slots must not be reused before the check */
    int freed = 0;
    for (int i = 0; i < 100; i++)
        freed += gm_size((void *)(hidden[i] ^ 0x5555)) == 0;
    CHECK(freed >= 10, "only %d of 100 unreachable objects freed: the test has no teeth", freed);
}

int main(void) {
    test_parked_goroutines();
    test_other_thread();
    test_main_parked();
    test_control();
    printf("test_task_gc: ok\n");
    return 0;
}
