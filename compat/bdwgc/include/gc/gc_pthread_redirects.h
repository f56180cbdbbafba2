/*
 * gc_pthread_redirects.h - with GC_THREADS, pthread_create and friends are
 * renamed to the GC_pthread_* calls, which register the new thread with
 * the collector before it runs (and dlopen to GC_dlopen).  Define
 * GC_NO_THREAD_REDIRECTS to keep the plain names.
 */
#ifndef GC_PTHREAD_REDIRECTS_H
#define GC_PTHREAD_REDIRECTS_H

#if defined(GC_H) && defined(GC_PTHREADS)
#include <pthread.h>
#include <signal.h>
#ifndef GC_NO_DLOPEN
#include <dlfcn.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif
#ifndef GC_NO_DLOPEN
GC_API void *GC_dlopen(const char * /* path */, int /* mode */);
#endif
GC_API int GC_pthread_sigmask(int /* how */, const sigset_t *, sigset_t * /* oset */);
#ifndef GC_PTHREAD_CREATE_CONST
#define GC_PTHREAD_CREATE_CONST const
#endif
GC_API int GC_pthread_create(pthread_t *, GC_PTHREAD_CREATE_CONST pthread_attr_t *, void *(*)(void *),
                             void * /* arg */);
GC_API int GC_pthread_join(pthread_t, void ** /* retval */);
GC_API int GC_pthread_detach(pthread_t);
GC_API int GC_pthread_cancel(pthread_t);
GC_API void GC_pthread_exit(void *) GC_PTHREAD_EXIT_ATTRIBUTE;
#ifdef __cplusplus
}
#endif
#endif

#if !defined(GC_NO_THREAD_REDIRECTS) && !defined(GC_USE_LD_WRAP) && defined(GC_H) && defined(GC_PTHREADS)
#undef pthread_create
#undef pthread_join
#undef pthread_detach
#undef pthread_sigmask
#undef pthread_cancel
#undef pthread_exit
#define pthread_create GC_pthread_create
#define pthread_join GC_pthread_join
#define pthread_detach GC_pthread_detach
#define pthread_sigmask GC_pthread_sigmask
#define pthread_cancel GC_pthread_cancel
#define pthread_exit GC_pthread_exit
#ifndef GC_NO_DLOPEN
#undef dlopen
#define dlopen GC_dlopen
#endif
#endif

#endif
