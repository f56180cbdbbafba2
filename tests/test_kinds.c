/*
 * test_kinds.c - typed objects (only their layout's pointer words are
 * scanned), uncollectable objects (roots until freed), client-traced kinds,
 * root scanners and collection events.
 *
 * Method (as test_gc_roots.c): objects are made by noinline functions that
 * hand back their addresses XOR-ed with a mask and kept in malloc'd memory
 * (not scanned), the stack is wiped before each collection, and
 * "reclaimed" means gm_size() is 0 right after gm_gc().  Survivors are
 * checked for their fill pattern.  Conservative stack scanning may keep a
 * stray object, so the reclamation checks ask for at least 90% of the
 * objects, while survival checks ask for every one.
 */
#include <stdatomic.h>

#include "gm_test.h"

#define N 2000
#define MASK ((uintptr_t)0x5a5a5a5a5a5a5a5aull)
#define H(p) ((uintptr_t)(p) ^ MASK)
#define P(h) ((void *)((h) ^ MASK))

static uintptr_t *held;     /* the objects under test, masked */
static uintptr_t *kept;     /* children that must survive, masked */
static uintptr_t *dropped;  /* children that must be reclaimed, masked */

__attribute__((noinline)) static void *child(uint64_t tag) {
    void *c = gm_alloc(48);
    CHECK(c != NULL, "gm_alloc(48) failed");
    gm_test_fill(c, 48, tag);
    return c;
}

static size_t count_live(const uintptr_t *a, size_t n) {
    size_t live = 0;
    for (size_t i = 0; i < n; i++)
        if (gm_size(P(a[i])) != 0)
            live++;
    return live;
}

static void check_intact(const uintptr_t *a, size_t n, uint64_t tag0) {
    for (size_t i = 0; i < n; i++) {
        void *c = P(a[i]);
        CHECK(gm_size(c) >= 48, "child %zu of tag %llu was reclaimed", i, (unsigned long long)tag0);
        CHECK(gm_test_verify(c, 48, tag0 + i) == (size_t)-1, "child %zu of tag %llu was overwritten", i,
              (unsigned long long)tag0);
    }
}

__attribute__((noinline)) static void collect(void) {
    gm_test_clear_stack();
    gm_gc();
}

/* Typed: word 0 is a pointer, word 1 holds an address the layout says is
 * no pointer, word 2 is a pointer again. */
__attribute__((noinline)) static void make_typed(const gm_layout *l) {
    for (size_t i = 0; i < N; i++) {
        uintptr_t *o = gm_alloc_typed(3 * sizeof(uintptr_t), l);
        CHECK(o != NULL, "gm_alloc_typed failed");
        CHECK(gm_kind_of(o) > 0, "typed object has kind %d", gm_kind_of(o));
        o[0] = (uintptr_t)child(1000 + i);
        o[1] = (uintptr_t)child(900000 + i);
        kept[i] = H(o[0]);
        dropped[i] = H(o[1]);
        held[i] = H(o);
    }
}

static void test_typed(void) {
    uint64_t bits = 0x5; /* words 0 and 2 */
    const gm_layout *l = gm_layout_make(&bits, 3, false);
    CHECK(l != NULL, "gm_layout_make failed");
    CHECK(gm_layout_make(&bits, 3, false) == l, "layouts are not interned");
    gm_add_roots(held, held + N); /* the masked words are no pointers: make them real */
    for (size_t i = 0; i < N; i++)
        held[i] = 0;
    make_typed(l);
    for (size_t i = 0; i < N; i++)
        held[i] ^= MASK; /* real pointers, in a root range */
    collect();
    collect();
    for (size_t i = 0; i < N; i++)
        CHECK(gm_size((void *)held[i]) != 0, "typed object %zu was reclaimed while rooted", i);
    check_intact(kept, N, 1000);
    size_t live = count_live(dropped, N);
    printf("typed: %zu of %d children held only by a non-pointer word survived\n", live, N);
    CHECK(live <= N / 10, "%zu of %d children reachable only through non-pointer words survived", live, N);
    gm_remove_roots(held, held + N);
    memset(held, 0, N * sizeof *held);
    collect();
    size_t left = count_live(kept, N);
    CHECK(left <= N / 10, "%zu of %d children of dropped typed objects survived", left, N);
}

