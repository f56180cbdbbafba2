/*
 * thread.c - registering the threads whose stacks the collector scans.
 *
 * A thread is registered the first time it calls into the allocator (or
 * with gm_thread_register): its record, followed by the bytes the upper
 * layers asked for (the heap's mcache), comes from anonymous memory and
 * joins the global list under gm_threads_lock.  A pthread key's destructor
 * unregisters it when it exits: the upper layers' exit hooks run (the
 * scheduler's, then the heap's, which returns the cached spans to the
 * mcentrals) and the record leaves the list.  This file calls no upper
 * layer by name: the heap and the scheduler register their hooks.  The collector holds
 * gm_threads_lock for the whole stop, so the list does not change under it.
 *
 * gm_thread_create waits until the new thread is registered, so heap
 * pointers passed in arg are never unreachable in between.
 */
#include <sched.h>
#include <setjmp.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gm.h"

__thread gm_thread *gm_tls_thread __attribute__((tls_model("initial-exec")));
gm_mutex gm_threads_lock = GM_MUTEX_INIT;
gm_thread *gm_threads;
static pthread_key_t exit_key;
static _Atomic uint64_t next_thread_id = 1;

#define MAX_THREAD_HOOKS 4
static gm_thread_hook register_hooks[MAX_THREAD_HOOKS], exit_hooks[MAX_THREAD_HOOKS];
static int nhooks;
static size_t record_extra;

void gm_thread_add_hooks(gm_thread_hook on_register, gm_thread_hook on_exit) {
    if (nhooks == MAX_THREAD_HOOKS)
        gm_fatal("more than %d thread hooks registered", MAX_THREAD_HOOKS);
    register_hooks[nhooks] = on_register;
    exit_hooks[nhooks] = on_exit;
    nhooks++;
}

void gm_thread_set_record_extra(size_t bytes) {
    record_extra = bytes;
}

static size_t record_size(void) {
    return sizeof(gm_thread) + record_extra;
}

void gm_thread_record_free(gm_thread *t) {
    gm_os_free(t, record_size());
}

pid_t gm_os_gettid(void) {
    return (pid_t)syscall(SYS_gettid);
}

static void thread_exit_destructor(void *arg);

void gm_threads_init(void) {
    if (pthread_key_create(&exit_key, thread_exit_destructor) != 0)
        gm_fatal("pthread_key_create failed");
    gm_stw_init();
    gm_os_barrier_init();
}

static void find_stack(gm_thread *t) {
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_destroy(&attr);
    }
    if (!addr) {
        /* Unknown: scan from here to a generous bound above. */
        uintptr_t here = (uintptr_t)__builtin_frame_address(0);
        addr = (void *)((here & ~(uintptr_t)4095) - 4096);
        size = 1 << 20;
    }
    t->os_stack_lo = addr;
    t->os_stack_hi = (char *)addr + size;
    t->stack_lo = t->os_stack_lo;
    t->stack_hi = t->os_stack_hi;
}

gm_thread *gm_thread_self(void) {
    gm_thread *t = gm_tls_thread;
    if (t)
        return t;
    gm_ensure_init();
    size_t size = record_size();
    t = gm_os_alloc(size);
    if (!t)
        gm_fatal("out of memory registering a thread (%zu bytes)", size);
    t->pthread = pthread_self();
    t->tid = gm_os_gettid();
    t->id = atomic_fetch_add(&next_thread_id, 1);
    for (int i = 0; i < nhooks; i++)
        if (register_hooks[i])
            register_hooks[i](t);
    find_stack(t);
    gm_mutex_lock(&gm_threads_lock);
    t->next = gm_threads;
    if (gm_threads)
        gm_threads->prev = t;
    gm_threads = t;
    gm_tls_thread = t;
    gm_mutex_unlock(&gm_threads_lock);
    pthread_setspecific(exit_key, t);
    return t;
}

static void *take_threads_lock(void *arg) {
    (void)arg;
    gm_mutex_lock(&gm_threads_lock);
    return NULL;
}

static void unregister(gm_thread *t) {
    for (int i = nhooks - 1; i >= 0; i--)
        if (exit_hooks[i])
            exit_hooks[i](t);
    /* The collector holds gm_threads_lock through each stop of a cycle: a
     * thread that waits for it does so in a blocking region, so the stop
     * need not wait for it to answer (it holds no heap pointer now; a
     * runtime that delivers signals only at some calls would never let it
     * answer from a raw futex wait). */
    if (!gm_mutex_trylock(&gm_threads_lock))
        gm_blocking(take_threads_lock, NULL);
    if (t->prev)
        t->prev->next = t->next;
    else
        gm_threads = t->next;
    if (t->next)
        t->next->prev = t->prev;
    gm_tls_thread = NULL;
    gm_mutex_unlock(&gm_threads_lock);
    pthread_setspecific(exit_key, NULL);
    gm_thread_record_free(t);
}

static void thread_exit_destructor(void *arg) {
    gm_thread *t = arg;
    if (t && t == gm_tls_thread)
        unregister(t);
}

/* gomem's own threads (collector, mark workers, finalizers) take 1 MiB
 * stacks, not the default 8 MiB: they recurse little, and under a small
 * address-space limit the 8 MiB reservations were most of it.  (Sanitizers
 * grow frames; they get 4 MiB.) */
#ifdef GOMEM_SANITIZED
#define GM_OWN_THREAD_STACK ((size_t)4 << 20)
#else
#define GM_OWN_THREAD_STACK ((size_t)1 << 20)
#endif

void gm_os_yield(void) {
    sched_yield();
}

int gm_os_thread_start(void *(*fn)(void *), void *arg) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, GM_OWN_THREAD_STACK);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&th, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return err;
}

GM_API int gm_thread_register(void) {
    if (gm_tls_thread)
        return 1;
    gm_thread_self();
    return 0;
}

GM_API int gm_thread_unregister(void) {
    gm_thread *t = gm_tls_thread;
    if (!t)
        return 1;
    unregister(t);
    return 0;
}

typedef struct thread_start {
    void *(*fn)(void *);
    void *arg;
    _Atomic uint32_t registered;
} thread_start;

static void *thread_trampoline(void *p) {
    thread_start *st = p;
    gm_thread_self();
    void *(*fn)(void *) = st->fn;
    void *arg = st->arg;
    atomic_store_explicit(&st->registered, 1, memory_order_release);
    gm_futex_wake(&st->registered, 1);
    return fn(arg);
}

GM_API int gm_thread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start_routine)(void *),
                            void *arg) {
    gm_ensure_init();
    thread_start st = {start_routine, arg, 0};
    int err = pthread_create(thread, attr, thread_trampoline, &st);
    if (err)
        return err;
    /* Keep arg reachable (it is on this stack) until the thread is
     * registered and holds it itself. */
    while (!atomic_load_explicit(&st.registered, memory_order_acquire))
        gm_futex_wait(&st.registered, 0, -1);
    gm_keep_alive(st.arg);
    return 0;
}

GM_API void gm_keep_alive(const void *p) {
    __asm__ __volatile__("" : : "r"(p) : "memory");
}
