/*
 * test_gc_heap_minimum.c - gm_set_heap_minimum: no paced collection starts
 * while the heap is below the minimum; collections resume once it is
 * lowered again; gm_gc() collects regardless.
 *
 * 48 MiB of garbage is allocated in 4 KiB objects with a 256 MiB minimum
 * (the default pacing would collect about every 4 MiB), then again with
 * the minimum back at 0.
 */
#include "gm_test.h"

static uint32_t cycles(void) {
    gm_memstats m;
    gm_read_memstats(&m);
    return m.num_gc;
}

static void churn(size_t bytes) {
    for (size_t n = 0; n < bytes; n += 4096) {
        char *p = gm_alloc(4096);
        CHECK(p != NULL, "gm_alloc(4096) failed after %zu bytes", n);
        p[0] = 1;
    }
}

int main(void) {
    CHECK(gm_set_heap_minimum((uint64_t)256 << 20) == 0, "the default heap minimum is not 0");
    uint32_t before = cycles();
    churn((size_t)48 << 20);
    uint32_t during = cycles() - before;
    printf("48 MiB of garbage under a 256 MiB minimum: %u collections\n", during);
    CHECK(during == 0, "%u paced collections ran below the heap minimum", during);
    gm_gc();
    CHECK(cycles() > before, "gm_gc() did not collect under a heap minimum");
    CHECK(gm_set_heap_minimum(0) == (uint64_t)256 << 20, "gm_set_heap_minimum did not return the old minimum");
    before = cycles();
    churn((size_t)48 << 20);
    uint32_t after = cycles() - before;
    printf("48 MiB of garbage with no minimum: %u collections\n", after);
    CHECK(after >= 2, "only %u collections ran once the minimum was lifted", after);
    printf("test_gc_heap_minimum: ok\n");
    return 0;
}
