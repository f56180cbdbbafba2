/*
 * test_gc_roots.c - an object reachable from only one kind of root
 * survives collections with its contents intact, and is reclaimed once
 * that root lets go.
 *
 * Kinds of root: a stack slot; registers (of a thread stopped by the
 * collector's signal, and of the thread that calls gm_gc); .bss and .data
 * globals of the executable; .bss/.data globals (exported and file-local)
 * of a library loaded with dlopen after the first collection; ranges added
 * with gm_add_roots (and removed, whole or in part, with gm_remove_roots),
 * including a pointer in the last word of a range and a thousand small
 * ranges; interior pointers (middle and last byte, and the last page of a
 * large object); other heap objects (a parent object, a 100 000-node
 * list, tiny noscan objects reached through interior pointers).  Negative
 * cases: an object with no root, a two-object cycle, pointers held only in
 * malloc'd memory and only in a noscan object are all reclaimed.
 *
 * Method.  Objects are made by a noinline function that fills them with a
 * pattern derived from a tag and hands back their addresses XOR-ed with a
 * mask, so no ordinary word of the test holds a pointer to them except the
 * root under test.  Before each collection a noinline function zeroes 64 KiB
 * of stack below the caller, so stale copies in dead frames are gone.  After
 * the collections the test allocates tens of megabytes of objects of the
 * same sizes (which would take the slots of wrongly freed objects, zeroing
 * and overwriting them) and then checks each object's start, size and every
 * byte of its pattern.  "Reclaimed" means gm_size() of the object is 0 right
 * after gm_gc() returned, with no allocation in between; memstats' frees
 * count is checked too.
 *
 * Limits.  Conservative scanning may keep an object alive through a stale
 * copy the test cannot see (a spilled register in a library frame); the
 * negative cases would then fail, which is why each survival check is paired
 * with a reclamation check and the bare "no root" control runs first.  The
 * register cases are x86-64 only.  The stopped-thread case holds the
 * pointers only in registers (unmasked inside one asm statement, spinning
 * without calls), so they reach the collector only through the signal
 * frame; the calling-thread case pins them in callee-saved registers with
 * local register variables across gm_gc(), whose callees may save them on
 * the stack as the ABI allows, so it shows that the thread that calls
 * gm_gc() is scanned with its registers, not that no stack slot was used.
 * Under ThreadSanitizer the stopped-thread case is skipped: TSan delivers
 * a signal only when the thread calls into its runtime, and the spinning
 * thread never does.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "gm_test.h"

#define NOINLINE __attribute__((noinline))
#define MASK 0xa5a5a5a5a5a5a5a5ull
#define NOBJ 7

/* The mask is read from a volatile so the compiler cannot unmask a pointer
 * early (say, before gm_gc() for a check after it) and keep it in a
 * callee-saved register, which would make it a root. */
static volatile uintptr_t g_mask = MASK;
static inline void *show(uintptr_t m) {
    return (void *)(m ^ g_mask);
}
static inline uintptr_t hide(const void *p) {
    return (uintptr_t)p ^ g_mask;
}

static const size_t obj_sizes[NOBJ] = {16, 48, 256, 4000, 30000, 100000, 1 << 20};
static bool quick;
static size_t churn_bytes;

typedef struct objset {
    uintptr_t m[NOBJ];
    uint64_t tag;
} objset;

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "test_gc_roots: timed out (a collection did not complete?)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(2);
}

static uint64_t obj_tag(const objset *s, int i) {
    return s->tag * 64 + (uint64_t)i;
}

NOINLINE static void make_set(objset *s, uint64_t tag) {
    s->tag = tag;
    for (int i = 0; i < NOBJ; i++) {
        void *p = gm_alloc(obj_sizes[i]);
        CHECK(p != NULL, "gm_alloc(%zu) failed", obj_sizes[i]);
        gm_test_fill(p, obj_sizes[i], obj_tag(s, i));
        s->m[i] = hide(p);
    }
}


/* Allocates about `bytes` of garbage in the sizes under test (and others),
 * writing into each object so wrongly freed slots get overwritten. */
