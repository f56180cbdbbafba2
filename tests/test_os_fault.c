/*
 * test_os_fault.c - faults in the OS layer, signals and thread churn.
 *
 * Part 1: injected failures (GOMEM_FAULT, src/os/fault.c).  For each kind
 * of OS request (reserve, commit, alloc, madvise, stack) and each call
 * number N in a range, the test re-executes itself with GOMEM_FAULT=KIND:N
 * (one failure) and KIND:N+ (that one and every later one).  The child
 * keeps a checksummed list, allocates small and large objects and
 * goroutines, churns garbage through collections, leaves 48 MiB written
 * all over idle for several cycles (returned to the OS with madvise) and
 * then keeps 160 MiB, and checks every object: live
 * ones intact, new ones zeroed.  An allocation that fails must answer NULL
 * with ENOMEM (the child counts it and goes on); gomem may also stop with
 * "gomem: fatal error" followed by its address space and heap figures.
 * Any other end (another signal, corruption, a hang) fails the test.  The
 * child reports how many requests of the kind it made, so the test counts
 * the faults it injected.  A malformed GOMEM_FAULT stops start-up naming
 * the value.
 *
 * Part 2: signals.  A thread takes a SIGALRM every 100 us (a handler
 * installed without SA_RESTART, so system calls return EINTR) while
 * threads allocate, block in read() on a pipe and collect: every cycle
 * ends, no object is lost.
 *
 * Part 3: threads created and exiting while collections stop the world:
 * 400 short-lived threads, each allocating and verifying its objects,
 * while another thread collects without pause.
 *
 * (Fork in the middle of a cycle is test_gc_fork's part 3.)
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>

#include "gm_test.h"
#include "gm.h"

extern char **environ;

/* ------------------------------------------------------- part 1: child */

typedef struct cell {
    struct cell *next;
    uint64_t tag;
    unsigned char pad[48];
} cell;

static cell *cells;
static long nulls;

static void *try_alloc(size_t n, bool noscan) {
    void *p = noscan ? gm_alloc_noscan(n) : gm_alloc(n);
    if (!p) {
        if (errno != ENOMEM) {
            fprintf(stderr, "child: gm_alloc(%zu) = NULL with errno %d, not ENOMEM\n", n, errno);
            exit(21);
        }
        nulls++;
        return NULL;
    }
    size_t nz = gm_test_first_nonzero(p, n);
    if (nz != (size_t)-1) {
        fprintf(stderr, "child: new %zu-byte object not zeroed at byte %zu\n", n, nz);
        exit(22);
    }
    return p;
}

static void verify_cells(void) {
    for (cell *c = cells; c; c = c->next)
        if (gm_test_verify(c->pad, sizeof c->pad, c->tag) != (size_t)-1) {
            fprintf(stderr, "child: list cell %llu corrupted\n", (unsigned long long)c->tag);
            exit(20);
        }
}

static void gopher(void *arg) {
    gm_chan *ch = arg;
    void *p = gm_alloc(200);
    gm_yield();
    gm_chan_send(ch, &p);
}

static int fault_child(void) {
    for (uint64_t i = 0; i < 5000; i++) {
        cell *c = try_alloc(sizeof *c, false);
        if (!c)
            continue;
        c->tag = i;
        gm_test_fill(c->pad, sizeof c->pad, i);
        c->next = cells;
        cells = c;
    }
    gm_chan *ch = try_alloc(0, false) ? gm_chan_make(sizeof(void *), 8) : NULL;
    int started = 0;
    for (int i = 0; ch && i < 8; i++)
        started += gm_go(gopher, ch) > 0;
    for (int i = 0; i < started; i++) {
        void *p;
        gm_chan_recv(ch, &p);
    }
    for (int round = 0; round < 6; round++) {
        /* Garbage: 24 MiB a round in small and large objects. */
        for (int k = 0; k < 96; k++) {
            unsigned char *p = try_alloc(k % 8 == 0 ? 1 << 20 : 64 << 10, k & 1);
            if (p)
                p[0] = 1;
        }
        gm_gc();
        verify_cells();
    }
    /* Idle memory: 48 MiB of garbage written all over, then collections
     * with nothing allocated, which return the idle pages (madvise); the
     * next 48 MiB reuse them and must find zeros (a failed madvise must not
     * leave them counted as released and zero). */
    for (int k = 0; k < 48; k++) {
        unsigned char *p = try_alloc(1 << 20, true);
        if (p)
            memset(p, 0xa5, 1 << 20);
    }
    for (int i = 0; i < 6; i++)
        gm_gc();
    void **again = try_alloc(160 * sizeof(void *), false);
    for (int k = 0; again && k < 160; k++)
        again[k] = try_alloc(1 << 20, true); /* kept: the heap must reach the released runs */
    for (int k = 0; k < 400; k++)
        try_alloc(32 << 10, k & 1);
    gm_gc();
    verify_cells();
    unsigned long long calls = 0;
    for (int k = 0; k < GM_FAULT_KINDS; k++)
        calls += gm_fault_calls((gm_fault_kind)k);
    fprintf(stderr, "child: %ld NULL answers, %llu requests counted\n", nulls, calls);
    return 0;
}

