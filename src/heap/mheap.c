/*
 * mheap.c - the page heap: arenas, free runs of pages, coalescing.
 *
 * Address space is reserved in 64 MiB-aligned regions of whole arenas
 * (PROT_NONE, MAP_NORESERVE).  Each arena has a record with the span of each
 * of its pages, reached in O(1) through the two-level arena index.  Memory is committed
 * (made read/write) from the bottom of each arena up, in 2 MiB steps, as
 * spans are handed out: pages are always carved from the low end of a free
 * run, so everything above an arena's watermark is free and the mapping
 * stays two VMAs per arena at most.
 *
 * Free runs of pages are spans in state FREE, on an exact-size list (runs of
 * fewer than 128 pages) or on the large list; find_free prefers runs that
 * are already committed, then the lowest address.  A freed span merges with
 * free neighbours at once.  Each free span
 * knows whether its memory may be dirty (needzero) and whether it was given
 * back to the OS (scavenged; the pages then read as zero).
 *
 * Everything here runs under gm_heap.lock, except the scavenger's system
 * calls (see gm_heap_scavenge).
 */
#include <errno.h>
#include <string.h>

#include "gc/gc_for_heap.h"
#include "heap/heap.h"

#define COMMIT_STEP ((size_t)2 << 20)

gm_mheap gm_heap;
gm_arena_l2 *_Atomic gm_arena_l1[GM_ARENA_L1_LEN];

void gm_heap_init_lists(void) {
    for (int i = 0; i < GM_HEAP_EXACT_LISTS; i++)
        gm_list_init(&gm_heap.free_exact[i]);
    gm_list_init(&gm_heap.free_large);
    atomic_store(&gm_heap.sweepgen, 2);
}

static gm_arena *arena_of(uintptr_t p) {
    return gm_arena_lookup(p);
}

/* Points the index entry of arena number n at a, making its second-level
 * chunk if needed (a == NULL: only that).  False if the chunk's memory
 * could not be had. */
static bool index_arena(uintptr_t n, gm_arena *a) {
    _Atomic(gm_arena_l2 *) *l1 = &gm_arena_l1[n >> GM_ARENA_L2_BITS];
    gm_arena_l2 *l2 = atomic_load_explicit(l1, memory_order_acquire);
    if (!l2) {
        l2 = gm_os_alloc(sizeof *l2);
        if (!l2)
            return false;
        atomic_fetch_add_explicit(&gm_heap.meta, sizeof *l2, memory_order_relaxed);
        atomic_store_explicit(l1, l2, memory_order_release);
    }
    if (a)
        atomic_store_explicit(&l2->arenas[n & (((uintptr_t)1 << GM_ARENA_L2_BITS) - 1)], a,
                              memory_order_release);
    return true;
}

/* Points the arena index entries of pages [first, first+n) at s. */
static void set_spans(uintptr_t base, size_t npages, gm_span *s) {
    for (size_t i = 0; i < npages; i++) {
        uintptr_t p = base + (i << GM_PAGE_SHIFT);
        gm_arena *a = arena_of(p);
        atomic_store_explicit(&a->spans[(p & (GM_ARENA_SIZE - 1)) >> GM_PAGE_SHIFT], s,
                              memory_order_release);
    }
}

/* Sets or clears the untracked-page bits (gm_arena.notrack) of [base,
 * base + npages pages), a word at a time where it can. */
static void set_notrack(uintptr_t base, size_t npages, bool on) {
    for (size_t i = 0; i < npages;) {
        uintptr_t p = base + (i << GM_PAGE_SHIFT);
        gm_arena *a = arena_of(p);
        size_t page = (p & (GM_ARENA_SIZE - 1)) >> GM_PAGE_SHIFT;
        size_t n = 64 - (page & 63);
        if (n > npages - i)
            n = npages - i;
        if (n > GM_PAGES_PER_ARENA - page)
            n = GM_PAGES_PER_ARENA - page;
        uint64_t bits = (n == 64 ? ~0ull : ((1ull << n) - 1)) << (page & 63);
        if (on)
            atomic_fetch_or_explicit(&a->notrack[page >> 6], bits, memory_order_relaxed);
        else
            atomic_fetch_and_explicit(&a->notrack[page >> 6], ~bits, memory_order_relaxed);
        i += n;
    }
}

