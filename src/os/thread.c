/*
 * thread.c - registering the threads whose stacks the collector scans.
 *
 * A thread is registered the first time it calls into the allocator (or
 * with gm_thread_register): its record, with its mcache, comes from
 * anonymous memory and joins the global list under gm_threads_lock.  A
 * pthread key's destructor unregisters it when it exits: its cached spans go
 * back to the mcentrals and the record leaves the list.  The collector holds
 * gm_threads_lock for the whole stop, so the list does not change under it.
 *
 * gm_thread_create waits until the new thread is registered, so heap
 * pointers passed in arg are never unreachable in between.
 */
#include <setjmp.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gm.h"
#include "heap/heap.h"

__thread gm_thread *gm_tls_thread __attribute__((tls_model("initial-exec")));
gm_mutex gm_threads_lock = GM_MUTEX_INIT;
gm_thread *gm_threads;
static pthread_key_t exit_key;
static _Atomic uint64_t next_thread_id = 1;

void gm_stw_init(void);
void gm_task_thread_exit(gm_thread *t);

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
    size_t size = sizeof(gm_thread) + sizeof(gm_mcache);
    t = gm_os_alloc(size);
    if (!t)
        gm_fatal("out of memory registering a thread (%zu bytes)", size);
    t->pthread = pthread_self();
    t->tid = (pid_t)syscall(SYS_gettid);
    t->id = atomic_fetch_add(&next_thread_id, 1);
    t->mcache = (gm_mcache *)(t + 1);
    gm_mcache_init(t->mcache);
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

static void unregister(gm_thread *t) {
    gm_task_thread_exit(t);
    gm_nostop_enter(t);
    gm_mcache_release_all(t->mcache);
    gm_nostop_exit(t);
    gm_mutex_lock(&gm_threads_lock);
    if (t->prev)
        t->prev->next = t->next;
    else
        gm_threads = t->next;
    if (t->next)
        t->next->prev = t->prev;
    gm_tls_thread = NULL;
    gm_mutex_unlock(&gm_threads_lock);
    pthread_setspecific(exit_key, NULL);
    gm_os_free(t, sizeof(gm_thread) + sizeof(gm_mcache));
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
