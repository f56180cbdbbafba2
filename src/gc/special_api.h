/*
 * special_api.h - the specials' calls for layers built on the core (the
 * bdwgc drop-in library) beyond gomem.h: finalizers with bdwgc's ordering
 * modes, disappearing links, and the cumulative counts.  Standalone (only
 * gomem.h), so that a layer whose own headers are named gc/gc.h can include
 * it; specials.h includes it for the core.
 */
#ifndef GM_SPECIAL_API_H
#define GM_SPECIAL_API_H

#include <stdbool.h>
#include <stdint.h>

#include "gomem.h"

/* Finalizer modes (bdwgc's flavours; gomem.h's gm_set_finalizer is ORDERED):
 * IGNORE_SELF skips pointers from an object into itself when ordering;
 * NO_ORDER queues the finalizer of every finalizable object that was
 * unmarked when the collector visited it, even if another body then marked
 * it. */
enum { GM_FIN_ORDERED = 0, GM_FIN_IGNORE_SELF = 1, GM_FIN_NO_ORDER = 2 };

/* Sets (fn != NULL) or clears the finalizer of obj with a bdwgc mode,
 * returning the previous one in *old_fn, *old_arg if given. */
void gm_specials_set_finalizer(void *obj, gm_finalizer_fn fn, void *arg, int mode, gm_finalizer_fn *old_fn,
                               void **old_arg);

/* Registers *link to be set to NULL when obj dies (weak.c says when).
 * Returns 0, 1 if link was already registered for obj, 2 if obj is not a
 * heap object. */
int gm_specials_add_link(void **link, const void *obj, bool long_link);
/* Unregisters a link added for obj; false if there was none. */
bool gm_specials_remove_link(void **link, const void *obj, bool long_link);

/* Cumulative finalizers and cleanups queued and run. */
void gm_specials_counts(uint64_t *fin_queued, uint64_t *fin_run, uint64_t *cln_queued, uint64_t *cln_run);

#endif /* GM_SPECIAL_API_H */