static void set_span_ends(gm_span *s) {
    set_spans(s->base, 1, s);
    if (s->npages > 1)
        set_spans(s->base + ((s->npages - 1) << GM_PAGE_SHIFT), 1, s);
}

static gm_span *free_list_for(size_t npages) {
    return npages < GM_HEAP_EXACT_LISTS ? &gm_heap.free_exact[npages] : &gm_heap.free_large;
}

/* Bytes of [base, base+size) that are committed. */
static size_t committed_part(uintptr_t base, size_t size) {
    size_t n = 0;
    uintptr_t end = base + size;
    for (uintptr_t p = base; p < end;) {
        gm_arena *a = arena_of(p);
        uintptr_t aend = a->base + GM_ARENA_SIZE;
        uintptr_t stop = end < aend ? end : aend;
        uintptr_t cend = a->base + a->committed;
        if (cend > p)
            n += (cend < stop ? cend : stop) - p;
        p = stop;
    }
    return n;
}

static void insert_free(gm_span *s) {
    GM_ASSERT(s->npages > 0 && s->list == GM_LIST_NONE);
    GM_ASSERT(s->nwords == 1); /* a free run's record has one bitmap word */
    atomic_store_explicit(&s->state, GM_SPAN_FREE, memory_order_release);
    s->list = GM_LIST_HEAP_FREE;
    set_span_ends(s);
    gm_list_push(free_list_for(s->npages), s);
}

static void remove_free(gm_span *s) {
    GM_ASSERT(s->list == GM_LIST_HEAP_FREE);
    GM_ASSERT(atomic_load_explicit(&s->state, memory_order_relaxed) == GM_SPAN_FREE);
    gm_list_remove(s);
    s->list = GM_LIST_NONE;
}

/* Merges free span b into free span a (b directly follows a). */
static void merge_into(gm_span *a, gm_span *b) {
    GM_ASSERT(a->base + (a->npages << GM_PAGE_SHIFT) == b->base); /* adjacent */
    GM_ASSERT(a->list == GM_LIST_NONE && b->list == GM_LIST_NONE);
    GM_ASSERT(arena_of(a->base) && arena_of(b->base)); /* both in the heap (a run may span arenas) */
    if (a->scavenged != b->scavenged) {
        /* Count the released pages of the merged run as not released. */
        gm_span *r = a->scavenged ? a : b;
        atomic_fetch_sub_explicit(&gm_heap.released,
                                  committed_part(r->base, r->npages << GM_PAGE_SHIFT),
                                  memory_order_relaxed);
        a->scavenged = false;
        a->needzero = true;
    } else {
        a->needzero = a->needzero || b->needzero;
    }
    if ((int32_t)(b->freed_gen - a->freed_gen) > 0)
        a->freed_gen = b->freed_gen; /* idle since the later of the two */
    a->npages += b->npages;
    gm_span_record_free(b);
}

/* Finds a free run of at least npages.  Preference: runs whose first
 * npages are committed and still hold their pages (no page faults), then
 * committed runs given back to the OS (the kernel supplies zeroed pages on
 * first touch), then the rest, so freed memory is reused before new memory
 * is committed (arenas are reserved at addresses the kernel picks, often
 * below the previous ones, so the lowest address alone is not enough).
 * Within each, exact sizes, then the lowest address, as Go's page
 * allocator. */
