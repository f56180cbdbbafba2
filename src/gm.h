/*
 * gm.h - the ground floor's header: what every layer shares.
 *
 * The common macros (GM_ASSERT among them), the os layer's calls (virtual
 * memory, locks, futexes, barriers, signals, threads, stopping the world)
 * and the configuration.  Each upper layer has its own header beside its
 * sources (heap/heap.h, gc/gc.h, task/task.h), and the heap and collector
 * declare the calls between them in gc/gc_for_heap.h and
 * heap/heap_for_gc.h.  Nothing here is public: include/gomem.h is the API.
 *
 * Naming: gm_ is the prefix of everything; the domain words come from Go's
 * runtime and mean one thing everywhere:
 *   page      8 KiB, the unit of the page heap
 *   arena     64 MiB of address space reserved PROT_NONE, committed as used
 *   span      a run of pages holding one large object or many objects of one
 *             size class; its allocation and mark bitmaps live in the span
 *             record, out of band
 *   spanclass size class * 2 + noscan
 *   mcache    a thread's current span per span class (no lock)
 *   mcentral  per span class lists of spans with and without free slots
 *   mheap     the page heap: free runs of pages, coalesced
 *   sweepgen  a span is swept when span->sweepgen == mheap.sweepgen
 *
 * Threads and safe points.  The collector stops the world with a signal.  A
 * thread is never stopped inside the allocator or a goroutine switch: those
 * regions are bracketed with gm_nostop_enter/gm_nostop_exit, and a stop
 * request that arrives inside one is deferred to its exit.  So while the
 * world is stopped every mcache and every scheduler is quiescent, and the
 * collector may flush or walk them.
 */
#ifndef GM_H
#define GM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>

#include "gomem.h"

#define GM_LIKELY(x) __builtin_expect(!!(x), 1)
#define GM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GM_NOINLINE __attribute__((noinline))
#define GM_INLINE static inline __attribute__((always_inline))
/* The first member of a struct that must have its cache lines to itself
 * (its size rounds up to whole lines): state that one thread writes often
 * must not share a line with what other threads read on every call (the
 * finalizer queue's counters shared one with the flag gm_set_finalizer
 * reads, and each finalizer run cost the allocating thread a miss). */
#define GM_CACHE_LINE 64
#define GM_OWN_LINES _Alignas(GM_CACHE_LINE)
#define GM_API __attribute__((visibility("default")))
#define GM_NORETURN __attribute__((noreturn))
#define GM_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Functions that read memory conservatively (any word may look like a
 * pointer, stacks are read below other frames) are skipped by sanitizers. */
#define GM_NO_SANITIZE \
    __attribute__((no_sanitize("address", "thread", "undefined"))) \
    __attribute__((no_sanitize_address))

#define GM_PAGE_SHIFT 13
#define GM_PAGE_SIZE ((size_t)1 << GM_PAGE_SHIFT) /* 8 KiB */
#define GM_ARENA_SHIFT 26
#define GM_ARENA_SIZE ((size_t)1 << GM_ARENA_SHIFT) /* 64 MiB */
#define GM_PAGES_PER_ARENA (GM_ARENA_SIZE / GM_PAGE_SIZE)
#define GM_ADDR_BITS 48
#define GM_ARENA_INDEX_LEN ((size_t)1 << (GM_ADDR_BITS - GM_ARENA_SHIFT))
#define GM_MAX_SMALL_SIZE 32768
#define GM_TINY_SIZE 16
#define GM_MAX_OBJS_PER_SPAN 1024 /* 8 KiB / 8 B */
#define GM_BITMAP_WORDS (GM_MAX_OBJS_PER_SPAN / 64)

#include "heap/sizeclasses.h" /* generated: GM_NUM_SIZE_CLASSES, tables */

#define GM_NUM_SPAN_CLASSES (GM_NUM_SIZE_CLASSES * 2)

/* ---------------------------------------------------------------- errors */

/* GM_ASSERT(cond) states an invariant of a design comment.  It is compiled
 * into debug and sanitizer builds (GM_ASSERTS=1, set by CMake) and out of
 * release builds, where it costs nothing and does not evaluate cond.  A
 * failure stops the program naming the invariant, the file and the line. */
