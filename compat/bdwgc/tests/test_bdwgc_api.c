/*
 * test_bdwgc_api.c - the bdwgc API of gomem's libgc.so.1, as programs use
 * it: allocation calls, roots, control and statistics, finalizers (order,
 * flavours, on demand), disappearing links, threads, kinds with mark
 * procedures, typed objects, GC_push_other_roots.
 *
 * Built twice (compat/bdwgc/CMakeLists.txt): against this library's
 * headers and against Debian's bdwgc headers, both linked to this library,
 * so the macros and constants programs compile in are checked as well.
 * Only the public API is used, so the file also builds against bdwgc.
 *
 * Reclamation is observed through disappearing links and finalizers (so
 * the checks hold on any collector), after wiping the stack below the
 * caller; conservative stack scanning may keep a stray object, so
 * reclamation checks ask for 90% of the objects, survival checks for all.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Threads here are made with GC_pthread_create or, for the one that
 * registers itself, with the plain pthread_create. */
#define GC_NO_THREAD_REDIRECTS 1
#include <gc.h>
#include <gc/gc_mark.h>
#include <gc/gc_typed.h>

#define CHECK(cond, ...)                                                               \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                              \
            fprintf(stderr, "\n");                                                     \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

#define NOINLINE __attribute__((noinline))
#define N 1000

