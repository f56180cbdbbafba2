/*
 * task.h - goroutines: the types shared by the files of src/task.
 *
 * A goroutine is a gm_g.  Each thread that starts goroutines has one
 * scheduler (gm_task_sched, hung on gm_thread.sched) that owns its
 * goroutines for their whole life: goroutines never move between threads, so
 * the run queue, the timers and every gm_g field other than those named
 * below are touched by the owner thread only, without locks.
 *
 * Cross-thread wake-ups.  Channels and wait groups may be shared between
 * threads.  A thread that completes an operation for a goroutine of another
 * thread does not touch that goroutine's scheduler state: it pushes the
 * gm_g onto the owner's remote queue (a lock-free stack, sched.remote) and
 * wakes the owner if it is idle.  Only the owner ever switches into one of
 * its goroutines, so a goroutine that is readied before it has finished
 * parking is simply found again by its own thread.
 *
 * Kinds of goroutine (gm_g.kind):
 *   main      the thread's own code, on the thread's (pthread) stack;
 *   growable  its own stack: a reservation whose pages the kernel commits
 *             as they are touched (stack.c);
 *   copy      runs on the thread's shared stack; while another copy
 *             goroutine runs, its used bytes live in a heap save area
 *             (copystack.c);
 *   sched     the scheduler context (g0) that moves copy stacks in and out
 *             (it cannot run on the shared stack it rewrites).
 *
 * Stacks grow down: lo is the lowest usable byte, hi the end the stack
 * grows away from; a parked goroutine's live bytes are [sp - red zone, hi).
 *
 * Waiting.  A goroutine blocked on a channel or wait group is represented in
 * the wait queue by a gm_sudog: one embedded in the gm_g for single
 * operations, one per case from the scheduler's cache for a select (never
 * on a goroutine's stack: a copy stack's bytes move while it waits).  The
 * partner copies the element to or from sudog.elem; for a copy goroutine
 * whose element lives on the shared stack, elem points to a bounce buffer
 * (the gm_g's bounce word for up to 8 bytes, else a heap block).
 */
#ifndef GM_TASK_H
#define GM_TASK_H

#include "gm.h"

enum {
    GM_G_FREE = 0, /* on a free list */
    GM_G_NEW,      /* runnable, never ran: no frames yet */
    GM_G_RUNNABLE, /* on a run queue (or about to be) */
    GM_G_RUNNING,
    GM_G_WAITING, /* parked on a channel, wait group or timer */
    GM_G_DEAD,    /* returned; released by whoever runs next */
};

enum { GM_G_MAIN = 0, GM_G_GROWABLE = GM_STACK_GROWABLE, GM_G_COPY = GM_STACK_COPY, GM_G_SCHED = 3 };

#define GM_STACK_REDZONE 128                  /* x86-64 ABI red zone below sp */
#define GM_STACK_GUARD ((size_t)64 << 10)     /* unmapped-access guard below lo */
#define GM_STACK_DEFAULT_MAX ((size_t)8 << 20)
#define GM_STACK_LIMIT ((size_t)1 << 30)      /* largest stack_max accepted */
#define GM_STACK_MIN ((size_t)16 << 10)

typedef struct gm_g gm_g;

/* The first run of a context calls entry(g); the {fn, arg} it returns is
 * then called, and after fn returns gm_task_exit (so the goroutine's own
 * frames start at the top of its stack). */
typedef struct gm_entry {
    void (*fn)(void *);
    void *arg;
} gm_entry;

typedef struct gm_sudog {
    struct gm_sudog *next, *prev; /* wait queue links */
    void *elem;                   /* where the partner copies to or from */
    uint8_t success;              /* completed (not woken by a close) */
    uint8_t is_select;            /* a gm_select_sudog, else a gm_g's own */
    uint16_t index;               /* select case */
    uint32_t pad;
} gm_sudog;

/* A select's sudogs come from the scheduler's cache and name their g. */
typedef struct gm_select_sudog {
    gm_sudog sg;
    gm_g *g;
} gm_select_sudog;

/* 128 bytes: 10 M parked copy goroutines must fit in 4 GiB with their
 * save areas.  Unions hold what one kind or one state needs. */
