/*
 * gc_tiny_fl.h - the granule size and the number of small free lists that
 * gc_inline.h's client-side free lists use: 16-byte granules, lists for
 * objects of 1 to 24 granules (index 0 unused), as bdwgc on 64-bit
 * Linux.
 */
#ifndef GC_TINY_FL_H
#define GC_TINY_FL_H

#define GC_GRANULE_BYTES 16
#define GC_GRANULE_WORDS 2
#define GC_TINY_FREELISTS 25
#define GC_RAW_BYTES_FROM_INDEX(i) ((i) * GC_GRANULE_BYTES)

#endif
