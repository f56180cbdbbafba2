/*
 * lib_gc_roots.c - a shared module that test_gc_roots dlopen()s: its
 * globals are roots only because the collector reads the writable segments
 * of every loaded object at each cycle.
 *
 * Three arrays: an exported one in .bss, an exported one in .data, and a
 * file-local one in .bss that only this module's functions reach (so the
 * test cannot be holding its address in its own data).  The module does not
 * link against gomem: it only stores what the test hands it.
 */
#include <stddef.h>

#define GC_LIB_SLOTS 16

void *gc_lib_bss[GC_LIB_SLOTS];
void *gc_lib_data[GC_LIB_SLOTS] = {(void *)1};
static void *volatile hidden[GC_LIB_SLOTS];

int gc_lib_slots(void) {
    return GC_LIB_SLOTS;
}

/* which: 0 = exported .bss, 1 = exported .data, 2 = file-local .bss */
void gc_lib_set(int which, int i, void *p) {
    if (i < 0 || i >= GC_LIB_SLOTS)
        return;
    if (which == 0)
        ((void *volatile *)gc_lib_bss)[i] = p;
    else if (which == 1)
        ((void *volatile *)gc_lib_data)[i] = p;
    else
        hidden[i] = p;
}

void *gc_lib_get(int which, int i) {
    if (i < 0 || i >= GC_LIB_SLOTS)
        return NULL;
    if (which == 0)
        return ((void *volatile *)gc_lib_bss)[i];
    if (which == 1)
        return ((void *volatile *)gc_lib_data)[i];
    return hidden[i];
}
