/*
 * test_heap_roundtrip.c - objects of every size class and large sizes.
 *
 * For every class size s, s-1 and s+1, for a few large sizes, and for both
 * kinds (gm_alloc, gm_alloc_noscan): the object is zeroed, 16-byte aligned
 * from 16 B up (naturally aligned below), gm_size is its class size,
 * gm_base maps every sampled interior pointer to its start, and a pattern
 * written into it survives the allocation of all the others.  Then: gm_size
 * and gm_base of pointers outside the heap (or into free slots) are 0/NULL;
 * gm_new, gm_new_array and gm_alloc_array; gm_realloc growing, shrinking,
 * from NULL and to 0; the tiny allocator's objects are distinct, inside
 * their 16-byte block, naturally aligned and do not overlap.
 *
 * Runs with the collector off (some pointers live in malloc'd tables).
 */
#include <sys/mman.h>

#include "gm_test.h"
#include "gm.h"
#include "heap/heap.h"

static gm_rng rng;

static size_t class_size_of(size_t n) {
    if (n > GM_MAX_SMALL_SIZE)
        return (n + GM_PAGE_SIZE - 1) & ~(GM_PAGE_SIZE - 1);
    for (int c = 1; c < GM_NUM_SIZE_CLASSES; c++)
        if (gm_class_to_size[c] >= n)
            return gm_class_to_size[c];
    return 0;
}

static bool is_tiny(size_t n, bool noscan) {
    return noscan && n > 0 && n < GM_TINY_SIZE;
}

static void *alloc_kind(size_t n, bool noscan) {
    return noscan ? gm_alloc_noscan(n) : gm_alloc(n);
}

/* The alignment the header promises for an object of n bytes. */
static uintptr_t want_align(size_t n, bool noscan) {
    if (n >= 16)
        return 16;
    if (!is_tiny(n, noscan))
        return 8;
    /* The tiny allocator aligns by the size's natural alignment. */
    if ((n & 7) == 0)
        return 8;
    if ((n & 3) == 0)
        return 4;
    if ((n & 1) == 0)
        return 2;
    return 1;
}

/* The span class of the object at p says scan or noscan as asked. */
static void check_kind(const void *p, size_t n, bool noscan) {
    gm_span *s = gm_span_of((uintptr_t)p);
    CHECK(s != NULL, "no span for %p (%zu B)", p, n);
    bool span_noscan = gm_spanclass_noscan(s->spanclass);
    CHECK(span_noscan == noscan, "%p (%zu B): span class %u is %s, asked for %s", p, n, s->spanclass,
          span_noscan ? "noscan" : "scan", noscan ? "noscan" : "scan");
}

typedef struct obj {
    unsigned char *p;
    size_t n;      /* requested */
    size_t usable; /* bytes the pattern covers */
    uint64_t tag;
    bool noscan;
} obj;