NOINLINE static void churn(size_t bytes, uint64_t salt) {
    static const size_t extra[] = {32, 64, 112, 512, 1024, 2048, 8192, 40000};
    size_t done = 0;
    for (uint64_t i = 0; done < bytes; i++) {
        size_t n = (i & 1) ? obj_sizes[(i >> 1) % NOBJ] : extra[(i >> 1) % (sizeof extra / sizeof extra[0])];
        if (n >= (1 << 20) && (i % 7) != 0)
            n = 4000;
        uint64_t *p = gm_alloc(n);
        CHECK(p != NULL, "churn: gm_alloc(%zu) failed", n);
        p[0] = salt ^ i;
        p[n / 8 - 1] = ~(salt ^ i);
        done += n;
    }
}

NOINLINE static void verify_obj(const char *kind, int i, const void *got, const objset *s) {
    void *want = show(s->m[i]);
    size_t size = obj_sizes[i];
    CHECK(got == want, "%s: object %d (%zu bytes): root gives %p, expected %p", kind, i, size, got, want);
    CHECK(gm_base(want) == want, "%s: object %d (%zu bytes) at %p is no longer allocated (gm_base %p)", kind, i,
          size, want, gm_base(want));
    CHECK(gm_size(want) >= size, "%s: object %d at %p: gm_size %zu < %zu", kind, i, want, gm_size(want), size);
    size_t off = gm_test_verify(want, size, obj_tag(s, i));
    CHECK(off == (size_t)-1, "%s: object %d (%zu bytes) at %p: contents changed at offset %zu", kind, i, size,
          want, off);
}

/* How many objects of s are no longer allocated. */
NOINLINE static int count_reclaimed(const objset *s, int *first_live) {
    int n = 0;
    *first_live = -1;
    for (int i = 0; i < NOBJ; i++) {
        if (gm_size(show(s->m[i])) == 0)
            n++;
        else if (*first_live < 0)
            *first_live = i;
    }
    return n;
}

/* The objects of s must be gone after a collection.  A collection or two
 * more are allowed (with a note) because the library's own globals may
 * hold a heap address for one cycle (the mark workers' span cache, see
 * test_gc_own_globals); an object still there after three is an error. */
NOINLINE static void expect_reclaimed_now(const char *kind, const objset *s) {
    int n = 0, live = -1, tries;
    for (tries = 1; tries <= 3; tries++) {
        gm_test_clear_stack();
        gm_gc();
        n = count_reclaimed(s, &live);
        if (n == NOBJ)
            break;
    }
    CHECK(n == NOBJ, "%s: %d of %d objects reclaimed after the root was dropped and 3 collections; object %d "
          "(%zu bytes) at %p is still allocated", kind, n, NOBJ, live, live >= 0 ? obj_sizes[live] : 0,
          live >= 0 ? show(s->m[live]) : NULL);
    if (tries > 1)
        printf("  note: %s: reclaimed only by collection %d after the drop\n", kind, tries);
}

/* The stack is cleared before the call too: a function may push a stale
 * caller-saved register (say, rax still holding the last pointer an
 * install function computed) as padding in its own frame, which is live
 * while it collects. */
#define expect_reclaimed(kind, s)          \
    do {                                   \
        gm_test_clear_stack();             \
        expect_reclaimed_now((kind), (s)); \
    } while (0)

/* Collects (up to three times, as expect_reclaimed_now) until none of the
 * n hidden objects is allocated; returns how many still are. */
NOINLINE static int collect_until_gone(const char *what, const uintptr_t *ms, int n) {
    int live = n;
    for (int tries = 1; tries <= 3 && live; tries++) {
        gm_test_clear_stack();
        gm_gc();
        live = 0;
        for (int i = 0; i < n; i++)
            live += gm_size(show(ms[i])) != 0;
        if (!live && tries > 1)
            printf("  note: %s: reclaimed only by collection %d after the drop\n", what, tries);
    }
    return live;
}

NOINLINE static void collect_and_churn(uint64_t salt) {
    gm_test_clear_stack();
    gm_gc();
    churn(churn_bytes, salt);
    gm_gc();
    churn(churn_bytes / 2, salt + 1);
    gm_gc();
}

