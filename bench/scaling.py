#!/usr/bin/env python3
"""scaling.py - parallel marking and multi-thread allocation at 1..16 threads,
gomem beside bdwgc and Go; appends its tables to bench/RESULTS.md.

Usage: bench/scaling.py [--build DIR] [--threads 1,2,4,8,16] [--live-mb 256]
                        [--batch 1048576] [--repeat 3] [--out FILE]

Two measurements per thread count T, each program run --repeat times under
bench/runner.py, the benchmarks' runner (medians):

  marking     bench/markheap.c / go/markheap.go: forced collections of a
              live binary tree of --live-mb MB; the median collection time.
              Mark threads: GOMEM_PROCS=T (gomem's mark workers),
              GC_MARKERS=T (bdwgc), GOMAXPROCS=T (Go).
  allocation  bench/gcalloc.c / go/gcalloc.go with T threads (goroutines in
              Go), each allocating its own batches of --batch objects of 16
              and 64 B left to the collector: allocations per second, all
              threads together.  The collectors get T mark threads too.

Speed-up is against the same peer at one thread.  Thread counts above the
machine's core count are run but marked oversubscribed.  The tables go to
the end of the report after bench.py's scaling marker (a later bench.py run
keeps them), headed with the machine, so results from a 16-core machine and
the development machine can sit side by side.  Exit status 1 if a program
failed.
"""

import argparse
import datetime
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import figures  # noqa: E402
import report  # noqa: E402
import runner  # noqa: E402

THREAD_ENV = {"gomem": "GOMEM_PROCS", "bdwgc": "GC_MARKERS", "go": "GOMAXPROCS"}


def run(build, logdir, peer, prog, args, threads, repeat, measure):
    exe = os.path.join(build, "bench", "%s-%s" % (prog, peer))
    if not os.access(exe, os.X_OK):
        return None, "%s missing" % exe
    env = dict(os.environ)
    env[THREAD_ENV[peer]] = str(threads)
    outs = []
    for i in range(repeat):
        stem = os.path.join(logdir, "scaling-%s-%s-%d-%d" % (prog, peer, threads, i))
        print("  %s %s, %d threads, run %d/%d" % (prog, peer, threads, i + 1, repeat), file=sys.stderr)
        r = runner.run_child([exe] + [str(a) for a in args], env, stem + ".out", stem + ".err",
                            timeout=600, measure=measure)
        err = runner.check_status(r)
        if err:
            return None, err
        outs.append(r["out"])
    return outs, None