/* Allocates and checks a fresh object, then fills it. */
static obj make_obj(size_t n, bool noscan) {
    obj o = {0};
    o.n = n;
    o.noscan = noscan;
    errno = 0;
    o.p = alloc_kind(n, noscan);
    CHECK(o.p != NULL, "%s(%zu) returned NULL, errno %d", noscan ? "gm_alloc_noscan" : "gm_alloc", n, errno);
    uintptr_t a = (uintptr_t)o.p;
    uintptr_t al = want_align(n, noscan);
    CHECK(a % al == 0, "%s(%zu) = %p: not %lu-byte aligned", noscan ? "gm_alloc_noscan" : "gm_alloc", n,
          (void *)o.p, (unsigned long)al);
    size_t gs = gm_size(o.p);
    if (is_tiny(n, noscan)) {
        /* A tiny object lies inside a 16-byte block; gm_size is its own
         * size, gm_base its own start (interior pointers included). */
        CHECK((a & 15) + n <= 16, "tiny %zu-byte object at %p crosses its 16-byte block", n, (void *)o.p);
        CHECK(gs == n, "tiny %zu-byte object at %p: gm_size %zu", n, (void *)o.p, gs);
        CHECK(gm_base(o.p) == o.p && gm_base((char *)o.p + n - 1) == o.p, "tiny object at %p: gm_base %p",
              (void *)o.p, gm_base(o.p));
        size_t nz = gm_test_first_nonzero(o.p, n);
        CHECK(nz == (size_t)-1, "tiny %zu-byte object at %p not zeroed at offset %zu", n, (void *)o.p, nz);
        o.usable = n;
    } else {
        size_t want = class_size_of(n);
        CHECK(gs == want, "%s(%zu) = %p: gm_size %zu, expected %zu", noscan ? "gm_alloc_noscan" : "gm_alloc",
              n, (void *)o.p, gs, want);
        CHECK(gs >= n, "short block: gm_size %zu < %zu", gs, n);
        size_t nz = gm_test_first_nonzero(o.p, gs);
        CHECK(nz == (size_t)-1, "%zu-byte object at %p (usable %zu) not zeroed at offset %zu", n, (void *)o.p,
              gs, nz);
        CHECK(gm_base(o.p) == o.p, "gm_base(%p) = %p", (void *)o.p, gm_base(o.p));
        /* Interior pointers, sampled. */
        size_t offs[16] = {0, 1, 7, 8, 15, 16, n / 2, n ? n - 1 : 0, gs / 2, gs - 1, gs - 8, gs - 16};
        for (int k = 12; k < 16; k++)
            offs[k] = (size_t)gm_rng_below(&rng, gs);
        for (int k = 0; k < 16; k++) {
            size_t off = offs[k];
            if (off >= gs)
                continue;
            CHECK(gm_base(o.p + off) == o.p, "%zu-byte object at %p: gm_base(p+%zu) = %p", n, (void *)o.p, off,
                  gm_base(o.p + off));
            CHECK(gm_size(o.p + off) == gs, "%zu-byte object at %p: gm_size(p+%zu) = %zu, want %zu", n,
                  (void *)o.p, off, gm_size(o.p + off), gs);
        }
        /* One past the end is not this object. */
        CHECK(gm_base(o.p + gs) != o.p, "gm_base(p + %zu) of the %zu-byte object %p is p", gs, gs, (void *)o.p);
        o.usable = gs;
    }
    check_kind(o.p, n, noscan || is_tiny(n, noscan));
    o.tag = gm_rng_next(&rng);
    gm_test_fill(o.p, o.usable, o.tag);
    return o;
}

static void verify_obj(const obj *o, const char *when) {
    size_t bad = gm_test_verify(o->p, o->usable, o->tag);
    CHECK(bad == (size_t)-1, "%s: %s %zu-byte object at %p: pattern broken at offset %zu", when,
          o->noscan ? "noscan" : "scan", o->n, (void *)o->p, bad);
    if (!is_tiny(o->n, o->noscan)) {
        CHECK(gm_base(o->p) == o->p, "%s: gm_base(%p) = %p", when, (void *)o->p, gm_base(o->p));
        CHECK(gm_size(o->p) == o->usable, "%s: gm_size(%p) = %zu, want %zu", when, (void *)o->p, gm_size(o->p),
              o->usable);
    }
}

static const size_t large_sizes[] = {32769, 64 << 10, 1 << 20, 10 << 20, 100 << 20};
#define NLARGE (sizeof large_sizes / sizeof large_sizes[0])

