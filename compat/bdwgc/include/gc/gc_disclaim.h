/*
 * gc_disclaim.h - objects with a finalizer closure (GC_finalized_malloc).
 * Here the closure runs as an unordered finalizer once the object is
 * unreachable; GC_register_disclaim_proc is accepted but its procedure is
 * not called (see docs/dropin.md).
 */
#ifndef GC_DISCLAIM_H
#define GC_DISCLAIM_H

#include "gc.h"

#ifdef __cplusplus
extern "C" {
#endif

GC_API void GC_CALL GC_init_finalized_malloc(void);

typedef int(GC_CALLBACK *GC_disclaim_proc)(void * /* obj */);
GC_API void GC_CALL GC_register_disclaim_proc(int /* kind */, GC_disclaim_proc /* proc */,
                                             int /* mark_from_all */) GC_ATTR_NONNULL(2);

struct GC_finalizer_closure {
    GC_finalization_proc proc;
    void *cd;
};

GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_finalized_malloc(size_t /* size */,
                                                                            const struct GC_finalizer_closure *)
    GC_ATTR_NONNULL(2);

#ifdef __cplusplus
}
#endif

#endif
