/*
 * javaxfc.h - GC_finalize_all: collect and run every finalizer that is
 * ready, repeatedly, until none is left (reachable finalizable objects are
 * not finalized here; see docs/dropin.md).
 */
#ifndef GC_JAVAXFC_H
#define GC_JAVAXFC_H

#ifndef GC_H
#include "gc.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

GC_API void GC_CALL GC_finalize_all(void);

#ifdef __cplusplus
}
#endif

#endif