/* --------------------------------------------------------- generic kinds */

typedef struct root_kind {
    const char *name;
    void (*install)(const objset *s);
    void *(*get)(int i); /* the start of object i, read back from the root */
    void (*drop)(void);
} root_kind;

static void exercise(const root_kind *k, uint64_t tag) {
    objset s;
    make_set(&s, tag);
    k->install(&s);
    collect_and_churn(tag * 1000);
    for (int i = 0; i < NOBJ; i++)
        verify_obj(k->name, i, k->get(i), &s);
    k->drop();
    expect_reclaimed(k->name, &s);
    printf("  %-40s survives, then reclaimed\n", k->name);
}

/* Globals of the executable. */
static void *volatile g_bss[NOBJ];
static void *volatile g_data[NOBJ] = {(void *)1, (void *)2};

NOINLINE static void bss_install(const objset *s) {
    for (int i = 0; i < NOBJ; i++)
        g_bss[i] = show(s->m[i]);
}
static void *bss_get(int i) {
    return g_bss[i];
}
static void bss_drop(void) {
    for (int i = 0; i < NOBJ; i++)
        g_bss[i] = NULL;
}

NOINLINE static void data_install(const objset *s) {
    for (int i = 0; i < NOBJ; i++)
        g_data[i] = show(s->m[i]);
}
static void *data_get(int i) {
    return g_data[i];
}
static void data_drop(void) {
    for (int i = 0; i < NOBJ; i++)
        g_data[i] = (void *)1;
}

/* Interior pointers: middle byte for even objects, last byte for odd ones
 * (the 1 MiB object's last byte is in its last page). */
static void *volatile g_interior[NOBJ];
NOINLINE static void interior_install(const objset *s) {
    for (int i = 0; i < NOBJ; i++) {
        char *p = show(s->m[i]);
        g_interior[i] = (i & 1) || i == NOBJ - 1 ? p + obj_sizes[i] - 1 : p + obj_sizes[i] / 2;
    }
}
static void *interior_get(int i) {
    return gm_base(g_interior[i]);
}
static void interior_drop(void) {
    for (int i = 0; i < NOBJ; i++)
        g_interior[i] = NULL;
}

/* Another heap object. */
static void *volatile *volatile g_parent;
NOINLINE static void parent_install(const objset *s) {
    void *volatile *parent = gm_alloc(NOBJ * sizeof(void *));
    CHECK(parent != NULL, "gm_alloc of the parent failed");
    for (int i = 0; i < NOBJ; i++)
        parent[i] = show(s->m[i]);
    g_parent = parent;
}
static void *parent_get(int i) {
    return g_parent[i];
}
static void parent_drop(void) {
    g_parent = NULL;
}

/* A library loaded with dlopen. */
static void (*lib_set)(int which, int i, void *p);
static void *(*lib_get)(int which, int i);
static int lib_which;
NOINLINE static void lib_install(const objset *s) {
    for (int i = 0; i < NOBJ; i++)
        lib_set(lib_which, i, show(s->m[i]));
}
static void *libk_get(int i) {
    return lib_get(lib_which, i);
}
static void lib_drop(void) {
    for (int i = 0; i < NOBJ; i++)
        lib_set(lib_which, i, NULL);
}

/* Added roots: malloc'd memory, the pointers at the end of the range. */
static void *volatile *added;
static size_t added_words = 4096;
NOINLINE static void added_install(const objset *s) {
    for (int i = 0; i < NOBJ; i++)
        added[added_words - NOBJ + (size_t)i] = show(s->m[i]);
    gm_add_roots((void *)added, (void *)(added + added_words));
}
static void *added_get(int i) {
    return added[added_words - NOBJ + (size_t)i];
}
static void added_drop(void) {
    /* The pointers stay in the block: removing the range is what drops them. */
    gm_remove_roots((void *)added, (void *)(added + added_words));
}

/* ------------------------------------------------------------ stack slot */

NOINLINE static void hold_on_stack(const objset *s) {
    void *volatile slot[NOBJ];
    for (int i = 0; i < NOBJ; i++)
        slot[i] = show(s->m[i]);
    collect_and_churn(s->tag * 1000);
    for (int i = 0; i < NOBJ; i++)
        verify_obj("stack slot", i, slot[i], s);
    for (int i = 0; i < NOBJ; i++)
        slot[i] = NULL;
}

