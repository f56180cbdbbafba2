/*
 * gomem.h - Go's memory management for C: the whole public native API.
 *
 * gomem gives a C program a garbage-collected heap (allocate with gm_alloc,
 * never free), goroutines whose stacks start small and grow, and channels.
 *
 * Heap.  Objects come from size classes (Go's table, 16-byte aligned from
 * 16 B up) held in per-thread caches; there is no lock on the allocation fast
 * path.  Every object is zeroed.  An object stays alive while a pointer to it
 * (or into it) is held in a root or in another live object:
 *
 *   - the stacks and registers of every registered thread, and the stacks of
 *     every parked goroutine;
 *   - the writable data segments (.data, .bss) of the executable and of every
 *     loaded shared object, re-read at every collection (dlopen works);
 *   - ranges added with gm_add_roots();
 *   - other live heap objects, unless allocated with gm_alloc_noscan().
 *
 * Not roots: memory from malloc()/mmap() (add it with gm_add_roots), and
 * __thread variables (keep a heap pointer held only in thread-local storage
 * reachable from a root too).
 *
 * Threads.  A thread is registered the first time it allocates and
 * unregistered when it exits.  A thread that holds heap pointers before it
 * allocates must call gm_thread_register() first.  The collector stops the
 * world with a signal (SIGPWR) and a handshake; the handler is installed with
 * SA_RESTART, so most interrupted system calls restart,
 * but calls that always fail with EINTR after a signal handler (see
 * signal(7): nanosleep returns the time left, epoll_wait, sem_timedwait, ...)
 * may return early while a collection runs.
 *
 * Configuration comes from the environment at start-up, with Go's names:
 *   GOMEM_GC=N|off      GC percent (default 100), like GOGC
 *   GOMEM_LIMIT=N[B|KiB|MiB|GiB|TiB]   soft memory limit, like GOMEMLIMIT
 *   GOMEM_PROCS=N       parallel mark workers (default: CPUs available)
 *   GOMEM_DEBUG=k=v,... gctrace=1 (one line per cycle on stderr),
 *                       gccheckmark=1 (verify marking with a second mark),
 *                       stackcheck=1 (copy stacks: catch pointers into a
 *                       shared stack sent over channels),
 *                       cleanupcheck=1 (catch a cleanup arg reaching obj)
 *   GOMEM_STACK=growable|copy   default goroutine stack kind
 *   GOMEM_STACK_MAX=N[B|KiB|MiB|GiB]  growable stack limit (default 8 MiB)
 * A malformed value stops the program at start-up with a message naming the
 * variable and the accepted forms.
 *
 * Errors.  Misuse that would corrupt memory (freeing a pointer that is not the
 * start of a live object, a double free, a stack overflow) stops the program
 * with "gomem: fatal error: ..." naming the values involved.
 */
#ifndef GOMEM_H
#define GOMEM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GOMEM_VERSION_MAJOR 0
#define GOMEM_VERSION_MINOR 1
#define GOMEM_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Allocation                                                               */
/* ------------------------------------------------------------------------ */

/* Allocates size bytes, zeroed, 16-byte aligned when size >= 16 (8-byte
 * aligned below).  The object may hold pointers to other heap objects and is
 * scanned conservatively.  gm_alloc(0) returns a unique non-NULL pointer.
 * Returns NULL with errno == ENOMEM if the size cannot be represented or the
 * system has no memory left (after the out-of-memory handler, if any). */
void *gm_alloc(size_t size);

/* Like gm_alloc, for objects that hold no heap pointers (strings, numbers,
 * pixels).  The collector never scans them, which is faster and avoids false
 * retention.  Objects under 16 bytes share 16-byte blocks (tiny allocator). */
void *gm_alloc_noscan(size_t size);

/* Allocates an array of n elements of elem_size bytes, zeroed.  Returns NULL
 * with errno == ENOMEM if n * elem_size overflows. */
void *gm_alloc_array(size_t elem_size, size_t n);

/* gm_new(T) allocates one zeroed T; gm_new_array(T, n) n zeroed T's. */
#define gm_new(T) ((T *)gm_alloc(sizeof(T)))
#define gm_new_array(T, n) ((T *)gm_alloc_array(sizeof(T), (size_t)(n)))