static gm_span *find_free(size_t npages) {
    size_t bytes = npages << GM_PAGE_SHIFT;
    gm_span *released = NULL, *fallback = NULL;
    for (size_t n = npages; n < GM_HEAP_EXACT_LISTS; n++) {
        gm_span *head = &gm_heap.free_exact[n];
        int looked = 0; /* a few per list: allocation stays O(1) */
        for (gm_span *s = head->next; s != head && looked < 8; s = s->next, looked++) {
            if (committed_part(s->base, bytes) == bytes) {
                if (!s->scavenged)
                    return s;
                if (!released)
                    released = s;
            } else if (!fallback) {
                fallback = s;
            }
        }
    }
    gm_span *best = NULL, *best_committed = NULL, *best_released = NULL;
    for (gm_span *s = gm_heap.free_large.next; s != &gm_heap.free_large; s = s->next) {
        if (s->npages < npages)
            continue;
        if (!best || s->base < best->base)
            best = s;
        if (committed_part(s->base, bytes) == bytes) {
            gm_span **slot = s->scavenged ? &best_released : &best_committed;
            if (!*slot || s->base < (*slot)->base)
                *slot = s;
        }
    }
    if (best_committed)
        return best_committed;
    if (released)
        return released;
    if (best_released)
        return best_released;
    return fallback ? fallback : best;
}

/* Reserves a new region for at least npages: whole arenas, or, when the
 * address space left will not hold them (a small ulimit -v), the largest
 * part of one arena, 2 MiB to 32 MiB, that holds the request. */
static bool grow(size_t npages) {
    size_t bytes = (npages << GM_PAGE_SHIFT);
    size_t size = (bytes + GM_ARENA_SIZE - 1) & ~(GM_ARENA_SIZE - 1);
    if (size < bytes)
        return false;
    void *region = gm_os_reserve(size, GM_ARENA_SIZE);
    for (size_t part = GM_ARENA_SIZE / 2; !region && part >= COMMIT_STEP && part >= bytes; part /= 2) {
        size = part;
        region = gm_os_reserve(size, GM_ARENA_SIZE);
    }
    if (!region)
        return false;
    uintptr_t base = (uintptr_t)region;
    if ((base + size) >> GM_ADDR_BITS) {
        gm_os_release(region, size);
        return false;
    }
    /* Write tracking for concurrent marking (src/os/dirty.c), armed once
     * for the arenas' whole life.  Where the kernel refuses, the region's
     * pages count as always written: correct, only the final stop of a
     * concurrent cycle rescans more. */
    bool untracked = gm_dirty_available() && !gm_dirty_register(region, size);
    /* The records (one block), all filled in, then published: a failure
     * leaves no record of space that is not the heap's. */
    size_t narenas = (size + GM_ARENA_SIZE - 1) / GM_ARENA_SIZE;
    gm_arena *recs = gm_os_alloc(narenas * sizeof(gm_arena));
    bool ok = recs != NULL;
    for (size_t i = 0; ok && i < narenas; i++) {
        uintptr_t p = base + i * GM_ARENA_SIZE;
        ok = index_arena(p >> GM_ARENA_SHIFT, NULL);
        recs[i].base = p;
        recs[i].committed = 0;
        recs[i].untracked = untracked;
        recs[i].limit = base + size - p < GM_ARENA_SIZE ? base + size - p : GM_ARENA_SIZE;
    }
    if (!ok) {
        if (recs)
            gm_os_free(recs, narenas * sizeof(gm_arena));
        gm_os_release(region, size);
        return false;
    }
    for (size_t i = 0; i < narenas; i++)
        index_arena(recs[i].base >> GM_ARENA_SHIFT, &recs[i]);
    atomic_fetch_add_explicit(&gm_heap.meta, narenas * sizeof(gm_arena), memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_heap.reserved, size, memory_order_relaxed);
    /* Widen the address bounds the collector filters candidate pointers by. */
    uintptr_t first = base >> GM_ARENA_SHIFT, end = (base + size + GM_ARENA_SIZE - 1) >> GM_ARENA_SHIFT;
    uintptr_t lo = atomic_load(&gm_heap_arenas.lo);
    while (first < lo && !atomic_compare_exchange_weak(&gm_heap_arenas.lo, &lo, first))
        ;
    uintptr_t hi = atomic_load(&gm_heap_arenas.hi);
    while (end > hi && !atomic_compare_exchange_weak(&gm_heap_arenas.hi, &hi, end))
        ;
    gm_span *s = gm_span_record_alloc(1);
    s->base = base;
    s->npages = size >> GM_PAGE_SHIFT;
    s->needzero = false;
    s->scavenged = false;
    set_notrack(s->base, s->npages, true);
    insert_free(s);
    return true;
}