static void test_stack(void) {
    objset s;
    make_set(&s, 2);
    hold_on_stack(&s);
    expect_reclaimed("stack slot", &s);
    printf("  %-40s survives, then reclaimed\n", "stack slot");
}

/* ------------------------------------------------------------- registers */

#if defined(__x86_64__)
static uintptr_t reg_in[NOBJ];
static void *volatile reg_out[NOBJ];
static _Atomic int reg_phase;

/* Unmasks the pointers into seven registers, says so, spins (no calls, no
 * stores) until told to stop, then stores them into reg_out. */
static void *reg_holder(void *arg) {
    (void)arg;
    const uintptr_t *in = reg_in;
    void *volatile *out = reg_out;
    uintptr_t mask = MASK;
    _Atomic int *ph = &reg_phase;
    __asm__ volatile("mov 0(%[in]), %%rbx\n\t"
                     "xor %[mask], %%rbx\n\t"
                     "mov 8(%[in]), %%r12\n\t"
                     "xor %[mask], %%r12\n\t"
                     "mov 16(%[in]), %%r13\n\t"
                     "xor %[mask], %%r13\n\t"
                     "mov 24(%[in]), %%r14\n\t"
                     "xor %[mask], %%r14\n\t"
                     "mov 32(%[in]), %%r15\n\t"
                     "xor %[mask], %%r15\n\t"
                     "mov 40(%[in]), %%r8\n\t"
                     "xor %[mask], %%r8\n\t"
                     "mov 48(%[in]), %%r10\n\t"
                     "xor %[mask], %%r10\n\t"
                     "movl $1, (%[ph])\n\t"
                     "1:\n\t"
                     "pause\n\t"
                     "cmpl $2, (%[ph])\n\t"
                     "jne 1b\n\t"
                     "mov %%rbx, 0(%[out])\n\t"
                     "mov %%r12, 8(%[out])\n\t"
                     "mov %%r13, 16(%[out])\n\t"
                     "mov %%r14, 24(%[out])\n\t"
                     "mov %%r15, 32(%[out])\n\t"
                     "mov %%r8, 40(%[out])\n\t"
                     "mov %%r10, 48(%[out])\n\t"
                     :
                     : [in] "r"(in), [out] "r"(out), [mask] "r"(mask), [ph] "r"(ph)
                     : "rbx", "r12", "r13", "r14", "r15", "r8", "r10", "memory", "cc");
    return NULL;
}

static void test_registers_of_stopped_thread(void) {
    objset s;
    make_set(&s, 3);
    for (int i = 0; i < NOBJ; i++)
        reg_in[i] = s.m[i];
    atomic_store(&reg_phase, 0);
    pthread_t th;
    int err = gm_thread_create(&th, NULL, reg_holder, NULL);
    CHECK(err == 0, "gm_thread_create: error %d", err);
    while (atomic_load(&reg_phase) != 1)
        sched_yield();
    collect_and_churn(3000);
    atomic_store(&reg_phase, 2);
    pthread_join(th, NULL);
    /* reg_out is a global: the objects are safe again. */
    for (int i = 0; i < NOBJ; i++)
        verify_obj("registers of a stopped thread", i, reg_out[i], &s);
    for (int i = 0; i < NOBJ; i++)
        reg_out[i] = NULL;
    expect_reclaimed("registers of a stopped thread", &s);
    printf("  %-40s survives, then reclaimed\n", "registers of a stopped thread");
}

