/*
 * Weak pointers, Go 1.24's weak.Pointer rules: gm_weak_make gives equal
 * handles for the same object (interior pointers included) and different
 * ones for different objects, NULL for a non-heap pointer; gm_weak_get
 * gives the object while it is reachable and NULL once it is not; a handle
 * outlives its object (NULL, never a dangling pointer, however long it is
 * kept); a weak pointer to a finalizable object reads NULL before its
 * finalizer runs, and stays NULL after the finalizer resurrects it (a new
 * handle then works); a weak pointer to an object kept only by a
 * finalizable object stays valid until that finalizer has run; tiny
 * objects (noscan < 16 B) each get their own handle; handles made on
 * several threads for one object are equal.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "gm_test.h"

#define NOINLINE __attribute__((noinline))

NOINLINE static void collect(void) {
    gm_test_clear_stack();
    gm_gc();
    gm_run_finalizers();
    gm_test_clear_stack();
}

typedef struct obj {
    struct obj *link;
    uint64_t words[6];
} obj;

/* ------------------------------------------------------ identity, NULL */

static obj *global_obj;
static int not_heap;

static void test_identity(void) {
    obj *a = gm_new(obj), *b = gm_new(obj);
    global_obj = a;
    gm_weak *wa = gm_weak_make(a);
    CHECK(wa != NULL, "gm_weak_make of a heap object returned NULL");
    CHECK(gm_weak_make(a) == wa, "second handle for the same object differs");
    CHECK(gm_weak_make((char *)a + 17) == wa, "handle made from an interior pointer differs");
    gm_weak *wb = gm_weak_make(b);
    CHECK(wb && wb != wa, "different objects share a handle");
    CHECK(gm_weak_get(wa) == a, "gm_weak_get gave %p, want %p", gm_weak_get(wa), (void *)a);
    CHECK(gm_weak_get(wb) == b, "gm_weak_get of the second object is wrong");
    CHECK(gm_weak_get(gm_weak_make((char *)b + 8)) == b, "interior handle does not give the object's start");
    CHECK(gm_weak_make(&not_heap) == NULL, "handle for a non-heap pointer");
    CHECK(gm_weak_make(NULL) == NULL, "handle for NULL");
    CHECK(gm_weak_get(NULL) == NULL, "gm_weak_get(NULL)");
    /* Still the same after collections, while reachable. */
    for (int i = 0; i < 3; i++)
        collect();
    CHECK(gm_weak_make(a) == wa, "handle changed across collections");
    CHECK(gm_weak_get(wa) == a, "reachable object's weak pointer cleared");
    gm_keep_alive(b);
    global_obj = NULL;
}

/* ------------------------------------------------- cleared when unreachable */

enum { MANY = 10000 };
static gm_weak **handles; /* gm_alloc'd array of handles: keeps them alive */

NOINLINE static void make_weak_many(void) {
    handles = gm_alloc(MANY * sizeof *handles);
    for (int i = 0; i < MANY; i++) {
        obj *o = gm_new(obj);
        o->words[0] = (uint64_t)i;
        handles[i] = gm_weak_make(o);
    }
}

NOINLINE static int count_live(void) {
    int live = 0;
    for (int i = 0; i < MANY; i++) {
        obj *o = gm_weak_get(handles[i]);
        if (o) {
            CHECK(o->words[0] == (uint64_t)i, "weak pointer %d gives another object", i);
            live++;
        }
    }
    return live;
}

static void test_cleared(void) {
    make_weak_many();
    collect();
    int live = count_live();
    CHECK(live <= MANY / 100, "%d of %d weak pointers to unreachable objects still set", live, MANY);
    /* The handles outlive their objects: the memory is reused by new objects
     * and the handles still read NULL. */
    for (int r = 0; r < 5; r++) {
        for (int i = 0; i < MANY; i++)
            gm_test_fill(gm_alloc(sizeof(obj)), sizeof(obj), 5);
        collect();
    }
    CHECK(count_live() <= live, "cleared weak pointers came back");
    handles = NULL;
}

/* ---------------------------------------- cleared before the finalizer */

/* Several objects each time: a stale register or stack word may keep one
 * of them past the collections of a test. */
enum { K = 8 };

static gm_weak *_Atomic fin_handle[K];
static _Atomic long fin_runs;
static _Atomic long handle_set_in_fin;
static obj *_Atomic saved[K];

static void fin_check_weak(void *o, void *arg) {
    uintptr_t i = (uintptr_t)arg;
    if (gm_weak_get(atomic_load(&fin_handle[i])) != NULL)
        atomic_fetch_add(&handle_set_in_fin, 1);
    atomic_store(&saved[i], o); /* resurrect */
    atomic_fetch_add(&fin_runs, 1);
}

NOINLINE static void make_finalizable_with_weak(void) {
    for (uintptr_t i = 0; i < K; i++) {
        obj *o = gm_new(obj);
        atomic_store(&fin_handle[i], gm_weak_make(o));
        gm_set_finalizer(o, fin_check_weak, (void *)i);
    }
}