/* Resizes the object that starts at p to at least size bytes, keeping its
 * contents up to the smaller size; bytes beyond the old size are zero.  The
 * result keeps p's kind (scan or noscan); finalizers, cleanups and weak
 * handles stay with the old object and are dropped if it moves (as when
 * it is freed).  gm_realloc(NULL, n) is gm_alloc(n);
 * gm_realloc(p, 0) frees p and returns NULL.  Returns p itself when it is
 * already big enough.  On failure returns NULL with errno == ENOMEM and p is
 * untouched.  p must be the start of a live object (else fatal error). */
void *gm_realloc(void *p, size_t size);

/* Releases the object that starts at p now, instead of at the next collection.
 * Optional: never needed for correctness.  gm_free(NULL) does nothing.  A
 * pointer that is not the start of a live heap object, or a second free of the
 * same object, stops the program with "gomem: fatal error".  Freeing a noscan
 * object under 16 B does nothing: it shares its block, which the collector
 * reclaims. */
void gm_free(void *p);

/* Usable size of the object that p points into (its size class), or 0 if p
 * does not point into a live heap object.  For a noscan object under 16 B
 * (tiny allocator) it is the size that was asked for. */
size_t gm_size(const void *p);

/* Start of the live heap object that p points into (interior pointers
 * included), or NULL if p points into none. */
void *gm_base(const void *p);

/* ------------------------------------------------------------------------ */
/* Collection                                                               */
/* ------------------------------------------------------------------------ */

/* Runs a full collection and waits for it, like Go's runtime.GC(): marks,
 * then sweeps every span before returning. */
void gm_gc(void);

/* Sets the GC percent (GOMEM_GC, Go's GOGC) and returns the previous value.
 * A negative value turns the collector off (collections then run only by
 * gm_gc() or when the memory limit is reached). */
int gm_set_gc_percent(int percent);

/* Sets a heap size below which no paced collection starts (0 by default)
 * and returns the previous one: for programs that know they will need a
 * large heap and want no collections while it fills.  The memory limit
 * still caps the heap goal; gm_gc() still collects. */
uint64_t gm_set_heap_minimum(uint64_t bytes);

/* Sets the soft memory limit in bytes (GOMEM_LIMIT, Go's GOMEMLIMIT) and
 * returns the previous one.  A negative value only reads it.  INT64_MAX (the
 * default) means no limit. */
int64_t gm_set_memory_limit(int64_t bytes);

/* Makes [lo, hi) a root: every word in it is scanned at each collection.
 * Ranges are kept until removed; the range's memory must stay readable. */
void gm_add_roots(void *lo, void *hi);

/* Removes roots previously added that lie within [lo, hi). */
void gm_remove_roots(void *lo, void *hi);

/* Leaves [lo, hi) of the program's and its libraries' data segments out of
 * the roots (a large static table known to hold no heap pointers: less to
 * scan, nothing kept alive by its words), as bdwgc's
 * GC_exclude_static_roots.  Overlapping or touching exclusions merge; at
 * most 512 separate ones (more is a fatal error).  Ranges added with
 * gm_add_roots are scanned regardless.  gm_clear_root_exclusions drops them
 * all. */
void gm_exclude_roots(void *lo, void *hi);
void gm_clear_root_exclusions(void);

/* Keeps p reachable up to this call, like Go's runtime.KeepAlive. */
void gm_keep_alive(const void *p);

/* ------------------------------------------------------------------------ */
/* Threads                                                                  */
/* ------------------------------------------------------------------------ */

/* Registers the calling thread so its stack and registers are scanned.
 * Implicit on first allocation; needed for a thread that holds or moves
 * heap pointers before it allocates (one that takes pointers from a shared
 * table, say): an unregistered thread is neither stopped nor scanned by a
 * collection, so a pointer it moves while the collector marks can hide a
 * live object, which is then freed.  Returns 0, or 1 if already
 * registered. */
int gm_thread_register(void);

/* Unregisters the calling thread (implicit at thread exit).  Its stack is no
 * longer scanned; it must hold no heap pointers it still needs.  Returns 0,
 * or 1 if it was not registered. */
int gm_thread_unregister(void);

/* pthread_create for a thread that is registered before start_routine runs,
 * so heap pointers passed in arg are safe from the first instruction. */
int gm_thread_create(pthread_t *thread, const pthread_attr_t *attr,
                     void *(*start_routine)(void *), void *arg);

/* Runs fn(arg) as a blocking region: the collector does not wait for this
 * thread while fn runs (use it around long system calls).  Inside fn the
 * thread must not allocate nor read or write heap objects, except through
 * pointers the program also keeps elsewhere.  Returns fn's result. */