static void test_every_class(void) {
    size_t nsizes = 0;
    size_t sizes[3 * GM_NUM_SIZE_CLASSES + NLARGE + 1];
    sizes[nsizes++] = 0;
    for (int c = 1; c < GM_NUM_SIZE_CLASSES; c++) {
        size_t s = gm_class_to_size[c];
        sizes[nsizes++] = s - 1;
        sizes[nsizes++] = s;
        sizes[nsizes++] = s + 1;
    }
    for (size_t i = 0; i < NLARGE; i++)
        sizes[nsizes++] = large_sizes[i];

    size_t nobjs = 0;
    obj *objs = calloc(2 * nsizes, sizeof *objs);
    CHECK(objs != NULL, "calloc");
    for (int kind = 0; kind < 2; kind++)
        for (size_t i = 0; i < nsizes; i++)
            objs[nobjs++] = make_obj(sizes[i], kind == 1);
    for (size_t i = 0; i < nobjs; i++)
        verify_obj(&objs[i], "after all allocations");
    /* More allocations of every class in between, then check again. */
    obj more[3 * GM_NUM_SIZE_CLASSES];
    size_t nmore = 0;
    for (int c = 1; c < GM_NUM_SIZE_CLASSES; c++)
        more[nmore++] = make_obj(gm_class_to_size[c], c & 1);
    for (size_t i = 0; i < nobjs; i++)
        verify_obj(&objs[i], "after more allocations");
    for (size_t i = 0; i < nmore; i++)
        verify_obj(&more[i], "after more allocations");
    /* Distinct objects never share bytes: non-tiny objects are pairwise
     * disjoint (checked by sorting on address). */
    size_t nall = 0;
    obj *all = malloc((nobjs + nmore) * sizeof *all);
    CHECK(all != NULL, "malloc");
    for (size_t i = 0; i < nobjs; i++)
        if (!is_tiny(objs[i].n, objs[i].noscan))
            all[nall++] = objs[i];
    for (size_t i = 0; i < nmore; i++)
        all[nall++] = more[i];
    for (size_t i = 1; i < nall; i++) {
        obj x = all[i];
        size_t j = i;
        while (j > 0 && all[j - 1].p > x.p) {
            all[j] = all[j - 1];
            j--;
        }
        all[j] = x;
    }
    for (size_t i = 1; i < nall; i++)
        CHECK(all[i - 1].p + all[i - 1].usable <= all[i].p, "objects %p (%zu B) and %p overlap",
              (void *)all[i - 1].p, all[i - 1].usable, (void *)all[i].p);
    free(all);
    /* Free them; a freed (non-tiny) object is no longer a heap object. */
    for (size_t i = 0; i < nobjs; i++) {
        gm_free(objs[i].p);
        if (!is_tiny(objs[i].n, objs[i].noscan)) {
            CHECK(gm_size(objs[i].p) == 0, "gm_size of freed %zu-byte object %p is %zu", objs[i].n,
                  (void *)objs[i].p, gm_size(objs[i].p));
            CHECK(gm_base(objs[i].p) == NULL, "gm_base of freed %zu-byte object %p is %p", objs[i].n,
                  (void *)objs[i].p, gm_base(objs[i].p));
        }
    }
    for (size_t i = 0; i < nmore; i++)
        gm_free(more[i].p);
    free(objs);
    printf("every class: %zu sizes x {scan, noscan}, large up to %zu MiB: ok\n", nsizes,
           large_sizes[NLARGE - 1] >> 20);
}

static void test_zero_size(void) {
    void *a = gm_alloc(0), *b = gm_alloc(0), *c = gm_alloc_noscan(0), *d = gm_alloc_noscan(0);
    CHECK(a && b && c && d, "gm_alloc(0) %p %p, gm_alloc_noscan(0) %p %p", a, b, c, d);
    CHECK(a != b && c != d && a != c && a != d && b != c && b != d, "gm_alloc(0) not unique: %p %p %p %p", a, b,
          c, d);
    CHECK(gm_base(a) == a && gm_base(c) == c, "gm_base of zero-size objects: %p -> %p, %p -> %p", a, gm_base(a), c,
          gm_base(c));
    printf("zero size: unique non-NULL objects: ok\n");
}

static int a_global;
static const char a_string[] = "not a heap object";

static void check_not_heap(const void *p, const char *what) {
    CHECK(gm_base(p) == NULL, "gm_base(%p) (%s) = %p, want NULL", p, what, gm_base(p));
    CHECK(gm_size(p) == 0, "gm_size(%p) (%s) = %zu, want 0", p, what, gm_size(p));
}

