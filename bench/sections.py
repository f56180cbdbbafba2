"""sections.py - one section of the report per benchmark workload.

Each section_NAME(rep, jobs[, args]) takes the jobs of its workload (it
returns without writing anything when there are none, as after --only),
builds Figures per peer, appends its markdown table to rep.sections, its
charts to rep.charts and judges its targets with rep.target() against the
limits of docs/benchmarks.md.  A peer whose program is missing or failed
gets a row that says so (missing_text) and its targets come out NOT
CHECKED.  report.write_report() calls the sections in the report's order.
"""

import svgchart
from figures import (Figures, by_peer, f, fr, fspread, med, memory_chart, missing_text,
                     pause_chart, peer_table, ratio, spread, wall_bars)
from runner import records



def section_alloc(rep, jobs, args):
    figs = by_peer(jobs, "alloc")
    if not figs:
        return
    lines = ["## alloc: allocate + touch + free, one and two threads",
             "", "`alloc %s` (batch, rounds, byte cap per batch): ns per allocate+free pair per "
             "thread, fastest round of each run, median over runs (min-max); the collectors are "
             "off (`gm_free`, `GC_FREE`). In parentheses: the same in thread CPU time." % args, ""]
    peers = [p for p, fg in figs.items() if fg.ok()]
    lines.append("| threads | size | " + " | ".join(peers) + " | " +
                 " | ".join("gomem/%s" % p for p in peers if p != "gomem") + " |")
    lines.append("|---|---|" + "---|" * (len(peers) * 2 - (1 if "gomem" in peers else 0)))
    val = {}
    for t in (1, 2):
        for s in (16, 64, 256, 4096):
            cells = []
            for p in peers:
                w = figs[p].rec("alloc", "ns_per_pair", {"threads": t, "size": s})
                c = figs[p].rec("alloc", "cpu_ns_per_pair", {"threads": t, "size": s})
                val[p, t, s] = w[0]
                cells.append("%s (%s)" % (fspread(w, 1), f(c[0], 1)))
            rats = [fr(ratio(val.get(("gomem", t, s)), val[p, t, s])) for p in peers if p != "gomem"]
            lines.append("| %d | %d | %s | %s |" % (t, s, " | ".join(cells), " | ".join(rats)))
    lines += ["", "Whole processes (every size and thread count):", "",
              peer_table(figs, missing_text)]
    rep.sections.append("\n".join(lines))
    for s in (16, 64):
        for peer, lim in (("glibc", 1.0), ("mimalloc", 2.0)):
            r = ratio(val.get(("gomem", 1, s)), val.get((peer, 1, s)))
            rep.target("alloc", "allocate+touch+free %d B, 1 thread: <= %.1fx %s" % (s, lim, peer), r, lim,
                       "gomem %s ns, %s %s ns: %s" % (f(val.get(("gomem", 1, s)), 1), peer,
                                                      f(val.get((peer, 1, s)), 1), fr(r)))
    groups = [("%d B, 1 thread" % s, {p: figs[p].rec("alloc", "ns_per_pair", {"threads": 1, "size": s})
                                       for p in peers}) for s in (16, 64, 256)]
    rep.charts.append(("alloc.svg", svgchart.bars("alloc: ns per allocate+free pair (1 thread)",
                                                  "ns per pair (median, min-max)", groups, peers),
                       "alloc, one thread"))


