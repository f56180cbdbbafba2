/*
 * sample.c - which allocations the heap profile samples, off the fast path.
 *
 * As Go's heap profiler: on average one sample per gm_cfg.memprofilerate
 * bytes allocated (512 KiB by default), the distance from one sample to the
 * next drawn from an exponential distribution, so that allocation patterns
 * with a period do not line up with the samples.  A sampled object of size
 * s stands for 1 / (1 - exp(-s / rate)) objects (the profile writer scales
 * by that).  Rate 1 samples every object.
 *
 * Small objects.  Each span class keeps its own countdown of bytes,
 * left[sc].  The exponential distribution has no memory, so per-class
 * countdowns sample each byte with the same probability as one shared
 * countdown would.  The fast path never reads the countdown: the refill
 * slow path, each time it loads a span's alloc_cache (at most 64 free
 * slots), debits the countdown for all of them at once, and if the sample
 * falls among them it cuts alloc_cache short just before the sampled slot.
 * That slot's allocation then comes back to the slow path, where
 *
 *   gm_sample_refill_begin sees the countdown run out and, the first time,
 *   makes the refill return NULL with want_stack set, so that the public
 *   call (malloc.c) takes the caller's stack outside the no-stop region
 *   (the unwinder takes the dynamic loader's lock, which the collector
 *   holds while it stops the world) and retries;
 *   gm_sample_refill_end, on the retry, records the object with that stack
 *   and draws the next distance.
 *
 * Invariant: after gm_sample_refill_end, left[sc] counts the bytes from the
 * end of the cached slots to the next sample, and is >= 0.  Slots the
 * collector discards with a flushed alloc_cache were debited but never
 * allocated: the next sample of that class comes that much early (at most
 * 64 objects per class per collection).
 *
 * Tiny and large objects always take the slow path; they share one byte
 * countdown, left_other, checked before the allocation.
 */
#include <math.h>

#include "heap/heap.h"

gm_heap_profiler gm_heap_prof;

#define MAX_DISTANCE ((int64_t)1 << 40)

static uint64_t next_random(gm_mcache_sampler *sm) {
    /* xorshift64* */
    uint64_t x = sm->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    sm->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Bytes to the next sample: exponential with mean rate (0 for rate 1). */
static int64_t draw_distance(gm_mcache_sampler *sm) {
    int64_t rate = gm_cfg.memprofilerate;
    if (rate <= 1)
        return rate == 1 ? 0 : MAX_DISTANCE;
    /* u uniform in (0, 1]. */
    double u = ((double)(next_random(sm) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double d = -log(u) * (double)rate;
    return d >= (double)MAX_DISTANCE ? MAX_DISTANCE : (int64_t)d;
}

void gm_sample_init(gm_mcache *mc) {
    gm_mcache_sampler *sm = &mc->sampler;
    sm->rng = (gm_nanotime() ^ (uint64_t)(uintptr_t)mc) * 0x9e3779b97f4a7c15ull | 1;
    for (int sc = 0; sc < GM_ALL_SPAN_CLASSES; sc++)
        sm->left[sc] = draw_distance(sm);
    sm->left_other = draw_distance(sm);
    sm->want_stack = false;
    sm->depth = 0;
}

void gm_sample_reseed(uint64_t seed) {
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    gm_mcache_release_all(t->mcache); /* no alloc_cache cut by the old draws */
    gm_mcache_sampler *sm = &t->mcache->sampler;
    sm->rng = seed * 0x9e3779b97f4a7c15ull | 1;
    for (int sc = 0; sc < GM_ALL_SPAN_CLASSES; sc++)
        sm->left[sc] = draw_distance(sm);
    sm->left_other = draw_distance(sm);
    sm->depth = 0;
    sm->want_stack = false;
    gm_nostop_exit(t);
}

void gm_sample_capture(gm_mcache *mc) {
    gm_mcache_sampler *sm = &mc->sampler;
    sm->want_stack = false;
    sm->depth = gm_heap_prof.capture ? gm_heap_prof.capture(sm->stack, GM_SAMPLE_MAX_DEPTH) : 0;
    if (sm->depth <= 0) {
        sm->stack[0] = 0; /* no frames known: one unknown frame */
        sm->depth = 1;
    }
}

void gm_sample_record(gm_mcache *mc, gm_span *s, void *p, size_t size) {
    gm_mcache_sampler *sm = &mc->sampler;
    if (gm_heap_prof.sampled && sm->depth > 0)
        gm_heap_prof.sampled(s, (uintptr_t)p, size, sm->stack, sm->depth);
    sm->depth = 0;
}

bool gm_sample_refill_begin(gm_mcache *mc, uint8_t sc) {
    gm_mcache_sampler *sm = &mc->sampler;
    int64_t size = (int64_t)gm_class_to_size[gm_spanclass_sizeclass(sc)];
    if (sm->left[sc] >= size || sm->depth > 0)
        return true;
    sm->want_stack = true;
    return false;
}

/* Bits set in c, inline: without -mpopcnt the builtin is a libgcc call,
 * which cost more than the rest of the refill's bookkeeping. */
static inline unsigned count_bits(uint64_t c) {
    c = c - ((c >> 1) & 0x5555555555555555ull);
    c = (c & 0x3333333333333333ull) + ((c >> 2) & 0x3333333333333333ull);
    c = (c + (c >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((c * 0x0101010101010101ull) >> 56);
}

/* alloc_cache with only its lowest k set bits kept. */
static uint64_t keep_lowest(uint64_t c, unsigned k) {
    uint64_t kept = 0;
    while (k-- > 0 && c) {
        uint64_t low = c & -c;
        kept |= low;
        c ^= low;
    }
    return kept;
}

void gm_sample_refill_end(gm_mcache *mc, uint8_t sc, void *p) {
    gm_mcache_sampler *sm = &mc->sampler;
    gm_span *s = mc->alloc[sc];
    int64_t size = (int64_t)s->elemsize;
    int64_t left = sm->left[sc] - size;
    if (left < 0) {
        gm_sample_record(mc, s, p, (size_t)size);
        left = draw_distance(sm);
    }
    /* The slots alloc_cache offers the fast path: bits from freeindex on,
     * below nelems. */
    unsigned fi = atomic_load_explicit(&s->freeindex, memory_order_relaxed);
    unsigned room = s->nelems > fi ? s->nelems - fi : 0;
    uint64_t c = s->alloc_cache;
    if (room < 64)
        c &= room ? (1ull << room) - 1 : 0;
    int64_t cached = (int64_t)count_bits(c) * size;
    if (left >= cached) {
        left -= cached;
    } else {
        int64_t k = left / size; /* slots wholly before the next sample */
        s->alloc_cache = keep_lowest(c, (unsigned)k);
        left -= k * size;
    }
    sm->left[sc] = left;
}

bool gm_sample_other(gm_mcache *mc, size_t size) {
    gm_mcache_sampler *sm = &mc->sampler;
    int64_t left = sm->left_other - (int64_t)(size < (size_t)MAX_DISTANCE ? size : (size_t)MAX_DISTANCE);
    if (left >= 0) {
        sm->left_other = left;
        return false;
    }
    sm->left_other = draw_distance(sm);
    gm_sample_capture(mc);
    return true;
}
