/*
 * gc_version.h - the bdwgc API version that gomem's libgc.so.1 provides:
 * 8.2.2, the version of Debian 12's libgc1.  GC_get_version() returns
 * GC_VERSION_MAJOR << 16 | GC_VERSION_MINOR << 8 | GC_VERSION_MICRO.
 */
#ifndef GC_VERSION_H
#define GC_VERSION_H

#define GC_VERSION_MAJOR 8
#define GC_VERSION_MINOR 2
#define GC_VERSION_MICRO 2

#define GC_GOMEM_COMPAT 1 /* this header set is gomem's */

#endif
