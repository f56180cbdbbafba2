/*
 * test_heapprof_threads.c - heap profiles written while other threads
 * allocate, free and collect are well-formed: `go tool pprof -raw` reads
 * each one and finds the workers' allocating functions, and in every
 * profile each function's in-use figures are at most its allocated ones.
 * Meanwhile the workers' live objects stay intact (checked against a
 * pattern) and garbage is reclaimed (memstats counts frees).  A child
 * forked meanwhile allocates, collects and writes its own profile.
 *
 * memprofilerate=4096 makes samples (and the profiler's lock, records and
 * sweeps) frequent.  ctest-labels: threads
 */
#include <pthread.h>
#include <stdatomic.h>

#include "pprof_tool.h"

#define WORKERS 3
#define LIVE 512
#define PROFILES 8

static atomic_bool stop;
static atomic_long allocated;

__attribute__((noinline)) static void *worker_small(gm_rng *r) {
    void *p = gm_alloc(16 + gm_rng_below(r, 500));
    __asm__ volatile("" ::: "memory");
    return p;
}
__attribute__((noinline)) static void *worker_large(void) {
    void *p = gm_alloc_noscan(50000);
    __asm__ volatile("" ::: "memory");
    return p;
}
__attribute__((noinline)) static void *worker_tiny(void) {
    void *p = gm_alloc_noscan(12);
    __asm__ volatile("" ::: "memory");
    return p;
}

typedef struct worker {
    pthread_t thread;
    uint64_t seed;
    void *live[LIVE];
    size_t size[LIVE];
    uint64_t tag[LIVE];
} worker;

static void *work(void *arg) {
    worker *w = arg;
    gm_rng r = {w->seed};
    uint64_t n = 0;
    while (!atomic_load(&stop)) {
        size_t k = (size_t)gm_rng_below(&r, LIVE);
        if (w->live[k]) {
            size_t bad = gm_test_verify(w->live[k], w->size[k], w->tag[k]);
            CHECK(bad == (size_t)-1, "live object %p (%zu bytes) corrupted at byte %zu", w->live[k], w->size[k], bad);
            if (gm_rng_below(&r, 2))
                gm_free(w->live[k]);
        }
        uint64_t kind = gm_rng_below(&r, 100);
        void *p = kind < 2 ? worker_large() : kind < 20 ? worker_tiny() : worker_small(&r);
        CHECK(p != NULL, "allocation failed");
        w->live[k] = p;
        w->size[k] = gm_size(p) < 64 ? gm_size(p) : 64;
        w->tag[k] = ++n ^ w->seed;
        gm_test_fill(p, w->size[k], w->tag[k]);
        atomic_fetch_add(&allocated, 1);
    }
    return NULL;
}

/* In a child forked while the workers allocate: the profiler's lock and
 * records are usable (the fork handlers took its lock last). */
static char fork_profile[1024];
__attribute__((noinline)) static void *child_site(void) {
    void *p = gm_alloc(200);
    __asm__ volatile("" ::: "memory");
    return p;
}
__attribute__((unused)) static void in_child(void *arg) { /* not called in sanitizer builds */
    (void)arg;
    for (int i = 0; i < 20000; i++)
        CHECK(child_site() != NULL, "allocation in the child failed");
    gm_gc();
    pprof_write(fork_profile);
}

int main(int argc, char **argv) {
    (void)argc;
    pprof_reexec_with(argv, "GOMEM_DEBUG", "memprofilerate=4096");
    pprof_setup();
    char binary[1024];
    ssize_t len = readlink("/proc/self/exe", binary, sizeof binary - 1);
    CHECK(len > 0, "readlink: %s", strerror(errno));
    binary[len] = 0;
    uint64_t seed = gm_test_seed("test_heapprof_threads");
    static worker w[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        w[i].seed = seed + (uint64_t)i * 0x9e3779b97f4a7c15ull;
        CHECK(pthread_create(&w[i].thread, NULL, work, &w[i]) == 0, "pthread_create");
    }
    static char out[1 << 20];
    for (int i = 0; i < PROFILES; i++) {
        /* Each profile is taken after the workers allocated more. */
        long target = atomic_load(&allocated) + 20000;
        while (atomic_load(&allocated) < target)
            sched_yield();
        if (i % 3 == 2)
            gm_gc();
        char profile[1024], args[2200];
        snprintf(profile, sizeof profile, "%s/threads%d.pb.gz", pprof_dir, i);
        pprof_write(profile);
        snprintf(args, sizeof args, "-raw '%s' '%s'", binary, profile);
        int rc = pprof_run(args, out, sizeof out);
        CHECK(rc == 0, "profile %d: go tool pprof -raw failed (%d):\n%s", i, rc, out);
        CHECK(strstr(out, "Samples:") && strstr(out, "worker_small"), "profile %d: no worker_small samples:\n%.4000s", i, out);
        static pprof_top_t alloc, inuse;
        pprof_top(&alloc, "alloc_space", binary, profile);
        pprof_top(&inuse, "inuse_space", binary, profile);
        const char *fns[] = {"worker_small", "worker_large", "worker_tiny"};
        for (int k = 0; k < 3; k++) {
            double a = pprof_top_flat(&alloc, fns[k]), u = pprof_top_flat(&inuse, fns[k]);
            CHECK(u <= a, "profile %d: %s has %.0f bytes in use of %.0f allocated", i, fns[k], u, a);
        }
        printf("profile %d: worker_small %.0f B allocated, %.0f B in use (after %ld allocations)\n", i,
               pprof_top_flat(&alloc, "worker_small"), pprof_top_flat(&inuse, "worker_small"),
               atomic_load(&allocated));
    }
    /* A fork from the busy parent (not under sanitizers, where forking a
     * busy threaded parent is known to hang now and then: see test_gc_fork). */
#ifndef GOMEM_SANITIZED
    snprintf(fork_profile, sizeof fork_profile, "%s/fork.pb.gz", pprof_dir);
    static gm_child c;
    char how[64];
    CHECK(gm_test_run_child(in_child, NULL, &c) == 0, "fork failed: %s", strerror(errno));
    CHECK(c.exited && c.exit_code == 0, "forked child ended with %s:\n%s", gm_child_how(&c, how, sizeof how), c.err);
    static pprof_top_t child;
    pprof_top(&child, "alloc_space", binary, fork_profile);
    CHECK(pprof_top_flat(&child, "child_site") > 0, "the forked child's profile has no child_site:\n%s", child.text);
    printf("forked child: child_site %.0f B allocated\n", pprof_top_flat(&child, "child_site"));
#endif
    atomic_store(&stop, true);
    for (int i = 0; i < WORKERS; i++)
        CHECK(pthread_join(w[i].thread, NULL) == 0, "pthread_join");
    gm_memstats ms;
    gm_read_memstats(&ms);
    CHECK(ms.frees > 0 && ms.num_gc > 0, "no garbage reclaimed: %llu frees, %u collections",
          (unsigned long long)ms.frees, (unsigned)ms.num_gc);
    pprof_cleanup();
    printf("ok\n");
    return 0;
}
