/*
 * alloc.c - bdwgc's allocation calls on gomem's heap.
 *
 *   GC_malloc              gm_alloc (scanned, zeroed)
 *   GC_malloc_atomic       gm_alloc_noscan (never scanned; zeroed too)
 *   GC_malloc_uncollectable, _atomic_uncollectable
 *                          gm_alloc_uncollectable (roots until GC_free)
 *   *_ignore_off_page      as the plain calls: every interior pointer is
 *                          recognised anyway
 *   GC_malloc_many         a list of gm_alloc objects linked through their
 *                          first word
 *
 * While GC_all_interior_pointers is set (the default) each request asks
 * for one byte more than the caller wants, as bdwgc does, so that a
 * pointer just past the end of an object keeps that object, not its
 * neighbour, alive (bdwgc_request).
 * A failed allocation calls GC_oom_fn and returns what it returns.
 * GC_free accepts any pointer into a heap object (memalign hands out
 * interior ones) and ignores pointers that are not the heap's.
 */
#include <errno.h>
#include <string.h>

#include "bdwgc.h"

static inline void *checked(void *p, size_t lb) {
    if (__builtin_expect(p == NULL, 0))
        return bdwgc_oom(lb);
    bdwgc_after_alloc(lb);
    return p;
}

BDWGC_EXPORT void *GC_malloc(size_t lb) {
    bdwgc_enter();
    return checked(gm_alloc(bdwgc_request(lb)), lb);
}

/* Pointer-free requests under 16 bytes take 16, bdwgc's smallest object
 * (its granule): gomem would pack them into shared 16-byte blocks through
 * its slower tiny-object path, to save memory bdwgc does not save either. */
BDWGC_EXPORT void *GC_malloc_atomic(size_t lb) {
    bdwgc_enter();
    size_t n = bdwgc_request(lb);
    return checked(gm_alloc_noscan(n < 16 ? 16 : n), lb);
}

BDWGC_EXPORT void *GC_malloc_uncollectable(size_t lb) {
    bdwgc_enter();
    return checked(gm_alloc_uncollectable(lb ? lb : 1, false), lb);
}

BDWGC_EXPORT void *GC_malloc_atomic_uncollectable(size_t lb) {
    bdwgc_enter();
    return checked(gm_alloc_uncollectable(lb ? lb : 1, true), lb);
}

BDWGC_EXPORT void *GC_malloc_ignore_off_page(size_t lb) {
    return GC_malloc(lb);
}

BDWGC_EXPORT void *GC_malloc_atomic_ignore_off_page(size_t lb) {
    return GC_malloc_atomic(lb);
}

BDWGC_EXPORT void *GC_malloc_stubborn(size_t lb) {
    return GC_malloc(lb);
}

