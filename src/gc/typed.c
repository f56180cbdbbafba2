/*
 * typed.c - typed objects: layouts (pointer bitmaps) and precise scanning.
 *
 * A typed object lives in a span of the typed kind (created on first
 * use, GM_KIND_SCAN_LAYOUT).  The last word of its slot holds the address
 * of its layout; gm_alloc_typed asks for one word more than the caller
 * and writes the layout inside the allocation's no-stop region, so no
 * collection ever sees a typed slot without one.  The collector reads
 * only the words the layout names as pointers (gm_typed_scan).
 *
 * Layouts are interned in a hash table of non-GC memory (gm_os_alloc,
 * never freed): equal (bits, nwords, repeat) give the same record, so a
 * runtime may ask for a layout at every allocation.  A layout's address
 * in a slot's last word does not point into the heap, so conservative
 * scans of the object (a finalizable object's body) ignore it.
 */
#include <errno.h>
#include <string.h>

#include "gc/kindmark.h"

struct gm_layout {
    struct gm_layout *next; /* hash chain */
    uint64_t hash;
    size_t nwords;
    bool repeat;
    uint64_t bits[];
};

#define LAYOUT_BUCKETS 1024
static gm_layout *buckets[LAYOUT_BUCKETS];
static gm_mutex layout_lock = GM_MUTEX_INIT;
static gm_mutex typed_kind_lock = GM_MUTEX_INIT;
static _Atomic int typed_kind;

static uint64_t hash_layout(const uint64_t *bits, size_t nbw, size_t nwords, bool repeat) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ nwords ^ ((uint64_t)repeat << 63);
    for (size_t i = 0; i < nbw; i++) {
        h ^= bits[i];
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    return h;
}

GM_API const gm_layout *gm_layout_make(const uint64_t *bits, size_t nwords, bool repeat) {
    if (nwords == 0 || nwords > ((size_t)1 << 40)) {
        errno = EINVAL;
        return NULL;
    }
    gm_ensure_init();
    size_t nbw = (nwords + 63) / 64;
    /* Bits past nwords are ignored: copy and mask them. */
    uint64_t last = bits[nbw - 1];
    if (nwords % 64)
        last &= (1ull << (nwords % 64)) - 1;
    uint64_t h = hash_layout(bits, nbw - 1, nwords, repeat) ^ (last * 0x94d049bb133111ebull);
    gm_mutex_lock(&layout_lock);
    gm_layout **b = &buckets[h % LAYOUT_BUCKETS];
    for (gm_layout *l = *b; l; l = l->next) {
        if (l->hash == h && l->nwords == nwords && l->repeat == repeat &&
            memcmp(l->bits, bits, (nbw - 1) * sizeof(uint64_t)) == 0 && l->bits[nbw - 1] == last) {
            gm_mutex_unlock(&layout_lock);
            return l;
        }
    }
    size_t bytes = sizeof(gm_layout) + nbw * sizeof(uint64_t);
    gm_layout *l = gm_os_alloc(bytes);
    if (!l)
        gm_fatal("out of memory for a %zu-word object layout", nwords);
    atomic_fetch_add_explicit(&gm_heap.meta, bytes, memory_order_relaxed);
    l->hash = h;
    l->nwords = nwords;
    l->repeat = repeat;
    memcpy(l->bits, bits, (nbw - 1) * sizeof(uint64_t));
    l->bits[nbw - 1] = last;
    l->next = *b;
    *b = l;
    gm_mutex_unlock(&layout_lock);
    return l;
}

static int get_typed_kind(void) {
    int k = atomic_load_explicit(&typed_kind, memory_order_acquire);
    if (GM_LIKELY(k))
        return k;
    gm_mutex_lock(&typed_kind_lock);
    k = atomic_load_explicit(&typed_kind, memory_order_relaxed);
    if (!k) {
        k = gm_kind_create(GM_KIND_SCAN_LAYOUT, false, NULL, NULL);
        if (k < 0)
            gm_fatal("no object kind left for typed objects (%d in use)", GM_MAX_KINDS);
        atomic_store_explicit(&typed_kind, k, memory_order_release);
    }
    gm_mutex_unlock(&typed_kind_lock);
    return k;
}

GM_API void *gm_alloc_typed(size_t size, const gm_layout *layout) {
    size_t total;
    if (!layout)
        return gm_alloc(size);
    if (__builtin_add_overflow(size, sizeof(uintptr_t), &total)) {
        errno = ENOMEM;
        return NULL;
    }
    gm_ensure_init();
    int k = get_typed_kind();
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    void *p = gm_kind_alloc_nostop(k, total);
    if (p) {
        gm_span *s = gm_span_of((uintptr_t)p);
        *(const gm_layout **)((char *)p + s->elemsize - sizeof(uintptr_t)) = layout;
    }
    gm_nostop_exit(t);
    if (!p)
        errno = ENOMEM;
    gm_gc_after_alloc();
    return p;
}

GM_NO_SANITIZE void gm_typed_scan(gm_gcwork *w, uintptr_t obj, uintptr_t end) {
    const gm_layout *l = *(const gm_layout **)(end - sizeof(uintptr_t));
    if (!l) { /* cannot happen (written at allocation); scan it all */
        gm_scan_range(w, obj, end - sizeof(uintptr_t));
        return;
    }
    size_t n = (end - obj) / sizeof(uintptr_t) - 1;
    if (!l->repeat && n > l->nwords)
        n = l->nwords;
    const uintptr_t *words = (const uintptr_t *)obj;
    size_t i = 0;
    while (i < n) {
        size_t chunk = n - i < l->nwords ? n - i : l->nwords;
        for (size_t j = 0; j < chunk; j += 64) {
            uint64_t b = l->bits[j / 64];
            if (chunk - j < 64)
                b &= (1ull << (chunk - j)) - 1;
            while (b) {
                unsigned bit = (unsigned)__builtin_ctzll(b);
                b &= b - 1;
                uintptr_t v = words[i + j + bit];
                if (gm_heap_range_contains(v))
                    gm_mark_value(w, v);
            }
        }
        i += chunk;
    }
    w->scanned_bytes += n * sizeof(uintptr_t);
}