/* Makes [base, base+size) read/write, raising each arena's watermark. */
static bool commit(uintptr_t base, size_t size) {
    uintptr_t end = base + size;
    for (uintptr_t p = base; p < end;) {
        gm_arena *a = arena_of(p);
        uintptr_t aend = a->base + GM_ARENA_SIZE;
        uintptr_t stop = end < aend ? end : aend;
        size_t need = stop - a->base;
        if (need > a->committed) {
            size_t target = (need + COMMIT_STEP - 1) & ~(COMMIT_STEP - 1);
            if (target > a->limit)
                target = a->limit;
            if (!gm_os_commit((void *)(a->base + a->committed), target - a->committed))
                return false;
            atomic_fetch_add_explicit(&gm_heap.sys, target - a->committed, memory_order_relaxed);
            __atomic_store_n(&a->committed, target, __ATOMIC_RELEASE); /* read by concurrent marking */
        }
        p = stop;
    }
    return true;
}

gm_span *gm_heap_alloc_span(size_t npages, uint8_t spanclass) {
    gm_mutex_lock(&gm_heap.lock);
    gm_span *s = find_free(npages);
    size_t want = npages << GM_PAGE_SHIFT;
    if (!s || committed_part(s->base, want) < want) {
        /* Reuse the last cycle's garbage before committing more. */
        gm_mutex_unlock(&gm_heap.lock);
        gm_sweep_reclaim(npages);
        gm_mutex_lock(&gm_heap.lock);
        s = find_free(npages); /* the lock was dropped: look again */
    }
    if (!s) {
        if (!grow(npages)) {
            gm_mutex_unlock(&gm_heap.lock);
            return NULL;
        }
        s = find_free(npages);
    }
    remove_free(s);
    if (s->npages > npages) {
        gm_span *rest = gm_span_record_alloc(1);
        rest->base = s->base + (npages << GM_PAGE_SHIFT);
        rest->npages = s->npages - npages;
        rest->needzero = s->needzero;
        rest->scavenged = s->scavenged;
        rest->freed_gen = s->freed_gen;
        s->npages = npages;
        insert_free(rest);
    }
    size_t bytes = npages << GM_PAGE_SHIFT;
    if (!commit(s->base, bytes)) {
        insert_free(s);
        gm_mutex_unlock(&gm_heap.lock);
        return NULL;
    }
    if (s->scavenged) {
        atomic_fetch_sub_explicit(&gm_heap.released, bytes, memory_order_relaxed);
        s->scavenged = false;
    }
    /* The record of a free span has one bitmap word; an in-use span needs
     * as many as its slot count asks for. */
    uint32_t sizeclass = gm_spanclass_sizeclass(spanclass);
    uint16_t nwords = sizeclass ? (uint16_t)((gm_class_to_nobjs[sizeclass] + 63) / 64) : 1;
    gm_span *r = s;
    if (nwords != s->nwords) {
        r = gm_span_record_alloc(nwords);
        r->base = s->base;
        r->npages = s->npages;
        r->needzero = s->needzero;
        gm_span_record_free(s);
    }
    gm_span_init_objects(r, spanclass);
    atomic_store_explicit(&r->sweepgen, atomic_load_explicit(&gm_heap.sweepgen, memory_order_relaxed),
                          memory_order_relaxed);
    r->list = GM_LIST_NONE;
    set_spans(r->base, npages, r);
    if (!gm_spanclass_noscan(spanclass)) /* free pages were untracked */
        set_notrack(r->base, npages, false);
    atomic_store_explicit(&r->state, GM_SPAN_INUSE, memory_order_release);
    atomic_fetch_add_explicit(&gm_heap.inuse, bytes, memory_order_relaxed);
    gm_mutex_unlock(&gm_heap.lock);
    return r;
}