/* The calling thread's callee-saved registers across gm_gc(). */
NOINLINE static void hold_in_own_registers(const objset *s) {
    register uintptr_t a __asm__("rbx") = s->m[0];
    register uintptr_t b __asm__("r12") = s->m[1];
    register uintptr_t c __asm__("r13") = s->m[3];
    register uintptr_t d __asm__("r14") = s->m[4];
    register uintptr_t e __asm__("r15") = s->m[5];
    uintptr_t mask = MASK;
    __asm__ volatile("xor %[k], %[a]\n\txor %[k], %[b]\n\txor %[k], %[c]\n\txor %[k], %[d]\n\txor %[k], %[e]"
                     : [a] "+r"(a), [b] "+r"(b), [c] "+r"(c), [d] "+r"(d), [e] "+r"(e)
                     : [k] "r"(mask));
    gm_gc();
    __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e));
    /* Objects 2 and 6 are in no register: the same collection took them. */
    CHECK(gm_size(show(s->m[2])) == 0 && gm_size(show(s->m[6])) == 0,
          "own registers: objects held in no register survived (sizes %zu, %zu)", gm_size(show(s->m[2])),
          gm_size(show(s->m[6])));
    churn(churn_bytes, 4000);
    __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e));
    gm_gc();
    __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e));
    churn(churn_bytes / 2, 4001);
    __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e));
    gm_gc();
    __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e));
    verify_obj("own registers", 0, (void *)a, s);
    verify_obj("own registers", 1, (void *)b, s);
    verify_obj("own registers", 3, (void *)c, s);
    verify_obj("own registers", 4, (void *)d, s);
    verify_obj("own registers", 5, (void *)e, s);
}

static void test_own_registers(void) {
    objset s;
    make_set(&s, 4);
    gm_test_clear_stack();
    hold_in_own_registers(&s);
    expect_reclaimed("own registers", &s);
    printf("  %-40s survives, then reclaimed\n", "registers of the thread calling gm_gc");
}
#endif

/* ------------------------------------------------------ negative cases */

/* Allocates n objects and keeps none; returns the last one, hidden.  Its
 * own frame and registers are gone when it returns. */
NOINLINE static uintptr_t make_garbage(int n) {
    uintptr_t last = 0;
    for (int i = 0; i < n; i++) {
        void *p = gm_alloc(64 + (size_t)(i % 4) * 48);
        CHECK(p, "gm_alloc failed");
        last = hide(p);
    }
    return last;
}

static void test_no_root(void) {
    objset s;
    make_set(&s, 1);
    expect_reclaimed("no root", &s);

    /* memstats counts them: N objects dropped, at least 99% freed. */
    const int n = 4000;
    gm_test_clear_stack();
    gm_gc();
    gm_memstats m0, m1;
    gm_read_memstats(&m0);
    uintptr_t last = make_garbage(n);
    gm_test_clear_stack();
    gm_gc();
    gm_read_memstats(&m1);
    int live = collect_until_gone("no root, last of many", &last, 1);
    uint64_t freed = m1.frees - m0.frees;
    CHECK(m1.mallocs - m0.mallocs >= (uint64_t)n, "mallocs grew by %llu after %d allocations",
          (unsigned long long)(m1.mallocs - m0.mallocs), n);
    CHECK(freed >= (uint64_t)n * 99 / 100, "frees grew by %llu after dropping %d objects",
          (unsigned long long)freed, n);
    CHECK(live == 0, "the last dropped object %p is still allocated after 3 collections", show(last));
    printf("  %-40s reclaimed (%llu of %d counted in frees)\n", "no root", (unsigned long long)freed, n);
}

NOINLINE static uintptr_t make_cycle(uintptr_t *b_out) {
    void **a = gm_alloc(64), **b = gm_alloc(64);
    CHECK(a && b, "gm_alloc failed");
    a[0] = b;
    b[0] = a;
    a[3] = a + 2; /* a pointer into itself too */
    *b_out = hide(b);
    return hide(a);
}

static void test_cycle(void) {
    uintptr_t ab[2];
    ab[0] = make_cycle(&ab[1]);
    gm_test_clear_stack();
    int live = collect_until_gone("unreachable cycle", ab, 2);
    CHECK(live == 0, "an unreachable two-object cycle survived 3 collections: gm_size %zu %zu",
          gm_size(show(ab[0])), gm_size(show(ab[1])));
    printf("  %-40s reclaimed\n", "unreachable cycle");
}

