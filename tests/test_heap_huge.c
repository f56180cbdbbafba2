/*
 * test_heap_huge.c - sizes that cannot be had, or only lazily.
 *
 *   - gm_alloc, gm_alloc_noscan, gm_alloc_array, gm_new_array, gm_realloc
 *     and gm_realloc(NULL, ...) of sizes no address space can hold (2^48 B
 *     up to SIZE_MAX) and of products that overflow return NULL with
 *     errno == ENOMEM, never a block; gm_realloc leaves the old object
 *     intact; no address space is left reserved by the failures;
 *   - objects of 4 GiB and more (committed lazily, touched at two bytes)
 *     either fail with ENOMEM or are whole: gm_size at least the size asked,
 *     gm_base of the last byte is the start, a realloc that shrinks keeps
 *     the bytes it keeps;
 *   - a 1 TiB request (in a child) with the address space limited fails
 *     cleanly and leaves the heap usable; with GM_TEST_HUGE=1 also one
 *     without a limit, which must fail cleanly or give a whole block (it
 *     takes seconds: the page map of 1 TiB is 1 GiB).
 *
 * Runs with the collector off.
 */
#include "gm_test.h"
#include "gm.h"
#include "heap/heap.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)
#define TiB ((size_t)1 << 40)

static const size_t impossible[] = {
    (size_t)1 << 48,       (size_t)1 << 52,       (size_t)1 << 56,     (size_t)1 << 60,
    (size_t)1 << 62,       SIZE_MAX / 2 - 8191,   SIZE_MAX / 2,        SIZE_MAX / 2 + 1,
    (size_t)1 << 63,       SIZE_MAX - 8192,       SIZE_MAX - 8191,     SIZE_MAX - 4096,
    SIZE_MAX - 1,          SIZE_MAX,
};
#define NIMPOSSIBLE (sizeof impossible / sizeof impossible[0])

#define EXPECT_ENOMEM(call, what, ...)                                                                    \
    do {                                                                                                  \
        errno = 0;                                                                                        \
        void *r_ = (call);                                                                                \
        int e_ = errno;                                                                                   \
        CHECK(r_ == NULL, "%s returned %p (gm_size %zu), want NULL: " what, #call, r_, gm_size(r_),       \
              __VA_ARGS__);                                                                               \
        CHECK(e_ == ENOMEM, "%s: errno %d (%s), want ENOMEM: " what, #call, e_, strerror(e_), __VA_ARGS__); \
    } while (0)

static void test_impossible(void) {
    uint64_t reserved0 = atomic_load(&gm_heap.reserved);
    unsigned char *keep = gm_alloc(100);
    unsigned char *keep_large = gm_alloc_noscan(100000);
    CHECK(keep && keep_large, "alloc");
    gm_test_fill(keep, 100, 1);
    gm_test_fill(keep_large, 100000, 2);
    size_t keep_size = gm_size(keep), keep_large_size = gm_size(keep_large);
    for (size_t i = 0; i < NIMPOSSIBLE; i++) {
        size_t n = impossible[i];
        EXPECT_ENOMEM(gm_alloc(n), "size %zu", n);
        EXPECT_ENOMEM(gm_alloc_noscan(n), "size %zu", n);
        EXPECT_ENOMEM(gm_alloc_array(1, n), "size %zu", n);
        EXPECT_ENOMEM(gm_alloc_array(n, 1), "size %zu", n);
        EXPECT_ENOMEM(gm_realloc(NULL, n), "size %zu", n);
        EXPECT_ENOMEM(gm_realloc(keep, n), "size %zu", n);
        EXPECT_ENOMEM(gm_realloc(keep_large, n), "size %zu", n);
        CHECK(gm_size(keep) == keep_size && gm_base(keep) == keep, "failed gm_realloc(p, %zu) changed p", n);
        CHECK(gm_size(keep_large) == keep_large_size && gm_base(keep_large) == keep_large,
              "failed gm_realloc(p, %zu) changed p", n);
    }
    CHECK(gm_test_verify(keep, 100, 1) == (size_t)-1, "contents of p changed by failed reallocs");
    CHECK(gm_test_verify(keep_large, 100000, 2) == (size_t)-1, "contents of p changed by failed reallocs");
    uint64_t reserved1 = atomic_load(&gm_heap.reserved);
    CHECK(reserved1 <= reserved0 + 64 * MiB, "failed huge allocations left %llu MiB reserved",
          (unsigned long long)((reserved1 - reserved0) >> 20));
    gm_free(keep);
    gm_free(keep_large);
    printf("impossible sizes (2^48 .. SIZE_MAX): gm_alloc, gm_alloc_noscan, gm_alloc_array, gm_realloc "
           "-> NULL, ENOMEM, old object intact: ok\n");
}

struct elem24 {
    void *a, *b, *c;
};

static void test_overflow(void) {
    static const struct {
        size_t elem, n;
    } ov[] = {
        {SIZE_MAX / 2 + 1, 2},
        {2, SIZE_MAX / 2 + 1},
        {SIZE_MAX, SIZE_MAX},
        {SIZE_MAX, 2},
        {(size_t)1 << 32, (size_t)1 << 32},
        {(size_t)1 << 33, (size_t)1 << 31},
        {3, SIZE_MAX / 3 + 1},
        {16, SIZE_MAX / 16 + 1},
        {SIZE_MAX / 16 + 1, 16},
        {24, (size_t)-1},
        {(size_t)1 << 20, (size_t)1 << 30}, /* 2^50: no overflow, too big */
        {(size_t)1 << 24, (size_t)1 << 40}, /* 2^64: overflows to 0 */
    };
    for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++)
        EXPECT_ENOMEM(gm_alloc_array(ov[i].elem, ov[i].n), "%zu x %zu", ov[i].elem, ov[i].n);
    EXPECT_ENOMEM(gm_new_array(struct elem24, SIZE_MAX / sizeof(struct elem24) + 1), "%s", "24 B elements");
    EXPECT_ENOMEM(gm_new_array(struct elem24, SIZE_MAX), "%s", "24 B elements");
    EXPECT_ENOMEM(gm_new_array(struct elem24, -1), "%s", "n = -1");
    EXPECT_ENOMEM(gm_new_array(struct elem24, SIZE_MAX / 2), "%s", "24 B elements");
    EXPECT_ENOMEM(gm_new_array(uint64_t, (size_t)1 << 61), "%s", "2^61 words");
    EXPECT_ENOMEM(gm_new_array(char, SIZE_MAX), "%s", "SIZE_MAX chars");
    /* Right below the overflow, a sane product still works. */
    void *p = gm_alloc_array(SIZE_MAX, 0), *q = gm_alloc_array((size_t)1 << 10, (size_t)1 << 10);
    CHECK(p && q && gm_size(q) >= MiB, "gm_alloc_array(SIZE_MAX, 0) = %p, (1K, 1K) = %p", p, q);
    gm_free(p);
    gm_free(q);
    printf("overflowing products: gm_alloc_array, gm_new_array -> NULL, ENOMEM: ok\n");
}

