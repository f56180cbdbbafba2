/*
 * gctrace.c - GOMEM_DEBUG=gctrace=1: one line per cycle on stderr, in Go's
 * format, so Go people read it at a glance:
 *
 *   gc N @T.TTTs P%: A+B+C ms clock, D+E/F/G+H ms cpu, S->E->L MB, GOAL MB goal,
 *   K MB stacks, GL MB globals, W P [(forced)]
 *
 * As in Go, A is the stop that starts the cycle (sweep termination, arming
 * write tracking, scanning the roots), B the marking that runs while the
 * program runs, C the final stop (rescanning the roots and the written
 * pages, draining, mark termination).  Where the kernel cannot track
 * writes (or GOMEM_DEBUG=gcstoptheworld=1), marking stops the world: the
 * line then ends "(stw)" and B is pause time too.  D, E/F/G, H: the same
 * phases' CPU time, E the mark assists of allocating threads, F the mark
 * workers, G idle (0).  S: heap at the start, E: heap when marking ended,
 * L: live heap marked, GOAL: the goal the cycle ran against (set by the
 * cycle before), as Go prints it.  P: the share of CPU used by the
 * collector since the program started, assists included.  R KB rescanned:
 * written pages the cycle rescanned.
 */
#include "gc/gc.h"

static void fmt_ms(char *buf, size_t n, uint64_t ns) {
    /* Go prints 2 significant figures, e.g. 0.012, 1.2, 15. */
    uint64_t us = ns / 1000;
    if (ns == 0)
        gm_snprintf(buf, n, "0");
    else if (ns < 10000)
        gm_snprintf(buf, n, "0.%03lu", (unsigned long)(ns / 1000 % 1000 + (ns % 1000 >= 500)));
    else if (us < 1000)
        gm_snprintf(buf, n, "0.%03lu", (unsigned long)us);
    else if (us < 10000)
        gm_snprintf(buf, n, "%lu.%lu", (unsigned long)(us / 1000), (unsigned long)(us / 100 % 10));
    else
        gm_snprintf(buf, n, "%lu", (unsigned long)(us / 1000));
}

void gm_gctrace_print(const gm_trace_cycle *c) {
    char a[16], b[16], cc[16], d[16], as[16], e[16], h[16];
    fmt_ms(a, sizeof a, c->stw1_ns);
    fmt_ms(b, sizeof b, c->mark_ns);
    fmt_ms(cc, sizeof cc, c->stw2_ns);
    fmt_ms(d, sizeof d, c->stw1_cpu_ns);
    fmt_ms(as, sizeof as, c->assist_cpu_ns);
    fmt_ms(e, sizeof e, c->mark_cpu_ns);
    fmt_ms(h, sizeof h, c->stw2_cpu_ns);
    uint64_t elapsed = c->start_ns + c->stw1_ns + c->mark_ns + c->stw2_ns;
    uint64_t cpu_total = gm_process_cputime() - gm_gcstats.start_cpu_ns;
    unsigned pct = cpu_total ? (unsigned)(gm_gcstats.gc_cpu_ns * 100 / cpu_total) : 0;
    const uint64_t MB = 1 << 20;
    gm_print("gc %u @%lu.%03lus %u%%: %s+%s+%s ms clock, %s+%s/%s/0+%s ms cpu, %lu->%lu->%lu MB, "
             "%lu MB goal, %lu MB stacks, %lu MB globals, %d P, %lu finalizers, %lu cleanups queued, "
             "%lu KB rescanned%s%s%s\n",
             c->n, (unsigned long)(elapsed / 1000000000), (unsigned long)(elapsed / 1000000 % 1000), pct, a,
             b, cc, d, as, e, h, (unsigned long)(c->heap_start / MB), (unsigned long)(c->heap_end / MB),
             (unsigned long)(c->heap_live / MB),
             (unsigned long)(c->goal == UINT64_MAX ? 0 : c->goal / MB), (unsigned long)(c->stacks / MB),
             (unsigned long)(c->globals / MB), c->procs, (unsigned long)c->finalizers_queued,
             (unsigned long)c->cleanups_queued, (unsigned long)(c->rescanned >> 10),
             c->forced ? " (forced)" : "", c->checkmark ? " (checkmark)" : "", c->concurrent ? "" : " (stw)");
}
