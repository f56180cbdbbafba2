/*
 * memstats.c - gm_read_memstats: Go's runtime.MemStats.
 *
 * Like Go's ReadMemStats it stops the world for a consistent snapshot: the
 * mcaches are flushed so every allocation and free is counted, then the
 * figures are read from the heap's and the collector's counters.
 * Objects under 16 B from gm_alloc_noscan are counted per 16-byte block.
 */
#include <string.h>

#include "gc/gc.h"

GM_API void gm_read_memstats(gm_memstats *m) {
    gm_ensure_init();
    memset(m, 0, sizeof *m);
    gm_gc_lock_mutator();
    gm_mutex_lock(&gm_threads_lock);
    gm_stop_world();
    for (gm_thread *t = gm_threads; t; t = t->next)
        gm_mcache_release_all(t->mcache);
    uint64_t small_allocs = atomic_load(&gm_hstats.nmalloc);
    uint64_t small_frees = atomic_load(&gm_hstats.nfree);
    uint64_t large_allocs = atomic_load(&gm_hstats.large_alloc);
    uint64_t large_frees = atomic_load(&gm_hstats.large_free);
    m->total_alloc = atomic_load(&gm_hstats.total_alloc);
    uint64_t freed = atomic_load(&gm_hstats.bytes_freed); /* small and large */
    gm_start_world();
    gm_mutex_unlock(&gm_threads_lock);
    m->mallocs = small_allocs + large_allocs;
    m->frees = small_frees + large_frees;
    m->heap_objects = m->mallocs - m->frees;
    m->heap_alloc = m->total_alloc > freed ? m->total_alloc - freed : 0;
    m->alloc = m->heap_alloc;
    m->heap_sys = atomic_load(&gm_heap.sys);
    m->heap_inuse = atomic_load(&gm_heap.inuse);
    gm_heap_idle_bytes(&m->heap_idle, &m->heap_released);
    gm_gc_stacks_stats(&m->stack_inuse, &m->stack_sys);
    m->sys = m->heap_sys + m->stack_sys + atomic_load(&gm_heap.meta);
    m->next_gc = atomic_load(&gm_pace.goal);
    if (m->next_gc == UINT64_MAX)
        m->next_gc = 0;
    m->last_gc = gm_gcstats.last_gc_ns;
    m->pause_total_ns = gm_gcstats.pause_total_ns;
    memcpy(m->pause_ns, gm_gcstats.pause_ns, sizeof m->pause_ns);
    m->num_gc = gm_gcstats.num_gc;
    m->num_forced_gc = gm_gcstats.num_forced_gc;
    uint64_t cpu = gm_process_cputime() - gm_gcstats.start_cpu_ns;
    m->concurrent_mark = gm_gcstats.num_gc ? gm_gcstats.last_concurrent : gm_dirty_available();
    m->gc_cpu_fraction = cpu ? (double)gm_gcstats.gc_cpu_ns / (double)cpu : 0;
    gm_specials_counts(&m->finalizers_queued, &m->finalizers_run, &m->cleanups_queued, &m->cleanups_run);
    gm_mutex_unlock(&gm_gc_lock);
}