static void *volatile g_noscan_parent;
NOINLINE static void noscan_install(const objset *s) {
    void **p = gm_alloc_noscan(NOBJ * sizeof(void *));
    CHECK(p, "gm_alloc_noscan failed");
    for (int i = 0; i < NOBJ; i++)
        p[i] = show(s->m[i]);
    g_noscan_parent = p;
}

static void test_noscan_parent(void) {
    objset s;
    make_set(&s, 5);
    noscan_install(&s);
    expect_reclaimed("pointers only inside a noscan object", &s);
    void *p = g_noscan_parent;
    CHECK(gm_base(p) == p, "the noscan parent %p itself was reclaimed while a global held it", p);
    g_noscan_parent = NULL;
    printf("  %-40s children reclaimed, parent kept\n", "noscan parent");
}

NOINLINE static void malloc_install(void *volatile *blk, const objset *s) {
    for (int i = 0; i < NOBJ; i++)
        blk[i] = show(s->m[i]);
}

static void test_malloc_not_root(void) {
    void *volatile *blk = calloc(64, sizeof(void *));
    CHECK(blk, "calloc failed");
    objset s;
    make_set(&s, 6);
    malloc_install(blk, &s);
    expect_reclaimed("pointers only in malloc'd memory", &s);
    free((void *)blk);
    printf("  %-40s reclaimed\n", "pointers only in malloc'd memory");
}

/* ---------------------------------------------------- more added roots */

static void test_partial_remove(void) {
    size_t words = 2 * NOBJ;
    void *volatile *blk = calloc(words, sizeof(void *));
    CHECK(blk, "calloc failed");
    objset a, b;
    make_set(&a, 7);
    make_set(&b, 8);
    malloc_install(blk, &a);
    malloc_install(blk + NOBJ, &b);
    gm_add_roots((void *)blk, (void *)(blk + NOBJ));
    gm_add_roots((void *)(blk + NOBJ), (void *)(blk + words));
    collect_and_churn(7000);
    for (int i = 0; i < NOBJ; i++) {
        verify_obj("added root (first half)", i, blk[i], &a);
        verify_obj("added root (second half)", i, blk[NOBJ + i], &b);
    }
    /* Removing the first range leaves the second. */
    gm_remove_roots((void *)blk, (void *)(blk + NOBJ));
    expect_reclaimed("added root range removed", &a);
    churn(churn_bytes / 2, 7100);
    gm_gc();
    for (int i = 0; i < NOBJ; i++)
        verify_obj("added root range kept", i, blk[NOBJ + i], &b);
    /* A removal that covers no range removes nothing. */
    gm_remove_roots((void *)(blk + NOBJ + 1), (void *)(blk + words));
    gm_gc();
    for (int i = 0; i < NOBJ; i++)
        verify_obj("added root after a removal covering no range", i, blk[NOBJ + i], &b);
    gm_remove_roots((void *)blk, (void *)(blk + words));
    expect_reclaimed("added roots all removed", &b);
    free((void *)blk);
    printf("  %-40s kept/removed by range\n", "gm_remove_roots of part of the roots");
}

/* Work on the cells in functions of their own, so the test's frame keeps
 * no copy of the last pointer. */
NOINLINE static void make_root_cells(void *volatile *cells, uintptr_t *hidden, int n) {
    for (int i = 0; i < n; i++) {
        void *p = gm_alloc(32 + (size_t)(i % 8) * 16);
        CHECK(p, "gm_alloc failed");
        gm_test_fill(p, 32, 90000 + (uint64_t)i);
        hidden[i] = hide(p);
        cells[i] = p;
        gm_add_roots((void *)(cells + i), (void *)(cells + i + 1));
    }
}

NOINLINE static void verify_root_cells(void *volatile *cells, const uintptr_t *hidden, int n) {
    for (int i = 0; i < n; i++) {
        CHECK(cells[i] == show(hidden[i]), "root cell %d changed", i);
        CHECK(gm_base(cells[i]) == cells[i], "object %d of %d single-word roots was reclaimed", i, n);
        size_t off = gm_test_verify(cells[i], 32, 90000 + (uint64_t)i);
        CHECK(off == (size_t)-1, "object %d of %d single-word roots changed at offset %zu", i, n, off);
    }
}