struct gm_g {
    void *sp;              /* saved stack pointer while not running */
    gm_g *next;            /* run queue, remote queue or free list */
    gm_task_sched *sched;  /* owner */
    int64_t id;
    uint8_t status;
    uint8_t kind;          /* fixed for the record's life */
    _Atomic uint8_t touched; /* ran since: bit 0 last shrink, bit 1 last measure */
    uint8_t gc_changed;      /* == sched.gc_epoch: on sched.gc_changed (ran or queued since the first stop) */
    uint32_t timer_index; /* in sched.timers while sleeping, else ~0 */
    union {
        struct { /* growable (and main, g0): [stack_lo, stack_hi) usable, guard below */
            char *stack_lo, *stack_hi;
        };
        struct { /* copy: heap save area (scanned), save_len bytes used */
            void *save;
            uint32_t save_len, save_cap;
        };
    };
    union {
        void (*fn)(void *); /* until the goroutine starts */
        uint64_t when;      /* wake-up time while sleeping */
    } u;
    void *fiber;                  /* sanitizer fiber, if any */
    _Atomic uint32_t select_done; /* a partner claimed this select */
    uint32_t resident;            /* growable: pages resident at last measure */
    void *arg;    /* fn's argument (a root until fn returns) */
    void *bounce; /* an element in transit, or the heap block holding it */
    union {
        gm_sudog wait;            /* channel or wait group operation */
        gm_sudog *select_winner;  /* select: the case that completed it */
    };
};

GM_INLINE gm_g *gm_sudog_g(gm_sudog *sg) {
    return sg->is_select ? ((gm_select_sudog *)sg)->g
                         : (gm_g *)((char *)sg - __builtin_offsetof(gm_g, wait));
}

/* g records are carved from slabs of plain memory that are never freed
 * while the scheduler lives (so stats and the collector can walk them). */
typedef struct gm_g_slab {
    struct gm_g_slab *next;
    uint32_t n, used;
    uint32_t ngrowable; /* records of growable kind: the stack walks skip a slab without */
    uint32_t pad;
    gm_g gs[];
} gm_g_slab;

struct gm_task_sched {
    gm_thread *thread;
    gm_g *cur;                     /* the context the thread runs now */
    gm_g *_Atomic running;         /* = cur, for other threads' stats */
    gm_g *runq_head, *runq_tail;   /* local FIFO */
    gm_g *_Atomic remote;          /* readied by other threads (LIFO) */
    _Atomic uint32_t idle;         /* the thread sleeps on note */
    gm_note note;
    gm_g **timers; /* min-heap on u.when */
    uint32_t ntimers, timers_cap;
    gm_g *dead; /* exited; released by the next context to run */
    uint64_t nlive; /* goroutines other than main, not yet exited */
    gm_g *exit_waiter; /* main, waiting in thread exit for nlive == 0 */
    /* Free g records: growable with a default-size stack, growable
     * without a stack, copy. */
    gm_g *free_stacked, *free_bare, *free_copy;
    uint32_t nfree_stacked;
    size_t default_max;   /* GOMEM_STACK_MAX */
    int default_kind;     /* GOMEM_STACK */
    gm_g_slab *slabs;
    /* The goroutines that ran or were queued to run since the collector's
     * first stop (gm_task_scan_stacks), each once (its gc_changed set);
     * overflow: the list could not grow, the final stop scans them all. */
    gm_g **gc_changed;
    uint32_t gc_nchanged, gc_changed_cap;
    bool gc_changed_overflow;
    /* A g is on the list when its gc_changed equals this (never 0); each
     * first stop moves it on instead of clearing every listed g's flag
     * (100,000 scattered stores, a millisecond of the stop). */
    uint8_t gc_epoch;
    gm_mutex lock;        /* slabs list and g stack fields, for stats readers */
    gm_select_sudog *free_sudogs;
    /* Copy stacks (lazily set up by the first copy goroutine). */
    gm_g *g0;               /* scheduler context: moves stacks in and out */
    gm_g *g0_next;          /* copy goroutine g0 is to switch into */
    char *shared_lo, *shared_hi;
    size_t shared_max;
    gm_g *shared_owner;     /* whose frames are on the shared stack */
    uint32_t resident_shared, resident_g0;
    uint64_t rng;
    int64_t id_next, id_end; /* batch of goroutine ids */
    void *altstack;
    size_t altstack_size;
    struct gm_task_sched *all_next, *all_prev;
    gm_g main_g;
    gm_g g0_rec;
};

/* Locks the collector may need while the world is stopped (the scheduler
 * list, a scheduler's slab list) are held only inside no-stop regions, so
 * no thread is ever stopped holding one. */
