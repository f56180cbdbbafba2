/*
 * gc_mark.h - bdwgc's interface for clients that trace their own objects:
 * object kinds, mark procedures, descriptors.
 *
 * A descriptor is a word whose low GC_DS_TAG_BITS bits say how to read the
 * rest: GC_DS_LENGTH (the word is a length in bytes, scanned
 * conservatively), GC_DS_BITMAP (the high bits name the pointer words,
 * most significant bit = first word), GC_DS_PROC (a mark procedure index
 * from GC_new_proc and an environment, built with GC_MAKE_PROC), or
 * GC_DS_PER_OBJECT (the descriptor is stored in the object).  A mark
 * procedure reports what an object points to with GC_MARK_AND_PUSH and
 * returns the mark stack pointer it was given back from those calls.
 */
#ifndef GC_MARK_H
#define GC_MARK_H

#ifndef GC_H
#include "gc.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define GC_PROC_BYTES 100

struct GC_ms_entry;

typedef struct GC_ms_entry *(*GC_mark_proc)(GC_word * /* addr */, struct GC_ms_entry * /* mark_stack_ptr */,
                                            struct GC_ms_entry * /* mark_stack_limit */, GC_word /* env */);

#define GC_LOG_MAX_MARK_PROCS 6
#define GC_MAX_MARK_PROCS (1 << GC_LOG_MAX_MARK_PROCS)
#define GC_RESERVED_MARK_PROCS 8
#define GC_GCJ_RESERVED_MARK_PROC_INDEX 0

#define GC_DS_TAG_BITS 2
#define GC_DS_TAGS ((1 << GC_DS_TAG_BITS) - 1)
#define GC_DS_LENGTH 0
#define GC_DS_BITMAP 1
#define GC_DS_PROC 2
#define GC_MAKE_PROC(proc_index, env) \
    (((((env) << GC_LOG_MAX_MARK_PROCS) | (proc_index)) << GC_DS_TAG_BITS) | GC_DS_PROC)
#define GC_DS_PER_OBJECT 3
#define GC_INDIR_PER_OBJ_BIAS 0x10

GC_API void *GC_least_plausible_heap_addr;
GC_API void *GC_greatest_plausible_heap_addr;

/* Marks the object obj points into (if any) from a mark procedure and
 * returns the mark stack pointer to go on with. */
GC_API struct GC_ms_entry *GC_CALL GC_mark_and_push(void * /* obj */, struct GC_ms_entry * /* mark_stack_ptr */,
                                                   struct GC_ms_entry * /* mark_stack_limit */,
                                                   void ** /* src */);

#define GC_MARK_AND_PUSH(obj, msp, lim, src)                                  \
    ((GC_word)(obj) >= (GC_word)GC_least_plausible_heap_addr &&              \
             (GC_word)(obj) <= (GC_word)GC_greatest_plausible_heap_addr       \
         ? GC_mark_and_push(obj, msp, lim, src)                               \
         : (msp))

GC_API size_t GC_debug_header_size;
#define GC_USR_PTR_FROM_BASE(p) ((void *)((char *)(p) + GC_get_debug_header_size()))
GC_API size_t GC_CALL GC_get_debug_header_size(void);

/* Kinds: a free list array (GC_new_free_list), a descriptor, whether the
 * object size is added to a length descriptor (adjust), and whether
 * objects are cleared (clear). */
GC_API void **GC_CALL GC_new_free_list(void);
GC_API void **GC_CALL GC_new_free_list_inner(void);
GC_API unsigned GC_CALL GC_new_kind(void ** /* free_list */, GC_word /* mark_descriptor_template */,
                                   int /* add_size_to_descriptor */, int /* clear_new_objects */)
    GC_ATTR_NONNULL(1);
GC_API unsigned GC_CALL GC_new_kind_inner(void **, GC_word, int, int) GC_ATTR_NONNULL(1);
GC_API unsigned GC_CALL GC_new_proc(GC_mark_proc);
GC_API unsigned GC_CALL GC_new_proc_inner(GC_mark_proc);

GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_generic_malloc(size_t /* lb */, int /* knd */);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_generic_malloc_ignore_off_page(size_t /* lb */,
                                                                                          int /* knd */);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_generic_malloc_uncollectable(size_t /* lb */,
                                                                                        int /* knd */);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_generic_or_special_malloc(size_t /* lb */,
                                                                                     int /* knd */);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_debug_generic_or_special_malloc(size_t, int,
                                                                                           GC_EXTRA_PARAMS);
#ifdef GC_DEBUG
#define GC_GENERIC_OR_SPECIAL_MALLOC(sz, knd) GC_debug_generic_or_special_malloc(sz, knd, GC_EXTRAS)
#else
#define GC_GENERIC_OR_SPECIAL_MALLOC(sz, knd) GC_generic_or_special_malloc(sz, knd)
#endif

/* The kind of the object p points to, and its size in *psize. */
GC_API int GC_CALL GC_get_kind_and_size(const void *, size_t * /* psize */) GC_ATTR_NONNULL(1);

typedef void(GC_CALLBACK *GC_describe_type_fn)(void * /* p */, char * /* out_buf */);
#define GC_TYPE_DESCR_LEN 40
GC_API void GC_CALL GC_register_describe_type_fn(int /* kind */, GC_describe_type_fn);

GC_API void *GC_CALL GC_clear_stack(void *);

/* Called before each collection (on the collector's thread here); it must
 * not allocate. */
typedef void(GC_CALLBACK *GC_start_callback_proc)(void);
GC_API void GC_CALL GC_set_start_callback(GC_start_callback_proc);
GC_API GC_start_callback_proc GC_CALL GC_get_start_callback(void);

GC_API int GC_CALL GC_is_marked(const void *) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_clear_mark_bit(const void *) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_set_mark_bit(const void *) GC_ATTR_NONNULL(1);

/* From a root-pushing callback (GC_push_other_roots) or a mark procedure:
 * scan [bottom, top) conservatively. */
GC_API void GC_CALL GC_push_all(void * /* bottom */, void * /* top */);
GC_API void GC_CALL GC_push_all_eager(void * /* bottom */, void * /* top */);
GC_API void GC_CALL GC_push_conditional(void * /* bottom */, void * /* top */, int /* bool all */);
GC_API void GC_CALL GC_push_finalizer_structures(void);

/* Called in every collection to push roots the collector does not know
 * (world stopped). */
typedef void(GC_CALLBACK *GC_push_other_roots_proc)(void);
GC_API GC_push_other_roots_proc GC_push_other_roots;
GC_API void GC_CALL GC_set_push_other_roots(GC_push_other_roots_proc);
GC_API GC_push_other_roots_proc GC_CALL GC_get_push_other_roots(void);

typedef void(GC_CALLBACK *GC_reachable_object_proc)(void * /* obj */, size_t /* bytes */,
                                                    void * /* client_data */);
GC_API void GC_CALL GC_enumerate_reachable_objects_inner(GC_reachable_object_proc, void * /* client_data */)
    GC_ATTR_NONNULL(1);
GC_API int GC_CALL GC_is_tmp_root(void *);
GC_API void GC_CALL GC_print_trace(GC_word /* gc_no */);
GC_API void GC_CALL GC_print_trace_inner(GC_word /* gc_no */);

#ifdef __cplusplus
}
#endif

#endif