static void test_not_heap(void) {
    int local = 0;
    void *m = malloc(100);
    void *big = malloc(4 << 20);
    void *mm = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m && big && mm != MAP_FAILED, "malloc/mmap");
    check_not_heap(&local, "stack");
    check_not_heap(&a_global, "global");
    check_not_heap(a_string, "rodata");
    check_not_heap((const void *)&test_not_heap, "text");
    check_not_heap(m, "malloc");
    check_not_heap(big, "malloc, 4 MiB");
    check_not_heap(mm, "mmap");
    check_not_heap(NULL, "NULL");
    check_not_heap((void *)1, "1");
    check_not_heap((void *)(uintptr_t)4096, "4096");
    check_not_heap((void *)UINTPTR_MAX, "UINTPTR_MAX");
    check_not_heap((void *)((uintptr_t)1 << 48), "1 << 48");
    check_not_heap((void *)((uintptr_t)1 << 63), "1 << 63");
    free(m);
    free(big);
    munmap(mm, 1 << 16);

    /* Slots of a live span that are not allocated, and a span's tail. */
    unsigned char *p = gm_alloc(48); /* class of 170 slots, 32-byte tail */
    CHECK(p, "gm_alloc(48)");
    gm_span *s = gm_span_of((uintptr_t)p);
    CHECK(s && s->elemsize == 48, "span of %p: %p elemsize %zu", (void *)p, (void *)s,
          s ? (size_t)s->elemsize : (size_t)0);
    int nfree = 0;
    for (unsigned i = 0; i < s->nelems && nfree < 8; i++) {
        if (gm_span_allocated(s, i))
            continue;
        unsigned char *q = (unsigned char *)s->base + (size_t)i * s->elemsize;
        check_not_heap(q, "free slot");
        check_not_heap(q + 17, "inside a free slot");
        nfree++;
    }
    CHECK(nfree > 0, "no free slot in the span of %p", (void *)p);
    uintptr_t tail = s->base + (uintptr_t)s->nelems * s->elemsize;
    CHECK(tail < s->base + (s->npages << GM_PAGE_SHIFT), "class 48 has no tail");
    check_not_heap((void *)tail, "span tail");
    check_not_heap((void *)(s->base + (s->npages << GM_PAGE_SHIFT) - 1), "last byte of the span tail");
    gm_free(p);
    printf("not heap: stack, global, rodata, text, malloc, mmap, odd values, free slots, span tail: ok\n");
}

struct point3 {
    double x, y, z;
    int tag;
};

static void test_new(void) {
    struct point3 *p = gm_new(struct point3);
    CHECK(p != NULL, "gm_new");
    CHECK((uintptr_t)p % 16 == 0, "gm_new(struct point3) = %p not 16-byte aligned", (void *)p);
    CHECK(gm_size(p) >= sizeof *p, "gm_size %zu", gm_size(p));
    CHECK(p->x == 0 && p->y == 0 && p->z == 0 && p->tag == 0, "gm_new not zeroed");
    check_kind(p, sizeof *p, false);
    char *c = gm_new(char);
    CHECK(c && *c == 0 && (uintptr_t)c % 8 == 0 && gm_size(c) >= 1, "gm_new(char) = %p", (void *)c);
    struct point3 *arr = gm_new_array(struct point3, 1000);
    CHECK(arr != NULL, "gm_new_array");
    CHECK(gm_size(arr) >= 1000 * sizeof *arr, "gm_new_array: gm_size %zu", gm_size(arr));
    CHECK((uintptr_t)arr % 16 == 0, "gm_new_array not aligned");
    size_t nz = gm_test_first_nonzero(arr, 1000 * sizeof *arr);
    CHECK(nz == (size_t)-1, "gm_new_array not zeroed at %zu", nz);
    for (int i = 0; i < 1000; i++)
        arr[i].tag = i;
    for (int i = 0; i < 1000; i++)
        CHECK(arr[i].tag == i && arr[i].x == 0, "arr[%d]", i);
    uint64_t *e0 = gm_new_array(uint64_t, 0), *e1 = gm_new_array(uint64_t, 0);
    CHECK(e0 && e1 && e0 != e1, "gm_new_array(T, 0): %p %p", (void *)e0, (void *)e1);
    void *a = gm_alloc_array(3, 5);
    CHECK(a && gm_size(a) >= 15, "gm_alloc_array(3, 5): %p size %zu", a, gm_size(a));
    void *b = gm_alloc_array(0, SIZE_MAX), *d = gm_alloc_array(SIZE_MAX, 0);
    CHECK(b && d && b != d, "gm_alloc_array with a zero factor: %p %p", b, d);
    void *l = gm_alloc_array(4096, 100);
    CHECK(l && gm_size(l) >= 409600 && gm_base((char *)l + 409599) == l, "gm_alloc_array(4096, 100)");
    gm_free(p);
    gm_free(c);
    gm_free(arr);
    gm_free(e0);
    gm_free(e1);
    gm_free(a);
    gm_free(b);
    gm_free(d);
    gm_free(l);
    printf("gm_new, gm_new_array, gm_alloc_array: ok\n");
}

static const size_t rsizes[] = {1,    7,    8,    15,   16,    17,    48,     100,
                                1000, 1024, 1025, 4000, 32768, 32769, 100000, 1 << 20};
