/*
 * heapprof.c - the heap profile: which call stacks hold the sampled objects.
 *
 * The heap layer picks the sampled objects (heap/sample.c) and calls the
 * hooks registered here.  Each sample is counted in a bucket, one per
 * (call stack, object size), and remembered in a record on its span's
 * profiled list, so that the sweep that finds the object dead, or the
 * gm_free that releases it, counts it freed in the same bucket.
 *
 * Invariant: a record exists exactly while its slot holds the sampled
 * object.  gm_free removes the record before the slot can be reused (it is
 * reused only after a reset or a sweep applies the free), and the sweep
 * removes the records of unmarked slots before it makes the marks the
 * allocation bits; so a span going back to the page heap has no records.
 *
 * Consistent in-use figures, as Go's mprof.  Allocations happen in real
 * time but frees are found only by the sweep after a mark, so counting
 * both as they happen would overstate what is in use.  Instead the
 * profile shows the heap as of a mark termination: with C the number of
 * mark terminations so far (gm_heap.sweepgen / 2, which only changes with
 * the world stopped),
 *   allocations and gm_free frees during C count towards snapshot C + 2;
 *   frees found by sweeping during C count towards snapshot C + 1;
 * and snapshot C + 1 is published (added to the bucket's active counts)
 * when every span has been swept after mark termination C (sweep_done),
 * or at the latest at mark termination C + 1.  Each bucket keeps its
 * pending counts in three slots indexed by snapshot number mod 3 and is
 * brought up to date lazily, whenever it is touched; an event for a
 * snapshot the bucket has already published goes into the active counts.
 * Before any snapshot has anything in it (no collection yet) the profile
 * shows everything recorded so far.
 *
 * Locking: one lock, prof_lock, over buckets and records.  It is a leaf
 * (nothing else is taken while it is held), and it is held only by threads
 * in a no-stop region or by the collector's own threads, never by a thread
 * the collector may stop: the collector's stop-the-world sweep takes it.
 * Samples are rare (one per 512 KiB by default), so one lock is enough.
 * Memory comes from gm_os_alloc: nothing here allocates from the heap it
 * profiles, and none of it is scanned, so records never keep their
 * objects alive.
 *
 * Stacks are taken with libgcc's unwinder (_Unwind_Backtrace, from the
 * .eh_frame tables every x86-64 and aarch64 object has), outside the
 * allocation's no-stop region: the unwinder takes the dynamic loader's
 * lock, which the collector holds while it stops the world.  The frames
 * of the allocator itself are cut off at the outermost of its entry
 * points (gm_alloc_entry_points).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <unwind.h>

#include "obs/heapprof.h"
#include "obs/pprof.h"

typedef struct prof_counts {
    uint64_t allocs, alloc_bytes, frees, free_bytes;
} prof_counts;

typedef struct prof_bucket {
    uint64_t hash;
    size_t size;
    prof_counts active;
    prof_counts pending[3]; /* by snapshot number mod 3 */
    uint32_t published;     /* the last snapshot added to active */
    uint32_t depth;
    uintptr_t pcs[];
} prof_bucket;

typedef struct prof_record {
    struct prof_record *next;
    uintptr_t obj;
    prof_bucket *bucket;
} prof_record;

static gm_mutex prof_lock = GM_MUTEX_INIT;
/* Buckets: open-addressed table of pointers, capacity a power of two, at
 * most half full; the buckets themselves are carved from chunks. */
static prof_bucket **table;
static size_t table_cap, nbuckets;
static gm_bump buckets;
static uint64_t bucket_bytes; /* memory of the chunks, for statistics */
/* Records: carved from chunks, recycled through a free list. */
static prof_record *free_records;
/* The last sweepgen / 2 whose sweep completed. */
static _Atomic uint32_t swept_cycle;
static uintptr_t entry_points[GM_ALLOC_ENTRY_POINTS];

#define CHUNK (256 * 1024)

static uint32_t current_cycle(void) {
    return atomic_load_explicit(&gm_heap.sweepgen, memory_order_acquire) / 2;
}

/* The snapshot a bucket must have published by now. */
static uint32_t target_snapshot(uint32_t c) {
    return c + (atomic_load_explicit(&swept_cycle, memory_order_acquire) == c ? 1 : 0);
}

