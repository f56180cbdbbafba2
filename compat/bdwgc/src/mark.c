/*
 * mark.c - bdwgc's kinds, mark procedures, descriptors and typed
 * allocation on gomem's kinds and layouts.
 *
 * Kinds.  bdwgc numbers its kinds: 0 pointer-free, 1 normal, 2
 * uncollectable, 3 pointer-free uncollectable, then one per GC_new_kind.
 * A new kind whose descriptor is a length (the whole object scanned, or
 * nothing) is served by gomem's ordinary heap; one whose descriptor is a
 * bitmap, a mark procedure or per-object gets a gomem kind of its own
 * whose trace function (trace_kind) reads the descriptor as bdwgc does.
 *
 * Mark procedures run inside gomem's marking with the world stopped; the
 * tracer of the running one is kept in a thread-local variable, and
 * GC_mark_and_push marks the object through it (gm_trace_mark) and hands
 * the mark stack pointer back unchanged: nothing is ever pushed on the
 * client's side, so its mark stack cannot overflow.  GC_push_all and
 * friends queue ranges for conservative scanning the same way, from a mark
 * procedure or from GC_push_other_roots, which a root scanner calls in
 * every collection.
 *
 * Descriptors of GC_make_descriptor are bdwgc's encodings: 0 for no
 * pointers, a length when every word up to the last pointer is one, a
 * bitmap (most significant bit = word 0) when the pointers lie in the
 * first 62 words, and otherwise GC_MAKE_PROC(TYPED_PROC, n) where n
 * indexes a table of gomem layouts.  GC_malloc_explicitly_typed turns the
 * descriptor into a gomem layout (interned; the last few are cached) and
 * allocates a typed object, whose pointer words alone are scanned.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bdwgc.h"
#include "gc/gc.h"

#define MAX_KINDS 64
#define TYPED_PROC 1 /* a reserved mark procedure index */
#define WORD_BITS 64

enum { MODE_PTRFREE, MODE_NORMAL, MODE_UNCOLLECTABLE, MODE_AUNCOLLECTABLE, MODE_TRACED };

typedef struct bkind {
    int mode;
    int gm_kind;    /* MODE_TRACED */
    GC_word descr;
    bool adjust;
} bkind;

static bkind kinds[MAX_KINDS] = {
    {MODE_PTRFREE, 0, 0, false},
    {MODE_NORMAL, 0, 0, true},
    {MODE_UNCOLLECTABLE, 0, 0, true},
    {MODE_AUNCOLLECTABLE, 0, 0, false},
};
static _Atomic int nkinds = 4;
static GC_mark_proc procs[GC_MAX_MARK_PROCS];
static _Atomic unsigned nprocs = GC_RESERVED_MARK_PROCS;
static pthread_mutex_t kinds_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t typed_lock = PTHREAD_MUTEX_INITIALIZER;

__thread gm_tracer *bdwgc_tracer;

BDWGC_EXPORT int GC_gcj_kind = 1;
BDWGC_EXPORT int GC_gcj_debug_kind = 1;

/* ------------------------------------------------- reading descriptors */

/* A dummy mark stack for the procedures' pointer arithmetic: nothing is
 * ever written to it. */
static char dummy_stack[64 * 16] __attribute__((aligned(16)));

GM_NO_SANITIZE static void scan_bitmap(gm_tracer *t, GC_word *addr, size_t size, GC_word bm) {
    size_t nwords = size / sizeof(GC_word);
    for (unsigned i = 0; i < WORD_BITS - GC_DS_TAG_BITS && i < nwords; i++)
        if ((bm >> (WORD_BITS - 1 - i)) & 1)
            gm_trace_mark(t, (void *)addr[i]);
}