def section_gcalloc(rep, jobs, args):
    figs = by_peer(jobs, "gcalloc")
    if not figs:
        return
    lines = ["## gcalloc: allocation left to the collector", "",
             "`gcalloc %s`: batches of objects allocated, every word written, kept until checked, "
             "then dropped for the collector (collector on). ns per allocation, fastest round of each "
             "run, median over runs (min-max), then the same in thread CPU time (Go has no per-thread clock)." % args, "",
             "| size | " + " | ".join(figs) + " | gomem/bdwgc | gomem/go |", "|---|" + "---|" * (len(figs) + 2)]
    val = {}
    for s in (16, 64):
        cells = []
        for p, fg in figs.items():
            w = fg.rec("gcalloc", "ns_per_alloc", {"size": s})
            c = fg.rec("gcalloc", "cpu_ns_per_alloc", {"size": s})
            val[p, s] = w[0]
            cpu = "" if not c[0] else "; CPU %s" % f(c[0], 1)
            cells.append(fspread(w, 1) + cpu if w[0] is not None else missing_text(fg.job))
        lines.append("| %d | %s | %s | %s |" % (s, " | ".join(cells),
                                                 fr(ratio(val.get(("gomem", s)), val.get(("bdwgc", s)))),
                                                 fr(ratio(val.get(("gomem", s)), val.get(("go", s))))))
    lines += ["", peer_table(figs, missing_text)]
    rep.sections.append("\n".join(lines))
    names = [p for p, fg in figs.items() if fg.ok()]
    groups = [("%d B" % s, {p: figs[p].rec("gcalloc", "ns_per_alloc", {"size": s}) for p in names})
              for s in (16, 64)]
    rep.charts.append(("gcalloc.svg", svgchart.bars("gcalloc: ns per allocation left to the collector",
                                                    "ns (median, min-max)", groups, names),
                       "allocation left to the collector"))
    for s in (16, 64):
        r = ratio(val.get(("gomem", s)), val.get(("bdwgc", s)))
        rep.target("gcalloc", "allocation left to the collector, %d B: <= 0.5x bdwgc" % s, r, 0.5,
                   "gomem %s ns, bdwgc %s ns: %s" % (f(val.get(("gomem", s)), 1),
                                                     f(val.get(("bdwgc", s)), 1), fr(r)))


def section_binarytrees(rep, jobs, depth):
    figs = by_peer(jobs, "binarytrees")
    if not figs:
        return
    text = ["## binary-trees, depth %s, one worker per CPU" % depth, "",
            "Collected peers drop their trees; glibc, jemalloc and mimalloc free every node "
            "explicitly. Output checked against the formula%s." %
            (" and bench/binarytrees-21.expected" if str(depth) == "21" else ""), "",
            peer_table(figs, missing_text)]
    rep.sections.append("\n".join(text))
    g, b, go = figs.get("gomem"), figs.get("bdwgc"), figs.get("go")

    def w(x):
        return x.wall[0] if x is not None and x.ok() else None

    def m(x):
        return x.rss_mib[0] if x is not None and x.ok() else None
    for peer, lim in (("bdwgc", 0.5), ("go", 0.5)):
        r = ratio(w(g), w(figs.get(peer)))
        rep.target("binarytrees", "binary-trees wall <= %.1fx %s" % (lim, peer), r, lim,
                   "gomem %s s, %s %s s: %s" % (f(w(g), 3), peer, f(w(figs.get(peer)), 3), fr(r)))
    r = ratio(m(g), m(go))
    rep.target("binarytrees", "binary-trees peak RSS <= Go's", r, 1.0,
               "gomem %s MiB, go %s MiB: %s" % (f(m(g), 1), f(m(go), 1), fr(r)))
    for peer in ("glibc", "mimalloc"):
        r = ratio(w(g), w(figs.get(peer)))
        rep.targets.append(("binarytrees", "binary-trees against explicit free (%s), reported" % peer,
                            "INFO", "gomem %s s, %s %s s: %s" % (f(w(g), 3), peer, f(w(figs.get(peer)), 3), fr(r))))
    wall_bars(rep, "binarytrees.svg", "binary-trees depth %s: wall time" % depth, figs)
    memory_chart(rep, "binarytrees-memory.svg", "binary-trees depth %s: RSS and heap" % depth,
                 {p: figs[p] for p in ("gomem", "bdwgc", "go") if p in figs})
    del b


