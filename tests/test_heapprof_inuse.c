/*
 * test_heapprof_inuse.c - with memprofilerate=1 every object is sampled,
 * so the profile's counts are exact: alloc_objects and alloc_space of each
 * function are what it allocated (small, tiny and large objects); before
 * any collection everything counts as in use except what gm_free
 * released; after gm_gc() the objects that died have left inuse_space
 * while the reachable ones (verified intact) are all still there; objects
 * allocated by goroutines (growable and copy stacks) are counted under
 * their function too.  Also:
 * GOMEM_HEAPPROFILE writes a profile at exit, and gm_write_heap_profile
 * reports a bad descriptor.
 *
 * The collector is off (GOMEM_GC=off) so that only gm_gc() collects.
 */
#include "pprof_tool.h"

#define N_KEEP 3000
#define N_DROP 5000
#define N_FREE 2000
#define N_TINY 4000
#define N_LARGE 25

static void *volatile keep[N_KEEP];
static void *volatile tiny[N_TINY];
static void *volatile large[N_LARGE];
static void *volatile sink;

__attribute__((noinline)) static void *keep_site(void) {
    void *p = gm_alloc(64);
    __asm__ volatile("" ::: "memory");
    return p;
}
__attribute__((noinline)) static void drop_site(void) {
    sink = gm_alloc(128);
    __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) static void free_site(void) {
    void *p = gm_alloc(256);
    __asm__ volatile("" ::: "memory");
    gm_free(p);
}
__attribute__((noinline)) static void *tiny_site(void) {
    void *p = gm_alloc_noscan(8);
    __asm__ volatile("" ::: "memory");
    return p;
}
__attribute__((noinline)) static void *large_keep_site(void) {
    void *p = gm_alloc_noscan(40000);
    __asm__ volatile("" ::: "memory");
    return p;
}
__attribute__((noinline)) static void large_drop_site(void) {
    sink = gm_alloc_noscan(40000);
    __asm__ volatile("" ::: "memory");
}
/* Goroutines on both stack kinds: their stacks unwind to the goroutine's
 * entry. */
#define N_GO 10
#define N_PER_GO 300
static void *volatile go_objs[N_GO * N_PER_GO];
static gm_waitgroup *wg;
__attribute__((noinline)) static void *goroutine_site(void) {
    void *p = gm_alloc(48);
    __asm__ volatile("" ::: "memory");
    return p;
}
static void goroutine_body(void *arg) {
    intptr_t g = (intptr_t)arg;
    for (int i = 0; i < N_PER_GO; i++) {
        go_objs[g * N_PER_GO + i] = goroutine_site();
        if (i % 50 == 0)
            gm_yield();
    }
    gm_waitgroup_done(wg);
}

__attribute__((noinline)) static void exit_site(void) {
    sink = gm_alloc(32);
    __asm__ volatile("" ::: "memory");
}

static char binary[1024];

typedef struct want {
    const char *fn;
    double alloc_objects, alloc_space, inuse_objects, inuse_space;
    double inuse_slack; /* objects the conservative collector may keep */
} want;

