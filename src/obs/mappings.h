/*
 * mappings.h - the executable code of the program and its libraries, as
 * pprof's Mapping records describe them.
 */
#ifndef GM_OBS_MAPPINGS_H
#define GM_OBS_MAPPINGS_H

#include "gm.h"

#define GM_MAPPING_PATH_MAX 512

typedef struct gm_mapping {
    uintptr_t start, limit; /* [start, limit): page-aligned, as in /proc/self/maps */
    uint64_t offset;        /* file offset mapped at start */
    uintptr_t bias;         /* run-time address minus the file's own address */
    char file[GM_MAPPING_PATH_MAX];
    char build_id[80];      /* hex of the GNU build ID note, or "" */
} gm_mapping;

/* Fills out with up to max mappings, the main executable first; returns
 * how many. */
size_t gm_mappings_read(gm_mapping *out, size_t max);

#endif /* GM_OBS_MAPPINGS_H */