/* A few GiB: fails with ENOMEM or is a whole block.  Each size runs in a
 * child with a heap that never freed a large object, so the block is fresh
 * and stays uncommitted but for the bytes the test touches. */
static void gigabytes(void *arg) {
    size_t n = *(const size_t *)arg;
    errno = 0;
    unsigned char *p = gm_alloc_noscan(n);
    if (!p) {
        CHECK(errno == ENOMEM, "gm_alloc_noscan(%zu) = NULL with errno %d", n, errno);
        fprintf(stderr, "  %zu B: ENOMEM\n", n);
        _exit(2);
    }
    size_t gs = gm_size(p);
    CHECK(gs >= n, "gm_alloc_noscan(%zu) = %p: gm_size %zu, a short block", n, (void *)p, gs);
    CHECK(gm_base(p + n - 1) == p, "gm_alloc_noscan(%zu) = %p: gm_base of the last byte is %p", n, (void *)p,
          gm_base(p + n - 1));
    CHECK(gm_size(p + n - 1) == gs, "gm_size of the last byte %zu, of the start %zu", gm_size(p + n - 1), gs);
    CHECK(p[0] == 0 && p[n - 1] == 0 && p[n / 2] == 0, "%zu-byte object not zeroed", n);
    p[0] = 0x11;
    p[n - 1] = 0x22;
    /* Shrinking keeps everything below the new size.  (By a few MiB only:
     * a shrink in place clears the tail, which would commit it.) */
    size_t m = n - 3 * MiB - 5;
    p[m - 1] = 0x33;
    unsigned char *q = gm_realloc(p, m);
    CHECK(q != NULL, "gm_realloc(%zu-byte object, %zu) = NULL", n, m);
    CHECK(q[0] == 0x11 && q[m - 1] == 0x33, "gm_realloc(%zu-byte object, %zu) lost bytes: [0] = %#x, [%zu] = %#x",
          n, m, q[0], m - 1, q[m - 1]);
    CHECK(gm_size(q) >= m, "after gm_realloc to %zu: gm_size %zu", m, gm_size(q));
    gm_free(q);
    CHECK(gm_size(q) == 0, "freed %zu-byte object: gm_size %zu", n, gm_size(q));
    fprintf(stderr, "  %zu B: gm_size %zu, shrinking realloc kept its bytes: ok\n", n, gs);
    _exit(0);
}

static void test_gigabytes(void) {
    static const size_t sizes[] = {4 * GiB - 8 * KiB, 4 * GiB, 4 * GiB + 1, 5 * GiB, 8 * GiB + 24 * KiB};
    int got = 0, failures = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        gm_child c;
        CHECK(gm_test_run_child(gigabytes, (void *)&sizes[i], &c) == 0, "fork");
        char how[64];
        printf("%s", c.err);
        if (c.exited && c.exit_code == 0) {
            got++;
        } else if (!(c.exited && c.exit_code == 2)) {
            printf("  %zu B: FAILED (%s)\n", sizes[i], gm_child_how(&c, how, sizeof how));
            failures++;
        }
    }
    CHECK(failures == 0, "%d of the 4 to 8 GiB objects were not whole (see above)", failures);
    printf("4 to 8 GiB objects: %d allocated whole, the others ENOMEM: ok\n", got);
}

