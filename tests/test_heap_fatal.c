/*
 * test_heap_fatal.c - misuse of gm_free and gm_realloc stops the program.
 *
 * Each misuse runs in a forked child, which must die of SIGABRT having
 * written "gomem: fatal error: ..." to stderr, with the pointer involved
 * printed as %p prints it and, where the case names more (the offset into
 * the object and the object's start, "double free"), that too.  Pointers
 * are made in the parent before the fork, so the parent knows their values.
 *
 * Double frees are tested from one thread and from two: a thread whose
 * free was published (it exited) and then another; two threads whose
 * frees are both pending in their caches (the second to publish names
 * it); two threads freeing one large object at the same instant (repeated,
 * the race goes either way: the loser is stopped by the free bit or finds
 * the pages already freed).  A second free of a tiny object (noscan, under
 * 16 B) does nothing, as gm_free's documentation says, and harms nothing.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "gm_test.h"
#include "gm.h"
#include "heap/heap.h"

typedef struct fcase {
    const char *name;
    void (*fn)(void *);
    void *arg;
    const char *want[4]; /* substrings stderr must contain */
} fcase;

static void run_case(const fcase *fc) {
    gm_child c;
    CHECK(gm_test_run_child(fc->fn, fc->arg, &c) == 0, "%s: fork failed: %s", fc->name, strerror(errno));
    char how[64];
    gm_child_how(&c, how, sizeof how);
    CHECK(c.signaled && c.signo == SIGABRT, "%s: child ended with %s, want SIGABRT; stderr:\n%s", fc->name, how,
          c.err);
    const char *line = strstr(c.err, "gomem: fatal error: ");
    CHECK(line != NULL, "%s: stderr lacks \"gomem: fatal error: \":\n%s", fc->name, c.err);
    CHECK(line == c.err || line[-1] == '\n', "%s: the fatal message does not start a line:\n%s", fc->name, c.err);
    for (int i = 0; i < 4 && fc->want[i]; i++)
        CHECK(strstr(line, fc->want[i]) != NULL, "%s: message lacks \"%s\":\n%s", fc->name, fc->want[i], c.err);
    printf("%-34s %s: %s", fc->name, how, line);
    if (!strchr(line, '\n'))
        printf("\n");
}

/* ------------------------------------------------------------ children */

static void do_free(void *p) {
    gm_free(p);
}

static void do_free_twice(void *p) {
    gm_free(p);
    gm_free(p);
}

static void do_realloc(void *p) {
    gm_realloc(p, 100);
}

static void do_realloc_grow(void *p) {
    gm_realloc(p, 1 << 20);
}

static void do_valid(void *p) {
    void *q = gm_realloc(p, 200);
    gm_free(q);
    gm_free(NULL);
}

/* ------------------------------------------------- two-thread children */

static void *thread_free(void *p) {
    gm_free(p);
    return NULL;
}

/* Another thread frees p and exits (publishing its free); then this one. */
static void do_free_after_thread(void *p) {
    pthread_t t;
    if (pthread_create(&t, NULL, thread_free, p) != 0 || pthread_join(t, NULL) != 0)
        _exit(3);
    gm_free(p);
}

typedef struct pending_pair {
    void *obj;   /* freed by both threads */
    void *other; /* of another size class: freeing it publishes */
    int go[2];   /* pipe: the other thread waits on it, its free pending */
    int done[2]; /* pipe: it has freed obj */
} pending_pair;

static void *thread_free_and_wait(void *arg) {
    pending_pair *pp = arg;
    gm_free(pp->obj); /* pending in this thread's cache */
    char c = 1;
    if (write(pp->done[1], &c, 1) != 1 || read(pp->go[0], &c, 1) != 1)
        _exit(3);
    return NULL; /* exit publishes the free */
}

/* Both threads' frees of obj are pending at once; the other thread's is
 * published first (at its exit), this one's when it frees another span's
 * object, which must stop on the double free. */
static void do_free_both_pending(void *arg) {
    pending_pair *pp = arg;
    pthread_t t;
    char c = 1;
    if (pipe(pp->go) != 0 || pipe(pp->done) != 0 || pthread_create(&t, NULL, thread_free_and_wait, pp) != 0 ||
        read(pp->done[0], &c, 1) != 1)
        _exit(3);
    gm_free(pp->obj); /* pending here too: neither cache sees the other's */
    if (write(pp->go[1], &c, 1) != 1 || pthread_join(t, NULL) != 0)
        _exit(3);
    gm_free(pp->other);
    _exit(4); /* not reached */
}

