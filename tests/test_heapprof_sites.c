/*
 * test_heapprof_sites.c - at the default rate (one sample per 512 KiB),
 * `go tool pprof -top -sample_index=alloc_space` attributes what three
 * functions allocated in known amounts to those functions, each within
 * 4.5 standard deviations of the sampling error; and an allocation
 * pattern whose period divides the mean sampling distance is sampled
 * without aliasing (both halves of the period seen in proportion).
 *
 * The collector is off (objects are released with gm_free) and the
 * sampler seeded from the test's seed, so a seed reproduces a run.
 *
 * The sampling error: an object of s bytes is sampled with probability
 * p = 1 - exp(-s / rate) and then stands for s / p bytes, so n such
 * objects are estimated with variance n s^2 (1 - p) / p.
 */
#include <math.h>

#include "heap/heap.h"
#include "pprof_tool.h"

#define RATE (512.0 * 1024)
#define RING 256

static void *volatile ring[RING];
static unsigned ring_pos;

/* Each site keeps its object a little while (in ring), then frees it, so
 * the heap stays small without collections; each is its own frame: the
 * code after the call keeps the compiler from turning it into a jump. */
#define SITE(name, size, noscan)                                          \
    __attribute__((noinline)) static void name(void) {                    \
        void *p = noscan ? gm_alloc_noscan(size) : gm_alloc(size);        \
        CHECK(p != NULL, "allocation of %d bytes failed", (int)(size));   \
        void *old = ring[ring_pos % RING];                                \
        ring[ring_pos++ % RING] = p;                                      \
        __asm__ volatile("" ::: "memory");                                \
        gm_free(old);                                                     \
    }

SITE(site_small, 48, false)
SITE(site_medium, 2048, true)
SITE(site_large, 40960, true)
SITE(site_period_big, 16384, true)
SITE(site_period_small, 512, true)

static double sigma(double n, double s) {
    double p = 1 - exp(-s / RATE);
    return sqrt(n * s * s * (1 - p) / p);
}

typedef struct expect {
    const char *fn;
    double n, size;
} expect;

static void check_site(const pprof_top_t *t, const expect *e) {
    double want = e->n * e->size, sd = sigma(e->n, e->size);
    double got = pprof_top_flat(t, e->fn);
    printf("  %-18s %10.0f bytes estimated, %10.0f allocated (sd %.0f, %+.2f sd)\n", e->fn, got, want, sd,
           (got - want) / sd);
    CHECK(fabs(got - want) <= 4.5 * sd, "%s: pprof estimates %.0f bytes, allocated %.0f (sd %.0f): off by %.1f sd\n%s",
          e->fn, got, want, sd, fabs(got - want) / sd, t->text);
}

int main(int argc, char **argv) {
    (void)argc;
    pprof_reexec_with(argv, "GOMEM_DEBUG", "memprofilerate=524288");
    pprof_reexec_with(argv, "GOMEM_GC", "off");
    pprof_setup();
    /* Without collections this thread's allocations alone decide which
     * objects are sampled: the seed reproduces a run. */
    gm_sample_reseed(gm_test_seed("test_heapprof_sites"));
    bool quick = gm_test_quick();
    int scale = quick ? 1 : 2;
    /* 1 : 2 : 5 in bytes. */
    expect sites[3] = {{"site_small", 524288.0 * scale, 48},
                       {"site_medium", 24576.0 * scale, 2048},
                       {"site_large", 3072.0 * scale, 40960}};
    long nsmall = (long)sites[0].n, nmedium = (long)sites[1].n, nlarge = (long)sites[2].n;
    for (long i = 0; i < nsmall; i++) {
        site_small();
        if (i < nmedium)
            site_medium();
        if (i < nlarge)
            site_large();
    }
    /* Period 32 KiB: one 16 KiB object, then 32 of 512 B.  A sampler with a
     * fixed distance of 512 KiB would hit the same place in every period. */
    long periods = 4096L * scale;
    for (long i = 0; i < periods; i++) {
        site_period_big();
        for (int k = 0; k < 32; k++)
            site_period_small();
    }
    char binary[1024], profile[1024];
    ssize_t n = readlink("/proc/self/exe", binary, sizeof binary - 1);
    CHECK(n > 0, "readlink /proc/self/exe: %s", strerror(errno));
    binary[n] = 0;
    snprintf(profile, sizeof profile, "%s/sites.pb.gz", pprof_dir);
    pprof_write(profile);

    static pprof_top_t top;
    pprof_top(&top, "alloc_space", binary, profile);
    printf("alloc_space by function (total %.0f bytes):\n", top.total);
    for (int i = 0; i < 3; i++)
        check_site(&top, &sites[i]);
    expect big = {"site_period_big", (double)periods, 16384}, small = {"site_period_small", periods * 32.0, 512};
    check_site(&top, &big);
    check_site(&top, &small);
    /* The proportions: small : medium : large = 1 : 2 : 5. */
    double a = pprof_top_flat(&top, "site_small"), b = pprof_top_flat(&top, "site_medium"),
           c = pprof_top_flat(&top, "site_large");
    CHECK(a < b && b < c, "proportions out of order: %.0f %.0f %.0f", a, b, c);
    printf("proportions: 1 : %.2f : %.2f (allocated 1 : 2 : 5)\n", b / a, c / a);

    /* The same objects counted: alloc_objects is the byte estimate over
     * the object size. */
    static pprof_top_t objs;
    pprof_top(&objs, "alloc_objects", binary, profile);
    double nlarge_est = pprof_top_flat(&objs, "site_large");
    CHECK(fabs(nlarge_est * 40960 - c) <= 40960 * 2, "site_large: %.0f objects but %.0f bytes\n%s", nlarge_est, c, objs.text);
    pprof_cleanup();
    printf("ok\n");
    return 0;
}