BDWGC_EXPORT char *GC_strdup(const char *s) {
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = GC_malloc_atomic(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

BDWGC_EXPORT char *GC_strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *p = GC_malloc_atomic(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = 0;
    }
    return p;
}

BDWGC_EXPORT wchar_t *GC_wcsdup(const wchar_t *s);
BDWGC_EXPORT wchar_t *GC_wcsdup(const wchar_t *s) {
    size_t n = 0;
    while (s[n])
        n++;
    wchar_t *p = GC_malloc_atomic((n + 1) * sizeof(wchar_t));
    if (p)
        memcpy(p, s, (n + 1) * sizeof(wchar_t));
    return p;
}

BDWGC_EXPORT void GC_free(void *p) {
    if (!p)
        return;
    void *base = gm_base(p);
    if (!base) {
        bdwgc_warn("GC_free of a pointer that is not in the heap (%p): ignored\n", (GC_word)p);
        return;
    }
    gm_free(base);
}

BDWGC_EXPORT void *GC_base(void *p) {
    return gm_base(p);
}

BDWGC_EXPORT int GC_is_heap_ptr(const void *p) {
    return gm_base(p) != NULL;
}

BDWGC_EXPORT size_t GC_size(const void *p) {
    return gm_size(p);
}

BDWGC_EXPORT void *GC_realloc(void *p, size_t lb) {
    if (!p)
        return GC_malloc(lb);
    if (lb == 0) {
        GC_free(p);
        return NULL;
    }
    bdwgc_enter();
    void *base = gm_base(p);
    if (!base) {
        bdwgc_warn("GC_realloc of a pointer that is not in the heap (%p): returning NULL\n", (GC_word)p);
        return NULL;
    }
    int kind = gm_kind_of(base);
    if (kind == 0) {
        void *q = gm_realloc(base, bdwgc_request(lb));
        return checked(q, lb);
    }
    /* Uncollectable, typed or client kinds keep their kind. */
    size_t old = gm_size(base);
    if (lb + 1 <= old && lb + 1 >= old / 2)
        return base;
    void *q = gm_alloc_kind(kind, bdwgc_request(lb));
    if (!q)
        return bdwgc_oom(lb);
    memcpy(q, base, old < lb ? old : lb);
    gm_free(base);
    return q;
}

BDWGC_EXPORT void *GC_memalign(size_t align, size_t lb) {
    if (align <= 16 || (align & (align - 1)))
        return align & (align - 1) ? NULL : GC_malloc(lb);
    size_t total;
    if (__builtin_add_overflow(lb, align, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    char *p = GC_malloc(total);
    if (!p)
        return NULL;
    uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    return (void *)a; /* an interior pointer keeps the object alive */
}

BDWGC_EXPORT int GC_posix_memalign(void **memptr, size_t align, size_t lb) {
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = GC_memalign(align, lb);
    if (!p)
        return ENOMEM;
    *memptr = p;
    return 0;
}

/* About 16 KiB of objects per call, at least one and at most 256. */
static size_t many_count(size_t lb) {
    size_t n = lb ? (16 * 1024) / lb : 256;
    return n < 1 ? 1 : n > 256 ? 256 : n;
}

BDWGC_EXPORT void *GC_malloc_many(size_t lb) {
    void *list = NULL;
    GC_generic_malloc_many(lb, GC_I_NORMAL, &list);
    return list;
}

BDWGC_EXPORT void GC_generic_malloc_many(size_t lb, int k, void **result) {
    bdwgc_enter();
    if (lb < sizeof(void *))
        lb = sizeof(void *);
    size_t n = many_count(lb);
    void *list = NULL;
    for (size_t i = 0; i < n; i++) {
        void *o = bdwgc_kind_alloc(lb, k);
        if (!o)
            break;
        *(void **)o = list;
        list = o;
    }
    *result = list;
    if (!list)
        *result = bdwgc_oom(lb);
    bdwgc_after_alloc(lb);
}

/* ------------------------------------------------------------ debugging */

BDWGC_EXPORT void *GC_debug_malloc(size_t lb, const char *s, int i) {
    (void)s, (void)i;
    return GC_malloc(lb);
}
BDWGC_EXPORT void *GC_debug_malloc_atomic(size_t lb, const char *s, int i) {
    (void)s, (void)i;
    return GC_malloc_atomic(lb);
}
BDWGC_EXPORT void *GC_debug_malloc_uncollectable(size_t lb, const char *s, int i) {
    (void)s, (void)i;
    return GC_malloc_uncollectable(lb);
}
BDWGC_EXPORT void *GC_debug_malloc_atomic_uncollectable(size_t lb, const char *s, int i) {
    (void)s, (void)i;
    return GC_malloc_atomic_uncollectable(lb);
}
BDWGC_EXPORT void *GC_debug_malloc_stubborn(size_t lb, const char *s, int i) {
    (void)s, (void)i;
    return GC_malloc(lb);
}
BDWGC_EXPORT void *GC_debug_malloc_ignore_off_page(size_t lb, const char *s, int i) {
    (void)s, (void)i;
    return GC_malloc(lb);
}
BDWGC_EXPORT void *GC_debug_malloc_atomic_ignore_off_page(size_t lb, const char *s, int i) {
    (void)s, (void)i;
    return GC_malloc_atomic(lb);
}
BDWGC_EXPORT char *GC_debug_strdup(const char *str, const char *s, int i) {
    (void)s, (void)i;
    return GC_strdup(str);
}
BDWGC_EXPORT char *GC_debug_strndup(const char *str, size_t n, const char *s, int i) {
    (void)s, (void)i;
    return GC_strndup(str, n);
}
BDWGC_EXPORT wchar_t *GC_debug_wcsdup(const wchar_t *str, const char *s, int i);
BDWGC_EXPORT wchar_t *GC_debug_wcsdup(const wchar_t *str, const char *s, int i) {
    (void)s, (void)i;
    return GC_wcsdup(str);
}
BDWGC_EXPORT void GC_debug_free(void *p) {
    GC_free(p);
}
BDWGC_EXPORT void *GC_debug_realloc(void *p, size_t lb, const char *s, int i) {
    (void)s, (void)i;
    return GC_realloc(p, lb);
}
BDWGC_EXPORT void *GC_debug_malloc_replacement(size_t lb) {
    return GC_malloc(lb);
}
BDWGC_EXPORT void *GC_debug_realloc_replacement(void *p, size_t lb) {
    return GC_realloc(p, lb);
}
BDWGC_EXPORT void GC_change_stubborn(const void *p) {
    (void)p;
}
BDWGC_EXPORT void GC_end_stubborn_change(const void *p) {
    (void)p;
}
BDWGC_EXPORT void GC_debug_change_stubborn(const void *p) {
    (void)p;
}
BDWGC_EXPORT void GC_debug_end_stubborn_change(const void *p) {
    (void)p;
}
BDWGC_EXPORT void GC_ptr_store_and_dirty(void *p, const void *q) {
    *(const void **)p = q;
}
BDWGC_EXPORT void GC_debug_ptr_store_and_dirty(void *p, const void *q) {
    *(const void **)p = q;
}

BDWGC_EXPORT size_t GC_debug_header_size = 0;
BDWGC_EXPORT size_t GC_get_debug_header_size(void) {
    return 0;
}
