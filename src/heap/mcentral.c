/*
 * mcentral.c - per span class lists of spans, shared by all threads.
 *
 * Each span class has spans with free slots (partial) and without (full),
 * each in two sets: the swept set and the unswept set.  Which set is which
 * is (sweepgen / 2) % 2, so finishing a collection (sweepgen += 2) turns
 * every swept list into an unswept one without touching a span.
 *
 * A thread whose cached span is exhausted gives it back here (uncache) and
 * asks for another (cache_span): a swept partial span if there is one, else
 * an unswept span it sweeps itself (lazy sweeping, a bounded number), else
 * a fresh span from the page heap.  A span on a list belongs to the list: whoever pops it
 * under the lock owns it until it pushes it back or caches it.
 */
#include "gc/gc_for_heap.h"
#include "heap/heap_for_gc.h"
#include "heap/kinds.h"

gm_mcentral gm_central[GM_ALL_SPAN_CLASSES];
_Atomic uint64_t gm_heap_kept_empty;

void gm_mcentral_init(void) {
    for (int i = 0; i < GM_ALL_SPAN_CLASSES; i++) {
        gm_mcentral *c = &gm_central[i];
        c->spanclass = (uint8_t)i;
        for (int k = 0; k < 2; k++) {
            gm_list_init(&c->partial[k]);
            gm_list_init(&c->full[k]);
        }
    }
}

static void push(gm_mcentral *c, gm_span *s, bool partial, unsigned set) {
    GM_ASSERT(s->list == GM_LIST_NONE);       /* on one list at a time */
    GM_ASSERT(s->spanclass == c->spanclass);  /* on its own class's lists */
    GM_ASSERT(!s->cached);                    /* a cached span is on no list */
    GM_ASSERT(atomic_load_explicit(&s->state, memory_order_relaxed) == GM_SPAN_INUSE);
    s->list = partial ? GM_LIST_PARTIAL : GM_LIST_FULL;
    s->list_set = (uint8_t)set;
    gm_list_push(partial ? &c->partial[set] : &c->full[set], s);
}

static gm_span *pop(gm_span *head) {
    if (gm_list_empty(head))
        return NULL;
    gm_span *s = head->next;
    GM_ASSERT(s->list == GM_LIST_PARTIAL || s->list == GM_LIST_FULL);
    gm_list_remove(s);
    s->list = GM_LIST_NONE;
    return s;
}

/* Room for an allocation: a free slot now, or frees waiting to be applied. */
static bool has_room(gm_span *s) {
    return s->nalloc < s->nelems || atomic_load_explicit(&s->nfreed, memory_order_acquire) > 0;
}

/* Prepares a span the caller owns for allocation: applies pending frees and
 * points freeindex at the first free slot.  Returns false if it has none. */
static bool prepare(gm_span *s) {
    gm_span_apply_frees(s);
    s->nalloc = (uint16_t)gm_span_count_alloc(s);
    atomic_store_explicit(&s->freeindex, 0, memory_order_relaxed);
    gm_span_refill_cache(s);
    GM_ASSERT(s->nalloc <= s->nelems);
    return s->nalloc < s->nelems;
}

/* Spans are taken off the lists and put back without the lock held in
 * between: all of it runs inside the fork gate (gc/forkgate.c). */
static gm_span *cache_span(gm_mcentral *c);

gm_span *gm_mcentral_cache_span(gm_mcentral *c) {
    gm_forkgate_enter();
    gm_span *s = cache_span(c);
    gm_forkgate_exit();
    return s;
}

#define SWEEP_BUDGET 4