GM_NO_SANITIZE static void interpret(gm_tracer *t, GC_word *addr, size_t size, GC_word d, int depth) {
    switch (d & GC_DS_TAGS) {
    case GC_DS_LENGTH:
        gm_trace_range(t, addr, (char *)addr + (d < size ? d : size));
        break;
    case GC_DS_BITMAP:
        scan_bitmap(t, addr, size, d & ~(GC_word)GC_DS_TAGS);
        break;
    case GC_DS_PROC: {
        unsigned idx = (unsigned)(d >> GC_DS_TAG_BITS) & (GC_MAX_MARK_PROCS - 1);
        GC_word env = d >> (GC_DS_TAG_BITS + GC_LOG_MAX_MARK_PROCS);
        GC_mark_proc p = procs[idx];
        if (idx == TYPED_PROC || !p) {
            /* A typed descriptor used as a kind's (objects of
             * GC_malloc_explicitly_typed are gomem typed objects and never
             * come here), or an index no GC_new_proc returned: scan it all. */
            gm_trace_range(t, addr, (char *)addr + size);
            break;
        }
        gm_tracer *saved = bdwgc_tracer;
        bdwgc_tracer = t;
        struct GC_ms_entry *msp = (struct GC_ms_entry *)dummy_stack;
        p(addr, msp, (struct GC_ms_entry *)(dummy_stack + sizeof dummy_stack - 16), env);
        bdwgc_tracer = saved;
        break;
    }
    default: { /* GC_DS_PER_OBJECT */
        GC_word nd;
        if ((GC_signed_word)d >= 0) {
            if (d - GC_DS_PER_OBJECT + sizeof(GC_word) > size)
                return;
            nd = *(GC_word *)((char *)addr + d - GC_DS_PER_OBJECT);
        } else {
            char *type_descr = *(char **)addr;
            if (!type_descr)
                return;
            nd = *(GC_word *)(type_descr - ((GC_signed_word)d + (GC_INDIR_PER_OBJ_BIAS - GC_DS_PER_OBJECT)));
        }
        if (nd == 0)
            return;
        if (depth > 2 || (nd & GC_DS_TAGS) == GC_DS_PER_OBJECT)
            gm_trace_range(t, addr, (char *)addr + size);
        else
            interpret(t, addr, size, nd, depth + 1);
        break;
    }
    }
}

static void trace_kind(void *obj, size_t size, gm_tracer *t, void *env) {
    const bkind *k = &kinds[(intptr_t)env];
    GC_word d = k->descr;
    if ((d & GC_DS_TAGS) == GC_DS_LENGTH && k->adjust)
        d += size;
    interpret(t, obj, size, d, 0);
}

/* ---------------------------------------------------------------- kinds */

void *bdwgc_kind_alloc(size_t lb, int k) {
    if ((unsigned)k >= (unsigned)atomic_load_explicit(&nkinds, memory_order_acquire)) {
        bdwgc_warn("allocation of an unknown kind (%ld): allocated as a normal object\n", (GC_word)k);
        return gm_alloc(bdwgc_request(lb));
    }
    const bkind *kd = &kinds[k];
    switch (kd->mode) {
    case MODE_PTRFREE:
        return gm_alloc_noscan(bdwgc_request(lb));
    case MODE_NORMAL:
        return gm_alloc(bdwgc_request(lb));
    case MODE_UNCOLLECTABLE:
        return gm_alloc_uncollectable(lb ? lb : 1, false);
    case MODE_AUNCOLLECTABLE:
        return gm_alloc_uncollectable(lb ? lb : 1, true);
    default:
        return gm_alloc_kind(kd->gm_kind, bdwgc_request(lb));
    }
}

BDWGC_EXPORT void **GC_new_free_list_inner(void) {
    bdwgc_enter();
    return gm_alloc_uncollectable(257 * sizeof(void *), false);
}

BDWGC_EXPORT void **GC_new_free_list(void) {
    return GC_new_free_list_inner();
}

BDWGC_EXPORT unsigned GC_new_kind_inner(void **fl, GC_word descr, int adjust, int clear) {
    (void)fl, (void)clear;
    bdwgc_enter();
    pthread_mutex_lock(&kinds_lock);
    int n = atomic_load_explicit(&nkinds, memory_order_relaxed);
    if (n >= MAX_KINDS) {
        pthread_mutex_unlock(&kinds_lock);
        bdwgc_warn("too many object kinds (%ld): the new one is normal\n", (GC_word)n);
        return GC_I_NORMAL;
    }
    bkind *k = &kinds[n];
    k->descr = descr;
    k->adjust = adjust != 0;
    if ((descr & GC_DS_TAGS) == GC_DS_LENGTH) {
        k->mode = descr == 0 && !adjust ? MODE_PTRFREE : MODE_NORMAL;
    } else {
        k->mode = MODE_TRACED;
        k->gm_kind = gm_kind_new(0, trace_kind, (void *)(intptr_t)n);
        if (k->gm_kind < 0) {
            bdwgc_warn("no gomem kind left: kind %ld is scanned conservatively\n", (GC_word)n);
            k->mode = MODE_NORMAL;
        }
    }
    atomic_store_explicit(&nkinds, n + 1, memory_order_release);
    pthread_mutex_unlock(&kinds_lock);
    return (unsigned)n;
}

BDWGC_EXPORT unsigned GC_new_kind(void **fl, GC_word descr, int adjust, int clear) {
    return GC_new_kind_inner(fl, descr, adjust, clear);
}