static void add_counts(prof_counts *to, const prof_counts *from) {
    to->allocs += from->allocs;
    to->alloc_bytes += from->alloc_bytes;
    to->frees += from->frees;
    to->free_bytes += from->free_bytes;
}

/* Publishes the bucket's pending snapshots up to target.  Pending slots
 * only ever hold the two snapshots after the published one. */
static void catch_up(prof_bucket *b, uint32_t target) {
    uint32_t steps = target - b->published;
    if ((int32_t)steps <= 0)
        return;
    if (steps > 3)
        steps = 3;
    for (uint32_t i = 1; i <= steps; i++) {
        prof_counts *slot = &b->pending[(b->published + i) % 3];
        add_counts(&b->active, slot);
        memset(slot, 0, sizeof *slot);
    }
    b->published = target;
}

/* Counts an event for snapshot `snap` in b (under prof_lock). */
static prof_counts *counts_for(prof_bucket *b, uint32_t c, uint32_t snap) {
    catch_up(b, target_snapshot(c));
    if ((int32_t)(snap - b->published) <= 0)
        return &b->active;
    return &b->pending[snap % 3];
}

static void *chunk_alloc(size_t size) {
    void *p = gm_os_alloc(size);
    if (!p)
        gm_fatal("heap profile: out of memory allocating %zu bytes of records", size);
    atomic_fetch_add_explicit(&gm_heap.meta, size, memory_order_relaxed);
    return p;
}

