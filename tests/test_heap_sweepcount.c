/*
 * test_heap_sweepcount.c - a span's count of allocated objects after a
 * sweep is exact.
 *
 * The sweeper sets each span's nalloc from the marks it applies; the
 * mcentral reads it to decide whether the span has room, and an error of
 * one either hides a free slot or hands out a full span.  The test fills
 * whole spans of one size class, keeps a chosen subset reachable (from a
 * global table), drops the rest, collects, and compares each span's nalloc
 * with the number of its slots that are still allocated (gm_size != 0)
 * and with a count of its allocation bitmap.  Every kept object must be
 * among them with its contents intact, and nearly all dropped ones must be
 * gone (conservative scanning may keep a stray one).  The pattern of kept
 * slots is random (seed printed; GM_TEST_SEED repeats it) and includes an
 * empty span (freed whole), a full one and the last slot of a span.
 */
#include "gm_test.h"
#include "gm.h"
#include "heap/heap.h"

enum { SIZE = 96, SPANS = 8 };

static void **table; /* every object, NULL where dropped; a root */
static size_t nobj;

__attribute__((noinline)) static void fill(gm_rng *rng, size_t *kept) {
    for (size_t i = 0; i < nobj; i++) {
        table[i] = gm_alloc(SIZE);
        CHECK(table[i], "gm_alloc(%d)", SIZE);
        gm_test_fill(table[i], SIZE, i);
    }
    size_t per = nobj / SPANS;
    *kept = 0;
    for (size_t i = 0; i < nobj; i++) {
        size_t span = i / per, slot = i % per;
        bool keep;
        if (span == 0)
            keep = false; /* all dropped: the span goes back to the heap */
        else if (span == 1)
            keep = true; /* full */
        else if (slot == per - 1)
            keep = true; /* the last slot */
        else
            keep = gm_rng_below(rng, 3) == 0;
        if (keep)
            (*kept)++;
        else
            table[i] = NULL;
    }
}

int main(void) {
    gm_rng rng = {gm_test_seed("test_heap_sweepcount")};
    /* How many objects a span of this class holds: from a first object. */
    void *probe = gm_alloc(SIZE);
    gm_span *ps = gm_span_of((uintptr_t)probe);
    CHECK(ps && ps->elemsize == SIZE, "probe span of %p", probe);
    size_t per = ps->nelems;
    /* Fill the probe's span so that the next objects start a fresh one. */
    for (size_t i = 1; i < per; i++)
        CHECK(gm_alloc(SIZE), "gm_alloc");
    nobj = per * SPANS;
    table = gm_alloc(nobj * sizeof(void *));
    CHECK(table, "table");
    size_t kept;
    fill(&rng, &kept);
    gm_test_clear_stack();
    gm_gc();
    gm_test_clear_stack();
    gm_gc(); /* a second cycle: the first may have found stale copies */

    size_t found_kept = 0;
    for (size_t i = 0; i < nobj; i++) {
        if (!table[i])
            continue;
        CHECK(gm_size(table[i]) == SIZE, "kept object %zu (%p) is gone", i, table[i]);
        size_t bad = gm_test_verify(table[i], SIZE, i);
        CHECK(bad == (size_t)-1, "kept object %zu corrupted at byte %zu", i, bad);
        found_kept++;
    }
    CHECK(found_kept == kept, "%zu kept, %zu found", kept, found_kept);

    /* Each span that holds a kept object: nalloc against the slots. */
    size_t spans_checked = 0, live_total = 0;
    gm_span *seen[SPANS] = {0};
    for (size_t i = 0; i < nobj; i++) {
        if (!table[i])
            continue;
        gm_span *s = gm_span_of((uintptr_t)table[i]);
        CHECK(s, "no span for %p", table[i]);
        bool dup = false;
        for (size_t k = 0; k < spans_checked; k++)
            dup |= seen[k] == s;
        if (dup)
            continue;
        CHECK(spans_checked < SPANS, "kept objects in more than %d spans", SPANS);
        seen[spans_checked++] = s;
        uint32_t live = 0;
        for (uint32_t k = 0; k < s->nelems; k++)
            live += gm_size((void *)(s->base + (uintptr_t)k * s->elemsize)) != 0;
        uint32_t bits = gm_span_count_alloc(s);
        CHECK(s->nalloc == live && bits == live,
              "span %p: nalloc %u, allocation bits %u, allocated slots %u (of %u)", (void *)s->base,
              (unsigned)s->nalloc, bits, live, (unsigned)s->nelems);
        live_total += live;
    }
    CHECK(spans_checked == SPANS - 1, "kept objects in %zu spans, want %d", spans_checked, SPANS - 1);
    size_t strays = live_total - kept;
    printf("%zu objects in %d spans: %zu kept, %zu live after the sweep (%zu kept by stray pointers)\n", nobj,
           SPANS, kept, live_total, strays);
    CHECK(strays <= 4, "%zu dropped objects survived two collections", strays);
    printf("test_heap_sweepcount: ok\n");
    return 0;
}