def section_holdup(rep, jobs, depth):
    figs = by_peer(jobs, "holdup")
    if not figs:
        return
    rows = ["## binary-trees hold-ups, depth %s, one thread" % depth, "",
            "The program reads the clock every 256 allocations: the longest interval it saw, and "
            "how many were over 1 ms. Longest stop: gctrace's first and final stops (a, c of "
            "`a+b+c ms clock`) for gomem and Go; per-cycle pause: each collector's own record "
            "(gomem `pause_ns`, Go `PauseNs`, bdwgc timed from its stop-world events). gomem-stw is "
            "`GOMEM_DEBUG=gcstoptheworld=1`.", "",
            peer_table(figs, missing_text), "",
            "| peer | longest hold-up ms | hold-ups > 1 ms | longest gctrace stop ms | longest per-cycle pause ms |",
            "|---|---|---|---|---|"]
    hold = {}
    for peer, fg in figs.items():
        if not fg.ok():
            rows.append("| %s | %s | | | |" % (peer, missing_text(fg.job)))
            continue
        gap = fg.err_rec("holdup", "max_gap_ns")
        over = fg.err_rec("holdup", "gaps_over_1ms")
        hold[peer] = gap[0]
        rows.append("| %s | %s | %s | %s | %s |" % (
            peer, fspread(gap, 3, 1e-6), fspread(over, 0), f(fg.max_stop_trace_ms, 3),
            f(max(fg.pauses_ns) / 1e6 if fg.pauses_ns else None, 3)))
    rep.sections.append("\n".join(rows))
    g = figs.get("gomem")
    stw = figs.get("gomem-stw")
    gv = hold.get("gomem")
    rep.target("holdup", "binary-trees longest hold-up <= 1 ms", None if gv is None else gv / 1e6, 1.0,
               "gomem %s ms" % f(None if gv is None else gv / 1e6, 3))
    stop = None
    if g is not None and g.ok():
        cands = [x for x in (g.max_stop_trace_ms, max(g.pauses_ns) / 1e6 if g.pauses_ns else None)
                 if x is not None]
        stop = max(cands) if cands else None
    rep.target("holdup", "binary-trees each GC stop <= 500 us", stop, 0.5,
               "gomem longest stop %s ms (the larger of gctrace's stops and pause_ns)" % f(stop, 3))
    unav = stw.job.unavailable if stw is not None else "not run"
    r = ratio(g.wall[0] if g and g.ok() else None, stw.wall[0] if stw and stw.ok() else None)
    rep.target("holdup", "binary-trees wall, default mode <= 1.11x stop-the-world mode", r, 1.11,
               "gomem %s s, gomem-stw %s s: %s" % (f(g.wall[0] if g and g.ok() else None, 3),
                                                    f(stw.wall[0] if stw and stw.ok() else None, 3), fr(r)),
               unavailable=unav)
    wall_bars(rep, "holdup.svg", "binary-trees (one thread) depth %s: wall time" % depth, figs)
    groups = [(peer, {"hold-up": tuple(None if x is None else x / 1e6
                                        for x in fg.err_rec("holdup", "max_gap_ns"))})
              for peer, fg in figs.items() if fg.ok()]
    rep.charts.append(("holdup-longest.svg", svgchart.bars("binary-trees (one thread): longest hold-up",
                                                           "ms (median, min-max)", groups, ["hold-up"]),
                       "binary-trees, longest hold-up"))
    pause_chart(rep, "holdup-pauses.svg", "binary-trees (one thread): pause distribution", figs)
    memory_chart(rep, "holdup-memory.svg", "binary-trees (one thread) depth %s: RSS and heap" % depth, figs)


def section_gcbench(rep, jobs, args):
    figs = by_peer(jobs, "gcbench")
    if not figs:
        return
    rep.sections.append("\n".join(["## GCBench", "", "`gcbench %s`; output checked against its formulas." % args,
                                   "", peer_table(figs, missing_text)]))
    g, b = figs.get("gomem"), figs.get("bdwgc")
    r = ratio(g.wall[0] if g and g.ok() else None, b.wall[0] if b and b.ok() else None)
    rep.target("gcbench", "GCBench wall <= 0.7x bdwgc", r, 0.7,
               "gomem %s s, bdwgc %s s: %s" % (f(g.wall[0] if g and g.ok() else None, 3),
                                                f(b.wall[0] if b and b.ok() else None, 3), fr(r)))
    wall_bars(rep, "gcbench.svg", "GCBench: wall time", figs)


def section_finalizers(rep, jobs, args):
    figs = by_peer(jobs, "finalizers")
    if not figs:
        return
    rows = ["## finalizers", "", "`finalizers %s` (objects, bytes, rounds): allocate objects with a finalizer "
            "each, collect until 99.9%% have run, and once more; the best round's time." % args, "",
            "| peer | best round s | allocation s | finishing s |", "|---|---|---|---|"]
    best = {}
    for peer, fg in figs.items():
        bs = fg.rec("finalizers", "best_s")
        best[peer] = bs[0]
        rows.append("| %s | %s | %s | %s |" % (peer, fspread(bs, 3), f(fg.rec("finalizers", "alloc_s")[0], 3),
                                                f(fg.rec("finalizers", "finish_s")[0], 3)))
    rows += ["", peer_table(figs, missing_text)]
    rep.sections.append("\n".join(rows))
    groups = [(peer, {"best round": fg.rec("finalizers", "best_s")}) for peer, fg in figs.items() if fg.ok()]
    rep.charts.append(("finalizers.svg", svgchart.bars("finalizers: best round", "s (median, min-max)",
                                                       groups, ["best round"]), "finalizers"))
    r = ratio(best.get("gomem"), best.get("bdwgc"))
    rep.target("finalizers", "finalizable objects allocated and finalized <= 1.0x bdwgc", r, 1.0,
               "gomem %s s, bdwgc %s s: %s" % (f(best.get("gomem"), 3), f(best.get("bdwgc"), 3), fr(r)))
    section_finalizers_live(rep, jobs)


