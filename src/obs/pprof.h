/*
 * pprof.h - a heap profile in pprof's profile.proto, gzip-compressed.
 */
#ifndef GM_OBS_PPROF_H
#define GM_OBS_PPROF_H

#include "obs/heapprof.h"

/* Encodes snap as Go's heap profiles are (sample types alloc_objects,
 * alloc_space, inuse_objects, inuse_space; period space/bytes = the rate)
 * and writes it gzip-compressed to fd.  Returns 0, or -1 with errno. */
int gm_pprof_write_heap(int fd, const gm_heapprof_snapshot *snap);

/* Go's scaleHeapSample: a bucket of count sampled objects totalling size
 * bytes, sampled at one per rate bytes, stands for about count / (1 -
 * exp(-avg / rate)) objects (avg = size / count), and as many bytes. */
void gm_pprof_scale(uint64_t count, uint64_t size, int64_t rate, int64_t *count_out, int64_t *size_out);

#endif /* GM_OBS_PPROF_H */