static void check_profile(const char *profile, const want *w, int n, const char *when) {
    static pprof_top_t t[4];
    const char *index[4] = {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"};
    for (int k = 0; k < 4; k++)
        pprof_top(&t[k], index[k], binary, profile);
    printf("%s:\n", when);
    for (int i = 0; i < n; i++) {
        double got[4], exp[4] = {w[i].alloc_objects, w[i].alloc_space, w[i].inuse_objects, w[i].inuse_space};
        for (int k = 0; k < 4; k++)
            got[k] = pprof_top_flat(&t[k], w[i].fn);
        printf("  %-16s alloc %6.0f objects %9.0f B, inuse %6.0f objects %9.0f B\n", w[i].fn, got[0], got[1],
               got[2], got[3]);
        for (int k = 0; k < 2; k++)
            CHECK(got[k] == exp[k], "%s: %s of %s is %.0f, want exactly %.0f\n%s", when, index[k], w[i].fn, got[k],
                  exp[k], t[k].text);
        double per = w[i].inuse_objects ? w[i].inuse_space / w[i].inuse_objects : w[i].alloc_space / w[i].alloc_objects;
        CHECK(got[2] <= exp[2] + w[i].inuse_slack && got[2] >= exp[2], "%s: inuse_objects of %s is %.0f, want %.0f (+%.0f)\n%s",
              when, w[i].fn, got[2], exp[2], w[i].inuse_slack, t[2].text);
        CHECK(got[3] == got[2] * per, "%s: inuse_space of %s is %.0f for %.0f objects of %.0f B\n%s", when, w[i].fn,
              got[3], got[2], per, t[3].text);
    }
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "exit-child") == 0) {
        for (int i = 0; i < 100; i++)
            exit_site();
        return 0; /* GOMEM_HEAPPROFILE is written now, at exit */
    }
    pprof_reexec_with(argv, "GOMEM_DEBUG", "memprofilerate=1");
    pprof_reexec_with(argv, "GOMEM_GC", "off");
    pprof_setup();
    ssize_t len = readlink("/proc/self/exe", binary, sizeof binary - 1);
    CHECK(len > 0, "readlink /proc/self/exe: %s", strerror(errno));
    binary[len] = 0;

    for (int i = 0; i < N_KEEP; i++) {
        keep[i] = keep_site();
        gm_test_fill(keep[i], 64, (uint64_t)i);
    }
    for (int i = 0; i < N_DROP; i++)
        drop_site();
    for (int i = 0; i < N_FREE; i++)
        free_site();
    for (int i = 0; i < N_TINY; i++) {
        tiny[i] = tiny_site();
        memset(tiny[i], i & 0xff, 8);
    }
    for (int i = 0; i < N_LARGE; i++) {
        large[i] = large_keep_site();
        large_drop_site();
    }
    wg = gm_waitgroup_make();
    for (intptr_t g = 0; g < N_GO; g++) {
        gm_waitgroup_add(wg, 1);
        gm_go_options o = {.stack_kind = g % 2 ? GM_STACK_COPY : GM_STACK_GROWABLE};
        CHECK(gm_go_with(goroutine_body, (void *)g, &o) > 0, "gm_go_with: %s", strerror(errno));
    }
    gm_waitgroup_wait(wg);
    sink = NULL;

    char before[1024], after[1024];
    snprintf(before, sizeof before, "%s/before.pb.gz", pprof_dir);
    snprintf(after, sizeof after, "%s/after.pb.gz", pprof_dir);
    pprof_write(before);
    want w1[] = {
        {"keep_site", N_KEEP, N_KEEP * 64.0, N_KEEP, N_KEEP * 64.0, 0},
        {"drop_site", N_DROP, N_DROP * 128.0, N_DROP, N_DROP * 128.0, 0},
        {"free_site", N_FREE, N_FREE * 256.0, 0, 0, 0},
        {"tiny_site", N_TINY, N_TINY * 8.0, N_TINY, N_TINY * 8.0, 0},
        {"large_keep_site", N_LARGE, N_LARGE * 40960.0, N_LARGE, N_LARGE * 40960.0, 0},
        {"large_drop_site", N_LARGE, N_LARGE * 40960.0, N_LARGE, N_LARGE * 40960.0, 0},
        {"goroutine_site", N_GO * N_PER_GO, N_GO * N_PER_GO * 48.0, N_GO * N_PER_GO, N_GO * N_PER_GO * 48.0, 0},
    };
    check_profile(before, w1, 7, "before any collection");

    gm_gc();
    pprof_write(after);
    want w2[] = {
        {"keep_site", N_KEEP, N_KEEP * 64.0, N_KEEP, N_KEEP * 64.0, 0},
        {"drop_site", N_DROP, N_DROP * 128.0, 0, 0, N_DROP / 50},
        {"free_site", N_FREE, N_FREE * 256.0, 0, 0, 0},
        {"tiny_site", N_TINY, N_TINY * 8.0, N_TINY, N_TINY * 8.0, 0},
        {"large_keep_site", N_LARGE, N_LARGE * 40960.0, N_LARGE, N_LARGE * 40960.0, 0},
        {"large_drop_site", N_LARGE, N_LARGE * 40960.0, 0, 0, 1},
        {"goroutine_site", N_GO * N_PER_GO, N_GO * N_PER_GO * 48.0, N_GO * N_PER_GO, N_GO * N_PER_GO * 48.0, 0},
    };
    check_profile(after, w2, 7, "after gm_gc()");
    for (int i = 0; i < N_KEEP; i++) {
        size_t bad = gm_test_verify(keep[i], 64, (uint64_t)i);
        CHECK(bad == (size_t)-1, "kept object %d (%p) corrupted at byte %zu", i, keep[i], bad);
    }
    for (int i = 0; i < N_TINY; i++)
        for (int k = 0; k < 8; k++)
            CHECK(((unsigned char *)tiny[i])[k] == (i & 0xff), "tiny object %d corrupted", i);

    /* Bad descriptors are reported, not ignored. */
    errno = 0;
    CHECK(gm_write_heap_profile(-1) == -1 && errno == EBADF, "fd -1: rc/errno %d", errno);
    int ro = open("/dev/null", O_RDONLY);
    errno = 0;
    CHECK(gm_write_heap_profile(ro) == -1 && errno == EBADF, "read-only fd: errno %d (%s)", errno, strerror(errno));
    close(ro);

    /* GOMEM_HEAPPROFILE: a child writes one when it exits. */
    char exitprof[1024], cmd[4096];
    snprintf(exitprof, sizeof exitprof, "%s/exit.pb.gz", pprof_dir);
    snprintf(cmd, sizeof cmd, "GOMEM_HEAPPROFILE='%s' '%s' exit-child", exitprof, binary);
    CHECK(system(cmd) == 0, "%s failed", cmd);
    want w3[] = {{"exit_site", 100, 3200, 100, 3200, 0}};
    check_profile(exitprof, w3, 1, "GOMEM_HEAPPROFILE at exit");

    pprof_cleanup();
    printf("ok\n");
    return 0;
}
