/*
 * test_gc_exclude.c - gm_exclude_roots leaves parts of the data segments
 * out of the roots.
 *
 *   1. A .bss table holds the only pointers to 64 checked objects; with
 *      the middle third of the table excluded, the objects it points to
 *      are reclaimed (gm_size 0 after gm_gc) and the others survive intact.
 *   2. Two exclusions that touch merge, and the merged range covers both
 *      (the objects under both go); an exclusion does not apply to ranges
 *      added with gm_add_roots (an object reachable only from an added
 *      range inside an excluded one survives).
 *   3. After gm_clear_root_exclusions the table is a root again: new
 *      objects stored in the formerly excluded slots survive.
 * The objects are made by a noinline function and the stack is wiped
 * before each collection, so no stale copy keeps them alive.
 */
#include "gm_test.h"

#define N 64
#define WORDS 8

static uint64_t *table[N];  /* .bss: a root unless excluded */
static uint64_t *added[4];  /* excluded too, but added with gm_add_roots */

__attribute__((noinline)) static void fill(int from, int to, uint64_t base) {
    for (int i = from; i < to; i++) {
        uint64_t *o = gm_alloc(WORDS * sizeof(uint64_t));
        CHECK(o != NULL, "gm_alloc failed");
        for (int w = 0; w < WORDS; w++)
            o[w] = gm_test_word(base + (uint64_t)i, (size_t)w);
        table[i] = o;
    }
}

static void check(int i, uint64_t base, const char *when) {
    CHECK(gm_size(table[i]) > 0, "%s: table[%d] was reclaimed although its slot is a root", when, i);
    for (int w = 0; w < WORDS; w++)
        CHECK(table[i][w] == gm_test_word(base + (uint64_t)i, (size_t)w), "%s: table[%d] word %d changed", when, i,
              w);
}

static void collect(void) {
    gm_test_clear_stack();
    gm_gc();
    gm_gc();
}

int main(void) {
    printf("test_gc_exclude\n");
    /* 1. The middle third excluded. */
    fill(0, N, 100);
    gm_exclude_roots(&table[N / 3], &table[2 * N / 3]);
    collect();
    int reclaimed = 0;
    for (int i = 0; i < N; i++) {
        if (i >= N / 3 && i < 2 * N / 3)
            reclaimed += gm_size(table[i]) == 0;
        else
            check(i, 100, "part 1");
    }
    printf("  part 1: %d of %d objects under the exclusion reclaimed, %d others intact\n", reclaimed, N / 3,
           N - (2 * N / 3 - N / 3));
    CHECK(reclaimed >= (2 * N / 3 - N / 3) - 2, "only %d of %d objects under the exclusion were reclaimed",
          reclaimed, 2 * N / 3 - N / 3);

    /* 2. Touching exclusions merge; added roots are scanned regardless. */
    gm_clear_root_exclusions();
    fill(0, N, 200);
    gm_exclude_roots(&table[0], &table[8]);
    gm_exclude_roots(&table[8], &table[16]); /* touches the first */
    gm_exclude_roots(added, added + 4);
    for (int i = 0; i < 4; i++) {
        added[i] = gm_alloc(32);
        CHECK(added[i] != NULL, "gm_alloc failed");
        memset(added[i], 0x40 + i, 32);
    }
    gm_add_roots(added, added + 4);
    collect();
    reclaimed = 0;
    for (int i = 0; i < 16; i++)
        reclaimed += gm_size(table[i]) == 0;
    for (int i = 16; i < N; i++)
        check(i, 200, "part 2");
    for (int i = 0; i < 4; i++) {
        CHECK(gm_size(added[i]) > 0, "part 2: an object reachable from an added root inside an exclusion was "
                                     "reclaimed");
        for (int b = 0; b < 32; b++)
            CHECK(((unsigned char *)added[i])[b] == 0x40 + i, "part 2: added[%d] byte %d changed", i, b);
    }
    printf("  part 2: %d of 16 objects under two merged exclusions reclaimed; 4 objects of added roots intact\n",
           reclaimed);
    CHECK(reclaimed >= 14, "only %d of 16 objects under the merged exclusions were reclaimed", reclaimed);
    gm_remove_roots(added, added + 4);

    /* 3. Cleared: the table is a root again. */
    gm_clear_root_exclusions();
    fill(0, N, 300);
    collect();
    for (int i = 0; i < N; i++)
        check(i, 300, "part 3");
    printf("  part 3: after gm_clear_root_exclusions all %d objects intact\n", N);
    printf("test_gc_exclude: ok\n");
    return 0;
}