BDWGC_EXPORT unsigned GC_new_proc_inner(GC_mark_proc p) {
    unsigned n = atomic_fetch_add(&nprocs, 1);
    if (n >= GC_MAX_MARK_PROCS) {
        bdwgc_warn("too many mark procedures (%ld)\n", (GC_word)n);
        abort();
    }
    procs[n] = p;
    return n;
}

BDWGC_EXPORT unsigned GC_new_proc(GC_mark_proc p) {
    return GC_new_proc_inner(p);
}

static void *kind_alloc_checked(size_t lb, int k) {
    bdwgc_enter();
    void *p = bdwgc_kind_alloc(lb, k);
    if (!p)
        return bdwgc_oom(lb);
    bdwgc_after_alloc(lb);
    return p;
}

BDWGC_EXPORT void *GC_generic_malloc(size_t lb, int k) {
    return kind_alloc_checked(lb, k);
}
BDWGC_EXPORT void *GC_generic_malloc_ignore_off_page(size_t lb, int k) {
    return kind_alloc_checked(lb, k);
}
BDWGC_EXPORT void *GC_generic_or_special_malloc(size_t lb, int k) {
    return kind_alloc_checked(lb, k);
}
BDWGC_EXPORT void *GC_debug_generic_or_special_malloc(size_t lb, int k, const char *s, int i) {
    (void)s, (void)i;
    return kind_alloc_checked(lb, k);
}
BDWGC_EXPORT void *GC_malloc_kind(size_t lb, int k) {
    return kind_alloc_checked(lb, k);
}
BDWGC_EXPORT void *GC_malloc_kind_global(size_t lb, int k) {
    return kind_alloc_checked(lb, k);
}
BDWGC_EXPORT void *GC_generic_malloc_uncollectable(size_t lb, int k) {
    bdwgc_enter();
    bool noscan = (unsigned)k < (unsigned)atomic_load(&nkinds) &&
                  (kinds[k].mode == MODE_PTRFREE || kinds[k].mode == MODE_AUNCOLLECTABLE);
    void *p = gm_alloc_uncollectable(lb ? lb : 1, noscan);
    return p ? p : bdwgc_oom(lb);
}

BDWGC_EXPORT int GC_get_kind_and_size(const void *p, size_t *psize) {
    void *base = gm_base(p);
    if (psize)
        *psize = base ? gm_size(base) : 0;
    if (!base)
        return GC_I_NORMAL;
    int gk = gm_kind_of(base);
    if (gk > 0) {
        int n = atomic_load(&nkinds);
        for (int i = 4; i < n; i++)
            if (kinds[i].mode == MODE_TRACED && kinds[i].gm_kind == gk)
                return i;
        return GC_I_NORMAL;
    }
    gm_span *s = gm_span_of((uintptr_t)base);
    return s && gm_spanclass_noscan(s->spanclass) ? GC_I_PTRFREE : GC_I_NORMAL;
}

BDWGC_EXPORT void GC_register_describe_type_fn(int kind, GC_describe_type_fn fn) {
    (void)kind, (void)fn;
}

/* ------------------------------------------------------ marking calls */

BDWGC_EXPORT struct GC_ms_entry *GC_mark_and_push(void *obj, struct GC_ms_entry *msp, struct GC_ms_entry *lim,
                                                  void **src) {
    (void)lim, (void)src;
    gm_tracer *t = bdwgc_tracer;
    if (t)
        gm_trace_mark(t, obj);
    return msp;
}

BDWGC_EXPORT void GC_push_all(void *lo, void *hi) {
    gm_tracer *t = bdwgc_tracer;
    if (t)
        gm_trace_range(t, (void *)(((uintptr_t)lo + 7) & ~(uintptr_t)7), hi);
}
BDWGC_EXPORT void GC_push_all_eager(void *lo, void *hi) {
    GC_push_all(lo, hi);
}
BDWGC_EXPORT void GC_push_conditional(void *lo, void *hi, int all) {
    (void)all;
    GC_push_all(lo, hi);
}
BDWGC_EXPORT void GC_push_finalizer_structures(void) {}

BDWGC_EXPORT void GC_set_mark_bit(const void *p) {
    gm_tracer *t = bdwgc_tracer;
    if (t)
        gm_trace_mark(t, p);
}
BDWGC_EXPORT void GC_clear_mark_bit(const void *p) {
    (void)p;
}
BDWGC_EXPORT int GC_is_marked(const void *p) {
    return gm_base(p) != NULL;
}

