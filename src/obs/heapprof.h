/*
 * heapprof.h - the heap profile's records, and the snapshot the profile
 * writer (pprof.c) encodes.
 */
#ifndef GM_OBS_HEAPPROF_H
#define GM_OBS_HEAPPROF_H

#include "heap/heap.h"

/* Registers the heap layer's profiling hooks when sampling is on, and the
 * exit handler that writes GOMEM_HEAPPROFILE.  Called once by gm_init. */
void gm_heapprof_init(void);

/* One call stack and object size, with the counts of its sampled objects
 * (not yet scaled to estimates). */
typedef struct gm_heapprof_entry {
    uint64_t size;                   /* bytes per object */
    uint64_t allocs, alloc_bytes;    /* sampled objects allocated */
    uint64_t frees, free_bytes;      /* of those, freed */
    uint32_t depth;
    uintptr_t pcs[GM_SAMPLE_MAX_DEPTH]; /* pcs[0] is the allocating call */
} gm_heapprof_entry;

typedef struct gm_heapprof_snapshot {
    gm_heapprof_entry *entries;
    size_t count;
    size_t mem_size; /* bytes of entries' memory (gm_os_alloc) */
    int64_t rate;    /* gm_cfg.memprofilerate */
    uint64_t time_ns;
} gm_heapprof_snapshot;

/* Copies the counts as of the last collection whose sweep completed (or,
 * before any, everything sampled so far).  False if out of memory. */
bool gm_heapprof_snapshot_take(gm_heapprof_snapshot *snap);
void gm_heapprof_snapshot_free(gm_heapprof_snapshot *snap);

#endif /* GM_OBS_HEAPPROF_H */
