/*
 * mark.c - tri-color marking with work buffers and parallel workers.
 *
 * White objects have a clear mark bit; grey objects have their bit set and
 * their range queued in a work buffer; black objects have been scanned.  A
 * mark is one byte, set with a plain store: two workers may both find an
 * object white and both queue it, which costs a second scan and nothing
 * else, while a locked read-modify-write per object would cost more.  Each worker fills and drains its own buffer; full buffers
 * go to a global list that idle workers take from, and a worker that holds
 * a large buffer while others wait gives half of it away.  Marking ends
 * when every worker is waiting and the global list is empty.
 *
 * Scanning is conservative: every aligned word that points into an
 * allocated slot of an in-use span marks that slot (interior pointers
 * included).  Noscan objects are marked, never scanned.  Ranges longer than
 * GM_SCAN_CHUNK are split so large objects and segments spread over
 * workers.
 */
#include <pthread.h>
#include <string.h>

#include "gc/kindmark.h"

#define GM_SCAN_CHUNK (128 * 1024)

gm_arena_range gm_heap_arenas = {.lo = UINTPTR_MAX};

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t list_cond = PTHREAD_COND_INITIALIZER;
static gm_workbuf *full_list, *empty_list;
static size_t nbufs; /* buffers ever made: all are on empty_list between drains */
static int nwaiting, nactive;
/* Assists that hold grey work taken from full_list (under list_lock): the
 * workers may not call marking done while one does, or the work it gives
 * back would be left to the final stop (seen: 36 ms stops). */
static int assists_holding;
static bool mark_done;
static _Atomic int waiting_hint;
_Atomic uint64_t gm_scan_progress;
/* Set by an assist that found no grey work on the global list: the workers
 * then share half of their local buffers, as they do for an idle worker. */
static _Atomic int assist_hungry;

static void report_progress(gm_gcwork *w) {
    uint64_t n = w->scanned_bytes - w->reported_bytes;
    if (n) {
        atomic_fetch_add_explicit(&gm_scan_progress, n, memory_order_relaxed);
        w->reported_bytes = w->scanned_bytes;
    }
}

static pthread_mutex_t workers_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t workers_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t workers_done_cond = PTHREAD_COND_INITIALIZER;
static int workers_started;
static uint64_t work_epoch;
static int workers_wanted, workers_finished;
/* What each worker runs before it drains, for one drain (under workers_lock
 * while it is set; gm_mark_drain_parallel_job). */
static gm_mark_job work_job;
static void *work_job_ctx;
static gm_gcwork worker_work[GM_MAX_WORKERS];
static uint64_t worker_cpu_ns;

static gm_workbuf *get_empty(void) {
    pthread_mutex_lock(&list_lock);
    gm_workbuf *b = empty_list;
    if (b)
        empty_list = b->next;
    pthread_mutex_unlock(&list_lock);
    if (!b) {
        b = gm_os_alloc(sizeof(gm_workbuf));
        if (!b)
            gm_fatal("out of memory for mark work buffers (%zu bytes)", sizeof(gm_workbuf));
        pthread_mutex_lock(&list_lock);
        nbufs++;
        pthread_mutex_unlock(&list_lock);
    }
    b->n = 0;
    b->next = NULL;
    return b;
}

static void put_full(gm_workbuf *b) {
    pthread_mutex_lock(&list_lock);
    b->next = full_list;
    full_list = b;
    if (nwaiting)
        pthread_cond_signal(&list_cond);
    pthread_mutex_unlock(&list_lock);
}

static void put_empty(gm_workbuf *b) {
    pthread_mutex_lock(&list_lock);
    b->next = empty_list;
    empty_list = b;
    pthread_mutex_unlock(&list_lock);
}

GM_NOINLINE static void push_slow(gm_gcwork *w, uintptr_t lo, uintptr_t hi) {
    if (w->buf)
        put_full(w->buf);
    w->buf = get_empty();
    w->buf->r[w->buf->n++] = (gm_range){lo, hi};
}

GM_INLINE void push(gm_gcwork *w, uintptr_t lo, uintptr_t hi) {
    gm_workbuf *b = w->buf;
    GM_ASSERT(!b || b->n <= GM_WORKBUF_ENTRIES);
    if (GM_LIKELY(b && b->n < GM_WORKBUF_ENTRIES)) {
        b->r[b->n++] = (gm_range){lo, hi};
        return;
    }
    push_slow(w, lo, hi);
}