void *gm_blocking(void *(*fn)(void *), void *arg);

/* ------------------------------------------------------------------------ */
/* Statistics                                                               */
/* ------------------------------------------------------------------------ */

/* Go's runtime.MemStats, field for field in snake_case.  Byte counts. */
typedef struct gm_memstats {
    uint64_t alloc;          /* bytes of live heap objects (= heap_alloc) */
    uint64_t total_alloc;    /* cumulative bytes allocated */
    uint64_t sys;            /* bytes obtained from the OS, all purposes */
    uint64_t mallocs;        /* cumulative objects allocated */
    uint64_t frees;          /* cumulative objects freed (swept or gm_free) */
    uint64_t heap_alloc;     /* bytes of allocated heap objects */
    uint64_t heap_sys;       /* heap bytes reserved from the OS (committed) */
    uint64_t heap_idle;      /* bytes in spans with no objects */
    uint64_t heap_inuse;     /* bytes in spans with at least one object */
    uint64_t heap_released;  /* idle bytes returned to the OS */
    uint64_t heap_objects;   /* live objects */
    uint64_t stack_inuse;    /* goroutine stack bytes resident */
    uint64_t stack_sys;      /* goroutine stack bytes reserved */
    uint64_t next_gc;        /* heap goal of the next cycle */
    uint64_t last_gc;        /* end of last cycle, ns since the Unix epoch */
    uint64_t pause_total_ns; /* cumulative stop-the-world pause */
    uint64_t pause_ns[256];  /* recent pauses, circular, index num_gc%256 */
    uint32_t num_gc;         /* completed cycles */
    uint32_t num_forced_gc;  /* cycles forced by gm_gc() */
    double gc_cpu_fraction;  /* share of CPU time used by the collector */
    uint64_t finalizers_queued; /* cumulative finalizers queued */
    uint64_t finalizers_run;    /* cumulative finalizers run */
    uint64_t cleanups_queued;   /* cumulative cleanups queued */
    uint64_t cleanups_run;      /* cumulative cleanups run */
    /* 1 if the last cycle marked concurrently with the program (the kernel
     * reports written pages: userfaultfd asynchronous write-protect and
     * PAGEMAP_SCAN, Linux 6.7+), 0 if it stopped the world (older kernels,
     * GOMEM_DEBUG=gcstoptheworld=1, ulimit -v under 1 GiB, or object kinds
     * traced by client functions); before any cycle, whether the kernel
     * tracks writes. */
    uint32_t concurrent_mark;
} gm_memstats;

/* Fills *stats with a consistent snapshot. */
void gm_read_memstats(gm_memstats *stats);

/* Writes a heap profile to fd in pprof's format (gzip-compressed
 * profile.proto), as Go's pprof.WriteHeapProfile: for each call stack that
 * allocated sampled objects, alloc_objects and alloc_space (everything
 * allocated) and inuse_objects and inuse_space (not yet freed), estimated
 * from one sample per GOMEM_DEBUG=memprofilerate=N bytes (512 KiB by
 * default; 1 samples every object, 0 turns sampling off).  In-use figures
 * are as of the last collection whose sweep finished (after gm_gc() they
 * reflect that collection); before any collection, everything sampled so
 * far.  Read it with `go tool pprof PROGRAM FILE`.  GOMEM_HEAPPROFILE=path
 * writes one at exit.  Returns 0, or -1 with errno set (a write error, or
 * ENOMEM).  docs/profiling.md shows how to read one. */
int gm_write_heap_profile(int fd);

/* ------------------------------------------------------------------------ */
/* Finalizers, cleanups, weak pointers                                      */
/* ------------------------------------------------------------------------ */

typedef void (*gm_finalizer_fn)(void *obj, void *arg);
typedef void (*gm_cleanup_fn)(void *arg);

/* Sets fn to run with (obj, arg) once obj becomes unreachable, as Go's
 * runtime.SetFinalizer.  obj must be the start of a heap object.  One per
 * object; setting one replaces the old; fn == NULL clears it.  Finalizers run
 * in dependency order (if A points to B, A's runs first); a cycle of
 * finalizable objects is never collected.  The object is kept until its
 * finalizer has run and reclaimed a cycle later if still unreachable. */
void gm_set_finalizer(void *obj, gm_finalizer_fn fn, void *arg);

/* Attaches a cleanup, as Go 1.24's runtime.AddCleanup: fn(arg) runs after obj
 * becomes unreachable.  Several per object; unordered; arg must not reach obj
 * (else obj never becomes unreachable).  Returns a handle for
 * gm_cleanup_stop, or 0 if obj is not a heap object. */
