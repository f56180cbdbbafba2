/*
 * specials_stub.c - placeholder until finalizers and weak pointers land.
 */
#include "gc/gc.h"

void gm_specials_sweep(gm_span *s) { (void)s; }
bool gm_specials_after_mark(gm_gcwork *w) { (void)w; return false; }
void gm_specials_after_cycle(void) {}
void gm_specials_counts(uint64_t *fq, uint64_t *fr, uint64_t *cq, uint64_t *cr) { *fq = *fr = *cq = *cr = 0; }