/* ------------------------------------------------------- part 1: parent */

typedef struct spec {
    char *argv[3];
    char *envp[512];
    char fault[64];
} spec;

static char self[] = "/proc/self/exe";
static char mode_fault[] = "fault";

static void exec_child(void *arg) {
    spec *sp = arg;
    gm_test_execve(sp->argv[0], sp->argv, sp->envp);
    _exit(121);
}

static gm_child child;

static void run_fault(const char *fault) {
    static spec sp;
    sp.argv[0] = self;
    sp.argv[1] = mode_fault;
    sp.argv[2] = NULL;
    size_t n = 0;
    for (char **e = environ; *e && n + 2 < 512; e++)
        if (strncmp(*e, "GOMEM_", 6) != 0)
            sp.envp[n++] = *e;
    snprintf(sp.fault, sizeof sp.fault, "GOMEM_FAULT=%s", fault);
    sp.envp[n++] = sp.fault;
    sp.envp[n] = NULL;
    CHECK(gm_test_run_child(exec_child, &sp, &child) == 0, "could not start a child");
}

static int runs, clean_exits, clean_fatals, total_nulls;

static void check_fault(const char *fault) {
    run_fault(fault);
    char how[64];
    gm_child_how(&child, how, sizeof how);
    runs++;
    if (child.exited && child.exit_code == 0) {
        long nl = 0;
        const char *p = strstr(child.err, "child: ");
        CHECK(p && sscanf(p, "child: %ld NULL", &nl) == 1, "GOMEM_FAULT=%s: no report:\n%s", fault, child.err);
        total_nulls += (int)nl;
        clean_exits++;
        return;
    }
    bool fatal = child.signaled && child.signo == SIGABRT && strstr(child.err, "gomem: fatal error: ") &&
                 strstr(child.err, "gomem: address space ") && strstr(child.err, "heap: ");
    CHECK(fatal, "GOMEM_FAULT=%s: the child ended with %s, neither cleanly nor with gomem's fatal error and "
                 "figures:\n%s",
          fault, how, child.err);
    clean_fatals++;
}

static void part_faults(void) {
    static const char *const kinds[] = {"reserve", "commit", "alloc", "madvise", "stack"};
    int max_n = gm_test_quick() ? 4 : 8;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (int n = 1; n <= max_n; n++) {
            char f[64];
            snprintf(f, sizeof f, "%s:%d", kinds[k], n);
            check_fault(f);
            snprintf(f, sizeof f, "%s:%d+", kinds[k], n);
            check_fault(f);
        }
        /* Failures spread over a run. */
        char f[64];
        snprintf(f, sizeof f, "%s:%d+", kinds[k], 40);
        check_fault(f);
    }
    check_fault("commit:3,alloc:5,stack:2+,madvise:1+");
    printf("part 1: %d runs with injected faults: %d ran to the end (%d NULL answers with ENOMEM), %d stopped "
           "with a fatal error and figures\n",
           runs, clean_exits, total_nulls, clean_fatals);
    CHECK(total_nulls > 0 && clean_exits > 0, "no run saw an injected failure as NULL");

    run_fault("mmap:1");
    CHECK(child.signaled && child.signo == SIGABRT && strstr(child.err, "GOMEM_FAULT=\"mmap:1\"") &&
              strstr(child.err, "reserve"),
          "a malformed GOMEM_FAULT should stop start-up naming it; stderr:\n%s", child.err);
    printf("part 1: a malformed GOMEM_FAULT is refused: %s", strstr(child.err, "gomem: fatal error"));
}

/* ------------------------------------------------------------- part 2 */

static _Atomic int stop_all;
static _Atomic long alarms, eintrs;

static void on_alarm(int sig) {
    (void)sig;
    atomic_fetch_add_explicit(&alarms, 1, memory_order_relaxed);
}

static void *reader(void *arg) {
    int fd = *(int *)arg;
    char c;
    while (!atomic_load(&stop_all)) {
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            atomic_fetch_add(&eintrs, 1);
        void *p = gm_alloc(128);
        CHECK(p, "gm_alloc");
    }
    return NULL;
}

