/*
 * test_heap_coalesce.c - the page heap merges a freed run with the free
 * runs on both sides.
 *
 * Four large objects A B C D are carved one after another from a fresh
 * arena (GOMEM_GC=off: nothing else moves).  Freeing B alone gives a free
 * run of B's pages; freeing A then merges with the free run above it;
 * freeing C merges with the free run below it (A+B); D stays allocated as
 * a fence, so the run's size is exact: its span record (the one the page
 * map gives for each end of the run) must be free, start at A and cover
 * A+B+C's pages, and an allocation of that many pages must get it back at
 * A.  Each step is checked through the page map (gm_span_of_raw).
 */
#include "gm_test.h"
#include "gm.h"
#include "heap/heap.h"

enum { NA = 5, NB = 7, NC = 9, ND = 3 }; /* pages of each object */

static gm_span *run_at(void *p) {
    gm_span *s = gm_span_of_raw((uintptr_t)p);
    CHECK(s, "no span record for %p", p);
    return s;
}

static void check_free_run(const char *step, void *lo, size_t npages) {
    gm_span *s = run_at(lo);
    CHECK(atomic_load(&s->state) == GM_SPAN_FREE, "%s: the run at %p is not free (state %d)", step, lo,
          (int)atomic_load(&s->state));
    CHECK(s->base == (uintptr_t)lo && s->npages == npages, "%s: free run %p+%zu pages, want %p+%zu", step,
          (void *)s->base, (size_t)s->npages, lo, npages);
    void *last = (char *)lo + ((npages - 1) << GM_PAGE_SHIFT);
    CHECK(run_at(last) == s, "%s: the run's last page %p maps to another record", step, last);
    printf("%-28s free run %p, %zu pages\n", step, lo, npages);
}

int main(int argc, char **argv) {
    (void)argc;
    gm_test_gc_off(argv);
    size_t page = GM_PAGE_SIZE;
    /* Sizes just under whole pages: large objects get spans of their own. */
    char *a = gm_alloc(NA * page - 64), *b = gm_alloc(NB * page - 64), *c = gm_alloc(NC * page - 64),
         *d = gm_alloc(ND * page - 64);
    CHECK(a && b && c && d, "gm_alloc");
    CHECK(b == a + NA * page && c == b + NB * page && d == c + NC * page,
          "objects not adjacent: %p %p %p %p (pages %d %d %d)", (void *)a, (void *)b, (void *)c, (void *)d, NA,
          NB, NC);
    gm_free(b);
    check_free_run("free B", b, NB);
    gm_free(a);
    check_free_run("free A (run above)", a, NA + NB);
    gm_free(c);
    check_free_run("free C (run below)", a, NA + NB + NC);
    gm_span *fence = gm_span_of((uintptr_t)d);
    CHECK(fence && fence->base == (uintptr_t)d, "D's span changed");
    char *again = gm_alloc((NA + NB + NC) * page - 64);
    CHECK(again == a, "a %d-page object went to %p, not the merged run at %p", NA + NB + NC, (void *)again,
          (void *)a);
    CHECK(gm_test_first_nonzero(again, (NA + NB + NC) * page - 64) == (size_t)-1, "reused run not zeroed");
    gm_free(again);
    gm_free(d);
    printf("test_heap_coalesce: ok\n");
    return 0;
}