#define NRSIZES (sizeof rsizes / sizeof rsizes[0])

static void test_realloc(void) {
    int moved = 0, kept = 0;
    for (int kind = 0; kind < 2; kind++) {
        bool noscan = kind == 1;
        for (size_t i = 0; i < NRSIZES; i++) {
            for (size_t j = 0; j < NRSIZES; j++) {
                size_t a = rsizes[i], b = rsizes[j];
                unsigned char *p = alloc_kind(a, noscan);
                CHECK(p, "alloc %zu", a);
                size_t old_usable = gm_size(p);
                uint64_t tag = gm_rng_next(&rng);
                gm_test_fill(p, a, tag);
                unsigned char *q = gm_realloc(p, b);
                CHECK(q != NULL, "gm_realloc(%p (%zu B), %zu) = NULL", (void *)p, a, b);
                size_t keep = a < b ? a : b;
                size_t bad = gm_test_verify(q, keep, tag);
                CHECK(bad == (size_t)-1, "gm_realloc %zu -> %zu (%s): contents lost at offset %zu", a, b,
                      noscan ? "noscan" : "scan", bad);
                if (b > a) {
                    size_t nz = gm_test_first_nonzero(q + a, b - a);
                    CHECK(nz == (size_t)-1, "gm_realloc %zu -> %zu: byte %zu beyond the old size not zero", a, b,
                          a + nz);
                }
                CHECK(gm_size(q) >= b, "gm_realloc %zu -> %zu: gm_size %zu", a, b, gm_size(q));
                bool q_tiny = noscan && gm_span_of((uintptr_t)q)->spanclass == GM_TINY_SPANCLASS;
                if (!q_tiny)
                    CHECK(gm_base(q) == q, "gm_realloc result %p is not an object start (%p)", (void *)q,
                          gm_base(q));
                check_kind(q, b, noscan);
                bool p_tiny = is_tiny(a, noscan);
                if (!p_tiny && b <= old_usable && b >= old_usable / 2)
                    CHECK(q == p, "gm_realloc(%p, %zu) of a %zu-byte object moved it to %p", (void *)p, b,
                          old_usable, (void *)q);
                if (q != p) {
                    moved++;
                    if (!p_tiny)
                        CHECK(gm_size(p) == 0, "gm_realloc %zu -> %zu moved %p to %p but the old one is live", a,
                              b, (void *)p, (void *)q);
                } else {
                    kept++;
                }
                gm_free(q);
            }
        }
    }
    /* Shrinking, then growing again: the bytes between the smaller size
     * and the new one were given up and must read as zero, whether the
     * shrink happened in place or not. */
    static const size_t sg[][3] = {
        {100, 60, 1000}, {100, 60, 100}, {1000, 600, 1024}, {1000, 600, 5000}, {(size_t)1 << 20, 600000, 2 << 20},
        {4, 1, 100},     {15, 2, 15},    {12, 5, 12},      /* tiny when noscan */
    };
    for (size_t i = 0; i < sizeof sg / sizeof sg[0]; i++) {
        for (int kind = 0; kind < 2; kind++) {
            size_t a = sg[i][0], b = sg[i][1], c = sg[i][2];
            unsigned char *p = alloc_kind(a, kind == 1);
            CHECK(p, "alloc");
            uint64_t tag = gm_rng_next(&rng);
            gm_test_fill(p, a, tag);
            unsigned char *q = gm_realloc(p, b);
            CHECK(q && gm_test_verify(q, b, tag) == (size_t)-1, "gm_realloc %zu -> %zu", a, b);
            unsigned char *r = gm_realloc(q, c);
            CHECK(r && gm_test_verify(r, b, tag) == (size_t)-1, "gm_realloc %zu -> %zu -> %zu lost contents", a, b,
                  c);
            size_t nz = gm_test_first_nonzero(r + b, c - b);
            CHECK(nz == (size_t)-1,
                  "gm_realloc %zu -> %zu (%s) -> %zu (%s): byte %zu, beyond the size %zu, holds the old contents "
                  "instead of zero",
                  a, b, q == p ? "in place" : "moved", c, r == q ? "in place" : "moved", b + nz, b);
            gm_free(r);
        }
    }
    /* realloc(NULL, n) is gm_alloc(n). */
    size_t ns[] = {0, 10, 100, 100000};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        unsigned char *p = gm_realloc(NULL, ns[i]);
        CHECK(p != NULL, "gm_realloc(NULL, %zu)", ns[i]);
        CHECK(gm_size(p) >= ns[i] && gm_base(p) == p, "gm_realloc(NULL, %zu): size %zu", ns[i], gm_size(p));
        size_t nz = gm_test_first_nonzero(p, ns[i]);
        CHECK(nz == (size_t)-1, "gm_realloc(NULL, %zu) not zeroed", ns[i]);
        check_kind(p, ns[i], false);
        gm_free(p);
    }
    /* realloc(p, 0) frees p. */
    for (size_t i = 0; i < NRSIZES; i++) {
        for (int kind = 0; kind < 2; kind++) {
            bool noscan = kind == 1;
            void *p = alloc_kind(rsizes[i], noscan);
            CHECK(p, "alloc");
            errno = 0;
            void *q = gm_realloc(p, 0);
            CHECK(q == NULL, "gm_realloc(p, 0) = %p", q);
            if (!is_tiny(rsizes[i], noscan))
                CHECK(gm_size(p) == 0 && gm_base(p) == NULL, "gm_realloc(%p (%zu B), 0) did not free it", p,
                      rsizes[i]);
        }
    }
    printf("gm_realloc: %d resizes (%d in place, %d moved), from NULL, to 0: ok\n", moved + kept, kept, moved);
}