/* Requests 1 TiB.  With arg non-NULL, first limits the address space to
 * what the process has plus *(size_t *)arg, so that the request cannot be
 * reserved and must fail cleanly. */
static void one_tib(void *arg) {
    size_t n = TiB;
    if (arg) {
        size_t vm = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        unsigned long pages = 0;
        if (f && fscanf(f, "%lu", &pages) == 1)
            vm = pages * (size_t)sysconf(_SC_PAGESIZE);
        if (f)
            fclose(f);
        struct rlimit rl = {vm + *(size_t *)arg, vm + *(size_t *)arg};
        CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit(RLIMIT_AS): %s", strerror(errno));
    }
    errno = 0;
    double t0 = gm_test_now();
    unsigned char *p = gm_alloc_noscan(n);
    double t1 = gm_test_now();
    if (!p) {
        CHECK(errno == ENOMEM, "gm_alloc_noscan(1 TiB) = NULL with errno %d", errno);
        /* The heap is still usable after the failure. */
        unsigned char *q = gm_alloc(100000);
        CHECK(q && gm_size(q) >= 100000, "gm_alloc(100000) after the failed 1 TiB request");
        q[99999] = 1;
        gm_free(q);
        fprintf(stderr, "  1 TiB%s: ENOMEM after %.2f s\n", arg ? " (address space limited)" : "", t1 - t0);
        fflush(stderr);
        _exit(2);
    }
    size_t gs = gm_size(p);
    CHECK(gs >= n, "gm_alloc_noscan(1 TiB) = %p: gm_size %zu, a short block", (void *)p, gs);
    CHECK(gm_base(p + n - 1) == p, "gm_base of the last byte of the 1 TiB object: %p", gm_base(p + n - 1));
    p[0] = 1;
    p[n - 1] = 2;
    gm_free(p);
    double t2 = gm_test_now();
    fprintf(stderr, "  1 TiB: allocated in %.2f s, freed in %.2f s\n", t1 - t0, t2 - t1);
    fflush(stderr);
    _exit(0);
}

/* A 1 TiB request that cannot be had must fail cleanly; one that can be
 * had is whole.  By default the request runs with the address space
 * limited, so it fails fast: setting up the page map of a real 1 TiB
 * object takes seconds and a GiB of memory.  GM_TEST_HUGE=1 also makes the
 * request unlimited. */
static void test_one_tib(void) {
    static const size_t room = 64 * GiB;
    const char *e = getenv("GM_TEST_HUGE");
    bool unlimited = e && *e && strcmp(e, "0") != 0;
    int ran = 0;
    for (int k = 0; k < (unlimited ? 2 : 1); k++) {
#ifdef GOMEM_SANITIZED
        /* The sanitizers' own mappings need the address space. */
        if (k == 0)
            continue;
#endif
        /* qemu-user does not apply RLIMIT_AS to the program it runs. */
        const char *emu = getenv("GM_TEST_EMULATOR");
        if (k == 0 && emu && *emu)
            continue;
        ran++;
        gm_child c;
        CHECK(gm_test_run_child(one_tib, k == 0 ? (void *)&room : NULL, &c) == 0, "fork");
        char how[64];
        gm_child_how(&c, how, sizeof how);
        printf("%s", c.err);
        CHECK(c.exited && (c.exit_code == 0 || (c.exit_code == 2)), "1 TiB request: child ended with %s", how);
        CHECK(k == 1 || c.exit_code == 2, "1 TiB request with the address space limited succeeded");
    }
    if (ran == 0)
        printf("1 TiB request: skipped under sanitizers and emulators, whose address space is not the "
               "limited one (GM_TEST_HUGE=1 runs it unlimited)\n");
    else
        printf("1 TiB request: %s: ok\n",
               unlimited ? "limited and unlimited" : "address space limited (GM_TEST_HUGE=1 for unlimited)");
}

/* After all that, the heap still works. */
static void test_still_works(void) {
    for (size_t n = 1; n <= 4 * MiB; n *= 3) {
        unsigned char *p = gm_alloc(n);
        CHECK(p && gm_size(p) >= n, "gm_alloc(%zu) after the huge requests", n);
        gm_test_fill(p, n, n);
        CHECK(gm_test_verify(p, n, n) == (size_t)-1, "pattern");
        gm_free(p);
    }
    printf("the heap still works: ok\n");
}

int main(int argc, char **argv) {
    (void)argc;
    gm_test_gc_off(argv);
    test_impossible();
    test_overflow();
    test_gigabytes();
    test_one_tib();
    test_still_works();
    printf("test_heap_huge: ok\n");
    return 0;
}