#ifndef GM_ASSERTS
#define GM_ASSERTS 0
#endif
#if GM_ASSERTS
#define GM_ASSERT(cond) \
    (GM_LIKELY(cond) ? (void)0 : gm_assert_fail(#cond, __FILE__, __LINE__, __func__))
#else
#define GM_ASSERT(cond) ((void)sizeof(!(cond)))
#endif
GM_NORETURN void gm_assert_fail(const char *cond, const char *file, int line, const char *func);

GM_NORETURN void gm_fatal(const char *fmt, ...) GM_PRINTF(1, 2);
/* Set by the heap: writes its figures (reserved, committed, in use) into
 * buf for the line gm_fatal prints after its message. */
extern void (*_Atomic gm_fatal_figures)(char *buf, size_t n);
void gm_print(const char *fmt, ...) GM_PRINTF(1, 2); /* to stderr, no malloc */
/* Writes at most n bytes of formatted text to buf; async-signal-safe subset
 * of printf (%s %d %u %ld %lu %zu %p %x %lx %llu %lld %c %%, widths). */
int gm_snprintf(char *buf, size_t n, const char *fmt, ...) GM_PRINTF(3, 4);
void gm_write_stderr(const char *s, size_t n);

/* -------------------------------------------------------------- os layer */

/* Fault injection for the tests (src/os/fault.c): true if this request
 * should fail (GOMEM_FAULT). */
typedef enum gm_fault_kind {
    GM_FAULT_RESERVE,
    GM_FAULT_COMMIT,
    GM_FAULT_ALLOC,
    GM_FAULT_MADVISE,
    GM_FAULT_STACK,
    GM_FAULT_KINDS
} gm_fault_kind;
bool gm_fault(gm_fault_kind kind);
uint64_t gm_fault_calls(gm_fault_kind kind); /* requests of the kind counted so far */

/* Virtual memory (src/os/vm.c). */
void *gm_os_reserve(size_t size, size_t align); /* PROT_NONE, NULL on fail */
bool gm_os_commit(void *p, size_t size);          /* make read/write */
void gm_os_decommit(void *p, size_t size);        /* back to PROT_NONE */
void gm_os_release(void *p, size_t size);         /* give back the range */
bool gm_os_dontneed(void *p, size_t size);        /* pages to zero, RSS down; false: kept */
void *gm_os_alloc(size_t size);                   /* read/write, zeroed */
void gm_os_free(void *p, size_t size);
/* Makes the gm_os_alloc array *p of *cap elements of elem bytes (the first
 * used of them kept) hold at least want: doubles it (first elements the
 * first time), copies, frees the old one; adds what it grew by to
 * *counted if not NULL.  False, and *p as it was, if out of memory. */
bool gm_os_grow(void **p, size_t *cap, size_t used, size_t elem, size_t want, size_t first,
                _Atomic uint64_t *counted);
/* guard + size bytes, read/write and committed on touch, the lowest guard
 * bytes PROT_NONE; returns the start of the guard, NULL with errno. */
void *gm_os_map_guarded(size_t guard, size_t size);
size_t gm_os_resident(const void *lo, const void *hi); /* bytes, page aligned range */
bool gm_os_page_resident(const void *p);
/* The process's memory maps and the kernel's limit on them
 * (vm.max_map_count); -1 if unknown (src/os/proc.c). */
long gm_os_map_count(void);
long gm_os_max_map_count(void);
/* The address-space limit (RLIMIT_AS, ulimit -v) in bytes, UINT64_MAX if
 * none. */
uint64_t gm_os_address_space_limit(void);

/* A bump allocator's position in its current chunk of gm_os_alloc memory,
 * kept in a library global.  The library's data segment is scanned as a
 * root, so its pointers never hold the address just past the chunk: the
 * kernel may map an arena right there, and that address is then the
 * arena's first object, which such a pointer kept alive (test_gc_own_globals
 * caught the heap profiler's chunk ending at the first arena's base).  So
 * cur becomes NULL when the chunk is used up, and the end is kept as a
 * count of bytes left. */
typedef struct gm_bump {
    char *cur;
    size_t left;
} gm_bump;
/* n bytes from the current chunk, or NULL if it has fewer left. */
GM_INLINE void *gm_bump_take(gm_bump *b, size_t n) {
    if (!b->cur || b->left < n)
        return NULL;
    char *p = b->cur;
    b->left -= n;
    b->cur = b->left ? p + n : NULL;
    return p;
}
/* Starts a new chunk (the rest of the old one is abandoned). */
GM_INLINE void gm_bump_reset(gm_bump *b, void *chunk, size_t size) {
    b->cur = chunk;
    b->left = size;
}

/* Dirty-page tracking (src/os/dirty.c): userfaultfd asynchronous
 * write-protect plus PAGEMAP_SCAN.  gm_dirty_init decides once, at start,
 * whether the kernel supports it (refused: why not to use it, or NULL);
 * gm_dirty_register arms tracking on a reserved range (an arena) for good;
 * gm_dirty_collect calls fn on each run of pages in [lo, hi) (which must
 * be registered) written since they were last re-protected, re-protects
 * them if reprotect (else they stay written), and returns their bytes (fn
 * may be NULL: just count or reset); gm_dirty_release removes the
 * protection from [lo, hi) (every page there then reads as written), so
 * that writes between cycles take no fault. */
void gm_dirty_init(const char *refused);
bool gm_dirty_available(void);
const char *gm_dirty_unavailable_reason(void);
bool gm_dirty_register(void *p, size_t size);
uint64_t gm_dirty_collect(uintptr_t lo, uintptr_t hi, bool reprotect,
                          void (*fn)(uintptr_t lo, uintptr_t hi, void *ctx), void *ctx);
void gm_dirty_release(uintptr_t lo, uintptr_t hi);
/* In a forked child: gives tracking up (it belongs to the parent). */
void gm_dirty_forked_child(void);

/* Signals for the upper layers (src/os/signal.c).  gm_os_on_segv installs
 * a SIGSEGV handler that runs on the alternate signal stack and calls fn
 * with the fault address; if fn returns, the fault goes to the handler that
 * was installed before (or the default action), so other users of SIGSEGV
 * keep working.  Installed once, the first call's fn wins.
 * gm_os_altstack_add gives the calling thread an alternate signal stack of
 * at least size bytes unless it has one (returns the memory it mapped, to
 * pass to gm_os_altstack_remove, or NULL); */
void gm_os_on_segv(void (*fn)(void *addr));
void *gm_os_altstack_add(size_t size, size_t *mapped);
void gm_os_altstack_remove(void *stack, size_t mapped);
size_t gm_os_page_size(void);
int gm_os_ncpu(void);
uint64_t gm_nanotime(void);  /* monotonic */
uint64_t gm_walltime(void);  /* ns since the Unix epoch */
uint64_t gm_thread_cputime(void);
uint64_t gm_process_cputime(void);

/* The callee-saved registers, stored unmangled (src/os/spill.c), for a
 * thread whose stack is scanned from its own frame; returns the stack
 * address to scan from (below the caller's whole frame). */
#define GM_SPILLED_WORDS 20
typedef struct gm_spilled_regs { uintptr_t w[GM_SPILLED_WORDS]; } gm_spilled_regs;
void *gm_os_spill_registers(gm_spilled_regs *out);

/* Zeroes bytes of the dead stack below the caller's frame (src/os/scrub.c),
 * where deep frames left heap addresses a conservative scan would find. */
void gm_os_scrub_stack(size_t bytes);

/* A mutex that is safe to take in the allocator (no allocation, futex based,
 * spins briefly). */
typedef struct gm_mutex { _Atomic uint32_t state; } gm_mutex;
#define GM_MUTEX_INIT {0}
void gm_mutex_lock_slow(gm_mutex *m);
void gm_mutex_unlock_slow(gm_mutex *m);
GM_INLINE void gm_mutex_lock(gm_mutex *m) {
    uint32_t expected = 0;
    if (!atomic_compare_exchange_strong_explicit(&m->state, &expected, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        gm_mutex_lock_slow(m);
}
GM_INLINE void gm_mutex_unlock(gm_mutex *m) {
    if (atomic_exchange_explicit(&m->state, 0, memory_order_release) != 1)
        gm_mutex_unlock_slow(m);
}
bool gm_mutex_trylock(gm_mutex *m);

/* A lock whose unlock is a plain store (src/os/futex.c), for locks taken
 * and released at a high rate by one thread at a time, such as a channel's
 * between two goroutines.  The unlocker stores 0 and then reads whether
 * anyone sleeps; a thread about to sleep counts itself in waiters and
 * fences with gm_os_cold_fence, so one of the two sees the other (the
 * asymmetric barriers of src/os/barrier.c).  A contended wait costs a
 * membarrier(2) call on top of the futex wait. */
typedef struct gm_lightlock {
    _Atomic uint32_t state;   /* 0 free, 1 held */
    _Atomic uint32_t waiters; /* threads asleep or about to sleep on state */
} gm_lightlock;
void gm_lightlock_lock_slow(gm_lightlock *l);
GM_INLINE void gm_lightlock_lock(gm_lightlock *l) {
    uint32_t expected = 0;
    if (!atomic_compare_exchange_strong_explicit(&l->state, &expected, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        gm_lightlock_lock_slow(l);
}
void gm_lightlock_wake(gm_lightlock *l);
GM_INLINE void gm_lightlock_unlock(gm_lightlock *l);

/* futex wrappers (src/os/futex.c): wait while *addr == val; timeout_ns < 0
 * waits forever.  Returns on wake, on timeout, or on a signal. */
void gm_futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns);
void gm_futex_wake(_Atomic uint32_t *addr, int n);
/* Spins (with a pause) while *addr == val, for at most max_ns; true if it
 * changed.  For a wait that is usually a few microseconds: a futex sleep
 * lets a virtual CPU halt, and waking it again cost tens to hundreds. */
bool gm_spin_while_equal(_Atomic uint32_t *addr, uint32_t val, uint64_t max_ns);

/* A one-shot-or-repeating event for parking threads: notify wakes a waiter. */
typedef struct gm_note { _Atomic uint32_t seq; } gm_note;
GM_INLINE uint32_t gm_note_seq(gm_note *n) { return atomic_load_explicit(&n->seq, memory_order_acquire); }
void gm_note_wait(gm_note *n, uint32_t seen, int64_t timeout_ns); /* until seq != seen */
void gm_note_notify_all(gm_note *n);

/* --------------------------------------------------------------- threads */

typedef struct gm_mcache gm_mcache;
typedef struct gm_task_sched gm_task_sched; /* src/task: per-thread scheduler */

/* A registered thread.  Records live in memory from gm_os_alloc and are kept
 * on the global thread list while the thread is registered. */
typedef struct gm_thread {
    struct gm_thread *next, *prev; /* global list, under gm_threads_lock */
    pthread_t pthread;
    pid_t tid;
    uint64_t id;
    /* Bounds of the stack this thread is executing on now.  The scheduler
     * updates them when it switches goroutine stacks (inside a no-stop
     * region).  stack_hi is the end the stack grows away from. */
    void *stack_lo, *stack_hi;
    /* The thread's own (pthread) stack, as found at registration. */
    void *os_stack_lo, *os_stack_hi;
    /* Set by the stop handler: the stack pointer at the stop, after the
     * registers were spilled below it. */
    void *_Atomic stopped_sp;
    _Atomic uint32_t stopped_epoch; /* the stop it last answered */
    bool stop_signaled;             /* signalled by the stop in progress */
    /* No-stop regions: depth, and a stop that arrived inside one. */
    volatile sig_atomic_t nostop;
    volatile sig_atomic_t stop_pending;
    /* Inside gm_blocking: the collector does not wait for this thread; its
     * stack is scanned from blocking_sp. */
    _Atomic int blocking;
    void *blocking_sp;
    bool dead; /* unregistering */
    /* Inside the fork gate (gc/forkgate.c): 1 while this thread does work
     * that fork must not split.  The gate's forking side reads it. */
    _Atomic uint32_t in_forkgate;
    gm_mcache *mcache;
    gm_task_sched *sched; /* NULL until the thread calls gm_go */
} gm_thread;

extern __thread gm_thread *gm_tls_thread;

/* Starts a detached runtime thread (collector, mark worker, ...) with every
 * signal blocked: it never runs user code and must never be stopped.
 * Returns 0 or pthread_create's error. */
int gm_os_thread_start(void *(*fn)(void *), void *arg);
/* Gives the CPU to another runnable thread, if any (sched_yield). */
void gm_os_yield(void);

/* Asymmetric barriers (src/os/barrier.c): the hot side of a Dekker-style
 * handshake calls gm_os_hot_fence, the rare side gm_os_cold_fence; between
 * them they order a store before a later load on both sides. */
extern bool gm_os_light_barriers;
void gm_os_barrier_init(void);
void gm_os_cold_fence(void);
GM_INLINE void gm_os_hot_fence(void) {
    if (GM_LIKELY(gm_os_light_barriers))
        atomic_signal_fence(memory_order_seq_cst);
    else
        atomic_thread_fence(memory_order_seq_cst);
}

GM_INLINE void gm_lightlock_unlock(gm_lightlock *l) {
    atomic_store_explicit(&l->state, 0, memory_order_release);
    gm_os_hot_fence();
    if (GM_UNLIKELY(atomic_load_explicit(&l->waiters, memory_order_relaxed)))
        gm_lightlock_wake(l);
}

/* The thread layer's start (pthread key, stop signal, barriers); from
 * gm_init before the other layers' init. */
void gm_threads_init(void);
pid_t gm_os_gettid(void);

/* Hooks of the upper layers on a thread's life.  on_register runs when a
 * thread registers, before it joins the thread list; on_exit when it
 * unregisters (at its exit or by gm_thread_unregister), before its record
 * is freed, not with the world stopped.  Exit hooks run in the reverse
 * order of registration, and layers register from the bottom up (heap,
 * then scheduler), so the scheduler runs a thread's goroutines out before
 * the heap takes back its cache.  Either may be NULL.  Registered from
 * gm_init, before any thread registers. */
typedef void (*gm_thread_hook)(gm_thread *t);
void gm_thread_add_hooks(gm_thread_hook on_register, gm_thread_hook on_exit);
/* Bytes the upper layers keep after each record (the heap's mcache, at
 * t + 1); set once from gm_init. */
void gm_thread_set_record_extra(size_t bytes);
/* Frees the record of a thread that is gone (fork's child, for the threads
 * that did not survive the fork). */
void gm_thread_record_free(gm_thread *t);

/* Returns this thread's record, registering the thread if needed. */
gm_thread *gm_thread_self(void);
GM_INLINE gm_thread *gm_thread_current(void) {
    gm_thread *t = gm_tls_thread;
    return GM_LIKELY(t != NULL) ? t : gm_thread_self();
}

/* Bits set in x.  Without -mpopcnt (x86-64's baseline lacks the
 * instruction) the builtin is a call into libgcc's table loop: 1% of
 * binary-trees' samples went there from sweeping and span counts. */
GM_INLINE unsigned gm_popcount64(uint64_t x) {
#if defined(__POPCNT__) || !defined(__x86_64__)
    return (unsigned)__builtin_popcountll(x);
#else
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
#endif
}

/* No-stop regions (allocator, goroutine switch).  Nest. */
void gm_stop_deferred(gm_thread *t); /* stops now for a deferred request */
GM_INLINE void gm_nostop_enter(gm_thread *t) {
    t->nostop++;
    atomic_signal_fence(memory_order_seq_cst);
}
GM_INLINE void gm_nostop_exit(gm_thread *t) {
    atomic_signal_fence(memory_order_seq_cst);
    if (--t->nostop == 0) {
        atomic_signal_fence(memory_order_seq_cst);
        if (GM_UNLIKELY(t->stop_pending))
            gm_stop_deferred(t);
    }
}

/* Stop and restart the world (src/os/stw.c).  The caller holds
 * gm_threads_lock for the whole stop (so no thread registers or leaves).
 * On return from gm_stop_world every other registered thread that is not in
 * a blocking region is stopped outside any no-stop region. */
extern gm_mutex gm_threads_lock;
extern gm_thread *gm_threads; /* list head */
void gm_stw_init(void); /* from gm_threads_init */
void gm_stop_world(void);
void gm_start_world(void);
uint32_t gm_world_epoch(void); /* odd while the world is stopped */

/* A callback that is given ranges of memory to scan. */
typedef void (*gm_scan_fn)(const void *lo, const void *hi, void *ctx);
/* Which roots a scan of goroutine stacks reports: ALL of them (marking with
 * the world stopped, checkmark); FIRST, all of them at the first stop of a
 * concurrent cycle, which also starts recording which goroutines ran or
 * were woken; CHANGED, at the final stop, only the goroutines recorded
 * since (a goroutine that stayed parked kept its stack and record as the
 * first stop saw them: what it points to is marked already). */
typedef enum { GM_ROOTS_ALL, GM_ROOTS_FIRST, GM_ROOTS_CHANGED } gm_roots_pass;

/* ----------------------------------------------------------------- config */

typedef struct gm_config {
    int gc_percent;       /* < 0: off */
    int64_t memory_limit; /* INT64_MAX: none */
    int procs;
    bool gctrace;
    bool gccheckmark;
    bool gcstoptheworld; /* mark with the world stopped even where the kernel tracks writes */
    bool stackcheck;   /* copy stacks: a channel send of a pointer into a shared stack is fatal */
    bool cleanupcheck; /* cleanups: catch an arg that reaches its object */
    int stack_kind;       /* GM_STACK_GROWABLE or GM_STACK_COPY */
    size_t stack_max;
    int64_t memprofilerate;  /* bytes per heap profile sample; 0: off, 1: every object */
    const char *heapprofile; /* GOMEM_HEAPPROFILE: write a heap profile there at exit */
} gm_config;
extern gm_config gm_cfg;
/* Reads GOMEM_* once (idempotent, thread-safe). */
void gm_init(void);
extern _Atomic int gm_initialized;
GM_INLINE void gm_ensure_init(void) {
    if (GM_UNLIKELY(!atomic_load_explicit(&gm_initialized, memory_order_acquire)))
        gm_init();
}

#endif /* GM_H */
