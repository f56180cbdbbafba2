/*
 * test_gc_large_churn.c - large objects allocated and freed while
 * collections run back to back.
 *
 *   1. One thread allocates a 64 MiB object with pointers, fills it,
 *      checks it and frees it with gm_free, over and over, while the main
 *      thread calls gm_gc() without pause (so marking runs most of the
 *      time, and most frees come while it runs, when a large span cannot
 *      go back to the page heap at once).  The heap must stay bounded:
 *      heap_sys at most 12 objects' worth (before the pacer counted such
 *      deferred frees, it grew by one object per allocation: 21 GiB for a
 *      256 MiB object in a few seconds).  Every object allocated is freed:
 *      the large-free count grows by the number allocated, and after the
 *      churn the live heap returns to what it was.
 *   2. While marking runs, large objects are allocated and pointers to
 *      fresh small objects stored in them (a large object is zeroed after
 *      its allocation is published, and its zeroed pages are protected
 *      again rather than rescanned: a pointer stored after that must still
 *      be found); only the large objects hold the small ones.  After more
 *      cycles every small object is intact (id and checksum), and under
 *      gccheckmark (re-executed so) every cycle's marks are checked.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "gm_test.h"

#define MiB ((size_t)1 << 20)
#define BIG (64 * MiB)

static atomic_int churn_done;
static uint64_t churn_rounds;

static void *churn(void *arg) {
    uint64_t rounds = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0; i < rounds; i++) {
        uint64_t *p = gm_alloc(BIG);
        CHECK(p != NULL, "round %llu: gm_alloc(%zu) failed", (unsigned long long)i, BIG);
        size_t words = BIG / sizeof *p;
        /* Fast, so that the rounds outrun the collections: a few words
         * checked to be zero (the last round's values were there), then
         * written and read back. */
        for (size_t w = 0; w < words; w += words / 64) {
            CHECK(p[w] == 0, "round %llu: word %zu of a new large object is %#llx, not zero", (unsigned long long)i,
                  w, (unsigned long long)p[w]);
            p[w] = i * 1000003u + w;
        }
        for (size_t w = 0; w < words; w += words / 64)
            CHECK(p[w] == i * 1000003u + w, "round %llu: word %zu changed", (unsigned long long)i, w);
        gm_free(p);
        churn_rounds++;
    }
    atomic_store(&churn_done, 1);
    return NULL;
}

static void part1_churn(uint64_t rounds) {
    gm_gc();
    gm_memstats before, ms;
    gm_read_memstats(&before);
    pthread_t th;
    CHECK(gm_thread_create(&th, NULL, churn, (void *)(uintptr_t)rounds) == 0, "thread create failed");
    uint64_t cycles = 0, max_sys = 0;
    while (!atomic_load(&churn_done)) {
        gm_gc();
        cycles++;
        gm_read_memstats(&ms);
        if (ms.heap_sys > max_sys)
            max_sys = ms.heap_sys;
    }
    CHECK(pthread_join(th, NULL) == 0, "join failed");
    gm_gc();
    gm_read_memstats(&ms);
    if (ms.heap_sys > max_sys)
        max_sys = ms.heap_sys;
    printf("part 1: %llu rounds of a %zu MiB object beside %llu collections: heap_sys at most %llu MiB, "
           "objects freed %llu\n",
           (unsigned long long)churn_rounds, BIG / MiB, (unsigned long long)cycles,
           (unsigned long long)(max_sys / MiB), (unsigned long long)(ms.frees - before.frees));
    CHECK(churn_rounds == rounds, "%llu rounds ran of %llu", (unsigned long long)churn_rounds,
          (unsigned long long)rounds);
    CHECK(max_sys <= 12 * BIG, "heap_sys reached %llu MiB: more than 12 objects of %zu MiB",
          (unsigned long long)(max_sys / MiB), BIG / MiB);
    CHECK(ms.frees - before.frees >= rounds, "%llu objects freed, %llu large ones allocated",
          (unsigned long long)(ms.frees - before.frees), (unsigned long long)rounds);
    CHECK(ms.heap_alloc <= before.heap_alloc + 4 * MiB, "live heap %llu after the churn, %llu before",
          (unsigned long long)ms.heap_alloc, (unsigned long long)before.heap_alloc);
}

#define NLARGE 8
#define PER_LARGE 4096
#define LARGE_SIZE (4 * MiB)

static void *holder; /* a root: the array of large objects */

static atomic_int marker_stop;
static void *collect_loop(void *arg) {
    (void)arg;
    while (!atomic_load(&marker_stop))
        gm_gc();
    return NULL;
}

static void part2_stored_after_zeroing(void) {
    /* Free some large objects first, so that later ones reuse dirty pages
     * (and are zeroed by the allocator). */
    for (int i = 0; i < 16; i++)
        gm_free(gm_alloc(LARGE_SIZE));
    gm_gc();
    pthread_t th;
    CHECK(gm_thread_create(&th, NULL, collect_loop, NULL) == 0, "thread create failed");
    gm_test_obj ***large = gm_alloc(NLARGE * sizeof *large);
    holder = large;
    uint64_t id = 1;
    for (int l = 0; l < NLARGE; l++) {
        large[l] = gm_alloc(LARGE_SIZE);
        CHECK(large[l] != NULL, "large object %d: gm_alloc failed", l);
        /* Stored after the allocation returned: slots spread over its pages. */
        for (int k = 0; k < PER_LARGE; k++)
            large[l][(size_t)k * (LARGE_SIZE / sizeof(gm_test_obj *) / PER_LARGE)] = gm_test_obj_make(id++);
    }
    gm_test_clear_stack();
    for (int r = 0; r < 3; r++)
        gm_gc();
    atomic_store(&marker_stop, 1);
    CHECK(pthread_join(th, NULL) == 0, "join failed");
    gm_gc();
    id = 1;
    for (int l = 0; l < NLARGE; l++)
        for (int k = 0; k < PER_LARGE; k++)
            gm_test_obj_verify(large[l][(size_t)k * (LARGE_SIZE / sizeof(gm_test_obj *) / PER_LARGE)], id++,
                               "small object reachable only from a large one");
    printf("part 2: %d small objects, reachable only from %d large objects filled while marking ran, intact\n",
           NLARGE * PER_LARGE, NLARGE);
    holder = NULL;
}

int main(int argc, char **argv) {
    (void)argc;
    gm_test_checkmark(argv);
    setvbuf(stdout, NULL, _IONBF, 0);
    part1_churn(gm_test_quick() ? 12 : 40);
    part2_stored_after_zeroing();
    printf("test_gc_large_churn: ok\n");
    return 0;
}