void gm_gcwork_push(gm_gcwork *w, uintptr_t lo, uintptr_t hi) {
    /* Word-aligned, so that the low bit of a queued start only ever marks
     * an object of a kind (gm_kind_scan). */
    lo = (lo + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    if (hi > lo)
        push(w, lo, hi);
}

void gm_gcwork_push_rescan(gm_gcwork *w, uintptr_t lo, uintptr_t hi) {
    GM_ASSERT(!(lo & (GM_RESCAN_TAG | GM_KIND_TAG)) && hi > lo && hi - lo <= GM_RESCAN_ITEM);
    push(w, lo | GM_RESCAN_TAG, hi);
}

void gm_gcwork_flush(gm_gcwork *w) {
    if (w->buf && w->buf->n) {
        put_full(w->buf);
        w->buf = NULL;
    }
}

static void forget_span(gm_gcwork *w) {
    w->span = NULL;
    w->span_first_page = w->span_npages = 0;
}

/* The scanning loop's state, kept in registers: the span cache and the
 * counters are copied out of the gm_gcwork (which lives in memory that the
 * compiler must assume the scanned words may alias) and written back once
 * per range. */
typedef struct mark_state {
    gm_span *span;
    uintptr_t first_page, npages;
    uint64_t bytes, objects;
} mark_state;

/* Marks the slot v points into, if any, and queues it for scanning. */
GM_NO_SANITIZE GM_INLINE bool mark_value(gm_gcwork *w, mark_state *m, uintptr_t v) {
    gm_span *s;
    if ((v >> GM_PAGE_SHIFT) - m->first_page < m->npages) {
        s = m->span;
    } else {
        s = gm_span_of(v);
        if (!s)
            return false;
        m->span = s;
        m->first_page = s->base >> GM_PAGE_SHIFT;
        m->npages = s->npages;
    }
    uintptr_t idx = gm_span_index(s, v);
    if (idx >= s->nelems)
        return false;
    if (atomic_load_explicit(&s->mark_bytes[idx], memory_order_relaxed))
        return false;
    if (!gm_span_allocated(s, idx))
        return false;
    atomic_store_explicit(&s->mark_bytes[idx], 1, memory_order_relaxed);
    uintptr_t size = s->elemsize;
    uintptr_t obj = s->base + idx * size;
    m->bytes += size;
    m->objects++;
    if (!gm_spanclass_noscan(s->spanclass))
        push(w, obj | (uintptr_t)(s->kind != 0), obj + size); /* tagged: gm_kind_scan */
    return true;
}

static void load_state(const gm_gcwork *w, mark_state *m) {
    m->span = w->span;
    m->first_page = w->span_first_page;
    m->npages = w->span_npages;
    m->bytes = m->objects = 0;
}

static void store_state(gm_gcwork *w, const mark_state *m) {
    w->span = m->span;
    w->span_first_page = m->first_page;
    w->span_npages = m->npages;
    w->marked_bytes += m->bytes;
    w->marked_objects += m->objects;
}

bool gm_mark_value(gm_gcwork *w, uintptr_t v) {
    forget_span(w);
    mark_state m;
    load_state(w, &m);
    bool white = mark_value(w, &m, v);
    store_state(w, &m);
    return white;
}

bool gm_is_marked(uintptr_t v) {
    gm_span *s = gm_span_of(v);
    if (!s)
        return true;
    uintptr_t idx = gm_span_index(s, v);
    if (idx >= s->nelems)
        return true;
    return gm_span_marked(s, idx);
}

GM_NO_SANITIZE void gm_scan_range(gm_gcwork *w, uintptr_t lo, uintptr_t hi) {
    lo = (lo + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    if (hi > lo && hi - lo > GM_SCAN_CHUNK) {
        push(w, lo + GM_SCAN_CHUNK, hi);
        hi = lo + GM_SCAN_CHUNK;
    }
    w->scanned_bytes += hi > lo ? hi - lo : 0;
    /* The heap's arena bounds do not change while the world is stopped. */
    uintptr_t arena_lo = atomic_load_explicit(&gm_heap_arenas.lo, memory_order_relaxed);
    uintptr_t arena_span = atomic_load_explicit(&gm_heap_arenas.hi, memory_order_relaxed) - arena_lo;
    mark_state m;
    load_state(w, &m);
    for (uintptr_t p = lo; p + sizeof(uintptr_t) <= hi; p += sizeof(uintptr_t)) {
        uintptr_t v = *(const uintptr_t *)p;
        if ((v >> GM_ARENA_SHIFT) - arena_lo < arena_span)
            mark_value(w, &m, v);
    }
    store_state(w, &m);
}

/* Scans one grey range: an object of a kind (tagged start) with its kind's
 * scan, a run of written pages (tagged start) by its marked objects,
 * anything else conservatively.  Every consumer of grey work comes through
 * here (drain, mark assists). */
GM_NO_SANITIZE GM_INLINE void scan_grey(gm_gcwork *w, gm_range r) {
    if (GM_UNLIKELY(r.lo & (GM_KIND_TAG | GM_RESCAN_TAG))) {
        if (r.lo & GM_KIND_TAG)
            gm_kind_scan(w, r.lo & ~GM_KIND_TAG, r.hi);
        else
            gm_concurrent_rescan_item(w, r.lo & ~GM_RESCAN_TAG, r.hi);
    } else {
        gm_scan_range(w, r.lo, r.hi);
    }
}

/* Gives half of a large local buffer to waiting workers. */
static void share(gm_gcwork *w) {
    gm_workbuf *b = w->buf;
    if (b->n < 8)
        return;
    gm_workbuf *half = get_empty();
    uint32_t k = b->n / 2;
    memcpy(half->r, b->r + (b->n - k), k * sizeof(gm_range));
    half->n = k;
    b->n -= k;
    put_full(half);
}

/* Objects are scanned a few pops after they are taken from the buffer, with
 * a prefetch issued when they are taken, so the memory is in cache (or on
 * its way) by the time it is read: marking is bound by cache misses. */
#define PREFETCH_DEPTH 16

static void drain(gm_gcwork *w) {
    unsigned since_share = 0;
    gm_range ring[PREFETCH_DEPTH];
    unsigned head = 0, count = 0;
    for (;;) {
        while ((w->buf && w->buf->n) || count) {
            if (w->buf && w->buf->n && count < PREFETCH_DEPTH) {
                gm_range r = w->buf->r[--w->buf->n];
                __builtin_prefetch((const void *)r.lo);
                ring[(head + count++) % PREFETCH_DEPTH] = r;
                if (count < PREFETCH_DEPTH && w->buf->n)
                    continue;
            }
            gm_range r = ring[head];
            head = (head + 1) % PREFETCH_DEPTH;
            count--;
            scan_grey(w, r);
            if (++since_share >= 32) {
                since_share = 0;
                if ((atomic_load_explicit(&waiting_hint, memory_order_relaxed) ||
                     atomic_load_explicit(&assist_hungry, memory_order_relaxed)) &&
                    w->buf)
                    share(w);
                if (w->scanned_bytes - w->reported_bytes >= (64u << 10))
                    report_progress(w);
            }
        }
        pthread_mutex_lock(&list_lock);
        while (!full_list && !mark_done) {
            nwaiting++;
            atomic_store_explicit(&waiting_hint, nwaiting, memory_order_relaxed);
            if (nwaiting == nactive && assists_holding == 0) {
                mark_done = true;
                pthread_cond_broadcast(&list_cond);
                nwaiting--;
                break;
            }
            pthread_cond_wait(&list_cond, &list_lock);
            nwaiting--;
            atomic_store_explicit(&waiting_hint, nwaiting, memory_order_relaxed);
        }
        if (!full_list) {
            pthread_mutex_unlock(&list_lock);
            report_progress(w);
            if (w->buf) {
                put_empty(w->buf);
                w->buf = NULL;
            }
            return;
        }
        gm_workbuf *b = full_list;
        full_list = b->next;
        pthread_mutex_unlock(&list_lock);
        if (w->buf)
            put_empty(w->buf);
        w->buf = b;
    }
}

static void *worker_main(void *arg) {
    int id = (int)(intptr_t)arg;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&workers_lock);
        while (work_epoch == seen || id >= workers_wanted)
            pthread_cond_wait(&workers_cond, &workers_lock);
        seen = work_epoch;
        gm_mark_job job = work_job;
        void *ctx = work_job_ctx;
        int n = workers_wanted;
        pthread_mutex_unlock(&workers_lock);
        uint64_t cpu0 = gm_thread_cputime();
        forget_span(&worker_work[id]);
        if (job)
            job(&worker_work[id], id, n, ctx);
        drain(&worker_work[id]);
        uint64_t cpu = gm_thread_cputime() - cpu0;
        pthread_mutex_lock(&workers_lock);
        worker_cpu_ns += cpu;
        workers_finished++;
        pthread_cond_signal(&workers_done_cond);
        pthread_mutex_unlock(&workers_lock);
    }
    return NULL;
}