NOINLINE static int check_after_resurrection(void) {
    int checked = 0;
    for (int i = 0; i < K; i++) {
        obj *o = atomic_load(&saved[i]);
        if (!o)
            continue;
        CHECK(gm_weak_get(atomic_load(&fin_handle[i])) == NULL, "weak pointer came back after resurrection");
        gm_weak *w2 = gm_weak_make(o);
        CHECK(w2 != NULL && w2 != atomic_load(&fin_handle[i]), "new handle after resurrection is %p", (void *)w2);
        CHECK(gm_weak_get(w2) == o, "new handle does not give the resurrected object");
        atomic_store(&saved[i], NULL);
        checked++;
    }
    return checked;
}

static void test_cleared_before_finalizer(void) {
    make_finalizable_with_weak();
    for (int i = 0; i < 20 && atomic_load(&fin_runs) < K - 2; i++)
        collect();
    CHECK(atomic_load(&fin_runs) >= K - 2, "only %ld of %d finalizers ran", atomic_load(&fin_runs), K);
    CHECK(atomic_load(&handle_set_in_fin) == 0, "%ld weak pointers were still set when their finalizer ran",
          atomic_load(&handle_set_in_fin));
    collect();
    CHECK(check_after_resurrection() >= K - 2, "resurrected objects missing");
}

/* ---------------- kept by a finalizable object: valid until it has run */

static gm_weak *_Atomic inner_handle[K];
static _Atomic long inner_cleared_in_fin;
static _Atomic long outer_runs;

static void fin_outer(void *o, void *arg) {
    obj *outer = o;
    if (gm_weak_get(atomic_load(&inner_handle[(uintptr_t)arg])) != outer->link)
        atomic_fetch_add(&inner_cleared_in_fin, 1);
    atomic_fetch_add(&outer_runs, 1);
}

NOINLINE static void make_outer_inner(void) {
    for (uintptr_t i = 0; i < K; i++) {
        obj *outer = gm_new(obj), *inner = gm_new(obj);
        outer->link = inner;
        atomic_store(&inner_handle[i], gm_weak_make(inner));
        gm_set_finalizer(outer, fin_outer, (void *)i);
    }
}

static void test_kept_by_finalizable(void) {
    make_outer_inner();
    for (int i = 0; i < 20 && atomic_load(&outer_runs) < K - 2; i++)
        collect();
    CHECK(atomic_load(&outer_runs) >= K - 2, "only %ld of %d outer finalizers ran", atomic_load(&outer_runs), K);
    CHECK(atomic_load(&inner_cleared_in_fin) == 0,
          "%ld weak pointers to objects kept by a finalizable object were cleared before that finalizer ran",
          atomic_load(&inner_cleared_in_fin));
    int cleared = 0;
    for (int round = 0; round < 20 && cleared < K - 2; round++) {
        collect();
        cleared = 0;
        for (int i = 0; i < K; i++)
            cleared += gm_weak_get(atomic_load(&inner_handle[i])) == NULL;
    }
    CHECK(cleared >= K - 2, "only %d of %d weak pointers cleared once the finalizers had run", cleared, K);
}

/* ---------------------------------------------------------------- tiny */

static void test_tiny(void) {
    char *a = gm_alloc_noscan(4), *b = gm_alloc_noscan(4);
    gm_weak *wa = gm_weak_make(a), *wb = gm_weak_make(b);
    CHECK(wa && wb, "no handle for a tiny object");
    CHECK(gm_weak_get(wa) == a && gm_weak_get(wb) == b, "tiny objects' weak pointers give %p and %p, want %p and %p",
          gm_weak_get(wa), gm_weak_get(wb), (void *)a, (void *)b);
    CHECK(a + 16 <= b || b + 16 <= a || wa != wb, "two tiny objects in one block share a handle");
    CHECK(gm_weak_make(a) == wa, "second handle for a tiny object differs");
    gm_keep_alive(a);
    gm_keep_alive(b);
}

/* --------------------------------------------------------------- threads */

enum { THREADS = 4, OBJS = 200 };
static obj *shared_objs[OBJS];
static gm_weak *made[THREADS][OBJS];
static pthread_barrier_t barrier;

static void *maker(void *arg) {
    int t = (int)(intptr_t)arg;
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < OBJS; i++)
        made[t][(i + t * 37) % OBJS] = gm_weak_make(shared_objs[(i + t * 37) % OBJS]);
    return NULL;
}

static void test_threads(void) {
    for (int i = 0; i < OBJS; i++)
        shared_objs[i] = gm_new(obj);
    gm_add_roots(made, (char *)made + sizeof made);
    pthread_barrier_init(&barrier, NULL, THREADS);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        CHECK(gm_thread_create(&th[t], NULL, maker, (void *)(intptr_t)t) == 0, "thread");
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    for (int i = 0; i < OBJS; i++)
        for (int t = 1; t < THREADS; t++)
            CHECK(made[t][i] == made[0][i] && made[0][i], "threads got different handles for object %d", i);
    for (int i = 0; i < OBJS; i++)
        CHECK(gm_weak_get(made[0][i]) == shared_objs[i], "handle %d gives the wrong object", i);
    pthread_barrier_destroy(&barrier);
}

int main(void) {
    test_identity();
    test_cleared();
    test_cleared_before_finalizer();
    test_kept_by_finalizable();
    test_tiny();
    test_threads();
    printf("test_weak_basic: ok\n");
    return 0;
}