static gm_span *cache_span(gm_mcentral *c) {
    gm_mutex_lock(&c->lock);
    unsigned swept = gm_heap_swept_set(), unswept = swept ^ 1;
    gm_span *s;
    while ((s = pop(&c->partial[swept])) != NULL) {
        if (prepare(s))
            goto have;
        push(c, s, false, swept);
    }
    /* Sweep unswept spans until one has room (a span left empty is kept and
     * used, not freed to the page heap and taken back), or SWEEP_BUDGET
     * spans were swept; then a fresh span from the page heap, and the
     * background sweeper gets to the rest.  Unbounded, one refill swept a
     * whole class where the spans with room lay behind all the live ones (a
     * FIFO of messages: 27,000 spans, 27 ms); Go's budget of 100 still cost
     * 100 us per such refill (a span sweep is about 1 us here): the latency
     * ring's p99.9 went from 5.6 us at 4 to 9 us at 8 and 17 us at 16. */
    int budget = SWEEP_BUDGET;
    for (int which = 0; which < 2 && budget > 0; which++) {
        gm_span *head = which == 0 ? &c->partial[unswept] : &c->full[unswept];
        while (budget-- > 0 && (s = pop(head)) != NULL) {
            gm_mutex_unlock(&c->lock);
            gm_sweep_span(s, NULL);
            gm_mutex_lock(&c->lock);
            if (prepare(s))
                goto have;
            push(c, s, false, gm_heap_swept_set());
        }
    }
    gm_mutex_unlock(&c->lock);
    uint32_t sizeclass = gm_spanclass_sizeclass(c->spanclass);
    s = gm_heap_alloc_span(gm_class_to_npages[sizeclass], c->spanclass);
    if (!s)
        return NULL;
    gm_span_refill_cache(s);
    s->cached = true;
    return s;
have:
    gm_span_unkeep(s);
    s->cached = true;
    gm_mutex_unlock(&c->lock);
    return s;
}

void gm_mcentral_uncache_span(gm_mcentral *c, gm_span *s) {
    gm_span_fold_freeindex(s);
    s->nalloc = (uint16_t)gm_span_count_alloc(s);
    gm_mutex_lock(&c->lock);
    s->cached = false;
    push(c, s, has_room(s), gm_heap_swept_set());
    gm_mutex_unlock(&c->lock);
}

static void span_freed(gm_mcentral *c, gm_span *s, uint32_t incarnation);

void gm_mcentral_span_freed(gm_mcentral *c, gm_span *s, uint32_t incarnation) {
    gm_forkgate_enter();
    span_freed(c, s, incarnation);
    gm_forkgate_exit();
}

/* The caller's frees are published already, so another thread that
 * published the span's last ones may have freed it meanwhile (below), and
 * its record may hold another span by now, or be cleared for one (span.c):
 * nothing of it but incarnation is read until incarnation shows it is
 * still the caller's span.  Then it cannot be freed while the lock is held
 * (the sweeper does not hold it: the caller saw it swept, and nothing is
 * swept twice in one cycle). */
static void span_freed(gm_mcentral *c, gm_span *s, uint32_t incarnation) {
    gm_mutex_lock(&c->lock);
    if (atomic_load_explicit(&s->incarnation, memory_order_relaxed) != incarnation || s->cached ||
        s->list == GM_LIST_NONE || s->spanclass != c->spanclass ||
        atomic_load_explicit(&s->state, memory_order_acquire) != GM_SPAN_INUSE ||
        atomic_load_explicit(&s->sweepgen, memory_order_acquire) !=
            atomic_load_explicit(&gm_heap.sweepgen, memory_order_acquire)) {
        gm_mutex_unlock(&c->lock);
        return;
    }
    uint32_t nfreed = atomic_load_explicit(&s->nfreed, memory_order_acquire);
    if (nfreed >= s->nalloc && !gm_gc_marking()) { /* no span is freed while marking runs */
        /* Every object freed: a new incarnation first, for the threads that
         * wait for the lock to do the same.  The span is kept for reuse
         * while the kept bytes stay under GM_KEPT_EMPTY_MAX (a program that
         * frees a batch and allocates the next of the same size then never
         * goes to the page heap, its lock, a new span record and fresh
         * pages); else the pages go back to the page heap. */
        gm_list_remove(s);
        s->list = GM_LIST_NONE;
        atomic_fetch_add_explicit(&s->incarnation, 1, memory_order_relaxed);
        gm_mutex_unlock(&c->lock);
        gm_span_apply_frees(s);
        if (gm_span_count_alloc(s) == 0) {
            uint64_t bytes = s->npages << GM_PAGE_SHIFT;
            if (!s->specials && atomic_fetch_add_explicit(&gm_heap_kept_empty, bytes, memory_order_relaxed) +
                                        bytes <= GM_KEPT_EMPTY_MAX) {
                s->kept_empty = true;
                s->nalloc = 0;
                gm_mutex_lock(&c->lock);
                push(c, s, true, gm_heap_swept_set());
                gm_mutex_unlock(&c->lock);
                return;
            }
            if (!s->specials)
                atomic_fetch_sub_explicit(&gm_heap_kept_empty, bytes, memory_order_relaxed);
            gm_heap_free_span(s);
            return;
        }
        gm_mutex_lock(&c->lock);
        s->nalloc = (uint16_t)gm_span_count_alloc(s);
        push(c, s, true, gm_heap_swept_set());
        gm_mutex_unlock(&c->lock);
        return;
    }
    if (s->list == GM_LIST_FULL) {
        gm_list_remove(s);
        s->list = GM_LIST_NONE;
        push(c, s, true, s->list_set);
    }
    gm_mutex_unlock(&c->lock);
}