static void start_workers(int n) {
    while (workers_started < n) {
        int err = gm_os_thread_start(worker_main, (void *)(intptr_t)(workers_started + 1));
        if (err)
            break; /* fewer workers: still correct */
        workers_started++;
    }
}

uint64_t gm_mark_take_worker_cpu(void) {
    pthread_mutex_lock(&workers_lock);
    uint64_t c = worker_cpu_ns;
    worker_cpu_ns = 0;
    pthread_mutex_unlock(&workers_lock);
    return c;
}

void gm_mark_forget_workers(void) {
    /* After fork: the worker threads are gone from the child. */
    workers_started = 0;
    work_epoch = 0;
    workers_wanted = 0;
    workers_finished = 0;
    pthread_mutex_init(&workers_lock, NULL);
    pthread_cond_init(&workers_cond, NULL);
    pthread_cond_init(&workers_done_cond, NULL);
    pthread_mutex_init(&list_lock, NULL);
    pthread_cond_init(&list_cond, NULL);
}

void gm_mark_drain_parallel(int nworkers, uint64_t *marked_bytes, uint64_t *marked_objects) {
    gm_mark_drain_parallel_job(nworkers, NULL, NULL, marked_bytes, marked_objects);
}

void gm_mark_drain_parallel_job(int nworkers, gm_mark_job job, void *ctx, uint64_t *marked_bytes,
                                uint64_t *marked_objects) {
    if (nworkers > GM_MAX_WORKERS)
        nworkers = GM_MAX_WORKERS;
    if (nworkers < 1)
        nworkers = 1;
    start_workers(nworkers - 1);
    if (nworkers - 1 > workers_started)
        nworkers = workers_started + 1;
    gm_gcwork *self = &worker_work[0];
    gm_gcwork_flush(self);
    pthread_mutex_lock(&list_lock);
    nactive = nworkers;
    nwaiting = 0;
    mark_done = false;
    pthread_mutex_unlock(&list_lock);
    for (int i = 1; i < nworkers; i++)
        worker_work[i].marked_bytes = worker_work[i].marked_objects = 0;
    pthread_mutex_lock(&workers_lock);
    workers_wanted = nworkers;
    workers_finished = 0;
    work_job = job;
    work_job_ctx = ctx;
    work_epoch++;
    pthread_cond_broadcast(&workers_cond);
    pthread_mutex_unlock(&workers_lock);
    forget_span(self);
    if (job)
        job(self, 0, nworkers, ctx);
    drain(self);
    pthread_mutex_lock(&workers_lock);
    while (workers_finished < nworkers - 1)
        pthread_cond_wait(&workers_done_cond, &workers_lock);
    workers_wanted = 0;
    work_job = NULL;
    work_job_ctx = NULL;
    pthread_mutex_unlock(&workers_lock);
#if GM_ASSERTS
    /* Marking ended with no work anywhere: every buffer is back on the
     * empty list, none full, none held by a worker.  (While marking runs
     * concurrently an assist may hold or return buffers at any time.) */
    if (!gm_gc_marking()) {
    pthread_mutex_lock(&list_lock);
    GM_ASSERT(full_list == NULL && mark_done);
    size_t nempty = 0;
    for (gm_workbuf *b = empty_list; b; b = b->next)
        nempty++;
    for (int i = 0; i < nworkers; i++)
        GM_ASSERT(worker_work[i].buf == NULL);
    GM_ASSERT(nempty == nbufs);
    pthread_mutex_unlock(&list_lock);
    }
#endif
    uint64_t bytes = 0, objects = 0;
    for (int i = 0; i < nworkers; i++) {
        bytes += worker_work[i].marked_bytes;
        objects += worker_work[i].marked_objects;
        worker_work[i].marked_bytes = worker_work[i].marked_objects = 0;
    }
    *marked_bytes = bytes;
    *marked_objects = objects;
}