def section_finalizers_live(rep, jobs):
    figs = by_peer(jobs, "finalizers", "live")
    if not figs:
        return
    args = next(iter(figs.values())).job.args
    rows = ["### many live finalizable objects", "",
            "`finalizers %s` (live objects, garbage MB): objects with a finalizer each stay reachable "
            "while garbage is allocated; the cycles of the garbage phase and their longest stop "
            "(gomem `pause_ns`, bdwgc timed from its stop events), median over runs (min-max).  Every "
            "live object is checked intact and no finalizer may have run." % " ".join(args), "",
            "| peer | cycles | longest stop ms |", "|---|---|---|"]
    worst = {}
    for peer, fg in figs.items():
        if not fg.ok():
            rows.append("| %s | %s | |" % (peer, missing_text(fg.job)))
            continue
        stops = fg.rec("finalizers_live", "max_stop_ms")
        worst[peer] = stops[0]
        rows.append("| %s | %s | %s |" % (peer, f(fg.rec("finalizers_live", "cycles")[0], 0), fspread(stops, 3)))
    rep.sections.append("\n".join(rows))
    rep.target("finalizers", "%s live finalizable objects: each GC stop <= 1 ms" % args[1], worst.get("gomem"), 1.0,
               "gomem %s ms, bdwgc %s ms (the longest stop of the garbage phase)" %
               (f(worst.get("gomem"), 3), f(worst.get("bdwgc"), 3)))


def section_latency(rep, jobs, args):
    figs = by_peer(jobs, "latency")
    if not figs:
        return
    rows = ["## latency ring", "", "`latency %s` (slots, pushes, message bytes): every push allocates a "
            "pointer-free message and replaces the oldest; each push timed alone. Times per push, "
            "median over runs; total is the sum of push times." % args, "",
            "| peer | p50 ns | p99 ns | p99.9 ns | max ms | total s | peak RSS MiB | GCs |",
            "|---|---|---|---|---|---|---|---|"]
    v = {}
    for peer, fg in figs.items():
        if not fg.ok():
            rows.append("| %s | %s | | | | | | |" % (peer, missing_text(fg.job)))
            continue
        d = {k: fg.rec("latency", k) for k in ("p50_ns", "p99_ns", "p999_ns", "max_ns", "total_s")}
        v[peer] = d
        rows.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            peer, f(d["p50_ns"][0], 0), f(d["p99_ns"][0], 0), f(d["p999_ns"][0], 0),
            fspread(d["max_ns"], 3, 1e-6), fspread(d["total_s"], 3), fspread(fg.rss_mib, 1), f(fg.num_gc, 0)))
    rows += ["", peer_table(figs, missing_text)]
    rep.sections.append("\n".join(rows))
    g = v.get("gomem", {})

    def gv(k):
        return g[k][0] if k in g else None
    mx = gv("max_ns")
    rep.target("latency", "latency ring worst push <= 1 ms", None if mx is None else mx / 1e6, 1.0,
               "gomem %s ms" % f(None if mx is None else mx / 1e6, 3))
    p = gv("p999_ns")
    rep.target("latency", "latency ring p99.9 <= 5 us", None if p is None else p / 1e3, 5.0,
               "gomem %s us" % f(None if p is None else p / 1e3, 2))
    bt = v.get("bdwgc", {}).get("total_s", (None,))[0]
    r = ratio(gv("total_s"), bt)
    rep.target("latency", "latency ring total time <= bdwgc's", r, 1.0,
               "gomem %s s, bdwgc %s s: %s" % (f(gv("total_s"), 3), f(bt, 3), fr(r)))
    gm, go = figs.get("gomem"), figs.get("go")
    r = ratio(gm.rss_mib[0] if gm and gm.ok() else None, go.rss_mib[0] if go and go.ok() else None)
    rep.target("latency", "latency ring peak RSS <= Go's", r, 1.0,
               "gomem %s MiB, go %s MiB: %s" % (f(gm.rss_mib[0] if gm and gm.ok() else None, 1),
                                                 f(go.rss_mib[0] if go and go.ok() else None, 1), fr(r)))
    pause_chart(rep, "latency-pauses.svg", "latency ring: pause distribution", figs)
    memory_chart(rep, "latency-memory.svg", "latency ring: RSS and heap", figs)
    groups = [(peer, {"max push ms": tuple(None if x is None else x / 1e6 for x in d["max_ns"])})
              for peer, d in v.items()]
    rep.charts.append(("latency-max.svg", svgchart.bars("latency ring: worst push", "ms (median, min-max)",
                                                        groups, ["max push ms"]), "latency ring, worst push"))