/* A repeated layout: an array of (pointer, non-pointer) pairs. */
__attribute__((noinline)) static uintptr_t make_array(const gm_layout *l, size_t n) {
    uintptr_t *a = gm_alloc_typed(2 * n * sizeof(uintptr_t), l);
    CHECK(a != NULL, "gm_alloc_typed(array) failed");
    for (size_t i = 0; i < n; i++) {
        a[2 * i] = (uintptr_t)child(2000 + i);
        a[2 * i + 1] = (uintptr_t)child(800000 + i);
        kept[i] = H(a[2 * i]);
        dropped[i] = H(a[2 * i + 1]);
    }
    return H(a);
}

static void test_typed_array(void) {
    uint64_t bits = 0x1;
    const gm_layout *l = gm_layout_make(&bits, 2, true);
    static uintptr_t *root;
    gm_add_roots(&root, &root + 1);
    size_t n = 5000; /* 80 KB: a large object */
    root = P(make_array(l, n));
    collect();
    CHECK(gm_size(root) >= 2 * n * sizeof(uintptr_t), "the typed array was reclaimed");
    check_intact(kept, n, 2000);
    size_t live = count_live(dropped, n);
    printf("typed array: %zu of %zu non-pointer children survived\n", live, n);
    CHECK(live <= n / 10, "%zu of %zu non-pointer children survived", live, n);
    root = NULL;
}

/* Uncollectable: survive with no reference; their children too; gm_free
 * releases them. */
__attribute__((noinline)) static void make_uncollectable(void) {
    for (size_t i = 0; i < N; i++) {
        uintptr_t *o = gm_alloc_uncollectable(i % 7 == 0 ? 40000 : 32, false);
        CHECK(o != NULL, "gm_alloc_uncollectable failed");
        o[1] = (uintptr_t)child(3000 + i);
        kept[i] = H(o[1]);
        held[i] = H(o);
    }
}

__attribute__((noinline)) static void free_uncollectable(void) {
    for (size_t i = 0; i < N; i++)
        gm_free(P(held[i]));
}

static void test_uncollectable(void) {
    make_uncollectable();
    void *an = gm_alloc_uncollectable(100, true);
    CHECK(an != NULL, "gm_alloc_uncollectable(noscan) failed");
    uintptr_t anh = H(an);
    an = NULL;
    collect();
    collect();
    CHECK(count_live(held, N) == N, "uncollectable objects were reclaimed: %zu of %d left",
          count_live(held, N), N);
    CHECK(gm_size(P(anh)) >= 100, "a noscan uncollectable object was reclaimed");
    check_intact(kept, N, 3000);
    free_uncollectable();
    gm_free(P(anh));
    collect();
    size_t left = count_live(kept, N);
    printf("uncollectable: %zu of %d children survived their freed parents\n", left, N);
    CHECK(left <= N / 10, "%zu of %d children of freed uncollectable objects survived", left, N);
}

/* A traced kind: the trace marks word 2 only. */
static _Atomic long traced;
static void trace_word2(void *obj, size_t size, gm_tracer *t, void *env) {
    CHECK(env == (void *)&traced, "trace env %p", env);
    CHECK(size >= 3 * sizeof(uintptr_t), "trace size %zu", size);
    atomic_fetch_add(&traced, 1);
    gm_trace_mark(t, ((void **)obj)[2]);
}

__attribute__((noinline)) static void make_traced(int kind) {
    for (size_t i = 0; i < N; i++) {
        uintptr_t *o = gm_alloc_kind(kind, 4 * sizeof(uintptr_t));
        CHECK(o != NULL, "gm_alloc_kind failed");
        CHECK(gm_kind_of(o) == kind, "gm_kind_of = %d, want %d", gm_kind_of(o), kind);
        o[0] = (uintptr_t)child(900000 + i);
        o[2] = (uintptr_t)child(4000 + i);
        dropped[i] = H(o[0]);
        kept[i] = H(o[2]);
        held[i] = (uintptr_t)o;
    }
}