uint64_t gm_add_cleanup(void *obj, gm_cleanup_fn fn, void *arg);

/* Cancels a cleanup that has not started.  Returns true if it was cancelled. */
bool gm_cleanup_stop(uint64_t handle);

/* Runs finalizers and cleanups queued so far on the calling thread; returns
 * how many ran. */
int gm_run_finalizers(void);

/* A weak pointer, as Go 1.24's weak.Pointer.  Handles made from the same
 * object compare equal. */
typedef struct gm_weak gm_weak;

/* Returns the weak handle for obj (which may be interior; the handle is for
 * its object), or NULL if obj is not a heap object. */
gm_weak *gm_weak_make(const void *obj);

/* Returns a strong pointer to the object, or NULL once the object has been
 * found unreachable (before its finalizer, if any, runs). */
void *gm_weak_get(gm_weak *w);

/* ------------------------------------------------------------------------ */
/* Typed objects, uncollectable objects, object kinds (for runtimes)        */
/* ------------------------------------------------------------------------ */

/* A layout says which words of an object hold heap pointers: bit i of
 * bits[i / 64] (i % 64) set means word i (bytes 8i..8i+7) is a pointer.
 * Words past nwords hold none, unless repeat is true, in which case the
 * layout repeats every nwords words (arrays of a struct).  Layouts are
 * interned and never freed: equal arguments give the same pointer.
 * Returns NULL with errno == EINVAL if nwords is 0. */
typedef struct gm_layout gm_layout;
const gm_layout *gm_layout_make(const uint64_t *bits, size_t nwords, bool repeat);

/* Allocates size bytes, zeroed, whose pointer words are those of layout:
 * the collector scans only those (precise heap scanning; roots stay
 * conservative).  The layout is kept in the object's last slot word, past
 * size.  NULL with errno == ENOMEM on failure. */
void *gm_alloc_typed(size_t size, const gm_layout *layout);

/* Allocates size bytes, zeroed, that are never collected: the object is a
 * root (scanned conservatively unless noscan) until gm_free releases it,
 * like malloc'ed memory that the collector scans. */
void *gm_alloc_uncollectable(size_t size, bool noscan);

/* Object kinds, for runtimes that trace their own objects.  A traced
 * object is not scanned by the collector: once it is found reachable, the
 * kind's function is called with the object, its usable size, a tracer
 * and the kind's env, and tells the collector what the object reaches
 * with gm_trace_mark (one pointer, interior pointers included; values that
 * point to no heap object are ignored) and gm_trace_range (a range of
 * words to scan conservatively, e.g. an interpreter's stack).  It runs
 * with the world stopped, on a collector thread, possibly several at once
 * on different objects: it must not allocate, take locks that a stopped
 * thread may hold, or call other gomem functions. */
typedef struct gm_tracer gm_tracer;
typedef void (*gm_trace_fn)(void *obj, size_t size, gm_tracer *tracer, void *env);
void gm_trace_mark(gm_tracer *tracer, const void *p);
void gm_trace_range(gm_tracer *tracer, const void *lo, const void *hi);

/* Kind flags.  GM_KIND_NOSCAN: objects hold no pointers (trace must be
 * NULL).  GM_KIND_UNCOLLECTABLE: objects are roots until gm_free. */
#define GM_KIND_NOSCAN 1u
#define GM_KIND_UNCOLLECTABLE 2u

/* Creates a kind: objects traced by trace (with env), or scanned
 * conservatively when trace is NULL.  Returns the kind (>= 1), or -1 with
 * errno == EINVAL for bad flags, ENOSPC when all 63 kinds are in use. */
int gm_kind_new(unsigned flags, gm_trace_fn trace, void *env);

/* Allocates size bytes, zeroed, of a kind from gm_kind_new (or 0, the
 * ordinary scanned heap).  NULL with errno == ENOMEM on failure; a kind
 * that does not exist stops the program with a fatal error. */
void *gm_alloc_kind(int kind, size_t size);

/* The kind of the live object p points into: 0 for ordinary objects, or
 * -1 if p points into no live heap object. */
int gm_kind_of(const void *p);

/* Root scanners: fn(tracer, arg) runs in every collection, world stopped,
 * after the built-in roots are queued, under the rules of trace functions
 * above.  Returns 0, or -1 with errno == ENOSPC past 16 scanners. */