def goroutine_value(jobs, case, peer, name):
    for j in jobs:
        if j.workload == "goroutines" and j.case == case and j.peer == peer:
            vals = []
            for r in j.ok_runs():
                for line in r["out"].splitlines():
                    w = line.split()
                    if len(w) >= 2 and w[0] == name:
                        vals.append(float(w[1]))
            return spread(vals), j
    return (None, None, None), None


def section_goroutines(rep, jobs):
    if not any(j.workload == "goroutines" for j in jobs):
        return
    rows = ["## goroutines", "", "bench/goroutines.c and bench/go/goroutines.go (median over runs).", "",
            "| figure | gomem | Go | gomem/Go |", "|---|---|---|---|"]

    def row(label, gm, go, target=None):
        r = ratio(gm[0], go[0]) if go else None
        rows.append("| %s | %s | %s | %s |" % (label, fspread(gm, 1), fspread(go, 1) if go else "-", fr(r)))
        return r
    sg, _ = goroutine_value(jobs, "spawn", "gomem", "spawn_exit")
    so, _ = goroutine_value(jobs, "spawn", "go", "spawn_exit")
    r = row("spawn+run+exit, ns", sg, so)
    rep.target("goroutines", "spawn+run+exit <= 0.5x Go", r, 0.5, "gomem %s ns, Go %s ns: %s" % (f(sg[0], 1), f(so[0], 1), fr(r)))
    pg, _ = goroutine_value(jobs, "pingpong", "gomem", "pingpong")
    po, _ = goroutine_value(jobs, "pingpong", "go", "pingpong")
    r = row("channel ping-pong, ns per switch", pg, po)
    rep.target("goroutines", "channel switch <= 0.25x Go", r, 0.25, "gomem %s ns, Go %s ns: %s" % (f(pg[0], 1), f(po[0], 1), fr(r)))
    cg, cj = goroutine_value(jobs, "parked-copy", "gomem", "parked_copy_per_goroutine")
    co, _ = goroutine_value(jobs, "parked", "go", "parked_go_per_goroutine")
    n = cj.args[1] if cj else "?"
    r = row("%s parked, copy stack: bytes each" % n, cg, co)
    rep.target("goroutines", "parked copy-stack goroutine memory <= 0.25x Go's", r, 0.25,
               "gomem %s B, Go %s B: %s" % (f(cg[0], 0), f(co[0], 0), fr(r)))
    gg, gj = goroutine_value(jobs, "parked-growable", "gomem", "parked_growable_per_goroutine")
    row("%s parked, growable stack: bytes each" % (gj.args[1] if gj else "?"), gg, co)
    rep.target("goroutines", "growable stack resident at start <= 8 KiB", gg[0], 8192, "gomem %s B" % f(gg[0], 0))
    mg, mj = goroutine_value(jobs, "parked-many", "gomem", "parked_copy_total_rss")
    if mj is not None:
        mib = None if mg[0] is None else mg[0] / 2 ** 20
        rows.append("| %s parked copy goroutines: total RSS MiB | %s | - | - |" % (mj.args[1], f(mib, 0)))
        rep.target("goroutines", "10 M parked copy goroutines in <= 4 GiB", mib, 4096, "gomem %s MiB" % f(mib, 0))
    for name, label in (("recurse_stack_before_gc", "1 MiB recursion: stack before GC, bytes"),
                        ("recurse_stack_after_gc", "1 MiB recursion: stack after GC, bytes"),
                        ("recurse_rss_released", "1 MiB recursion: RSS released by GC, bytes")):
        a, _ = goroutine_value(jobs, "recurse", "gomem", name)
        b, _ = goroutine_value(jobs, "recurse", "go", name)
        row(label, a, b)
    rep.sections.append("\n".join(rows))


