/*
 * gc_inline.h - allocation from client-owned free lists, as bdwgc's
 * gc_inline.h defines it.
 *
 * tiny_fl is an array of GC_TINY_FREELISTS entries, one per size in
 * granules.  An entry is either a list of free objects linked through
 * their first word (refilled with GC_generic_malloc_many) or, while small,
 * a count of allocations made directly with default_expr: the first
 * num_direct allocations of a size skip the list.  Objects of kinds other
 * than GC_I_PTRFREE come with their link word cleared.
 */
#ifndef GC_INLINE_H
#define GC_INLINE_H

#include "gc.h"
#include "gc_tiny_fl.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GC_EXPECT(expr, outcome) __builtin_expect(expr, outcome)
#define GC_ASSERT(expr) ((void)0)
#define GC_PREFETCH_FOR_WRITE(x) __builtin_prefetch((x), 1)

#define GC_I_PTRFREE 0
#define GC_I_NORMAL 1

/* Fills *result with a list of objects of lb bytes of kind k (the list
 * may be empty when out of memory). */
GC_API void GC_CALL GC_generic_malloc_many(size_t /* lb */, int /* k */, void ** /* result */);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc_kind(size_t /* lb */, int /* k */);
#ifdef GC_THREADS
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc_kind_global(size_t /* lb */, int /* k */);
#else
#define GC_malloc_kind_global GC_malloc_kind
#endif

#define GC_WORDS_TO_WHOLE_GRANULES(n) (((n) + GC_GRANULE_WORDS - 1) / GC_GRANULE_WORDS)

#define GC_FAST_MALLOC_GRANS(result, granules, tiny_fl, num_direct, kind, default_expr, init)              \
    do {                                                                                              \
        if (GC_EXPECT((granules) >= GC_TINY_FREELISTS, 0)) {                                          \
            result = (default_expr);                                                                  \
        } else {                                                                                      \
            void **gc_my_fl_ = (tiny_fl) + (granules);                                                \
            void *gc_my_entry_ = *gc_my_fl_;                                                          \
            if (GC_EXPECT((GC_word)gc_my_entry_ <= (num_direct) + GC_TINY_FREELISTS + 1, 0)) {        \
                if ((GC_word)gc_my_entry_ < (GC_word)(num_direct)) {                                  \
                    *gc_my_fl_ = (char *)gc_my_entry_ + (granules) + 1;                               \
                    gc_my_entry_ = 0;                                                                 \
                    result = (default_expr);                                                          \
                } else {                                                                              \
                    GC_generic_malloc_many((granules) == 0 ? GC_GRANULE_BYTES                         \
                                                           : GC_RAW_BYTES_FROM_INDEX(granules),       \
                                           kind, gc_my_fl_);                                          \
                    gc_my_entry_ = *gc_my_fl_;                                                        \
                    if (gc_my_entry_ == 0)                                                            \
                        result = (*GC_get_oom_fn())((granules) * GC_GRANULE_BYTES);                   \
                }                                                                                     \
            }                                                                                         \
            if ((GC_word)gc_my_entry_ > (num_direct) + GC_TINY_FREELISTS + 1) {                       \
                *gc_my_fl_ = GC_NEXT(gc_my_entry_);                                                   \
                result = gc_my_entry_;                                                                \
                init;                                                                                 \
                if ((kind) != GC_I_PTRFREE)                                                           \
                    GC_NEXT(result) = 0;                                                              \
            }                                                                                         \
        }                                                                                             \
    } while (0)

#define GC_MALLOC_WORDS_KIND(result, n, tiny_fl, kind, init)                                           \
    do {                                                                                              \
        size_t gc_granules_ = GC_WORDS_TO_WHOLE_GRANULES(n);                                          \
        GC_FAST_MALLOC_GRANS(result, gc_granules_, tiny_fl, 0, kind,                                  \
                             GC_malloc_kind(gc_granules_ * GC_GRANULE_BYTES, kind), init);            \
    } while (0)

#define GC_MALLOC_WORDS(result, n, tiny_fl) \
    GC_MALLOC_WORDS_KIND(result, n, tiny_fl, GC_I_NORMAL, *(void **)(result) = 0)
#define GC_MALLOC_ATOMIC_WORDS(result, n, tiny_fl) GC_MALLOC_WORDS_KIND(result, n, tiny_fl, GC_I_PTRFREE, (void)0)

#define GC_CONS(result, first, second, tiny_fl)                                      \
    do {                                                                            \
        void *gc_l_ = (void *)(first), *gc_r_ = (void *)(second);                   \
        GC_MALLOC_WORDS_KIND(result, 2, tiny_fl, GC_I_NORMAL, (void)0);             \
        if ((result) != 0) {                                                        \
            *(void **)(result) = gc_l_;                                             \
            GC_PTR_STORE_AND_DIRTY((void **)(result) + 1, gc_r_);                   \
            GC_reachable_here(gc_l_);                                               \
        }                                                                           \
    } while (0)

GC_API void GC_CALL GC_print_free_list(int /* kind */, size_t /* sz_in_granules */);

#ifdef __cplusplus
}
#endif

#endif
