/*
 * scrub.c - zeroing the dead stack below the caller.
 *
 * The collector scans stacks conservatively, from a thread's stack pointer
 * up.  Words a function's frames left below the stack pointer are dead,
 * but the next frames pushed at that depth cover them, and any slot those
 * frames never write (padding, a local not yet set) is scanned as it is:
 * a stale heap address there keeps its object alive.  Code that has just
 * handled heap addresses in deep frames (running finalizers, the library's
 * initialisation) zeroes them before the thread goes on.
 *
 * It is a separate, never-inlined function with a buffer of its own, so
 * what it overwrites lies below its caller's frame.
 */
#include <string.h>

#include "gm.h"

GM_NOINLINE void gm_os_scrub_stack(size_t bytes) {
    char buf[bytes]; /* a VLA: the caller decides how deep */
    memset(buf, 0, bytes);
    __asm__ volatile("" : : "r"(buf) : "memory"); /* the stores are kept */
}