def section_gcparked(rep, jobs):
    figs = {j.case: Figures(j) for j in jobs if j.workload == "gcparked"}
    if not figs:
        return
    rows = ["## collections beside parked goroutines", "",
            "`parked N LIVE_MB GCS`: a live heap of 1 KiB scanned blocks, N goroutines parked on a "
            "channel (copy stacks), then forced collections (`gm_gc`). Per-cycle pause from `pause_ns`; "
            "final stop is gctrace's c.", "",
            "| goroutines | live MB | gm_gc() max ms | pause max ms | pause median ms | final stop max ms | peak RSS MiB |",
            "|---|---|---|---|---|---|---|"]
    final = None
    for case, fg in figs.items():
        if not fg.ok():
            rows.append("| %s | %s | | | | | |" % (case, missing_text(fg.job)))
            continue
        d = {k: fg.rec("parked", k) for k in ("goroutines", "live_mb", "gc_max_ms", "pause_max_ns", "pause_median_ns")}
        # the forced cycles are the last GCS ones of each run
        gcs = int(fg.job.args[2])
        cs = [c["c"] for t in fg.trace for c in t[-gcs:]]
        fmax = max(cs) if cs else None
        pmax = d["pause_max_ns"][0]
        if case == "parked":
            final = max(x for x in (fmax, None if pmax is None else pmax / 1e6) if x is not None) \
                if (fmax is not None or pmax is not None) else None
        rows.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            f(d["goroutines"][0], 0), f(d["live_mb"][0], 0), fspread(d["gc_max_ms"], 3),
            fspread(d["pause_max_ns"], 3, 1e-6), f(None if d["pause_median_ns"][0] is None else d["pause_median_ns"][0] / 1e6, 3),
            f(fmax, 3), fspread(fg.rss_mib, 1)))
    rep.sections.append("\n".join(rows))
    n = figs["parked"].job.args[0] if "parked" in figs else "?"
    rep.target("gcparked", "%s parked goroutines beside a %s MB heap: final GC stop <= 1 ms" %
               (n, figs["parked"].job.args[1] if "parked" in figs else "?"), final, 1.0,
               "gomem %s ms (the larger of gctrace's final stop and the cycle's pause_ns)" % f(final, 3))


def stackheap_values(jobs):
    vals = {}
    for j in jobs:
        if j.workload == "stackheap":
            for r in j.ok_runs():
                for d in records(r["out"], "stackheap"):
                    vals.setdefault(d["what"], []).append(d["value"])
    return {k: med(v) for k, v in vals.items()}


def stack_heap_table(jobs):
    v = stackheap_values(jobs)
    mh = {}
    for j in jobs:
        if j.workload == "markheap":
            fg = Figures(j)
            x = fg.rec("markheap", "ms_per_live_mb")[0]
            if x is not None:
                mh[j.peer, j.case] = x
    if not v and not mh:
        return None
    rows = ["| what | cost |", "|---|---|"]

    def add(label, key, unit, digits=1):
        if key in v:
            rows.append("| %s | %s %s |" % (label, f(v[key], digits), unit))
    for size in (64, 1024):
        add("local array of %d B on a goroutine's stack (fill + sum)" % size, "local_%d" % size, "ns")
        add("the same from gm_alloc (then dropped)" , "gm_alloc_%d" % size, "ns")
        add("the same from malloc + free", "malloc_%d" % size, "ns")
    add("growing a growable stack by 1 MiB (first descent through 1 MiB of frames)", "grow_first_growable", "us")
    add("the same descent again, stack already grown", "grow_again_growable", "us")
    add("a copy stack's first 1 MiB descent (runs on the thread's stack)", "grow_first_copy", "us")
    add("parking and resuming 1 MiB deep, growable stack", "park_deep_growable", "us", 2)
    add("parking and resuming 1 MiB deep, copy stack (1 MiB saved and restored)", "park_deep_copy", "us")
    for (peer, mb), x in sorted(mh.items()):
        rows.append("| collection, %s, %s MB live heap | %s ms per live MB |" % (peer, mb, f(x, 3)))
    add("memory of a parked goroutine, copy stack", "parked_copy_bytes", "bytes", 0)
    add("memory of a parked goroutine, growable stack", "parked_growable_bytes", "bytes", 0)
    add("memory of a blocked pthread (default attributes), resident", "pthread_bytes", "bytes", 0)
    add("the same pthread's address space", "pthread_virtual_bytes", "bytes", 0)
    return "\n".join(rows)


def section_stackheap(rep, jobs):
    t = stack_heap_table(jobs)
    if t is None:
        return
    rep.sections.append("## stack versus heap\n\nbench/stackheap.c (gomem) and bench/markheap.c "
                        "(collection cost: forced collections of a live binary tree of 64 B nodes, "
                        "median ms divided by the live MB).\n\n" + t)

