/*
 * test_gc_off.c - GOMEM_GC=off: the heap grows without collecting, and
 * gm_gc() still collects.
 *
 * The test re-executes itself with GOMEM_GC=off.  Then:
 *   - gm_set_gc_percent reports -1 (off) as the previous value;
 *   - allocating 256 MiB of garbage (64 MiB quick) in small, medium and
 *     large objects runs no collection: num_gc stays 0, frees 0,
 *     heap_alloc and heap_sys grow by at least what was allocated;
 *   - gm_gc() runs one collection and frees at least 99% of the objects;
 *   - allocating the same amount again runs no collection on its own and
 *     reuses the freed memory: heap_sys grows by at most 8 MiB.
 *
 * *** EXPOSES A LIBRARY BUG (the last check fails until it is fixed) ***
 * Memory freed by gm_gc() is not reused before more memory is committed:
 * the second round raises heap_sys by about one arena (68 -> 128 MiB for
 * 64 MiB rounds, 268 -> 320 MiB for 256 MiB ones) though the first
 * round's memory is free and committed.  Large objects show it most
 * (64 MiB of 70000-byte objects: 68 -> 128 MiB; 4096-byte objects reuse
 * the memory).  The second round's objects lie in the same address range
 * as the first's, so the likely cause is placement against the commit
 * watermark: src/heap/mheap.c commit() makes each arena read/write from its
 * base up to the highest page used, and find_free()'s best fit does not
 * prefer free runs below that watermark, so spans placed higher raise it.
 */
#include "gm_test.h"

#define NOINLINE __attribute__((noinline))
#define MiB (1024.0 * 1024.0)

/* Allocates about `bytes` of garbage; returns the objects allocated. */
NOINLINE static uint64_t garbage(uint64_t bytes) {
    static const size_t sizes[] = {24, 100, 512, 3000, 20000, 70000};
    uint64_t done = 0, n = 0;
    for (uint64_t i = 0; done < bytes; i++, n++) {
        size_t sz = sizes[i % 6];
        char *p = gm_alloc(sz);
        CHECK(p, "gm_alloc(%zu) failed after %.0f MiB with the collector off", sz, (double)done / MiB);
        p[0] = 1;
        p[sz - 1] = 2;
        done += sz;
    }
    return n;
}

int main(int argc, char **argv) {
    (void)argc;
    gm_test_gc_off(argv);
    bool quick = gm_test_quick();
    const char *gc = getenv("GOMEM_GC");
    CHECK(gc && strcmp(gc, "off") == 0, "not running with GOMEM_GC=off (re-exec failed?)");
    int prev = gm_set_gc_percent(-1);
    CHECK(prev == -1, "with GOMEM_GC=off gm_set_gc_percent returned %d, expected -1", prev);
    uint64_t total = quick ? (64u << 20) : (256u << 20);

    gm_memstats m0, m1, m2, m3;
    gm_read_memstats(&m0);
    CHECK(m0.num_gc == 0, "%u collections ran before the test allocated anything", m0.num_gc);
    uint64_t n = garbage(total);
    gm_read_memstats(&m1);
    printf("off: %.0f MiB of garbage in %llu objects: num_gc %u, heap_sys %.1f MiB, heap_alloc %.1f MiB\n",
           (double)total / MiB, (unsigned long long)n, m1.num_gc, (double)m1.heap_sys / MiB,
           (double)m1.heap_alloc / MiB);
    CHECK(m1.num_gc == 0, "%u collections ran with GOMEM_GC=off", m1.num_gc);
    CHECK(m1.frees == m0.frees, "frees grew from %llu to %llu with no collection", (unsigned long long)m0.frees,
          (unsigned long long)m1.frees);
    CHECK(m1.mallocs - m0.mallocs >= n, "mallocs grew by %llu for %llu allocations",
          (unsigned long long)(m1.mallocs - m0.mallocs), (unsigned long long)n);
    CHECK(m1.heap_alloc >= m0.heap_alloc + total, "heap_alloc %.1f -> %.1f MiB after %.0f MiB with nothing freed",
          (double)m0.heap_alloc / MiB, (double)m1.heap_alloc / MiB, (double)total / MiB);
    CHECK(m1.heap_sys >= m0.heap_sys + total, "heap_sys %.1f -> %.1f MiB after %.0f MiB with nothing freed",
          (double)m0.heap_sys / MiB, (double)m1.heap_sys / MiB, (double)total / MiB);

    gm_test_clear_stack();
    gm_gc();
    gm_read_memstats(&m2);
    printf("gm_gc: num_gc %u, frees %llu of %llu, heap_alloc %.1f MiB\n", m2.num_gc,
           (unsigned long long)(m2.frees - m1.frees), (unsigned long long)n, (double)m2.heap_alloc / MiB);
    CHECK(m2.num_gc == 1 && m2.num_forced_gc == 1, "after gm_gc(): num_gc %u, num_forced_gc %u", m2.num_gc,
          m2.num_forced_gc);
    CHECK(m2.frees - m1.frees >= n / 100 * 99, "gm_gc() freed %llu of %llu dropped objects",
          (unsigned long long)(m2.frees - m1.frees), (unsigned long long)n);
    CHECK(m2.heap_alloc < (8u << 20), "heap_alloc %.1f MiB after collecting all the garbage",
          (double)m2.heap_alloc / MiB);

    garbage(total);
    gm_read_memstats(&m3);
    printf("again: num_gc %u, heap_sys %.1f -> %.1f MiB\n", m3.num_gc, (double)m2.heap_sys / MiB,
           (double)m3.heap_sys / MiB);
    CHECK(m3.num_gc == 1, "%u collections after gm_gc() with GOMEM_GC=off", m3.num_gc);
    CHECK(m3.heap_sys <= m2.heap_sys + (8u << 20),
          "heap_sys grew %.1f -> %.1f MiB allocating %.0f MiB again after gm_gc() freed the first %.0f MiB: the "
          "freed, committed memory was not reused before new memory was committed",
          (double)m2.heap_sys / MiB, (double)m3.heap_sys / MiB, (double)total / MiB, (double)total / MiB);
    printf("test_gc_off: ok\n");
    return 0;
}