/* Puts free run f on the free lists, merged with the free runs beside it. */
static void coalesce_and_insert(gm_span *f) {
    /* Runs merge within an arena, not across the boundary of two: regions
     * are often reserved next to each other, and a run spanning them would
     * be carved from its low end, the part of the lower arena not yet
     * committed, while the other arena's committed pages sat idle. */
    bool at_arena_start = (f->base & (GM_ARENA_SIZE - 1)) == 0;
    bool at_arena_end = ((f->base + (f->npages << GM_PAGE_SHIFT)) & (GM_ARENA_SIZE - 1)) == 0;
    gm_span *prev = at_arena_start ? NULL : gm_span_of_raw(f->base - 1);
    if (prev && atomic_load_explicit(&prev->state, memory_order_relaxed) == GM_SPAN_FREE &&
        prev->base + (prev->npages << GM_PAGE_SHIFT) == f->base) {
        remove_free(prev);
        merge_into(prev, f);
        f = prev;
    }
    uintptr_t after = f->base + (f->npages << GM_PAGE_SHIFT);
    gm_span *next = at_arena_end ? NULL : gm_span_of_raw(after);
    if (next && atomic_load_explicit(&next->state, memory_order_relaxed) == GM_SPAN_FREE && next->base == after) {
        remove_free(next);
        merge_into(f, next);
    }
#if GM_ASSERTS
    /* Coalescing is complete: no free run of the same arena touches f on
     * either side. */
    bool starts_arena = (f->base & (GM_ARENA_SIZE - 1)) == 0;
    gm_span *below = !starts_arena && arena_of(f->base - 1) ? gm_span_of_raw(f->base - 1) : NULL;
    GM_ASSERT(!below || below == f || atomic_load_explicit(&below->state, memory_order_relaxed) != GM_SPAN_FREE ||
              below->base + (below->npages << GM_PAGE_SHIFT) != f->base);
    uintptr_t end = f->base + (f->npages << GM_PAGE_SHIFT);
    bool ends_arena = (end & (GM_ARENA_SIZE - 1)) == 0;
    gm_span *above = !ends_arena && arena_of(end) ? gm_span_of_raw(end) : NULL;
    GM_ASSERT(!above || atomic_load_explicit(&above->state, memory_order_relaxed) != GM_SPAN_FREE ||
              above->base != end);
#endif
    insert_free(f);
}

void gm_heap_free_span(gm_span *s) {
    GM_ASSERT(atomic_load_explicit(&s->state, memory_order_relaxed) == GM_SPAN_INUSE);
    GM_ASSERT(s->list == GM_LIST_NONE && !s->cached && !s->specials);
    gm_span_unkeep(s);
    gm_tiny_bounds_free(s);
    gm_mutex_lock(&gm_heap.lock);
    size_t bytes = s->npages << GM_PAGE_SHIFT;
    atomic_fetch_sub_explicit(&gm_heap.inuse, bytes, memory_order_relaxed);
    set_notrack(s->base, s->npages, true);
    /* Interior pages map to nothing; the ends map to the free span. */
    if (s->npages > 2)
        set_spans(s->base + GM_PAGE_SIZE, s->npages - 2, NULL);
    gm_span *f = s;
    if (s->nwords != 1) {
        f = gm_span_record_alloc(1);
        f->base = s->base;
        f->npages = s->npages;
        gm_span_record_free(s);
    }
    f->needzero = true;
    f->scavenged = false;
    f->specials = NULL;
    f->freed_gen = atomic_load_explicit(&gm_heap.sweepgen, memory_order_relaxed);
    coalesce_and_insert(f);
    gm_mutex_unlock(&gm_heap.lock);
}

/* The scavenger gives back free runs that have been free for at least
 * min_idle_gens sweep generations (2 per cycle), in batches: under the
 * lock it takes up to SCAVENGE_BATCH_BYTES of runs off the free lists
 * (state RELEASING), then releases their pages with the lock dropped
 * (madvise of 256 MiB of touched pages takes tens of milliseconds, and an
 * allocating thread waiting for the lock holds up any stop of the world),
 * then puts them back, merged with what was freed beside them meanwhile.
 * The fork gate keeps a fork from landing while runs are off the lists. */
#define SCAVENGE_BATCH_BYTES ((uint64_t)16 << 20)
#define SCAVENGE_BATCH_RUNS 32

