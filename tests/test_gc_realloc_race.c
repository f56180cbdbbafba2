/*
 * test_gc_realloc_race.c - an object held only in a callee-saved register
 * survives a collection that stops its thread.
 *
 * gm_realloc keeps the new object in a callee-saved register (rbp, with
 * gcc on x86-64) while it frees the old one; a collection requested by
 * another thread stops it there, at the end of the allocator's no-stop
 * region.  The stopped thread's registers must reach the scan unmangled
 * (setjmp stores rbp mangled, and the object was freed: this test lost an
 * object within a few hundred operations then).  One thread grows, shrinks
 * and frees objects in a table (a root) while another collects without
 * pause; every object must stay allocated with its contents intact.
 * Random: the seed is printed; GM_TEST_SEED repeats the operations.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "gm_test.h"

enum { SLOTS = 64 };

static unsigned char *slots[SLOTS];
static size_t lens[SLOTS];
static uint64_t tags[SLOTS];
static _Atomic int done;
static _Atomic long cycles;

static void *collector(void *arg) {
    (void)arg;
    while (!atomic_load(&done)) {
        gm_gc();
        atomic_fetch_add(&cycles, 1);
    }
    return NULL;
}

static void check_all(long op) {
    for (int j = 0; j < SLOTS; j++) {
        if (!slots[j])
            continue;
        CHECK(gm_base(slots[j]) == slots[j], "op %ld: object %p of slot %d (%zu bytes) was freed while held", op,
              (void *)slots[j], j, lens[j]);
        size_t bad = gm_test_verify(slots[j], lens[j], tags[j]);
        CHECK(bad == (size_t)-1, "op %ld: slot %d corrupted at byte %zu", op, j, bad);
    }
}

int main(void) {
    gm_rng r = {gm_test_seed("test_gc_realloc_race")};
    long ops = gm_test_quick() ? 20000 : 100000;
    pthread_t th;
    CHECK(gm_thread_create(&th, NULL, collector, NULL) == 0, "gm_thread_create");
    uint64_t next_tag = 1;
    for (long op = 0; op < ops; op++) {
        int i = (int)gm_rng_below(&r, SLOTS);
        if (slots[i] && gm_rng_below(&r, 2)) {
            size_t len = gm_rng_below(&r, 8) == 0 ? gm_rng_below(&r, 60000) : gm_rng_below(&r, 4000);
            len += 16;
            unsigned char *n = gm_realloc(slots[i], len);
            CHECK(n, "gm_realloc(%zu)", len);
            size_t keep = len < lens[i] ? len : lens[i];
            size_t bad = gm_test_verify(n, keep, tags[i]);
            CHECK(bad == (size_t)-1, "gm_realloc to %zu bytes lost byte %zu", len, bad);
            gm_test_fill(n, len, tags[i]);
            slots[i] = n;
            lens[i] = len;
        } else {
            if (slots[i])
                gm_free(slots[i]);
            slots[i] = NULL;
            if (gm_rng_below(&r, 4)) {
                size_t len = 16 + gm_rng_below(&r, 4000);
                slots[i] = gm_rng_below(&r, 2) ? gm_alloc(len) : gm_alloc_noscan(len);
                CHECK(slots[i], "gm_alloc(%zu)", len);
                lens[i] = len;
                tags[i] = next_tag++;
                gm_test_fill(slots[i], len, tags[i]);
            }
        }
        if (op % 16 == 0)
            check_all(op);
    }
    check_all(ops);
    atomic_store(&done, 1);
    pthread_join(th, NULL);
    printf("test_gc_realloc_race: %ld operations during %ld collections\n", ops, atomic_load(&cycles));
    CHECK(atomic_load(&cycles) >= 10, "only %ld collections ran", atomic_load(&cycles));
    printf("test_gc_realloc_race: ok\n");
    return 0;
}