static uint64_t hash_stack(size_t size, const uintptr_t *pcs, int depth) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ size;
    for (int i = 0; i < depth; i++) {
        h ^= pcs[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h;
}

static void table_insert(prof_bucket **t, size_t cap, prof_bucket *b) {
    size_t i = (size_t)b->hash & (cap - 1);
    while (t[i])
        i = (i + 1) & (cap - 1);
    t[i] = b;
}

static void table_grow(void) {
    size_t cap = table_cap ? table_cap * 2 : 1024;
    prof_bucket **t = chunk_alloc(cap * sizeof *t);
    for (size_t i = 0; i < table_cap; i++)
        if (table[i])
            table_insert(t, cap, table[i]);
    if (table)
        gm_os_free(table, table_cap * sizeof *table);
    table = t;
    table_cap = cap;
}

static prof_bucket *find_bucket(size_t size, const uintptr_t *pcs, int depth, uint32_t c) {
    uint64_t h = hash_stack(size, pcs, depth);
    if (table_cap) {
        for (size_t i = (size_t)h & (table_cap - 1); table[i]; i = (i + 1) & (table_cap - 1)) {
            prof_bucket *b = table[i];
            if (b->hash == h && b->size == size && b->depth == (uint32_t)depth &&
                memcmp(b->pcs, pcs, (size_t)depth * sizeof *pcs) == 0)
                return b;
        }
    }
    if ((nbuckets + 1) * 2 > table_cap)
        table_grow();
    size_t need = sizeof(prof_bucket) + (size_t)depth * sizeof(uintptr_t);
    need = (need + 15) & ~(size_t)15;
    prof_bucket *b = gm_bump_take(&buckets, need);
    if (!b) {
        gm_bump_reset(&buckets, chunk_alloc(CHUNK), CHUNK);
        bucket_bytes += CHUNK;
        b = gm_bump_take(&buckets, need);
        if (!b)
            gm_fatal("heap profile: a %zu-byte stack record does not fit a %zu-byte chunk", need, (size_t)CHUNK);
    }
    memset(b, 0, sizeof *b);
    b->hash = h;
    b->size = size;
    b->depth = (uint32_t)depth;
    b->published = target_snapshot(c);
    memcpy(b->pcs, pcs, (size_t)depth * sizeof *pcs);
    table_insert(table, table_cap, b);
    nbuckets++;
    return b;
}

static prof_record *record_alloc(void) {
    if (!free_records) {
        prof_record *r = chunk_alloc(CHUNK);
        size_t n = CHUNK / sizeof *r;
        for (size_t i = 0; i < n; i++) {
            r[i].next = free_records;
            free_records = &r[i];
        }
    }
    prof_record *r = free_records;
    free_records = r->next;
    return r;
}

static void record_free(prof_record *r) {
    r->next = free_records;
    free_records = r;
}

/* ------------------------------------------------------------------ hooks */

static void on_sampled(gm_span *s, uintptr_t obj, size_t size, const uintptr_t *pcs, int depth) {
    if (!s)
        return;
    gm_mutex_lock(&prof_lock);
    uint32_t c = current_cycle();
    prof_bucket *b = find_bucket(size, pcs, depth, c);
    prof_counts *n = counts_for(b, c, c + 2);
    n->allocs++;
    n->alloc_bytes += size;
    prof_record *r = record_alloc();
    r->obj = obj;
    r->bucket = b;
    r->next = s->profiled;
    __atomic_store_n(&s->profiled, r, __ATOMIC_RELEASE);
    gm_mutex_unlock(&prof_lock);
}

static void count_free(prof_bucket *b, uint32_t c, uint32_t snap) {
    prof_counts *n = counts_for(b, c, snap);
    n->frees++;
    n->free_bytes += b->size;
}

static void on_freed(gm_span *s, uintptr_t obj) {
    gm_mutex_lock(&prof_lock);
    uint32_t c = current_cycle();
    for (prof_record **link = (prof_record **)&s->profiled; *link; link = &(*link)->next) {
        prof_record *r = *link;
        if (r->obj == obj) {
            count_free(r->bucket, c, c + 2);
            __atomic_store_n(link, r->next, __ATOMIC_RELEASE);
            record_free(r);
            break;
        }
    }
    gm_mutex_unlock(&prof_lock);
}

static void on_sweep(gm_span *s) {
    gm_mutex_lock(&prof_lock);
    uint32_t c = current_cycle();
    for (prof_record **link = (prof_record **)&s->profiled; *link;) {
        prof_record *r = *link;
        uintptr_t i = gm_span_index(s, r->obj);
        if (!gm_span_marked(s, i) || gm_bit(s->free_bits, i)) {
            count_free(r->bucket, c, c + 1);
            __atomic_store_n(link, r->next, __ATOMIC_RELEASE);
            record_free(r);
        } else {
            link = &r->next;
        }
    }
    gm_mutex_unlock(&prof_lock);
}

static void on_sweep_done(uint32_t sg) {
    atomic_store_explicit(&swept_cycle, sg / 2, memory_order_release);
}

/* ----------------------------------------------------------------- stacks */

/* The allocator's own frames are among the first few. */
#define ALLOCATOR_FRAMES 16

typedef struct unwind_state {
    uintptr_t ips[ALLOCATOR_FRAMES + GM_SAMPLE_MAX_DEPTH];
    int n, cap;
    int cut; /* frames [0, cut) are the allocator's; -1 if no entry point seen */
} unwind_state;

static _Unwind_Reason_Code unwind_frame(struct _Unwind_Context *ctx, void *arg) {
    unwind_state *st = arg;
    int before = 0;
    uintptr_t ip = (uintptr_t)_Unwind_GetIPInfo(ctx, &before);
    if (!ip)
        return _URC_END_OF_STACK;
    if (!before)
        ip--; /* a return address: point into the call instruction */
    if (st->n < ALLOCATOR_FRAMES) {
        uintptr_t start = (uintptr_t)_Unwind_GetRegionStart(ctx);
        for (int e = 0; e < GM_ALLOC_ENTRY_POINTS; e++)
            if (start == entry_points[e])
                st->cut = st->n + 1;
    }
    st->ips[st->n++] = ip;
    return st->n >= st->cap ? _URC_END_OF_STACK : _URC_NO_REASON;
}

/* Fills pcs with the program's frames of this allocating call, the
 * allocating call first. */
static int capture_stack(uintptr_t *pcs, int max) {
    unwind_state st;
    if (max > GM_SAMPLE_MAX_DEPTH)
        max = GM_SAMPLE_MAX_DEPTH;
    st.n = 0;
    st.cut = -1;
    st.cap = ALLOCATOR_FRAMES + max;
    _Unwind_Backtrace(unwind_frame, &st);
    int first = st.cut >= 0 ? st.cut : 1; /* no entry point seen: drop only this frame */
    int n = 0;
    for (int i = first; i < st.n && n < max; i++)
        pcs[n++] = st.ips[i];
    return n;
}

/* ------------------------------------------------------------- snapshots */

bool gm_heapprof_snapshot_take(gm_heapprof_snapshot *snap) {
    memset(snap, 0, sizeof *snap);
    snap->rate = gm_cfg.memprofilerate;
    snap->time_ns = gm_walltime();
    gm_thread *t = gm_thread_current();
    for (;;) {
        size_t want = __atomic_load_n(&nbuckets, __ATOMIC_RELAXED) + 16;
        size_t bytes = want * sizeof(gm_heapprof_entry);
        bytes = (bytes + 4095) & ~(size_t)4095;
        gm_heapprof_entry *e = gm_os_alloc(bytes);
        if (!e)
            return false;
        gm_nostop_enter(t);
        gm_mutex_lock(&prof_lock);
        if (nbuckets > want) {
            gm_mutex_unlock(&prof_lock);
            gm_nostop_exit(t);
            gm_os_free(e, bytes);
            continue;
        }
        uint32_t target = target_snapshot(current_cycle());
        bool any_published = false;
        for (size_t i = 0; i < table_cap; i++) {
            prof_bucket *b = table[i];
            if (!b)
                continue;
            catch_up(b, target);
            if (b->active.allocs || b->active.frees)
                any_published = true;
        }
        size_t n = 0;
        for (size_t i = 0; i < table_cap; i++) {
            prof_bucket *b = table[i];
            if (!b)
                continue;
            prof_counts c = b->active;
            if (!any_published)
                for (int k = 0; k < 3; k++)
                    add_counts(&c, &b->pending[k]);
            if (!c.allocs && !c.frees)
                continue;
            gm_heapprof_entry *x = &e[n++];
            x->size = b->size;
            x->allocs = c.allocs;
            x->alloc_bytes = c.alloc_bytes;
            x->frees = c.frees;
            x->free_bytes = c.free_bytes;
            x->depth = b->depth;
            memcpy(x->pcs, b->pcs, b->depth * sizeof(uintptr_t));
        }
        gm_mutex_unlock(&prof_lock);
        gm_nostop_exit(t);
        snap->entries = e;
        snap->count = n;
        snap->mem_size = bytes;
        return true;
    }
}

void gm_heapprof_snapshot_free(gm_heapprof_snapshot *snap) {
    if (snap->entries)
        gm_os_free(snap->entries, snap->mem_size);
    snap->entries = NULL;
    snap->count = 0;
}

GM_API int gm_write_heap_profile(int fd) {
    gm_ensure_init();
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    gm_heapprof_snapshot snap;
    if (!gm_heapprof_snapshot_take(&snap)) {
        errno = ENOMEM;
        return -1;
    }
    int rc = gm_pprof_write_heap(fd, &snap);
    int err = errno;
    gm_heapprof_snapshot_free(&snap);
    errno = err;
    return rc;
}

static void write_at_exit(void) {
    const char *path = gm_cfg.heapprofile;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        gm_print("gomem: cannot write the heap profile (GOMEM_HEAPPROFILE=%s): %s\n", path,
                 strerror(errno));
        return;
    }
    if (gm_write_heap_profile(fd) != 0)
        gm_print("gomem: writing the heap profile to %s failed: %s\n", path, strerror(errno));
    if (close(fd) != 0)
        gm_print("gomem: closing the heap profile %s failed: %s\n", path, strerror(errno));
}

/* fork: the child must find prof_lock free.  Registered before the
 * collector's handlers, so it is taken after them (prepare handlers run in
 * reverse order), once no sweep can be under way. */
static void fork_prepare(void) {
    gm_mutex_lock(&prof_lock);
}

static void fork_release(void) {
    gm_mutex_unlock(&prof_lock);
}

void gm_heapprof_init(void) {
    pthread_atfork(fork_prepare, fork_release, fork_release);
    if (gm_cfg.memprofilerate > 0) {
        gm_alloc_entry_points(entry_points);
        gm_heap_prof.freed = on_freed;
        gm_heap_prof.sweep = on_sweep;
        gm_heap_prof.sweep_done = on_sweep_done;
        gm_heap_prof.sampled = on_sampled;
        gm_heap_prof.capture = capture_stack;
    }
    if (gm_cfg.heapprofile)
        atexit(write_at_exit);
}