NOINLINE static void wipe_stack(void) {
    volatile char buf[64 * 1024];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

NOINLINE static void collect(void) {
    wipe_stack();
    GC_gcollect();
}

/* Links that the collector clears when their object dies: links[i] holds
 * the object hidden, so the table itself keeps nothing alive. */
static GC_hidden_pointer *links;

/* Each test takes a fresh table: a stray object kept from an earlier test
 * keeps its link registered (and writable by the collector), so tables are
 * never reused nor freed. */
static void fresh_links(void) {
    links = calloc(4 * N, sizeof *links);
    CHECK(links != NULL, "calloc");
}

static size_t count_cleared(size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (links[i] == 0)
            c++;
    return c;
}

NOINLINE static void *watch(size_t i, void *obj) {
    links[i] = GC_HIDE_POINTER(obj);
    CHECK(GC_general_register_disappearing_link((void **)&links[i], obj) == GC_SUCCESS, "register link %zu", i);
    return obj;
}

/* ------------------------------------------------------------ allocation */

static void test_allocation(void) {
    unsigned v = GC_get_version();
    CHECK(v >> 16 == 8 && ((v >> 8) & 0xff) == 2, "GC_get_version = %#x, want 8.2.x", v);
    char *p = GC_MALLOC(100);
    CHECK(p != NULL, "GC_MALLOC(100)");
    for (int i = 0; i < 100; i++)
        CHECK(p[i] == 0, "GC_MALLOC not zeroed at %d", i);
    CHECK(GC_size(p) >= 100, "GC_size = %zu", GC_size(p));
    CHECK(GC_base(p + 57) == p, "GC_base of an interior pointer");
    CHECK(GC_is_heap_ptr(p + 99) && !GC_is_heap_ptr(&v), "GC_is_heap_ptr");
    CHECK(GC_base(&v) == NULL, "GC_base of a stack address");
    memset(p, 'x', 100);
    char *q = GC_REALLOC(p, 5000);
    CHECK(q != NULL && GC_size(q) >= 5000, "GC_REALLOC grow");
    for (int i = 0; i < 100; i++)
        CHECK(q[i] == 'x', "GC_REALLOC lost byte %d", i);
    CHECK(GC_REALLOC(NULL, 10) != NULL, "GC_REALLOC(NULL)");
    char *a = GC_MALLOC_ATOMIC(3000);
    CHECK(a != NULL && GC_size(a) >= 3000, "GC_MALLOC_ATOMIC");
    char *s = GC_STRDUP("hello, world");
    CHECK(s && strcmp(s, "hello, world") == 0, "GC_STRDUP");
    char *sn = GC_strndup("abcdef", 3);
    CHECK(sn && strcmp(sn, "abc") == 0, "GC_strndup");
    void *al = GC_memalign(4096, 100);
    CHECK(al && ((uintptr_t)al & 4095) == 0, "GC_memalign(4096) = %p", al);
    void *pm = NULL;
    CHECK(GC_posix_memalign(&pm, 256, 40) == 0 && pm && ((uintptr_t)pm & 255) == 0, "GC_posix_memalign");
    GC_FREE(al);
    GC_FREE(q);
    GC_FREE(NULL);
    void *big = GC_MALLOC(1 << 20);
    CHECK(big && GC_size(big) >= (1 << 20), "1 MiB object");
    GC_FREE(big);
    void *list = GC_malloc_many(48);
    int n = 0;
    for (void *o = list; o; o = GC_NEXT(o)) {
        CHECK(GC_size(o) >= 48, "GC_malloc_many object of %zu bytes", GC_size(o));
        n++;
    }
    CHECK(n >= 1, "GC_malloc_many returned %d objects", n);
    void *d = GC_debug_malloc(64, __FILE__, __LINE__);
    CHECK(d != NULL && GC_size(d) >= 64, "GC_debug_malloc");
    GC_debug_free(d);
    printf("allocation: ok (%d objects from GC_malloc_many)\n", n);
}

/* Garbage is reclaimed: allocating 1 GB of short-lived objects keeps the
 * heap small. */
static void test_garbage(void) {
    for (int i = 0; i < 1000000; i++) {
        char *g = GC_MALLOC(1000);
        g[0] = 1;
    }
    size_t heap = GC_get_heap_size();
    printf("garbage: heap %zu KiB after 1 GB of garbage\n", heap >> 10);
    CHECK(heap < ((size_t)256 << 20), "heap grew to %zu bytes for garbage", heap);
    GC_word hs = 0, fb = 0, un = 0, since = 0, total = 0;
    GC_get_heap_usage_safe(&hs, &fb, &un, &since, &total);
    CHECK(hs > 0 && total >= ((GC_word)900 << 20), "heap usage: heap %lu total %lu", (unsigned long)hs,
          (unsigned long)total);
    CHECK(GC_get_total_bytes() >= ((size_t)900 << 20), "GC_get_total_bytes");
    CHECK(GC_get_gc_no() > 0, "no collection ran");
}

/* ----------------------------------------------------------------- roots */

typedef struct node {
    struct node *next;
    long v;
} node;
static node *global_list;

NOINLINE static void make_list(long n) {
    for (long i = 0; i < n; i++) {
        node *x = GC_NEW(node);
        x->v = i;
        x->next = global_list;
        global_list = x;
    }
}

NOINLINE static void make_uncollectable(void) {
    for (size_t i = 0; i < N; i++) {
        void **u = GC_MALLOC_UNCOLLECTABLE(32);
        CHECK(u != NULL, "GC_MALLOC_UNCOLLECTABLE");
        u[1] = watch(i, GC_MALLOC(24)); /* kept alive by the uncollectable object */
        links[N + i] = GC_HIDE_POINTER(u);
    }
}

NOINLINE static void fill_cells(void **cell) {
    for (size_t i = 0; i < N; i++)
        cell[i] = watch(i, GC_MALLOC(40));
}

static void test_roots(void) {
    make_list(100000);
    collect();
    long want = 99999;
    for (node *x = global_list; x; x = x->next, want--)
        CHECK(x->v == want, "list node %ld holds %ld", want, x->v);
    CHECK(want == -1, "list lost nodes: stopped at %ld", want);
    global_list = NULL;

    make_uncollectable();
    collect();
    collect();
    CHECK(count_cleared(N) == 0, "%zu children of uncollectable objects were reclaimed", count_cleared(N));
    for (size_t i = 0; i < N; i++)
        GC_FREE(GC_REVEAL_POINTER(links[N + i]));
    collect();
    collect();
    CHECK(count_cleared(N) >= N * 9 / 10, "only %zu of %d children of freed uncollectable objects reclaimed",
          count_cleared(N), N);

    /* GC_add_roots / GC_remove_roots over malloc'd memory. */
    fresh_links();
    void **cell = malloc(N * sizeof(void *));
    CHECK(cell != NULL, "malloc");
    GC_add_roots(cell, cell + N);
    fill_cells(cell);
    collect();
    CHECK(count_cleared(N) == 0, "%zu objects held by an added root were reclaimed", count_cleared(N));
    GC_remove_roots(cell, cell + N);
    collect();
    CHECK(count_cleared(N) >= N * 9 / 10, "only %zu of %d objects held by a removed root were reclaimed",
          count_cleared(N), N);
    free(cell);
    printf("roots: ok\n");
}

/* ------------------------------------------------------------- control */

static void test_control(void) {
    GC_disable();
    CHECK(GC_is_disabled(), "GC_is_disabled after GC_disable");
    GC_word before = GC_get_gc_no();
    GC_gcollect();
    CHECK(GC_get_gc_no() == before, "GC_gcollect collected while disabled");
    GC_enable();
    CHECK(!GC_is_disabled(), "still disabled after GC_enable");
    GC_gcollect();
    CHECK(GC_get_gc_no() > before, "GC_gcollect did not collect once enabled");
    CHECK(GC_expand_hp(1 << 20), "GC_expand_hp");
    GC_set_free_space_divisor(3);
    CHECK(GC_get_free_space_divisor() == 3, "free space divisor");
    GC_set_warn_proc(GC_ignore_warn_proc);
    CHECK(GC_get_warn_proc() == GC_ignore_warn_proc, "warn proc");
    CHECK(GC_get_heap_size() > 0 && GC_get_free_bytes() <= GC_get_heap_size(), "heap size / free bytes");
    GC_gcollect_and_unmap();
    printf("control: ok (%lu collections)\n", (unsigned long)GC_get_gc_no());
}

/* ---------------------------------------------------------- finalizers */

static int finalized;
static long order[4];
static int norder;

static void count_fin(void *obj, void *cd) {
    (void)obj;
    CHECK(cd == (void *)&finalized, "finalizer client data %p", cd);
    __atomic_fetch_add(&finalized, 1, __ATOMIC_RELAXED);
}

static void record_fin(void *obj, void *cd) {
    (void)obj;
    if (norder < 4)
        order[norder++] = (long)(intptr_t)cd;
}

NOINLINE static void make_finalizable(void) {
    for (int i = 0; i < N; i++) {
        void *o = GC_MALLOC(64);
        GC_REGISTER_FINALIZER(o, count_fin, &finalized, NULL, NULL);
    }
}

NOINLINE static void make_chain(int no_order) {
    void **a = GC_MALLOC(32), **b = GC_MALLOC(32);
    a[0] = b;
    if (no_order) {
        GC_register_finalizer_no_order(a, record_fin, (void *)1, NULL, NULL);
        GC_register_finalizer_no_order(b, record_fin, (void *)2, NULL, NULL);
    } else {
        GC_register_finalizer(a, record_fin, (void *)1, NULL, NULL);
        GC_register_finalizer(b, record_fin, (void *)2, NULL, NULL);
    }
}

static int notified;
static void notifier(void) {
    __atomic_fetch_add(&notified, 1, __ATOMIC_RELAXED);
}

static void test_finalizers(void) {
    make_finalizable();
    for (int i = 0; i < 3 && finalized < N * 9 / 10; i++)
        collect();
    printf("finalizers: %d of %d ran\n", finalized, N);
    CHECK(finalized >= N * 9 / 10, "only %d of %d finalizers ran", finalized, N);

    /* Ordered: a -> b runs a's finalizer first, b's in a later collection;
     * no order: both in the collection that finds them unreachable.  A
     * stale stack copy may keep an object a while: such a try is
     * inconclusive and made again with fresh objects. */
    for (int no_order = 0; no_order < 2; no_order++) {
        bool done = false;
        for (int attempt = 0; attempt < 5 && !done; attempt++) {
            norder = 0;
            make_chain(no_order);
            int first = 0;
            for (int c = 0; c < 4 && norder < 2; c++) {
                collect();
                if (!first && norder)
                    first = norder; /* how many ran in the first collection that ran any */
            }
            CHECK(norder == 0 || order[0] == 1, "%s: b's finalizer ran before a's", no_order ? "no_order" : "ordered");
            if (norder == 2)
                done = no_order ? first == 2 : first == 1;
            CHECK(no_order || first != 2, "ordered: a's and b's finalizers ran in the same collection");
        }
        CHECK(done, "%s: the chain's finalizers never ran as they should (last: %d ran)",
              no_order ? "no_order" : "ordered", norder);
    }

    /* Replacing returns the old finalizer; 0 removes it. */
    void *o = GC_MALLOC(16);
    GC_finalization_proc ofn = NULL;
    void *ocd = NULL;
    GC_REGISTER_FINALIZER(o, count_fin, &finalized, &ofn, &ocd);
    CHECK(ofn == NULL, "a fresh object had a finalizer");
    GC_REGISTER_FINALIZER(o, record_fin, (void *)7, &ofn, &ocd);
    CHECK(ofn == count_fin && ocd == &finalized, "the old finalizer was not returned");
    GC_REGISTER_FINALIZER(o, 0, 0, &ofn, &ocd);
    CHECK(ofn == record_fin && ocd == (void *)7, "removing did not return the finalizer");

    /* On demand: nothing runs until GC_invoke_finalizers; the notifier is
     * called. */
    GC_set_finalize_on_demand(1);
    GC_set_finalizer_notifier(notifier);
    finalized = 0;
    make_finalizable();
    collect();
    collect();
    CHECK(finalized == 0, "%d finalizers ran though finalization is on demand", finalized);
    CHECK(GC_should_invoke_finalizers(), "GC_should_invoke_finalizers is 0 with finalizers ready");
    CHECK(notified > 0, "the finalizer notifier was not called");
    int ran = GC_invoke_finalizers();
    CHECK(finalized >= N * 9 / 10 && ran >= finalized, "GC_invoke_finalizers ran %d (%d of them counting)", ran, finalized);
    GC_set_finalize_on_demand(0);
    GC_set_finalizer_notifier(0);
    printf("finalizers: order, no_order, replace, on demand: ok\n");
}

/* ---------------------------------------------------- disappearing links */

NOINLINE static void *make_watched(size_t i) {
    return watch(i, GC_MALLOC(32));
}

void *volatile test_keep; /* a root: a global the compiler must keep */

static void test_links(void) {
    collect();
    fresh_links();
#define keep test_keep
    keep = make_watched(0);
    for (size_t i = 1; i < N; i++)
        make_watched(i);
    collect();
    CHECK(links[0] != 0, "the link of a reachable object was cleared");
    CHECK(count_cleared(N) >= (N - 1) * 9 / 10, "only %zu of %d links of dead objects cleared", count_cleared(N),
          N - 1);
    /* Unregistered: not cleared any more.  Moved: the new place is. */
    void *u = make_watched(1);
    CHECK(GC_unregister_disappearing_link((void **)&links[1]) == 1, "unregister");
    CHECK(GC_unregister_disappearing_link((void **)&links[1]) == 0, "second unregister");
    void *m = make_watched(2);
    CHECK(GC_move_disappearing_link((void **)&links[2], (void **)&links[3]) == GC_SUCCESS, "move");
    links[3] = links[2];
    CHECK(GC_move_disappearing_link((void **)&links[5], (void **)&links[6]) == GC_NOT_FOUND, "move of nothing");
    u = m = NULL;
    keep = NULL;
    collect();
    CHECK(links[1] != 0, "an unregistered link was cleared");
    CHECK(links[3] == 0, "a moved link was not cleared");
    CHECK(links[2] != 0, "the old place of a moved link was cleared");
    (void)u, (void)m;
#undef keep
    printf("links: ok\n");
}

/* ------------------------------------------------------------- threads */

static void *thread_work(void *arg) {
    long id = (long)(intptr_t)arg;
    node *head = NULL;
    for (long i = 0; i < 200000; i++) {
        node *x = GC_NEW(node);
        x->v = i * 8 + id;
        x->next = i % 1000 == 0 ? NULL : head; /* garbage every 1000 */
        head = x;
    }
    long want = 199999, n = 0;
    for (node *x = head; x; x = x->next, want--, n++)
        CHECK(x->v == want * 8 + id, "thread %ld: node holds %ld, want %ld", id, x->v, want * 8 + id);
    return (void *)(intptr_t)n;
}

static void *blocking_then_active(void *arg);
static void *active_part(void *arg) {
    void **p = GC_MALLOC(64);
    p[0] = arg;
    return p;
}
static void *blocking_then_active(void *arg) {
    return GC_call_with_gc_active(active_part, arg);
}

static void *locked(void *arg) {
    return (char *)arg + 1;
}

static void *raw_thread(void *arg) {
    (void)arg;
    struct GC_stack_base sb;
    CHECK(GC_get_stack_base(&sb) == GC_SUCCESS, "GC_get_stack_base");
    int r = GC_register_my_thread(&sb);
    CHECK(r == GC_SUCCESS || r == GC_DUPLICATE, "GC_register_my_thread = %d", r);
    void *x = thread_work((void *)(intptr_t)7);
    CHECK(GC_unregister_my_thread() == GC_SUCCESS, "GC_unregister_my_thread");
    return x;
}

static void test_threads(void) {
    GC_allow_register_threads();
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        CHECK(GC_pthread_create(&t[i], NULL, thread_work, (void *)(intptr_t)i) == 0, "GC_pthread_create");
    for (int i = 0; i < 4; i++) {
        void *r;
        CHECK(GC_pthread_join(t[i], &r) == 0, "GC_pthread_join");
        CHECK((intptr_t)r == 1000, "thread %d saw %ld nodes", i, (long)(intptr_t)r);
    }
    pthread_t raw;
    CHECK(pthread_create(&raw, NULL, raw_thread, NULL) == 0, "pthread_create");
    void *r;
    CHECK(pthread_join(raw, &r) == 0 && (intptr_t)r == 1000, "self-registered thread");
    static int marker;
    void **p = GC_do_blocking(blocking_then_active, &marker);
    CHECK(p && p[0] == &marker && GC_size(p) >= 64, "GC_do_blocking + GC_call_with_gc_active");
    CHECK(GC_call_with_alloc_lock(locked, (char *)&marker) == (char *)&marker + 1, "GC_call_with_alloc_lock");
    CHECK(GC_get_suspend_signal() > 0, "suspend signal");
    printf("threads: ok\n");
}

/* ------------------------------------------------- kinds, mark procedures */

static int proc_calls;
/* Objects of the kind: word 0 is ignored, word 1 is marked by the proc. */
static struct GC_ms_entry *word1_proc(GC_word *addr, struct GC_ms_entry *msp, struct GC_ms_entry *lim,
                                      GC_word env) {
    CHECK(env == 5, "mark proc env %lu", (unsigned long)env);
    __atomic_fetch_add(&proc_calls, 1, __ATOMIC_RELAXED);
    return GC_MARK_AND_PUSH((void *)addr[1], msp, lim, (void **)(addr + 1));
}

static void **kind_objs;

NOINLINE static void make_kind_objects(int kind) {
    for (size_t i = 0; i < N; i++) {
        void **o = GC_generic_malloc(4 * sizeof(void *), kind);
        CHECK(o != NULL, "GC_generic_malloc of kind %d", kind);
        o[0] = watch(i, GC_MALLOC(24));
        o[1] = watch(N + i, GC_MALLOC(24));
        kind_objs[i] = o;
    }
}

static void test_kinds(void) {
    unsigned proc = GC_new_proc(word1_proc);
    collect();
    fresh_links();
    int kind = (int)GC_new_kind(GC_new_free_list(), GC_MAKE_PROC(proc, 5), 0, 1);
    kind_objs = GC_MALLOC_UNCOLLECTABLE(N * sizeof(void *));
    make_kind_objects(kind);
    collect();
    CHECK(proc_calls >= N, "the mark procedure ran %d times for %d objects", proc_calls, N);
    size_t lost = 0;
    for (size_t i = 0; i < N; i++)
        lost += links[N + i] == 0;
    CHECK(lost == 0, "%zu objects the mark procedure pushed were reclaimed", lost);
    CHECK(count_cleared(N) >= N * 9 / 10, "only %zu of %d objects the procedure ignored were reclaimed",
          count_cleared(N), N);
    GC_FREE(kind_objs);
    printf("kinds: ok (%d mark procedure calls)\n", proc_calls);
}

/* --------------------------------------------------------- typed objects */

NOINLINE static void make_typed(GC_descr d, int big) {
    for (size_t i = 0; i < N; i++) {
        size_t words = big ? 80 : 4;
        void **o = GC_malloc_explicitly_typed(words * sizeof(void *), d);
        CHECK(o != NULL, "GC_malloc_explicitly_typed");
        o[0] = watch(i, GC_MALLOC(24));          /* a pointer word */
        o[1] = watch(N + i, GC_MALLOC(24));      /* not a pointer word */
        if (big)
            o[70] = watch(2 * N + i, GC_MALLOC(24)); /* a pointer word past 62 */
        kind_objs[i] = o;
    }
}

static void test_typed(int big) {
    GC_word bm[2] = {0, 0};
    GC_set_bit(bm, 0);
    GC_set_bit(bm, 2);
    if (big)
        GC_set_bit(bm, 70);
    GC_descr d = GC_make_descriptor(bm, big ? 80 : 4);
    kind_objs = GC_MALLOC_UNCOLLECTABLE(N * sizeof(void *));
    collect(); /* the last test's objects die and their links go */
    collect();
    fresh_links();
    make_typed(d, big);
    collect();
    size_t lost = 0, lost70 = 0, kept = 0;
    for (size_t i = 0; i < N; i++) {
        lost += links[i] == 0;
        lost70 += big && links[2 * N + i] == 0;
        kept += links[N + i] != 0;
    }
    CHECK(lost == 0 && lost70 == 0, "%zu + %zu objects held by pointer words were reclaimed", lost, lost70);
#ifndef GC_GOMEM_COMPAT_EXPECT_CONSERVATIVE
    CHECK(kept <= N / 10, "%zu of %d objects held only by a non-pointer word survived", kept, N);
#endif
    GC_FREE(kind_objs);
    printf("typed (%s descriptor): ok, %zu of %d objects held by non-pointer words kept\n",
           big ? "long" : "bitmap", kept, N);
}

/* ----------------------------------------------------- other roots hook */

static void **other_cells;
static void push_cells(void) {
    GC_push_all(other_cells, other_cells + N);
}

static void test_other_roots(void) {
    fresh_links();
    other_cells = calloc(N, sizeof(void *));
    CHECK(other_cells != NULL, "calloc");
    fill_cells(other_cells);
    GC_set_push_other_roots(push_cells);
    collect();
    CHECK(count_cleared(N) == 0, "%zu objects pushed by GC_push_other_roots were reclaimed", count_cleared(N));
    memset(other_cells, 0, N * sizeof(void *));
    collect();
    CHECK(count_cleared(N) >= N * 9 / 10, "only %zu of %d objects no longer pushed were reclaimed",
          count_cleared(N), N);
    printf("push_other_roots: ok\n");
}

/* fork while other threads allocate and register links: the child can
 * allocate, register links, finalize and collect. */
static volatile int stop_spinners;
static void *spinner(void *arg) {
    (void)arg;
    while (!stop_spinners) {
        void **o = GC_MALLOC(32);
        o[0] = GC_MALLOC(16);
        GC_general_register_disappearing_link(o, o[0]);
        GC_REGISTER_FINALIZER(o[0], count_fin, &finalized, NULL, NULL);
    }
    return NULL;
}

static void test_fork(void) {
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(GC_pthread_create(&t[i], NULL, spinner, NULL) == 0, "GC_pthread_create");
    for (int k = 0; k < 5; k++) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork");
        if (pid == 0) {
            fresh_links();
            for (int i = 0; i < 100; i++)
                watch((size_t)i, GC_MALLOC(48));
            make_finalizable();
            GC_gcollect();
            GC_gcollect();
            _exit(count_cleared(100) >= 90 ? 0 : 3);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d of a fork ended with status %#x", k, status);
    }
    stop_spinners = 1;
    for (int i = 0; i < 2; i++)
        GC_pthread_join(t[i], NULL);
    printf("fork: ok\n");
}

int main(void) {
    GC_INIT();
    fresh_links();
    test_allocation();
    test_garbage();
    test_roots();
    test_control();
    test_finalizers();
    test_links();
    test_threads();
    test_kinds();
    test_typed(0);
    test_typed(1);
    test_other_roots();
    test_fork();
    printf("test_bdwgc_api%s: ok\n",
#ifdef BDWGC_TEST_DEBIAN_HEADERS
           " (Debian's headers)"
#else
           ""
#endif
    );
    return 0;
}