static pthread_barrier_t race_barrier;

static void *thread_race_free(void *p) {
    pthread_barrier_wait(&race_barrier);
    gm_free(p);
    return NULL;
}

/* Two threads free the same large object at the same instant. */
static void do_free_race(void *p) {
    pthread_t t[2];
    pthread_barrier_init(&race_barrier, NULL, 2);
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, thread_race_free, p) != 0)
            _exit(3);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    _exit(4); /* both returned: the double free went unnoticed */
}

/* A second free of a tiny object: harmless; its neighbour is intact. */
static void do_free_tiny_twice(void *arg) {
    unsigned char **tiny = arg;
    gm_free(tiny[0]);
    gm_free(tiny[0]);
    for (int i = 0; i < 8; i++)
        if (tiny[1][i] != 0xa5)
            _exit(5);
    if (gm_size(tiny[1]) != 8)
        _exit(6);
}

static int a_global[4];

#define PSTR(buf, p) gm_test_ptrstr((p), (buf), sizeof(buf))

int main(int argc, char **argv) {
    (void)argc;
    gm_test_gc_off(argv);

    /* The harness: a child that uses the heap correctly exits 0, quietly. */
    {
        void *p = gm_alloc(64);
        gm_child c;
        CHECK(gm_test_run_child(do_valid, p, &c) == 0, "fork");
        char how[64];
        CHECK(c.exited && c.exit_code == 0 && c.err_len == 0, "valid child: %s, stderr:\n%s",
              gm_child_how(&c, how, sizeof how), c.err);
    }

    int local = 0;
    void *stack_p = &local;
    void *malloc_p = malloc(64);
    void *mmap_p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(malloc_p && mmap_p != MAP_FAILED, "malloc/mmap");
    unsigned char *small = gm_alloc(64);
    unsigned char *small2 = gm_alloc(64);
    unsigned char *small3 = gm_alloc(64);
    unsigned char *noscan = gm_alloc_noscan(1000);
    unsigned char *large = gm_alloc(100000); /* a 13-page span: 106496 B */
    unsigned char *large2 = gm_alloc(100000);
    unsigned char *freed = gm_alloc(64);
    unsigned char *freed_large = gm_alloc(200000);
    unsigned char *cross = gm_alloc(64);
    unsigned char *cross_large = gm_alloc(100000);
    CHECK(small && small2 && small3 && noscan && large && large2 && freed && freed_large && cross && cross_large,
          "gm_alloc");
    pending_pair pp = {.obj = gm_alloc(64), .other = gm_alloc(3000)};
    enum { RACES = 8 };
    unsigned char *race[RACES];
    for (int i = 0; i < RACES; i++)
        race[i] = gm_alloc(50000 + 8192 * i);
    unsigned char *tiny[2] = {gm_alloc_noscan(8), gm_alloc_noscan(8)};
    memset(tiny[1], 0xa5, 8);
    CHECK(pp.obj && pp.other && tiny[0] && tiny[1], "gm_alloc");
    CHECK(gm_size(large) == 106496, "gm_size of the large object: %zu", gm_size(large));

    /* A slot of a live span that was never allocated. */
    unsigned char *c48 = gm_alloc(48);
    gm_span *s = gm_span_of((uintptr_t)c48);
    CHECK(s != NULL, "span of %p", (void *)c48);
    unsigned char *never = NULL;
    for (unsigned i = s->nelems; i-- > 0;) {
        if (!gm_span_allocated(s, i)) {
            never = (unsigned char *)s->base + (size_t)i * s->elemsize;
            break;
        }
    }
    CHECK(never != NULL, "no free slot next to %p", (void *)c48);
    /* Freed after every allocation, so that none reuses their memory. */
    gm_free(freed);
    gm_free(freed_large);

    char b_stack[32], b_malloc[32], b_mmap[32], b_global[32], b_small[32], b_small8[32], b_small2[32],
        b_small3[32], b_small3_16[32], b_noscan[32], b_noscan_100[32], b_large[32], b_large4096[32], b_large2[32],
        b_freed[32], b_never[32], b_freed_large[32], b_cross[32], b_cross_large[32], b_pp[32], b_race[RACES][32];
    PSTR(b_freed_large, freed_large);
    PSTR(b_cross, cross);
    PSTR(b_cross_large, cross_large);
    PSTR(b_pp, pp.obj);
    for (int i = 0; i < RACES; i++)
        PSTR(b_race[i], race[i]);
    PSTR(b_stack, stack_p);
    PSTR(b_malloc, malloc_p);
    PSTR(b_mmap, mmap_p);
    PSTR(b_global, &a_global[1]);
    PSTR(b_small, small);
    PSTR(b_small8, small + 8);
    PSTR(b_small2, small2);
    PSTR(b_small3, small3);
    PSTR(b_small3_16, small3 + 16);
    PSTR(b_noscan, noscan);
    PSTR(b_noscan_100, noscan + 100);
    PSTR(b_large, large);
    PSTR(b_large4096, large + 4096);
    PSTR(b_large2, large2);
    PSTR(b_freed, freed);
    PSTR(b_never, never);

    const fcase cases[] = {
        {"gm_free of a stack pointer", do_free, stack_p, {"gm_free(", b_stack}},
        {"gm_free of a malloc pointer", do_free, malloc_p, {"gm_free(", b_malloc}},
        {"gm_free of an mmap pointer", do_free, mmap_p, {"gm_free(", b_mmap}},
        {"gm_free of a global", do_free, &a_global[1], {"gm_free(", b_global}},
        {"gm_free of an interior pointer", do_free, small + 8, {b_small8, "8 bytes into", "64-byte", b_small}},
        {"gm_free inside a noscan object", do_free, noscan + 100, {b_noscan_100, "100 bytes into", b_noscan}},
        {"gm_free inside a large object",
         do_free,
         large + 4096,
         {b_large4096, "4096 bytes into", "106496-byte", b_large}},
        {"double free (small)", do_free_twice, small2, {"gm_free(", b_small2, "double free"}},
        {"double free (earlier free)", do_free, freed, {"gm_free(", b_freed, "double free"}},
        {"double free (large)", do_free_twice, large2, {"gm_free(", b_large2, "double free"}},
        {"double free (earlier large free)", do_free, freed_large, {"gm_free(", b_freed_large, "double free"}},
        {"double free (small, other thread)", do_free_after_thread, cross, {"gm_free(", b_cross, "double free"}},
        {"double free (large, other thread)",
         do_free_after_thread,
         cross_large,
         {"gm_free(", b_cross_large, "double free"}},
        {"double free (both pending)", do_free_both_pending, &pp, {"gm_free(", b_pp, "double free"}},
        {"gm_free of a never-allocated slot", do_free, never, {"gm_free(", b_never, "not allocated"}},
        {"gm_realloc of an interior pointer",
         do_realloc,
         small3 + 16,
         {"gm_realloc(", b_small3_16, "16 bytes into", b_small3}},
        {"gm_realloc (grow) of interior ptr", do_realloc_grow, large + 4096, {"gm_realloc(", b_large4096, b_large}},
        {"gm_realloc of a stack pointer", do_realloc, stack_p, {"gm_realloc(", b_stack}},
        {"gm_realloc of a malloc pointer", do_realloc, malloc_p, {"gm_realloc(", b_malloc}},
        {"gm_realloc of a freed object", do_realloc, freed, {"gm_realloc(", b_freed, "not allocated"}},
        {"gm_realloc of a freed large object",
         do_realloc,
         freed_large,
         {"gm_realloc(", b_freed_large, "no allocated object"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
    for (int i = 0; i < RACES; i++) {
        fcase fc = {"two threads free a large object", do_free_race, race[i], {"gm_free(", b_race[i], "double free"}};
        run_case(&fc);
    }
    {
        gm_child c;
        char how[64];
        CHECK(gm_test_run_child(do_free_tiny_twice, tiny, &c) == 0, "fork");
        gm_child_how(&c, how, sizeof how);
        CHECK(c.exited && c.exit_code == 0 && c.err_len == 0, "second free of a tiny object: %s, stderr:\n%s", how,
              c.err);
        printf("%-34s %s: harmless, as documented\n", "double free (tiny)", how);
    }

    /* The parent's objects are untouched by what the children did. */
    CHECK(gm_base(small + 8) == small && gm_base(small2) == small2 && gm_base(large2) == large2,
          "parent's objects changed");
    gm_free(small);
    gm_free(small2);
    gm_free(small3);
    gm_free(noscan);
    gm_free(large);
    gm_free(large2);
    gm_free(c48);
    free(malloc_p);
    munmap(mmap_p, 1 << 16);
    printf("test_heap_fatal: ok (%zu cases, %d races)\n", sizeof cases / sizeof cases[0], RACES);
    return 0;
}
