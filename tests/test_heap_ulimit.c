/*
 * test_heap_ulimit.c - gomem under a small address-space limit (ulimit -v,
 * RLIMIT_AS).
 *
 * The limit counts every mapping, reserved or not.  gomem reserves heap
 * arenas without over-reserving for alignment, falls back to parts of an
 * arena when a whole one (64 MiB) does not fit, keeps its arena index in
 * two levels (a flat one took 32 MiB), gives its own threads 1 MiB stacks
 * and halves a goroutine stack's reservation until it fits.
 *
 * The test measures the address space a child of this program uses once
 * gomem has started (VmSize), then re-executes itself under limits of that
 * plus 64 MiB and plus 48 MiB: each child keeps 10 MiB live (a list of
 * 40000 small scan objects and 20 large ones), churns 160 MiB of garbage through
 * collections, verifies every live object, runs 40 goroutines that park and
 * wake, and exits 0.  Under a limit of the baseline plus 6 MiB a child that
 * allocates 20 MiB must fail cleanly: gm_alloc returns NULL with ENOMEM
 * (the child exits 10), or gomem stops with "gomem: fatal error" and a line
 * with the address space figures; never a crash by another signal.
 */
#include <sys/resource.h>

#include "gm_test.h"

extern char **environ;

static long vm_size_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0)
            kib = strtol(line + 7, NULL, 10);
    fclose(f);
    return kib;
}

/* ------------------------------------------------------------ children */

typedef struct node {
    struct node *next;
    uint64_t tag;
    unsigned char pad[80];
} node;

static node *list_head;
static unsigned char *bigs[20];
static gm_chan *wake;

static void parker(void *arg) {
    (void)arg;
    gm_chan_recv(wake, NULL);
}

static int work_child(void) {
    enum { NODES = 40000, BIG = 256 << 10 };
    for (int i = 0; i < NODES; i++) {
        node *n = gm_alloc(sizeof *n);
        if (!n)
            return 10;
        n->tag = (uint64_t)i;
        gm_test_fill(n->pad, sizeof n->pad, (uint64_t)i);
        n->next = list_head;
        list_head = n;
    }
    for (int i = 0; i < 20; i++) {
        bigs[i] = gm_alloc_noscan(BIG + (size_t)i * 4096);
        if (!bigs[i])
            return 10;
        gm_test_fill(bigs[i], BIG + (size_t)i * 4096, 1000 + (uint64_t)i);
    }
    for (int round = 0; round < 160; round++) {
        for (int k = 0; k < 16; k++)
            if (!gm_alloc(64 << 10))
                return 10;
    }
    wake = gm_chan_make(0, 0);
    for (int i = 0; i < 40; i++)
        if (gm_go(parker, NULL) <= 0)
            return 11;
    gm_yield();
    for (int i = 0; i < 40; i++)
        gm_chan_send(wake, NULL);
    gm_gc();
    long count = 0;
    for (node *n = list_head; n; n = n->next, count++)
        if (gm_test_verify(n->pad, sizeof n->pad, n->tag) != (size_t)-1)
            return 12;
    if (count != NODES)
        return 13;
    for (int i = 0; i < 20; i++)
        if (gm_test_verify(bigs[i], BIG + (size_t)i * 4096, 1000 + (uint64_t)i) != (size_t)-1)
            return 14;
    gm_memstats m;
    gm_read_memstats(&m);
    fprintf(stderr, "child: %u collections, heap_sys %llu MiB, address space %ld MiB\n", m.num_gc,
            (unsigned long long)(m.heap_sys >> 20), vm_size_kib() >> 10);
    return 0;
}

static int small_child(void) {
    void *keep[20];
    for (int i = 0; i < 20; i++) {
        keep[i] = gm_alloc(1 << 20);
        if (!keep[i]) {
            fprintf(stderr, "child: gm_alloc returned NULL (%s) after %d MiB\n", strerror(errno), i);
            return errno == ENOMEM ? 10 : 15;
        }
    }
    gm_keep_alive(keep[0]);
    return 0;
}

/* --------------------------------------------------------------- parent */

typedef struct spec {
    const char *mode;
    long limit_kib; /* 0: none */
} spec;

static char self[] = "/proc/self/exe";

static void exec_child(void *arg) {
    spec *sp = arg;
    if (sp->limit_kib) {
        struct rlimit rl = {(rlim_t)sp->limit_kib << 10, (rlim_t)sp->limit_kib << 10};
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(120);
    }
    char *argv[] = {self, (char *)sp->mode, NULL};
    gm_test_execve(self, argv, environ);
    _exit(121);
}

static gm_child c;

static void run(const char *mode, long limit_kib) {
    spec sp = {mode, limit_kib};
    CHECK(gm_test_run_child(exec_child, &sp, &c) == 0, "could not start a child");
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "probe") == 0) {
        /* Before any gomem call: gomem starts on the first one. */
        fprintf(stderr, "vmsize %ld\n", vm_size_kib());
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "work") == 0)
        return work_child();
    if (argc > 1 && strcmp(argv[1], "small") == 0)
        return small_child();

#ifdef GOMEM_SANITIZED
    /* The sanitizers' shadow memory takes terabytes of address space. */
    printf("test_heap_ulimit: under a sanitizer, whose shadow needs the address space: not tested here\n");
    return 0;
#endif
    const char *emu = getenv("GM_TEST_EMULATOR");
    if (emu && *emu) {
        /* qemu-user takes setrlimit(RLIMIT_AS) without applying it. */
        printf("test_heap_ulimit: under an emulator (%s), which does not apply RLIMIT_AS: not tested here\n", emu);
        return 0;
    }
    char how[64];
    run("probe", 0);
    long base = -1;
    const char *v = strstr(c.err, "vmsize ");
    CHECK(c.exited && c.exit_code == 0 && v && sscanf(v, "vmsize %ld", &base) == 1 && base > 0,
          "probe child: %s, stderr:\n%s", gm_child_how(&c, how, sizeof how), c.err);
    printf("address space of a child before gomem starts: %ld MiB\n", base >> 10);

    long extra_mib[8] = {64, 48};
    size_t nextra = 2;
    for (int i = 1; i < argc && nextra < 8; i++)
        extra_mib[nextra++] = strtol(argv[i], NULL, 10);
    for (size_t i = 0; i < nextra; i++) {
        long limit = base + (extra_mib[i] << 10);
        run("work", limit);
        gm_child_how(&c, how, sizeof how);
        CHECK(c.exited && c.exit_code == 0, "under a limit of %ld MiB (+%ld MiB): child ended with %s; stderr:\n%s",
              limit >> 10, extra_mib[i], how, c.err);
        printf("limit %ld MiB (+%ld): ok; %s", limit >> 10, extra_mib[i], c.err);
    }

    long tight = base + (6 << 10);
    run("small", tight);
    gm_child_how(&c, how, sizeof how);
    bool clean_null = c.exited && c.exit_code == 10;
    bool clean_fatal = c.signaled && c.signo == SIGABRT && strstr(c.err, "gomem: fatal error: ") &&
                       strstr(c.err, "gomem: address space ");
    CHECK(clean_null || clean_fatal, "under %ld MiB a 20 MiB heap should fail cleanly; child ended with %s:\n%s",
          tight >> 10, how, c.err);
    printf("limit %ld MiB (+6): failed cleanly (%s): %s", tight >> 10, how, c.err);
    printf("test_heap_ulimit: ok\n");
    return 0;
}