def median_of(outs, tag, key, select=None):
    vals = []
    for out in outs:
        for d in runner.records(out, tag):
            if select is None or all(d.get(k) == v for k, v in select.items()):
                vals.append(d[key])
                break
    return statistics.median(vals) if vals else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", default="1,2,4,8,16")
    ap.add_argument("--live-mb", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1048576)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    a = ap.parse_args()
    try:
        threads = [int(t) for t in a.threads.split(",")]
    except ValueError:
        print("scaling.py: --threads %r: give a comma-separated list of numbers" % a.threads, file=sys.stderr)
        return 2
    if not threads or min(threads) < 1 or max(threads) > 64 or a.repeat < 1 or a.live_mb < 1 or a.batch < 1:
        print("scaling.py: threads 1..64, --repeat, --live-mb and --batch at least 1", file=sys.stderr)
        return 2
    build = os.path.abspath(a.build)
    measure = os.path.join(build, "bench", "measure")
    if not os.access(measure, os.X_OK):
        print("scaling.py: %s missing: make build first" % measure, file=sys.stderr)
        return 1
    logdir = os.path.join(build, "bench-results")
    os.makedirs(logdir, exist_ok=True)
    cores = os.cpu_count()
    started = datetime.datetime.now(datetime.timezone.utc)
    load0 = report.loadavg()
    failed = []
    mark, alloc = {}, {}
    for t in threads:
        for peer in ("gomem", "bdwgc", "go"):
            outs, err = run(build, logdir, peer, "markheap", [a.live_mb, 5], t, a.repeat, measure)
            if err:
                failed.append("markheap %s %d threads: %s" % (peer, t, err))
            else:
                mark[peer, t] = median_of(outs, "markheap", "gc_median_ms")
            outs, err = run(build, logdir, peer, "gcalloc", [a.batch, 3, t], t, a.repeat, measure)
            if err:
                failed.append("gcalloc %s %d threads: %s" % (peer, t, err))
            else:
                for size in (16, 64):
                    alloc[peer, t, size] = median_of(outs, "gcalloc", "mallocs_per_s", {"size": size})

    m = report.machine()
    L = ["", "## Scaling: %s, %s cores (%s UTC)" % (m["cpu"], cores, started.strftime("%Y-%m-%d %H:%M")), "",
         "`bench/scaling.py --threads %s --live-mb %d --batch %d --repeat %d`; kernel %s; load average "
         "%s at start, %s at end. Medians over runs; speed-up against the same peer at 1 thread; "
         "* = more threads than cores." % (a.threads, a.live_mb, a.batch, a.repeat, m["kernel"], load0,
                                          report.loadavg()), "",
         "Parallel marking: median forced collection of a %d MB live tree, ms (speed-up)." % a.live_mb, "",
         "| threads | gomem | bdwgc | Go | gomem/bdwgc | gomem/Go |", "|---|---|---|---|---|---|"]

    def cell(v, base, fmt, higher_is_better):
        if v is None:
            return "-"
        sp = None
        if base:
            sp = v / base if higher_is_better else base / v
        return fmt % v + (" (%.2fx)" % sp if sp is not None else "")
    for t in threads:
        star = "*" if t > cores else ""
        g, b, o = mark.get(("gomem", t)), mark.get(("bdwgc", t)), mark.get(("go", t))
        L.append("| %d%s | %s | %s | %s | %s | %s |" % (
            t, star, cell(g, mark.get(("gomem", threads[0])), "%.1f", False),
            cell(b, mark.get(("bdwgc", threads[0])), "%.1f", False),
            cell(o, mark.get(("go", threads[0])), "%.1f", False),
            figures.fr(figures.ratio(g, b)), figures.fr(figures.ratio(g, o))))
    for size in (16, 64):
        L += ["", "Allocation left to the collector, %d B objects: million allocations per second, all "
              "threads (speed-up)." % size, "",
              "| threads | gomem | bdwgc | Go | gomem/bdwgc | gomem/Go |", "|---|---|---|---|---|---|"]
        for t in threads:
            star = "*" if t > cores else ""
            v = {p: alloc.get((p, t, size)) for p in ("gomem", "bdwgc", "go")}
            base = {p: alloc.get((p, threads[0], size)) for p in v}
            L.append("| %d%s | %s | %s | %s | %s | %s |" % (
                t, star, *[cell(None if v[p] is None else v[p] / 1e6,
                                None if base[p] is None else base[p] / 1e6, "%.1f", True)
                           for p in ("gomem", "bdwgc", "go")],
                # throughput: gomem/peer above 1 means gomem allocates faster
                figures.fr(figures.ratio(v["gomem"], v["bdwgc"])), figures.fr(figures.ratio(v["gomem"], v["go"]))))
    L.append("")
    L.append("(In the allocation tables the ratios are throughputs, gomem/peer: above 1, gomem is faster.)")
    if failed:
        L += ["", "Failed:"] + ["- " + x for x in failed]
    text = "\n".join(L) + "\n"
    existing = ""
    if os.path.exists(a.out):
        with open(a.out) as f:
            existing = f.read()
    if report.SCALING_MARK not in existing:
        existing = existing.rstrip("\n") + "\n\n" + report.SCALING_MARK + "\n"
    with open(a.out, "w") as f:
        f.write(existing.rstrip("\n") + "\n" + text)
    print(text)
    print("appended to %s" % a.out, file=sys.stderr)
    for x in failed:
        print("scaling.py: FAILED " + x, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