static void *churner(void *arg) {
    (void)arg;
    cell *mine = NULL;
    uint64_t tag = 0;
    while (!atomic_load(&stop_all)) {
        cell *c = gm_alloc(sizeof *c);
        CHECK(c, "gm_alloc");
        c->tag = tag++;
        gm_test_fill(c->pad, sizeof c->pad, c->tag);
        c->next = tag % 256 ? mine : NULL;
        mine = c;
        for (cell *x = mine; x; x = x->next)
            CHECK(gm_test_verify(x->pad, sizeof x->pad, x->tag) == (size_t)-1, "cell %llu corrupted",
                  (unsigned long long)x->tag);
    }
    return NULL;
}

static void part_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: blocking calls return EINTR */
    sigaction(SIGALRM, &sa, NULL);
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pthread_t r, ch[2];
    CHECK(gm_thread_create(&r, NULL, reader, &p[0]) == 0, "thread");
    for (int i = 0; i < 2; i++)
        CHECK(gm_thread_create(&ch[i], NULL, churner, NULL) == 0, "thread");
    struct itimerval it = {{0, 100}, {0, 100}};
    setitimer(ITIMER_REAL, &it, NULL);
    double t0 = gm_test_now();
    gm_memstats m0, m;
    gm_read_memstats(&m0);
    int cycles = 0;
    while (gm_test_now() - t0 < (gm_test_quick() ? 0.5 : 1.5)) {
        gm_gc();
        cycles++;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    atomic_store(&stop_all, 1);
    CHECK(write(p[1], "x", 1) == 1, "write");
    pthread_join(r, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(ch[i], NULL);
    gm_read_memstats(&m);
    printf("part 2: %d collections under %ld SIGALRMs (%ld reads interrupted): ok\n", cycles,
           atomic_load(&alarms), atomic_load(&eintrs));
    CHECK(cycles > 5 && atomic_load(&alarms) > 100, "%d cycles, %ld alarms", cycles, atomic_load(&alarms));
    CHECK(m.num_gc >= m0.num_gc + (uint32_t)cycles, "num_gc %u -> %u", m0.num_gc, m.num_gc);
    signal(SIGALRM, SIG_DFL);
    close(p[0]);
    close(p[1]);
}

/* ------------------------------------------------------------- part 3 */

static _Atomic long short_lived_done;

static void *short_lived(void *arg) {
    uint64_t tag = (uint64_t)(intptr_t)arg;
    cell *mine = NULL;
    for (int i = 0; i < 50; i++) {
        cell *c = gm_alloc(sizeof *c);
        CHECK(c, "gm_alloc");
        c->tag = tag * 1000 + (uint64_t)i;
        gm_test_fill(c->pad, sizeof c->pad, c->tag);
        c->next = mine;
        mine = c;
    }
    for (cell *x = mine; x; x = x->next)
        CHECK(gm_test_verify(x->pad, sizeof x->pad, x->tag) == (size_t)-1, "short-lived thread's cell corrupted");
    atomic_fetch_add(&short_lived_done, 1);
    return NULL;
}

static void *collect_loop(void *arg) {
    (void)arg;
    while (!atomic_load(&stop_all))
        gm_gc();
    return NULL;
}

static void part_thread_churn(void) {
    atomic_store(&stop_all, 0);
    pthread_t gc;
    CHECK(gm_thread_create(&gc, NULL, collect_loop, NULL) == 0, "thread");
    gm_memstats m0, m;
    gm_read_memstats(&m0);
    int n = gm_test_quick() ? 100 : 400;
    for (int i = 0; i < n; i += 4) {
        pthread_t t[4];
        for (int k = 0; k < 4; k++)
            CHECK(pthread_create(&t[k], NULL, short_lived, (void *)(intptr_t)(i + k)) == 0, "pthread_create");
        for (int k = 0; k < 4; k++)
            pthread_join(t[k], NULL);
    }
    atomic_store(&stop_all, 1);
    pthread_join(gc, NULL);
    gm_read_memstats(&m);
    printf("part 3: %ld threads came and went during %u collections: ok\n", atomic_load(&short_lived_done),
           m.num_gc - m0.num_gc);
    CHECK(atomic_load(&short_lived_done) == n, "%ld of %d threads finished", atomic_load(&short_lived_done), n);
    CHECK(m.num_gc > m0.num_gc, "no collection ran");
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "fault") == 0)
        return fault_child();
    part_faults();
    part_signals();
    part_thread_churn();
    printf("test_os_fault: ok\n");
    return 0;
}