static void default_push_other_roots(void) {}
BDWGC_EXPORT GC_push_other_roots_proc GC_push_other_roots = default_push_other_roots;
BDWGC_EXPORT void GC_set_push_other_roots(GC_push_other_roots_proc f) {
    GC_push_other_roots = f ? f : default_push_other_roots;
}
BDWGC_EXPORT GC_push_other_roots_proc GC_get_push_other_roots(void) {
    return GC_push_other_roots;
}

static void scan_other_roots(gm_tracer *t, void *arg) {
    (void)arg;
    GC_push_other_roots_proc f = GC_push_other_roots;
    if (!f || f == default_push_other_roots)
        return;
    bdwgc_tracer = t;
    f();
    bdwgc_tracer = NULL;
}

void bdwgc_mark_fork(int phase) {
    if (phase == 0) {
        pthread_mutex_lock(&kinds_lock);
        pthread_mutex_lock(&typed_lock);
    } else {
        pthread_mutex_unlock(&typed_lock);
        pthread_mutex_unlock(&kinds_lock);
    }
}

void bdwgc_mark_init(void) {
    gm_add_root_scanner(scan_other_roots, NULL);
}

BDWGC_EXPORT void GC_enumerate_reachable_objects_inner(GC_reachable_object_proc fn, void *cd) {
    (void)fn, (void)cd;
}
BDWGC_EXPORT void GC_print_trace(GC_word n) {
    (void)n;
}
BDWGC_EXPORT void GC_print_trace_inner(GC_word n) {
    (void)n;
}

/* -------------------------------------------------------- typed objects */

static const gm_layout **typed_table;
static size_t typed_n, typed_cap;

static const gm_layout *typed_layout(GC_word env) {
    return env < typed_n ? typed_table[env] : NULL;
}

static const gm_layout *layout_from_bits(const GC_word *bm, size_t nwords, bool repeat) {
    return gm_layout_make((const uint64_t *)bm, nwords, repeat);
}

BDWGC_EXPORT GC_descr GC_make_descriptor(const GC_word *bm, size_t len) {
    bdwgc_enter();
    long last = -1;
    bool all = true;
    for (size_t i = 0; i < len; i++) {
        if (GC_get_bit(bm, i))
            last = (long)i;
    }
    if (last < 0)
        return 0;
    for (long i = 0; i <= last; i++)
        if (!GC_get_bit(bm, (size_t)i))
            all = false;
    if (all)
        return (GC_descr)(last + 1) * sizeof(GC_word) | GC_DS_LENGTH;
    if (last < WORD_BITS - GC_DS_TAG_BITS) {
        GC_descr d = 0;
        for (long i = 0; i <= last; i++)
            if (GC_get_bit(bm, (size_t)i))
                d |= (GC_descr)1 << (WORD_BITS - 1 - i);
        return d | GC_DS_BITMAP;
    }
    const gm_layout *l = layout_from_bits(bm, (size_t)last + 1, false);
    pthread_mutex_lock(&typed_lock);
    for (size_t i = 0; i < typed_n; i++) {
        if (typed_table[i] == l) {
            pthread_mutex_unlock(&typed_lock);
            return GC_MAKE_PROC(TYPED_PROC, (GC_descr)i);
        }
    }
    if (typed_n == typed_cap) {
        size_t cap = typed_cap ? typed_cap * 2 : 64;
        const gm_layout **t = realloc(typed_table, cap * sizeof *t);
        if (!t) {
            pthread_mutex_unlock(&typed_lock);
            return (GC_descr)(last + 1) * sizeof(GC_word) | GC_DS_LENGTH; /* conservative */
        }
        typed_table = t;
        typed_cap = cap;
    }
    typed_table[typed_n] = l;
    GC_descr d = GC_MAKE_PROC(TYPED_PROC, (GC_descr)typed_n);
    typed_n++;
    pthread_mutex_unlock(&typed_lock);
    return d;
}

/* The layout of an object of lb bytes with descriptor d (elements of lb
 * bytes repeated when repeat); NULL means "scan all", and *none that
 * nothing is a pointer. */
