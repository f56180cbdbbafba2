/*
 * gc_config_macros.h - configuration macros of the bdwgc 8.2 API as
 * provided by gomem's libgc.so.1 (Linux, pthreads).
 *
 * Defining GC_THREADS (or _REENTRANT) before including gc.h selects the
 * thread API and the pthread redirections of gc_pthread_redirects.h, as
 * with bdwgc.  The GC_ATTR_* macros give the compiler the usual function
 * attributes; they change no behaviour.
 */
#ifndef GC_CONFIG_MACROS_H
#define GC_CONFIG_MACROS_H

#if defined(__GNUC__) && defined(__GNUC_MINOR__)
#define GC_GNUC_PREREQ(major, minor) ((__GNUC__ << 8) + __GNUC_MINOR__ >= ((major) << 8) + (minor))
#else
#define GC_GNUC_PREREQ(major, minor) 0
#endif

#if (defined(GC_THREADS) || defined(_REENTRANT) || defined(GC_LINUX_THREADS) || defined(GC_PTHREADS)) && \
    !defined(GC_NO_THREADS)
#ifndef GC_THREADS
#define GC_THREADS
#endif
#ifndef GC_LINUX_THREADS
#define GC_LINUX_THREADS
#endif
#ifndef GC_PTHREADS
#define GC_PTHREADS
#endif
#endif

#if defined(GC_PTHREADS) && !defined(GC_HAVE_PTHREAD_EXIT)
#define GC_HAVE_PTHREAD_EXIT
#define GC_PTHREAD_EXIT_ATTRIBUTE __attribute__((__noreturn__))
#endif

#include <stddef.h>

#ifndef GC_API
#define GC_API extern __attribute__((__visibility__("default")))
#endif
#ifndef GC_CALL
#define GC_CALL
#endif
#ifndef GC_CALLBACK
#define GC_CALLBACK GC_CALL
#endif

#if GC_GNUC_PREREQ(3, 1)
#define GC_ATTR_MALLOC __attribute__((__malloc__))
#else
#define GC_ATTR_MALLOC
#endif
#if GC_GNUC_PREREQ(4, 3)
#define GC_ATTR_ALLOC_SIZE(argnum) __attribute__((__alloc_size__(argnum)))
#else
#define GC_ATTR_ALLOC_SIZE(argnum)
#endif
#if GC_GNUC_PREREQ(4, 0)
#ifndef GC_ATTR_NONNULL
#define GC_ATTR_NONNULL(argnum) __attribute__((__nonnull__(argnum)))
#endif
#define GC_ATTR_CONST __attribute__((__const__))
#define GC_ATTR_DEPRECATED __attribute__((__deprecated__))
#else
#ifndef GC_ATTR_NONNULL
#define GC_ATTR_NONNULL(argnum)
#endif
#define GC_ATTR_CONST
#define GC_ATTR_DEPRECATED
#endif
#define GC_ATTR_NO_SANITIZE_THREAD

#endif