int gm_add_root_scanner(void (*fn)(gm_tracer *tracer, void *arg), void *arg);

/* Collection events, for runtimes that keep statistics or caches:
 * GM_GC_START runs on the collector thread before it stops the world;
 * GM_GC_STOPPED with the world stopped, before marking (it must not
 * allocate nor take locks a stopped thread may hold); GM_GC_END after the
 * world restarts.  Returns 0, or -1 with errno == ENOSPC past 16 per
 * event. */
typedef enum gm_gc_event { GM_GC_START = 0, GM_GC_STOPPED = 1, GM_GC_END = 2 } gm_gc_event;
int gm_on_gc(gm_gc_event event, void (*fn)(void *arg), void *arg);

/* ------------------------------------------------------------------------ */
/* Goroutines                                                               */
/* ------------------------------------------------------------------------ */

/* Stack kinds: growable (a virtual reservation, pages committed by the
 * kernel as touched) or copy (runs on the thread's shared stack; the used
 * part is copied to a heap save area when the goroutine parks). */
typedef enum gm_stack_kind {
    GM_STACK_DEFAULT = 0, /* GOMEM_STACK, growable if unset */
    GM_STACK_GROWABLE = 1,
    GM_STACK_COPY = 2,
} gm_stack_kind;

typedef struct gm_go_options {
    gm_stack_kind stack_kind;
    size_t stack_max; /* growable limit in bytes; 0 = GOMEM_STACK_MAX */
} gm_go_options;

/* Starts fn(arg) as a goroutine on the calling thread's scheduler and returns
 * its id (> 0), or -1 with errno set if no stack could be had.  Goroutines
 * never move between threads.  The calling thread's own code is its first
 * goroutine; others run when it blocks (channel, wait group, gm_yield,
 * gm_sleep).  As in Go, the process exits when main returns. */
int64_t gm_go(void (*fn)(void *), void *arg);
int64_t gm_go_with(void (*fn)(void *), void *arg, const gm_go_options *opts);

/* Lets the other goroutines of this thread run. */
void gm_yield(void);

/* Parks the current goroutine for at least ns nanoseconds. */
void gm_sleep(int64_t ns);

/* Id of the current goroutine (a thread's own code has its own id). */
int64_t gm_goid(void);

/* Wait groups, as Go's sync.WaitGroup; may be shared across threads. */
typedef struct gm_waitgroup gm_waitgroup;
gm_waitgroup *gm_waitgroup_make(void);
void gm_waitgroup_add(gm_waitgroup *wg, int64_t delta);
void gm_waitgroup_done(gm_waitgroup *wg);
void gm_waitgroup_wait(gm_waitgroup *wg);

/* Channels of elements of elem_size bytes, buffered when cap > 0, as Go's.
 * May be shared across threads.  Sending on a closed channel and closing a
 * closed channel are fatal errors, as panics are in Go. */
typedef struct gm_chan gm_chan;
gm_chan *gm_chan_make(size_t elem_size, size_t cap);
void gm_chan_send(gm_chan *c, const void *elem);
/* Receives into *elem (may be NULL); returns false if the channel is closed
 * and drained (then *elem is zeroed). */
bool gm_chan_recv(gm_chan *c, void *elem);
void gm_chan_close(gm_chan *c);
/* Non-blocking variants: return true if the operation happened.  For
 * try_recv, *ok (may be NULL) is set false when it returns because the
 * channel is closed and drained. */
bool gm_chan_try_send(gm_chan *c, const void *elem);
bool gm_chan_try_recv(gm_chan *c, void *elem, bool *ok);
size_t gm_chan_len(gm_chan *c);
size_t gm_chan_cap(gm_chan *c);

/* Select over several channel operations, as Go's select: blocks until one
 * can proceed, chosen uniformly at random among the ready ones, and returns
 * its index.  With nonblocking, returns -1 at once if none is ready (Go's
 * default case).  For a receive, ok reports false when the channel is closed
 * and drained. */
typedef enum gm_select_dir { GM_SELECT_SEND = 1, GM_SELECT_RECV = 2 } gm_select_dir;
typedef struct gm_select_case {
    gm_chan *chan;
    gm_select_dir dir;
    void *elem; /* value to send, or where to receive (may be NULL) */
    bool ok;    /* out: for receives */
} gm_select_case;
int gm_select(gm_select_case *cases, int ncases, bool nonblocking);

#ifdef __cplusplus
}
#endif
#endif /* GOMEM_H */