static const gm_layout *layout_of(GC_descr d, size_t lb, bool repeat, bool *none) {
    *none = false;
    size_t nwords = lb / sizeof(GC_word);
    switch (d & GC_DS_TAGS) {
    case GC_DS_LENGTH: {
        if (d == 0) {
            *none = true;
            return NULL;
        }
        size_t n = d / sizeof(GC_word);
        if (!repeat && n >= nwords)
            return NULL;
        if (repeat && (lb % sizeof(GC_word) || n >= nwords))
            return NULL;
        GC_word bits[(WORD_BITS + 63) / 64 * 64];
        size_t words = repeat ? nwords : n;
        if (words > WORD_BITS * 64)
            return NULL;
        memset(bits, 0, (words + 63) / 64 * sizeof(GC_word));
        for (size_t i = 0; i < n && i < words; i++)
            bits[i / 64] |= (GC_word)1 << (i % 64);
        return layout_from_bits(bits, words, repeat);
    }
    case GC_DS_BITMAP: {
        GC_word bits[1] = {0};
        for (unsigned i = 0; i < WORD_BITS - GC_DS_TAG_BITS; i++)
            if ((d >> (WORD_BITS - 1 - i)) & 1)
                bits[0] |= (GC_word)1 << i;
        size_t words = repeat ? nwords : WORD_BITS - GC_DS_TAG_BITS;
        if (repeat && (lb % sizeof(GC_word) || nwords == 0 || nwords > WORD_BITS))
            return NULL;
        if (!bits[0]) {
            *none = true;
            return NULL;
        }
        return layout_from_bits(bits, words, repeat);
    }
    case GC_DS_PROC:
        if (((d >> GC_DS_TAG_BITS) & (GC_MAX_MARK_PROCS - 1)) == TYPED_PROC && !repeat) {
            pthread_mutex_lock(&typed_lock);
            const gm_layout *l = typed_layout(d >> (GC_DS_TAG_BITS + GC_LOG_MAX_MARK_PROCS));
            pthread_mutex_unlock(&typed_lock);
            return l;
        }
        return NULL;
    default:
        return NULL;
    }
}

/* The last few descriptors' layouts, per thread. */
#define LAYOUT_CACHE 8
typedef struct layout_cache_entry {
    GC_descr d;
    const gm_layout *l;
    bool none, valid;
} layout_cache_entry;
static __thread layout_cache_entry layout_cache[LAYOUT_CACHE];

static const gm_layout *cached_layout(GC_descr d, size_t lb, bool *none) {
    layout_cache_entry *e = &layout_cache[(d >> 4 ^ d >> 13) % LAYOUT_CACHE];
    if ((d & GC_DS_TAGS) == GC_DS_LENGTH)
        return layout_of(d, lb, false, none);
    if (e->valid && e->d == d) {
        *none = e->none;
        return e->l;
    }
    const gm_layout *l = layout_of(d, lb, false, none);
    *e = (layout_cache_entry){d, l, *none, true};
    return l;
}

BDWGC_EXPORT void *GC_malloc_explicitly_typed(size_t lb, GC_descr d) {
    bdwgc_enter();
    bool none;
    const gm_layout *l = cached_layout(d, lb, &none);
    if (none)
        return GC_malloc_atomic(lb);
    if (!l)
        return GC_malloc(lb);
    void *p = gm_alloc_typed(lb ? lb : 1, l);
    if (!p)
        return bdwgc_oom(lb);
    bdwgc_after_alloc(lb);
    return p;
}

BDWGC_EXPORT void *GC_malloc_explicitly_typed_ignore_off_page(size_t lb, GC_descr d) {
    return GC_malloc_explicitly_typed(lb, d);
}

BDWGC_EXPORT void *GC_calloc_explicitly_typed(size_t n, size_t lb, GC_descr d) {
    size_t total;
    if (__builtin_mul_overflow(n, lb, &total))
        return bdwgc_oom(SIZE_MAX);
    bdwgc_enter();
    bool none;
    const gm_layout *l = layout_of(d, lb, true, &none);
    if (none)
        return GC_malloc_atomic(total);
    if (!l)
        return GC_malloc(total);
    void *p = gm_alloc_typed(total ? total : 1, l);
    if (!p)
        return bdwgc_oom(total);
    bdwgc_after_alloc(total);
    return p;
}

/* ---------------------------------------------------------------- gcj */

static int gcj_mp_index;
static void *gcj_mp;

BDWGC_EXPORT void GC_init_gcj_malloc(int mp_index, void *mp) {
    gcj_mp_index = mp_index;
    gcj_mp = mp;
}

BDWGC_EXPORT void *GC_gcj_malloc(size_t lb, void *vtable) {
    void **p = GC_malloc(lb < sizeof(void *) ? sizeof(void *) : lb);
    if (p)
        *p = vtable;
    return p;
}
BDWGC_EXPORT void *GC_gcj_malloc_ignore_off_page(size_t lb, void *vtable) {
    return GC_gcj_malloc(lb, vtable);
}
BDWGC_EXPORT void *GC_debug_gcj_malloc(size_t lb, void *vtable, const char *s, int i) {
    (void)s, (void)i;
    return GC_gcj_malloc(lb, vtable);
}