/* A thousand one-word roots (the root table grows past its first size). */
static void test_many_roots(void) {
    enum { N = 1000 };
    void *volatile *cells = calloc(N, sizeof(void *));
    uintptr_t *hidden = calloc(N, sizeof(uintptr_t));
    CHECK(cells && hidden, "calloc failed");
    make_root_cells(cells, hidden, N);
    collect_and_churn(9000);
    verify_root_cells(cells, hidden, N);
    gm_remove_roots((void *)cells, (void *)(cells + N));
    gm_test_clear_stack();
    int live = collect_until_gone("1000 single-word added roots", hidden, N);
    CHECK(live == 0, "%d of %d objects still allocated after their %d roots were removed", live, N, N);
    free((void *)cells);
    free(hidden);
    printf("  %-40s survive, then reclaimed\n", "1000 single-word added roots");
}

/* ---------------------------------------------------------- heap graphs */

typedef struct node {
    struct node *next;
    uint64_t idx;
    uint64_t check;
} node;

static node *volatile g_list;

NOINLINE static uintptr_t build_list(size_t n) {
    node *head = NULL;
    for (size_t i = n; i-- > 0;) {
        node *x = gm_alloc(sizeof(node));
        CHECK(x, "gm_alloc failed");
        x->next = head;
        x->idx = i;
        x->check = gm_test_word(777, i);
        head = x;
    }
    g_list = head;
    return hide(head);
}

NOINLINE static void verify_list(size_t n) {
    size_t i = 0;
    for (node *x = g_list; x; x = x->next, i++) {
        CHECK(i < n, "list longer than %zu nodes", n);
        CHECK(gm_base(x) == x, "list node %zu at %p is not allocated", i, (void *)x);
        CHECK(x->idx == i && x->check == gm_test_word(777, i), "list node %zu at %p holds idx %llu check %llx",
              i, (void *)x, (unsigned long long)x->idx, (unsigned long long)x->check);
    }
    CHECK(i == n, "list has %zu nodes, expected %zu", i, n);
}

static void test_long_list(void) {
    size_t n = quick ? 20000 : 100000;
    uintptr_t head = build_list(n);
    collect_and_churn(11000);
    verify_list(n);
    gm_memstats m0, m1;
    gm_read_memstats(&m0);
    g_list = NULL;
    gm_test_clear_stack();
    CHECK(collect_until_gone("linked list", &head, 1) == 0, "list head still allocated after the list was dropped");
    gm_read_memstats(&m1);
    uint64_t freed = m1.frees - m0.frees;
    CHECK(freed >= n * 99 / 100, "dropping a %zu-node list freed %llu objects", n, (unsigned long long)freed);
    printf("  %-40s survives (%zu nodes), then reclaimed (%llu frees)\n", "linked list from a global", n,
           (unsigned long long)freed);
}

/* Tiny noscan objects reached through interior pointers into 16-byte
 * blocks, from a scanned array held by a global. */
static unsigned char *volatile *volatile g_tiny;
static void test_tiny(void) {
    enum { N = 512 };
    unsigned char *volatile *arr = gm_alloc(N * sizeof(void *));
    CHECK(arr, "gm_alloc failed");
    for (int i = 0; i < N; i++) {
        size_t sz = 1 + (size_t)(i % 15);
        unsigned char *p = gm_alloc_noscan(sz);
        CHECK(p, "gm_alloc_noscan(%zu) failed", sz);
        for (size_t k = 0; k < sz; k++)
            p[k] = gm_test_byte(5000 + (uint64_t)i, k);
        arr[i] = p;
    }
    g_tiny = arr;
    arr = NULL;
    gm_test_clear_stack();
    gm_gc();
    for (int r = 0; r < 4; r++) {
        for (int i = 0; i < 200000; i++) {
            unsigned char *q = gm_alloc_noscan(1 + (size_t)(i % 15));
            CHECK(q, "gm_alloc_noscan failed");
            q[0] = 0xee;
        }
        gm_gc();
    }
    for (int i = 0; i < N; i++) {
        size_t sz = 1 + (size_t)(i % 15);
        unsigned char *p = g_tiny[i];
        CHECK(gm_size(p) >= sz, "tiny object %d (%zu bytes) at %p: gm_size %zu", i, sz, (void *)p, gm_size(p));
        for (size_t k = 0; k < sz; k++)
            CHECK(p[k] == gm_test_byte(5000 + (uint64_t)i, k), "tiny object %d (%zu bytes) at %p changed at %zu",
                  i, sz, (void *)p, k);
    }
    g_tiny = NULL;
    printf("  %-40s survive\n", "tiny noscan objects from a heap array");
}