static size_t take_batch(gm_span *head, uint64_t want, uint32_t min_idle_gens, gm_span **batch) {
    size_t n = 0;
    uint64_t bytes = 0;
    uint32_t sg = atomic_load_explicit(&gm_heap.sweepgen, memory_order_relaxed);
    for (gm_span *s = head->next, *next; s != head && n < SCAVENGE_BATCH_RUNS && bytes < want; s = next) {
        next = s->next;
        if (s->scavenged || sg - s->freed_gen < min_idle_gens)
            continue;
        size_t size = s->npages << GM_PAGE_SHIFT;
        if (committed_part(s->base, size) != size)
            continue; /* straddles the commit mark: a released run is whole,
                       * so its bytes stay what gm_heap.released counts */
        remove_free(s);
        atomic_store_explicit(&s->state, GM_SPAN_RELEASING, memory_order_release);
        batch[n++] = s;
        bytes += size;
    }
    return n;
}

static uint64_t scavenge_list(gm_span *head, uint64_t *excess, uint32_t min_idle_gens) {
    uint64_t done = 0;
    gm_span *batch[SCAVENGE_BATCH_RUNS];
    bool released[SCAVENGE_BATCH_RUNS];
    while (*excess > 0) {
        gm_forkgate_enter();
        gm_mutex_lock(&gm_heap.lock);
        uint64_t want = *excess < SCAVENGE_BATCH_BYTES ? *excess : SCAVENGE_BATCH_BYTES;
        size_t n = take_batch(head, want, min_idle_gens, batch);
        gm_mutex_unlock(&gm_heap.lock);
        for (size_t i = 0; i < n; i++) /* the pages stay, with their contents, if it fails */
            released[i] = gm_os_dontneed((void *)batch[i]->base, batch[i]->npages << GM_PAGE_SHIFT);
        uint64_t batch_done = 0;
        gm_mutex_lock(&gm_heap.lock);
        for (size_t i = 0; i < n; i++) {
            gm_span *s = batch[i];
            if (released[i]) {
                uint64_t c = s->npages << GM_PAGE_SHIFT;
                s->scavenged = true;
                s->needzero = false;
                atomic_fetch_add_explicit(&gm_heap.released, c, memory_order_relaxed);
                batch_done += c;
                *excess = *excess > c ? *excess - c : 0;
            }
            coalesce_and_insert(s);
        }
        gm_mutex_unlock(&gm_heap.lock);
        gm_forkgate_exit();
        done += batch_done;
        if (batch_done == 0) /* nothing left to take, or the system refuses */
            break;
    }
    return done;
}

uint64_t gm_heap_scavenge(uint64_t keep, uint32_t min_idle_gens) {
    gm_mutex_lock(&gm_heap.lock);
    uint64_t sys = atomic_load_explicit(&gm_heap.sys, memory_order_relaxed);
    uint64_t inuse = atomic_load_explicit(&gm_heap.inuse, memory_order_relaxed);
    uint64_t released = atomic_load_explicit(&gm_heap.released, memory_order_relaxed);
    gm_mutex_unlock(&gm_heap.lock);
    uint64_t unreleased_idle = sys - inuse - released;
    uint64_t excess = unreleased_idle > keep ? unreleased_idle - keep : 0;
    uint64_t done = 0;
    /* Large runs first: fewest system calls per byte. */
    done += scavenge_list(&gm_heap.free_large, &excess, min_idle_gens);
    for (int n = GM_HEAP_EXACT_LISTS - 1; n > 0 && excess > 0; n--)
        done += scavenge_list(&gm_heap.free_exact[n], &excess, min_idle_gens);
    return done;
}

void gm_heap_idle_bytes(uint64_t *idle, uint64_t *released) {
    uint64_t sys = atomic_load_explicit(&gm_heap.sys, memory_order_relaxed);
    uint64_t inuse = atomic_load_explicit(&gm_heap.inuse, memory_order_relaxed);
    *idle = sys > inuse ? sys - inuse : 0;
    *released = atomic_load_explicit(&gm_heap.released, memory_order_relaxed);
}
