/*
 * bdwgc's disappearing links on the specials machinery (internal entry
 * points for the drop-in layer): a short link is set to NULL by the
 * collection that finds its object unreachable, before the object's
 * finalizer runs; a long link only once the object is freed (not while a
 * finalizer has resurrected it); a link to a reachable object is left
 * alone; an unregistered link is never touched; registering twice reports
 * a duplicate; a non-heap object is refused; a link that lies in an object
 * found unreachable is forgotten (never written after that object dies).
 */
#include <stdatomic.h>

#include "gm_test.h"
#include "gc/specials.h" /* gm_specials_add_link, gm_specials_remove_link */

#define NOINLINE __attribute__((noinline))


NOINLINE static void collect(void) {
    gm_test_clear_stack();
    gm_gc();
    gm_run_finalizers();
    gm_test_clear_stack();
}

typedef struct obj {
    struct obj *link;
    uint64_t words[5];
} obj;

/* Links hold the object's address hidden (as bdwgc's HIDE_POINTER), so
 * they do not keep it alive themselves. */
#define HIDE(p) ((void *)~(uintptr_t)(p))

enum { K = 16 };
static void *short_links[K], *long_links[K], *kept_links[K], *removed_links[K];
static obj *kept[K];
static _Atomic long fin_runs, short_set_in_fin, long_null_in_fin;

static void fin(void *o, void *arg) {
    uintptr_t i = (uintptr_t)arg;
    if (short_links[i] != NULL)
        atomic_fetch_add(&short_set_in_fin, 1);
    if (long_links[i] != HIDE(o))
        atomic_fetch_add(&long_null_in_fin, 1);
    atomic_fetch_add(&fin_runs, 1);
}

NOINLINE static void make(void) {
    for (uintptr_t i = 0; i < K; i++) {
        obj *o = gm_new(obj);
        short_links[i] = HIDE(o);
        long_links[i] = HIDE(o);
        CHECK(gm_specials_add_link(&short_links[i], o, false) == 0, "add short link");
        CHECK(gm_specials_add_link(&long_links[i], o, true) == 0, "add long link");
        CHECK(gm_specials_add_link(&short_links[i], (char *)o + 8, false) == 1, "duplicate not reported");
        gm_set_finalizer(o, fin, (void *)i);
        kept[i] = gm_new(obj);
        kept_links[i] = HIDE(kept[i]);
        CHECK(gm_specials_add_link(&kept_links[i], kept[i], false) == 0, "add link to a kept object");
        obj *r = gm_new(obj);
        removed_links[i] = HIDE(r);
        CHECK(gm_specials_add_link(&removed_links[i], r, true) == 0, "add");
        CHECK(gm_specials_remove_link(&removed_links[i], r, true), "remove");
        CHECK(!gm_specials_remove_link(&removed_links[i], r, true), "second remove succeeded");
    }
}

/* A link inside a heap object that dies with it. */
NOINLINE static void make_link_in_dying_object(void) {
    for (int i = 0; i < K; i++) {
        obj *holder = gm_new(obj); /* unreachable at once */
        holder->words[0] = (uint64_t)~(uintptr_t)kept[i];
        CHECK(gm_specials_add_link((void **)&holder->words[0], kept[i], false) == 0, "add");
    }
}

int main(void) {
    static int not_heap;
    CHECK(gm_specials_add_link(&short_links[0], &not_heap, false) == 2, "link to a non-heap object accepted");
    make();
    make_link_in_dying_object();
    for (int i = 0; i < 20 && atomic_load(&fin_runs) < K - 2; i++)
        collect();
    CHECK(atomic_load(&fin_runs) >= K - 2, "only %ld of %d finalizers ran", atomic_load(&fin_runs), K);
    CHECK(atomic_load(&short_set_in_fin) == 0, "%ld short links still set when the finalizer ran",
          atomic_load(&short_set_in_fin));
    CHECK(atomic_load(&long_null_in_fin) == 0, "%ld long links cleared before the finalizer ran",
          atomic_load(&long_null_in_fin));
    /* After the finalizers, the objects die: long links clear. */
    int cleared = 0;
    for (int round = 0; round < 20 && cleared < K - 2; round++) {
        collect();
        cleared = 0;
        for (int i = 0; i < K; i++)
            cleared += long_links[i] == NULL;
    }
    CHECK(cleared >= K - 2, "only %d of %d long links cleared", cleared, K);
    for (int i = 0; i < K; i++) {
        CHECK(kept_links[i] == HIDE(kept[i]), "link to a reachable object changed");
        CHECK(removed_links[i] != NULL, "an unregistered link was cleared");
    }
    /* The kept objects die now; their links clear (the dying holders'
     * links were forgotten, so nothing writes into freed memory). */
    for (int i = 0; i < K; i++)
        kept[i] = NULL;
    cleared = 0;
    for (int round = 0; round < 20 && cleared < K - 2; round++) {
        collect();
        cleared = 0;
        for (int i = 0; i < K; i++)
            cleared += kept_links[i] == NULL;
    }
    CHECK(cleared >= K - 2, "only %d of %d links cleared once their objects died", cleared, K);
    printf("test_weak_links: ok\n");
    return 0;
}