/* ------------------------------------------------------------------ main */

int main(void) {
    signal(SIGALRM, on_alarm);
    alarm(240);
    quick = gm_test_quick();
    churn_bytes = quick ? (8u << 20) : (48u << 20);
    printf("test_gc_roots: %s\n", quick ? "quick" : "full");
    /* The heap's first object sits at the lowest arena's base, an address
     * the library kept in its own globals before afdc89e (see
     * test_gc_own_globals): take it before making objects that must be
     * reclaimable. */
    CHECK(gm_alloc(16) != NULL, "gm_alloc failed");
    /* Each test starts on a cleared stack: the frames of earlier calls
     * leave heap addresses in slots a later frame may not overwrite (the
     * page heap's next free page, for instance, is the next span's base). */

    gm_test_clear_stack();
    test_no_root();
    gm_test_clear_stack();
    test_cycle();
    gm_test_clear_stack();
    test_noscan_parent();
    gm_test_clear_stack();
    test_malloc_not_root();

    gm_test_clear_stack();
    test_stack();
#if defined(__x86_64__)
    gm_test_clear_stack();
    if (GM_TEST_TSAN)
        printf("  registers of a stopped thread: skipped under ThreadSanitizer (it delivers the stop signal only "
               "at its own calls, which the spinning thread never makes)\n");
    else
        test_registers_of_stopped_thread();
    gm_test_clear_stack();
    test_own_registers();
#else
    printf("  registers: skipped (x86-64 only)\n");
#endif

    static const root_kind bss = {"global in .bss", bss_install, bss_get, bss_drop};
    static const root_kind data = {"global in .data", data_install, data_get, data_drop};
    static const root_kind interior = {"interior pointers from globals", interior_install, interior_get,
                                       interior_drop};
    static const root_kind parent = {"another heap object", parent_install, parent_get, parent_drop};
    gm_test_clear_stack();
    exercise(&bss, 10);
    gm_test_clear_stack();
    exercise(&data, 11);
    gm_test_clear_stack();
    exercise(&interior, 12);
    gm_test_clear_stack();
    exercise(&parent, 13);

    /* A library loaded after collections have run. */
    gm_gc();
    void *lib = dlopen(GM_TEST_LIBDIR "/lib_gc_roots.so", RTLD_NOW | RTLD_LOCAL);
    CHECK(lib, "dlopen: %s", dlerror());
    *(void **)&lib_set = dlsym(lib, "gc_lib_set");
    *(void **)&lib_get = dlsym(lib, "gc_lib_get");
    CHECK(lib_set && lib_get, "dlsym: %s", dlerror());
    static const char *lib_names[3] = {"dlopen'ed library, exported .bss", "dlopen'ed library, exported .data",
                                       "dlopen'ed library, file-local .bss"};
    for (lib_which = 0; lib_which < 3; lib_which++) {
        root_kind k = {lib_names[lib_which], lib_install, libk_get, lib_drop};
        gm_test_clear_stack();
        exercise(&k, 20 + (uint64_t)lib_which);
    }

    /* Added roots: first show that the block alone is no root. */
    added = calloc(added_words, sizeof(void *));
    CHECK(added, "calloc failed");
    static const root_kind addk = {"gm_add_roots (last words of the range)", added_install, added_get,
                                   added_drop};
    gm_test_clear_stack();
    exercise(&addk, 30);
    free((void *)added);
    gm_test_clear_stack();
    test_partial_remove();
    gm_test_clear_stack();
    test_many_roots();

    gm_test_clear_stack();
    test_long_list();
    gm_test_clear_stack();
    test_tiny();

    printf("test_gc_roots: ok\n");
    return 0;
}