/* ------------------------------------------------------- the sweeper's side */

gm_span *gm_mcentral_take_unswept(gm_mcentral *c) {
    gm_mutex_lock(&c->lock);
    unsigned unswept = gm_heap_swept_set() ^ 1;
    gm_span *s = pop(&c->partial[unswept]);
    if (!s)
        s = pop(&c->full[unswept]);
    gm_mutex_unlock(&c->lock);
    return s;
}

void gm_mcentral_put_swept(gm_mcentral *c, gm_span *s) {
    gm_mutex_lock(&c->lock);
    push(c, s, has_room(s), gm_heap_swept_set());
    gm_mutex_unlock(&c->lock);
}

/* Large objects' spans: one list per sweep set, under gm_large.lock. */

void gm_large_add(gm_span *s) {
    gm_mutex_lock(&gm_large.lock);
    GM_ASSERT(s->list == GM_LIST_NONE);
    unsigned set = gm_heap_swept_set();
    s->list = GM_LIST_LARGE;
    s->list_set = (uint8_t)set;
    gm_list_push(&gm_large.set[set], s);
    gm_mutex_unlock(&gm_large.lock);
}

void gm_large_put_swept(gm_span *s) {
    gm_large_add(s);
}

gm_span *gm_large_take_unswept(void) {
    gm_mutex_lock(&gm_large.lock);
    gm_span *head = &gm_large.set[gm_heap_swept_set() ^ 1], *s = NULL;
    if (!gm_list_empty(head)) {
        s = head->next;
        GM_ASSERT(s->list == GM_LIST_LARGE);
        gm_list_remove(s);
        s->list = GM_LIST_NONE;
    }
    gm_mutex_unlock(&gm_large.lock);
    return s;
}

bool gm_large_remove(gm_span *s) {
    gm_mutex_lock(&gm_large.lock);
    bool listed = s->list == GM_LIST_LARGE;
    if (listed) {
        gm_list_remove(s);
        s->list = GM_LIST_NONE;
    }
    gm_mutex_unlock(&gm_large.lock);
    return listed;
}

/* ------------------------------------------------------------ whole heap */

void gm_heap_for_each_span(void (*fn)(gm_span *, void *), void *ctx) {
    for (int i = 0; i < GM_ALL_SPAN_CLASSES; i++) {
        gm_mcentral *c = &gm_central[i];
        gm_span *heads[4] = {&c->partial[0], &c->partial[1], &c->full[0], &c->full[1]};
        for (int h = 0; h < 4; h++)
            for (gm_span *s = heads[h]->next; s != heads[h]; s = s->next)
                fn(s, ctx);
    }
    for (int k = 0; k < 2; k++)
        for (gm_span *s = gm_large.set[k].next; s != &gm_large.set[k]; s = s->next)
            fn(s, ctx);
    gm_kinds_for_each_span(fn, ctx);
}

void gm_heap_fork_lock(bool lock) {
    if (lock) {
        for (int i = 0; i < GM_ALL_SPAN_CLASSES; i++)
            gm_mutex_lock(&gm_central[i].lock);
        for (int i = 1; i < atomic_load(&gm_nkinds); i++)
            gm_mutex_lock(&gm_kinds[i].lock);
        for (size_t i = 0, n = gm_kinds_ncentrals(); i < n; i++)
            gm_mutex_lock(&gm_kinds_central(i)->lock);
        gm_mutex_lock(&gm_large.lock);
        gm_mutex_lock(&gm_heap.lock);
        gm_mutex_lock(&gm_span_records_lock);
        gm_tiny_bounds_fork_lock(true);
    } else {
        gm_tiny_bounds_fork_lock(false);
        gm_mutex_unlock(&gm_span_records_lock);
        gm_mutex_unlock(&gm_heap.lock);
        gm_mutex_unlock(&gm_large.lock);
        for (size_t i = gm_kinds_ncentrals(); i-- > 0;)
            gm_mutex_unlock(&gm_kinds_central(i)->lock);
        for (int i = atomic_load(&gm_nkinds) - 1; i >= 1; i--)
            gm_mutex_unlock(&gm_kinds[i].lock);
        for (int i = GM_ALL_SPAN_CLASSES - 1; i >= 0; i--)
            gm_mutex_unlock(&gm_central[i].lock);
    }
}