/* Written by allocating threads (flushes, assists), so not on the cache
 * line of anything the markers read on every word (gm_heap_arena_*). */
_Alignas(64) _Atomic uint64_t gm_black_bytes;
_Atomic uint64_t gm_assist_bytes;

void gm_gc_add_black_bytes(uint64_t bytes) {
    atomic_fetch_add_explicit(&gm_black_bytes, bytes, memory_order_relaxed);
}

/* An assist: a mutator's bounded share of marking.  It takes grey ranges
 * from the global list (never from a worker's buffer), scans about budget
 * bytes, and gives back what it did not finish.  It runs inside the
 * allocation's no-stop region, so a stop never finds grey objects held in
 * an assist's private buffer.  If the workers ran out of work and finished
 * meanwhile, what it gives back is drained by the next rescan round or the
 * final stop, which drain the global list. */
/* The most of one range an assist scans before it looks at its budget. */
#define ASSIST_RANGE_MAX ((uintptr_t)64 << 10)

_Atomic uint64_t gm_assist_ns;

GM_NO_SANITIZE uint64_t gm_mark_assist(uint64_t budget) {
    uint64_t t0 = gm_thread_cputime();
    gm_gcwork w;
    memset(&w, 0, sizeof w);
    uint64_t scanned = 0;
    bool holding = false;
    while (scanned < budget) {
        if (!w.buf || w.buf->n == 0) {
            pthread_mutex_lock(&list_lock);
            gm_workbuf *b = full_list;
            if (b) {
                full_list = b->next;
                if (!holding)
                    assists_holding++;
                holding = true;
            }
            pthread_mutex_unlock(&list_lock);
            if (atomic_load_explicit(&assist_hungry, memory_order_relaxed) != (b == NULL))
                atomic_store_explicit(&assist_hungry, b == NULL, memory_order_relaxed);
            if (!b)
                break;
            if (w.buf)
                put_empty(w.buf);
            w.buf = b;
        }
        gm_range r = w.buf->r[--w.buf->n];
        if (!(r.lo & (GM_KIND_TAG | GM_RESCAN_TAG)) && r.hi - r.lo > ASSIST_RANGE_MAX) {
            /* The rest goes back in the slot just taken: an assist runs in
             * its thread's no-stop region, and one range can be a whole
             * large object (256 MiB took 80 ms, and every stop waited).
             * An object of a kind is scanned whole, by its kind's scan. */
            w.buf->r[w.buf->n++] = (gm_range){r.lo + ASSIST_RANGE_MAX, r.hi};
            r.hi = r.lo + ASSIST_RANGE_MAX;
        }
        uint64_t before = w.scanned_bytes;
        scan_grey(&w, r);
        scanned += w.scanned_bytes - before;
    }
    if (w.buf && w.buf->n)
        put_full(w.buf);
    else if (w.buf)
        put_empty(w.buf);
    if (holding) { /* what is left is back on full_list: let waiting workers look */
        pthread_mutex_lock(&list_lock);
        assists_holding--;
        if (nwaiting)
            pthread_cond_broadcast(&list_cond);
        pthread_mutex_unlock(&list_lock);
    }
    atomic_fetch_add_explicit(&gm_assist_bytes, w.marked_bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_scan_progress, scanned, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_assist_ns, gm_thread_cputime() - t0, memory_order_relaxed);
    return scanned;
}

void gm_mark_new_object(uintptr_t p, uint64_t *black_bytes) {
    gm_span *s = gm_span_of(p);
    GM_ASSERT(s != NULL); /* just allocated */
    gm_mark_new_slot(s, gm_span_index(s, p), black_bytes);
}

GM_NO_SANITIZE void gm_scan_now(gm_gcwork *w, uintptr_t lo, uintptr_t hi) {
    while (hi > lo) {
        uintptr_t end = hi - lo > GM_SCAN_CHUNK ? lo + GM_SCAN_CHUNK : hi;
        gm_scan_range(w, lo, end);
        lo = end;
    }
}

gm_gcwork *gm_mark_root_work(void) {
    forget_span(&worker_work[0]);
    return &worker_work[0];
}

void gm_mark_init(void) {}