/* gm_realloc of a tiny object never hands out bytes of its neighbours in
 * the same 16-byte block. */
static void test_tiny_realloc(void) {
    int adjacent = 0;
    for (int round = 0; round < 64; round++) {
        unsigned char *a = gm_alloc_noscan(4), *b = gm_alloc_noscan(4);
        CHECK(a && b, "gm_alloc_noscan(4)");
        if (b != a + 4)
            continue; /* not neighbours in one block this time */
        adjacent++;
        memset(a, 0xa1, 4);
        memset(b, 0xb2, 4);
        /* Growing within what is left of the block must not cover b. */
        size_t grow = 4 + (size_t)(round % 12) + 1; /* 5 .. 16 bytes */
        unsigned char *q = gm_realloc(a, grow);
        CHECK(q != NULL, "gm_realloc(tiny, %zu)", grow);
        CHECK(q[0] == 0xa1 && q[3] == 0xa1, "gm_realloc(tiny %p, %zu) lost the contents", (void *)a, grow);
        CHECK(q + grow <= b || q >= b + 4,
              "gm_realloc(%p, %zu) of a 4-byte tiny object returned %p, overlapping its neighbour %p "
              "(tiny objects grown in place over the rest of their block)",
              (void *)a, grow, (void *)q, (void *)b);
        memset(q, 0xcc, grow);
        for (int i = 0; i < 4; i++)
            CHECK(b[i] == 0xb2, "writing the %zu bytes gm_realloc gave clobbered the neighbour %p", grow, (void *)b);
        CHECK(gm_size(q) == grow, "gm_realloc(tiny, %zu) = %p: gm_size %zu", grow, (void *)q, gm_size(q));
        /* Growing out of the block keeps the contents, and the bytes
         * beyond the old size are zero, not copies of a neighbour's. */
        unsigned char *r = gm_realloc(q, 277);
        CHECK(r && r[0] == 0xcc && r[grow - 1] == 0xcc, "gm_realloc(tiny, 277) lost the contents");
        size_t nz = gm_test_first_nonzero(r + grow, 277 - grow);
        CHECK(nz == (size_t)-1, "gm_realloc(%zu-byte tiny object, 277): byte %zu beyond the old size is not zero",
              grow, grow + nz);
        for (int i = 0; i < 4; i++)
            CHECK(b[i] == 0xb2, "gm_realloc(tiny, 277) clobbered the neighbour %p", (void *)b);
        gm_free(r);
        unsigned char *c = gm_alloc_noscan(2), *d = gm_alloc_noscan(2);
        CHECK(c && d, "gm_alloc_noscan(2)");
        memset(c, 0xc3, 2);
        memset(d, 0xd4, 2);
        unsigned char *e = gm_realloc(c, 277);
        CHECK(e && e[0] == 0xc3 && e[1] == 0xc3, "gm_realloc(2-byte tiny object, 277) lost the contents");
        nz = gm_test_first_nonzero(e + 2, 275);
        CHECK(nz == (size_t)-1,
              "gm_realloc(%p, 277) of a 2-byte tiny object (neighbour at %p): byte %zu beyond the old size is not "
              "zero",
              (void *)c, (void *)d, 2 + nz);
        CHECK(d[0] == 0xd4 && d[1] == 0xd4, "gm_realloc of %p clobbered its neighbour %p", (void *)c, (void *)d);
        gm_free(e);
    }
    CHECK(adjacent > 0, "never got two neighbouring tiny objects");
    printf("tiny realloc: %d neighbouring pairs, neighbours untouched: ok\n", adjacent);
}