GM_INLINE gm_thread *gm_task_lock(gm_mutex *m) {
    gm_thread *t = gm_tls_thread;
    if (t)
        gm_nostop_enter(t);
    gm_mutex_lock(m);
    return t;
}
GM_INLINE void gm_task_unlock(gm_mutex *m, gm_thread *t) {
    gm_mutex_unlock(m);
    if (t)
        gm_nostop_exit(t);
}

/* sched.c */
gm_task_sched *gm_sched_get(void); /* the calling thread's, made if needed */
extern __thread gm_task_sched *gm_tls_sched;
GM_INLINE gm_task_sched *gm_sched_current(void) {
    gm_task_sched *s = gm_tls_sched;
    return GM_LIKELY(s != NULL) ? s : gm_sched_get();
}
void gm_sched_park(gm_task_sched *s);            /* cur->status set by caller */
void gm_sched_ready(gm_g *g);                    /* from any thread */
void gm_sched_switch(gm_task_sched *s, gm_g *cur, gm_g *next);
void gm_sched_jump(gm_task_sched *s, gm_g *cur, gm_g *next); /* no-stop held */
GM_NORETURN void gm_task_exit(void);
gm_entry gm_task_entry(gm_g *g); /* first run: finish the switch */
void gm_sched_release_dead(gm_task_sched *s);
uint64_t gm_sched_rand(gm_task_sched *s);
gm_select_sudog *gm_sudog_get(gm_task_sched *s, gm_g *g); /* one, for g */
void gm_sudog_put(gm_task_sched *s, gm_select_sudog *sg);
extern gm_mutex gm_scheds_lock;
extern gm_task_sched *gm_scheds;

/* stack.c */
bool gm_stack_alloc(size_t max, char **lo, char **hi); /* false: errno set */
void gm_stack_free(char *lo, char *hi);
size_t gm_stack_resident(const char *lo, const char *hi);
void gm_stack_shrink(char *lo, char *hi, const char *sp);
void gm_stack_release_all_but_top(char *lo, char *hi);
void gm_stack_report_map_error(size_t size, int err);
extern _Atomic uint64_t gm_stack_reserved;

/* copystack.c */
bool gm_copystack_init(gm_task_sched *s); /* false: errno set */
gm_entry gm_g0_loop(gm_g *g0);
bool gm_copystack_on_shared(gm_task_sched *s, const void *p, size_t n);
void gm_copystack_check_send(const void *elem, size_t n, const void *chan);
extern bool gm_copystack_check; /* follows gm_cfg.stackcheck from gm_task_init */
/* From gm_init, after the environment is read and the layers below are
 * up: registers the scheduler's hooks with the thread layer and the
 * collector. */
void gm_task_init(void);

/* sched.c: the hooks gm_task_init registers (gm.h's thread hooks and gc.h's
 * stack hooks say when each is called). */
void gm_task_scan_stacks(gm_thread *t, gm_scan_fn scan, void *ctx, gm_roots_pass pass);
void gm_task_scan_records(gm_scan_fn scan, void *ctx);
/* gcscan.c: puts g on s's changed list (g->gc_changed not set yet; owner
 * thread, or the collector with the world stopped). */
void gm_task_note_changed_slow(gm_task_sched *s, gm_g *g);
void gm_task_shrink_stacks(gm_thread *t);
void gm_task_stack_stats(uint64_t *inuse, uint64_t *sys);
void gm_task_thread_exit(gm_thread *t);
void gm_task_fork_lock(bool lock);

/* timer.c */
void gm_timer_add(gm_task_sched *s, gm_g *g);
bool gm_timer_run(gm_task_sched *s, uint64_t now); /* readies due; any? */
int64_t gm_timer_next(gm_task_sched *s, uint64_t now); /* ns to wait, -1 none */

/* overflow.c */
void gm_overflow_init_thread(gm_task_sched *s);
void gm_overflow_fini_thread(gm_task_sched *s);

/* fiber.c: sanitizer hooks around a switch (no-ops in plain builds) */
void *gm_fiber_current(void);
void *gm_fiber_create(void);
void gm_fiber_destroy(void *fiber);
void gm_fiber_switch(void *fiber);
void gm_fiber_unpoison(const void *lo, size_t n);

/* switch_<arch>.S */
void gm_ctx_switch(void **save_sp, void *new_sp);
void *gm_ctx_make(void *stack_top, gm_entry (*entry)(gm_g *), gm_g *g);
void gm_ctx_copy(void *dst, const void *src, size_t n);

#endif /* GM_TASK_H */
