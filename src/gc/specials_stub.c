/*
 * specials_stub.c - placeholder until finalizers and weak pointers land.
 */
#include "gc/gc.h"

void gm_specials_sweep(gm_span *s) { (void)s; }