typedef struct tobj {
    unsigned char *p;
    size_t n;
    uint64_t tag;
} tobj;

static int cmp_tobj(const void *a, const void *b) {
    const tobj *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p;
}

static void test_tiny(void) {
    enum { N = 50000 };
    tobj *t = calloc(N, sizeof *t);
    CHECK(t, "calloc");
    size_t ntiny = 0;
    for (size_t i = 0; i < N; i++) {
        size_t n;
        unsigned char *p;
        uint64_t r = gm_rng_below(&rng, 20);
        if (r < 16) {
            n = 1 + (size_t)gm_rng_below(&rng, 15);
            p = gm_alloc_noscan(n);
            ntiny++;
        } else if (r < 18) {
            n = 1 + (size_t)gm_rng_below(&rng, 8); /* scan objects of the 8-byte class */
            p = gm_alloc(n);
        } else {
            n = 16; /* noscan, just above the tiny limit */
            p = gm_alloc_noscan(n);
        }
        CHECK(p != NULL, "alloc %zu", n);
        uintptr_t al = want_align(n, r < 16 || r >= 18);
        CHECK((uintptr_t)p % al == 0, "tiny %zu-byte object %p not %lu-aligned", n, (void *)p, (unsigned long)al);
        if (r < 16)
            CHECK(((uintptr_t)p & 15) + n <= 16, "tiny %zu-byte object %p crosses its block", n, (void *)p);
        size_t nz = gm_test_first_nonzero(p, n);
        CHECK(nz == (size_t)-1, "%zu-byte object %p not zeroed at %zu", n, (void *)p, nz);
        t[i].p = p;
        t[i].n = n;
        t[i].tag = gm_rng_next(&rng);
        gm_test_fill(p, n, t[i].tag);
    }
    for (size_t i = 0; i < N; i++) {
        size_t bad = gm_test_verify(t[i].p, t[i].n, t[i].tag);
        CHECK(bad == (size_t)-1, "%zu-byte object %p: pattern broken at %zu", t[i].n, (void *)t[i].p, bad);
    }
    qsort(t, N, sizeof *t, cmp_tobj);
    for (size_t i = 1; i < N; i++)
        CHECK(t[i - 1].p + t[i - 1].n <= t[i].p, "objects %p (%zu B) and %p (%zu B) overlap", (void *)t[i - 1].p,
              t[i - 1].n, (void *)t[i].p, t[i].n);
    /* Tiny blocks are packed: far fewer 16-byte blocks than objects. */
    size_t blocks = 0;
    for (size_t i = 0; i < N; i++) {
        gm_span *s = gm_span_of((uintptr_t)t[i].p);
        CHECK(s != NULL, "no span for %p", (void *)t[i].p);
        if (s->spanclass == GM_TINY_SPANCLASS &&
            (i == 0 || ((uintptr_t)t[i].p & ~(uintptr_t)15) != ((uintptr_t)t[i - 1].p & ~(uintptr_t)15)))
            blocks++;
    }
    CHECK(blocks < ntiny, "%zu tiny objects used %zu blocks", ntiny, blocks);
    free(t);
    printf("tiny: %zu tiny objects in %zu blocks, with 8- and 16-byte neighbours: distinct, aligned, "
           "disjoint: ok\n",
           ntiny, blocks);
}

int main(int argc, char **argv) {
    (void)argc;
    gm_test_gc_off(argv);
    rng.s = gm_test_seed("test_heap_roundtrip");
    test_zero_size();
    test_every_class();
    test_not_heap();
    test_new();
    test_realloc();
    test_tiny();
    test_tiny_realloc();
    printf("test_heap_roundtrip: ok\n");
    return 0;
}