static void test_traced(void) {
    int kind = gm_kind_new(0, trace_word2, (void *)&traced);
    CHECK(kind > 0, "gm_kind_new failed: %d", kind);
    errno = 0;
    CHECK(gm_kind_new(GM_KIND_NOSCAN, trace_word2, NULL) == -1 && errno == EINVAL,
          "a noscan kind with a trace function was accepted");
    gm_add_roots(held, held + N);
    make_traced(kind);
    collect();
    CHECK(atomic_load(&traced) >= N, "trace ran %ld times for %d objects", atomic_load(&traced), N);
    check_intact(kept, N, 4000);
    size_t live = count_live(dropped, N);
    printf("traced: %zu of %d untraced children survived\n", live, N);
    CHECK(live <= N / 10, "%zu of %d children the trace did not mark survived", live, N);
    gm_remove_roots(held, held + N);
    memset(held, 0, N * sizeof *held);
}

/* A root scanner marks an object held only in malloc'd memory. */
static uintptr_t *scanner_cell;
static void scan_cell(gm_tracer *t, void *arg) {
    CHECK(arg == (void *)&scanner_cell, "scanner arg %p", arg);
    if (*scanner_cell)
        gm_trace_mark(t, P(*scanner_cell));
}

static _Atomic int events[3];
static void on_event(void *arg) {
    atomic_fetch_add(&events[(intptr_t)arg], 1);
}

/* gm_size of a masked address, computed out of line so that the unmasked
 * pointer never stays in the caller's registers across a collection. */
__attribute__((noinline)) static size_t masked_size(uintptr_t h) {
    return gm_size(P(h));
}

static void test_scanner_and_events(void) {
    scanner_cell = malloc(sizeof *scanner_cell);
    *scanner_cell = H(child(5000));
    CHECK(gm_add_root_scanner(scan_cell, (void *)&scanner_cell) == 0, "gm_add_root_scanner failed");
    for (intptr_t e = 0; e < 3; e++)
        CHECK(gm_on_gc((gm_gc_event)e, on_event, (void *)e) == 0, "gm_on_gc(%d) failed", (int)e);
    errno = 0;
    CHECK(gm_on_gc((gm_gc_event)7, on_event, NULL) == -1 && errno == EINVAL, "bad event accepted");
    collect();
    collect();
    CHECK(gm_size(P(*scanner_cell)) != 0, "the object a root scanner marks was reclaimed");
    CHECK(gm_test_verify(P(*scanner_cell), 48, 5000) == (size_t)-1, "the scanner's object was overwritten");
    for (int e = 0; e < 3; e++)
        CHECK(atomic_load(&events[e]) >= 2, "event %d fired %d times in 2 collections", e,
              atomic_load(&events[e]));
    volatile uintptr_t h = *scanner_cell;
    *scanner_cell = 0;
    /* Conservative roots: a stale copy of the address (the unmasked pointer
     * the checks above computed) may survive in a register or stack slot
     * for a cycle; the stack is wiped and a few cycles allowed. */
    for (int i = 0; i < 4; i++) {
        gm_test_clear_stack();
        collect();
        if (masked_size(h) == 0)
            break;
    }
    CHECK(masked_size(h) == 0, "the object a root scanner let go was not reclaimed in 4 collections");
}

int main(void) {
    held = calloc(N, sizeof *held);
    kept = calloc(5000, sizeof *kept);
    dropped = calloc(5000, sizeof *dropped);
    CHECK(held && kept && dropped, "calloc failed");
    errno = 0;
    uint64_t b = 1;
    CHECK(gm_layout_make(&b, 0, false) == NULL && errno == EINVAL, "empty layout accepted");
    test_typed();
    test_typed_array();
    test_uncollectable();
    test_traced();
    test_scanner_and_events();
    printf("test_kinds: ok\n");
    return 0;
}
