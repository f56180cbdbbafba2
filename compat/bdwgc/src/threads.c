/*
 * threads.c - bdwgc's thread calls on gomem's threads.
 *
 * gomem registers a thread the first time it allocates and unregisters it
 * when it exits; GC_pthread_create registers the new thread before its
 * start routine runs (gm_thread_create), GC_register_my_thread registers
 * explicitly, and the other pthread redirections are the plain calls
 * (except that GC_pthread_sigmask never blocks the collector's stop
 * signal).  A thread's whole stack is scanned: the stack base given to
 * GC_register_my_thread is not needed.
 *
 * GC_do_blocking is gm_blocking; GC_call_with_gc_active leaves the blocking
 * region for the call (gm_unblocked).  GC_call_with_alloc_lock runs its
 * function in a no-stop region (no collection can stop the thread, so
 * none can start while it runs) under a process-wide recursive lock that
 * GC_alloc_lock / GC_alloc_unlock also take.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>

#include "bdwgc.h"
#include "os/blocking.h"

#define STOP_SIGNAL SIGPWR     /* src/os/stw.c */
#define RESTART_SIGNAL SIGXCPU /* bdwgc's on Linux; gomem does not use one */

static pthread_mutex_t alloc_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

BDWGC_EXPORT int GC_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
    bdwgc_enter();
    return gm_thread_create(t, attr, fn, arg);
}

BDWGC_EXPORT int GC_pthread_join(pthread_t t, void **ret) {
    return pthread_join(t, ret);
}

BDWGC_EXPORT int GC_pthread_detach(pthread_t t) {
    return pthread_detach(t);
}

BDWGC_EXPORT int GC_pthread_cancel(pthread_t t) {
    return pthread_cancel(t);
}

BDWGC_EXPORT void GC_pthread_exit(void *ret) {
    pthread_exit(ret);
}

BDWGC_EXPORT int GC_pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
    if (set && how != SIG_UNBLOCK) {
        sigset_t s = *set;
        sigdelset(&s, STOP_SIGNAL);
        return pthread_sigmask(how, &s, old);
    }
    return pthread_sigmask(how, set, old);
}

BDWGC_EXPORT void *GC_dlopen(const char *path, int mode) {
    bdwgc_enter();
    return dlopen(path, mode);
}

BDWGC_EXPORT void GC_allow_register_threads(void) {
    bdwgc_enter();
}

BDWGC_EXPORT int GC_register_my_thread(const struct GC_stack_base *sb) {
    (void)sb;
    bdwgc_enter();
    return gm_thread_register() == 0 ? GC_SUCCESS : GC_DUPLICATE;
}

BDWGC_EXPORT int GC_unregister_my_thread(void) {
    gm_thread_unregister();
    return GC_SUCCESS;
}

BDWGC_EXPORT int GC_thread_is_registered(void) {
    return gm_tls_thread != NULL;
}

BDWGC_EXPORT void GC_register_altstack(void *stack, GC_word stack_size, void *altstack, GC_word altstack_size) {
    (void)stack, (void)stack_size, (void)altstack, (void)altstack_size;
}

BDWGC_EXPORT void GC_start_mark_threads(void) {}

BDWGC_EXPORT void GC_set_suspend_signal(int sig) {
    (void)sig; /* gomem stops threads with SIGPWR */
}
BDWGC_EXPORT void GC_set_thr_restart_signal(int sig) {
    (void)sig;
}
BDWGC_EXPORT int GC_get_suspend_signal(void) {
    return STOP_SIGNAL;
}
BDWGC_EXPORT int GC_get_thr_restart_signal(void) {
    return RESTART_SIGNAL;
}

BDWGC_EXPORT int GC_get_stack_base(struct GC_stack_base *sb) {
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return GC_UNIMPLEMENTED;
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    if (!addr)
        return GC_UNIMPLEMENTED;
    sb->mem_base = (char *)addr + size;
    return GC_SUCCESS;
}

BDWGC_EXPORT void *GC_get_my_stackbottom(struct GC_stack_base *sb) {
    GC_get_stack_base(sb);
    return (void *)gm_tls_thread;
}

BDWGC_EXPORT void GC_set_stackbottom(void *handle, const struct GC_stack_base *sb) {
    (void)handle, (void)sb;
}

BDWGC_EXPORT void *GC_call_with_stack_base(GC_stack_base_func fn, void *arg) {
    struct GC_stack_base sb;
    sb.mem_base = __builtin_frame_address(0);
    return fn(&sb, arg);
}

BDWGC_EXPORT void *GC_do_blocking(GC_fn_type fn, void *cd) {
    bdwgc_enter();
    return gm_blocking(fn, cd);
}

BDWGC_EXPORT void *GC_call_with_gc_active(GC_fn_type fn, void *cd) {
    bdwgc_enter();
    return gm_unblocked(fn, cd);
}

BDWGC_EXPORT void GC_alloc_lock(void) {
    pthread_mutex_lock(&alloc_lock);
}

BDWGC_EXPORT void GC_alloc_unlock(void) {
    pthread_mutex_unlock(&alloc_lock);
}

BDWGC_EXPORT void *GC_call_with_alloc_lock(GC_fn_type fn, void *cd) {
    bdwgc_enter();
    gm_thread *t = gm_thread_current();
    pthread_mutex_lock(&alloc_lock); /* before the region: a stopped holder must not stall a stop */
    gm_nostop_enter(t);
    void *r = fn(cd);
    gm_nostop_exit(t);
    pthread_mutex_unlock(&alloc_lock);
    return r;
}

BDWGC_EXPORT void GC_stop_world_external(void) {
    bdwgc_enter();
    gm_mutex_lock(&gm_threads_lock);
    gm_stop_world();
}

BDWGC_EXPORT void GC_start_world_external(void) {
    gm_start_world();
    gm_mutex_unlock(&gm_threads_lock);
}
