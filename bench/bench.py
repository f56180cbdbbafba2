#!/usr/bin/env python3
"""bench.py - runs gomem's benchmarks against every peer and writes the report.

Usage: bench/bench.py [--build DIR] [--mode full|quick|smoke] [--only W,...]
                      [--clients NAME,...] [--repeat N] [--out FILE] [--list]

  --build DIR   the CMake build folder (default build); programs are
                DIR/bench/<program>-<peer> (CMake builds them, the Go ones
                with the target bench_go), the drop-in library
                DIR/compat/bdwgc/libgc.so.1
  --mode        full (default; `make bench`), quick (`make bench-quick`, a
                subset at smaller sizes, about two minutes on 2 CPUs) or smoke
                (a few seconds a workload, for CI); BENCH_QUICK=1 or
                BENCH_SMOKE=1 in the environment choose them too
  --only        only these workloads (names as --list prints them)
  --clients     the drop-in programs of workload clients (names of
                tests/clients/programs.sh, by commas or spaces; default: the
                mode's list in clients.py); `make bench-clients CLIENTS=...`
  --repeat N    run each program N times (default: 3 full, 1-3 quick, 1 smoke)
  --out FILE    the report (default bench/RESULTS.md for full and quick runs,
                DIR/bench-results/RESULTS.md for smoke runs); the charts go to
                a charts/ folder beside it

This file says what runs: the workloads, their arguments and expected
seconds per mode (SIZES), the peers of each (build_jobs) and the expected
outputs the runs are checked against.  The rest is in modules beside it:
runner.py runs and measures the programs (through build/bench/measure,
repeats, time limits, progress on the terminal), clients.py is the
workload of bdwgc's client programs on both libgc.so.1 libraries,
figures.py turns runs into figures, sections.py writes one report section
per workload with its targets, report.py the whole RESULTS.md and its
charts (svgchart.py draws them).  bench/scaling.py reuses the runner.

The report gives the machine, the peers' versions, one table per workload
with the ratios gomem/peer, and every target as MET, NOT MET, NOT CHECKED (a
program failed or is missing) or UNAVAILABLE (a mode the library does not
accept yet).  Exit status: 0 if every program that ran exited cleanly with
the right output (targets not met are reported, not failures; a program
that cannot run here is listed under Not run), 1 otherwise, 2 for bad usage.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
import clients  # noqa: E402
from report import loadavg, write_report  # noqa: E402
from runner import Job, check_tag, check_text, run_all  # noqa: E402

# ---------------------------------------------------------------------------
# Expected outputs
# ---------------------------------------------------------------------------


def binarytrees_expected(n):
    """The Benchmarks Game's output for depth n, from its formula."""
    lo = 4
    hi = max(n, lo + 2)
    out = ["stretch tree of depth %d\t check: %d" % (hi + 1, 2 ** (hi + 2) - 1)]
    for d in range(lo, hi + 1, 2):
        it = 2 ** (hi - d + lo)
        out.append("%d\t trees of depth %d\t check: %d" % (it, d, it * (2 ** (d + 1) - 1)))
    out.append("long lived tree of depth %d\t check: %d" % (hi, 2 ** (hi + 1) - 1))
    return "\n".join(out) + "\n"


def gcbench_expected(s, ll, a, lo, hi):
    def size(d):
        return 2 ** (d + 1) - 1
    out = ["Garbage Collector Test",
           " Stretching memory with a binary tree of depth %d" % s,
           " Creating a long-lived binary tree of depth %d" % ll,
           " Creating a long-lived array of %d doubles" % a]
    for d in range(lo, hi + 1, 2):
        out += ["Creating %d trees of depth %d" % (2 * size(s) // size(d), d),
                "\tTop down construction", "\tBottom up construction"]
    out.append("long-lived tree: %d nodes (expected %d), array[1000] ok" % (size(ll), size(ll)))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Workloads, peers and sizes
# ---------------------------------------------------------------------------

ALL_MALLOC = ["gomem", "bdwgc", "glibc", "jemalloc", "mimalloc"]

# Sizes per mode.  Each entry: the arguments, and seconds per run expected on
# the 2-CPU development machine (refined from the previous run's history).
SIZES = {
    "full": {
        "alloc": ("1048576 5 1073741824", 60), "gcalloc": ("1048576 5 1", 4),
        "binarytrees": (21, 20), "holdup": (20, 20), "gcbench": ("18 16 500000 4 16", 1),
        "finalizers": ("1000000 48 3", 2), "finalizers_live": ("1000000 2048", 4),
        "latency": ("200000 2000000 1024", 6),
        "spawn": (1000000, 2), "pingpong": (1000000, 2), "parked_g": (1000000, 5),
        "parked_many": (10000000, 40), "gcparked": ("100000 200 5", 5),
        "markheap": ([64, 256], 3), "stackheap": ("10000000 10000 1000", 3),
    },
    "quick": {
        "alloc": ("262144 3 67108864", 4), "gcalloc": ("1048576 3 1", 2),
        "binarytrees": (18, 3), "holdup": (18, 3), "gcbench": ("18 16 500000 4 16", 1),
        "finalizers": ("1000000 48 1", 1), "finalizers_live": ("1000000 1024", 3),
        "latency": ("200000 1000000 1024", 3),
        "spawn": (100000, 1), "pingpong": (100000, 1), "parked_g": (100000, 1),
        "parked_many": None, "gcparked": ("100000 200 3", 3),
        "markheap": ([64, 256], 2), "stackheap": ("10000000 10000 1000", 2),
    },
    "smoke": {
        "alloc": ("16384 1 4194304", 1), "gcalloc": ("65536 1 1", 1),
        "binarytrees": (12, 1), "holdup": (12, 1), "gcbench": ("14 12 50000 4 12", 1),
        "finalizers": ("20000 48 1", 1), "finalizers_live": ("20000 64", 1),
        "latency": ("5000 50000 1024", 1),
        "spawn": (10000, 1), "pingpong": (10000, 1), "parked_g": (10000, 1),
        "parked_many": None, "gcparked": ("2000 16 2", 1),
        "markheap": ([16], 1), "stackheap": ("100000 1000 50", 1),
    },
}
REPEATS = {"full": 3, "quick": 3, "smoke": 1}
# quick mode: fewer repeats where a run is long or measures many rounds itself
QUICK_REPEATS = {"alloc": 1, "latency": 2, "holdup": 2, "markheap": 1, "stackheap": 1,
                 "goroutines": 1, "gcparked": 2, "clients": 1}

WORKLOADS = ["alloc", "gcalloc", "binarytrees", "holdup", "gcbench", "finalizers", "latency",
             "goroutines", "gcparked", "markheap", "stackheap", "clients"]


def build_jobs(mode, only, client_names=None):
    """Every job of the mode's workloads (only: just these); the drop-in
    programs are client_names, or the mode's list (clients.MODES)."""
    sz = SIZES[mode]
    jobs = []

    def add(workload, case, peers, prog, args, est, check, **kw):
        if only and workload not in only:
            return
        for peer in peers:
            jobs.append(Job(workload, case, peer, prog, args, est, check, **kw))

    a, est = sz["alloc"]
    add("alloc", "", ALL_MALLOC, "alloc", a.split(), est, check_tag("alloc", 8))
    a, est = sz["gcalloc"]
    add("gcalloc", "", ["gomem", "bdwgc", "go"], "gcalloc", a.split(), est, check_tag("gcalloc", 2))
    d, est = sz["binarytrees"]
    bt_peers = ["gomem", "bdwgc", "glibc", "jemalloc", "mimalloc", "go"]
    expected = binarytrees_expected(d)
    if d == 21:
        # the checked-in text, computed once from the formula, must agree
        with open(os.path.join(HERE, "binarytrees-21.expected")) as fe:
            expected = fe.read()
        if expected != binarytrees_expected(21):
            raise SystemExit("bench.py: bench/binarytrees-21.expected disagrees with the formula")
    add("binarytrees", "", bt_peers, "binarytrees", [d], est, check_text(expected), sample=True)
    d, est = sz["holdup"]
    add("holdup", "", ["gomem", "gomem-stw", "bdwgc", "go"], "binarytrees", [d, "holdup"], est,
        check_text(binarytrees_expected(d)), sample=True)
    a, est = sz["gcbench"]
    p = [int(x) for x in a.split()]
    add("gcbench", "", bt_peers, "gcbench", p, est, check_text(gcbench_expected(*p)))
    a, est = sz["finalizers"]
    add("finalizers", "", ["gomem", "bdwgc"], "finalizers", a.split(), est, check_tag("finalizers"))
    a, est = sz["finalizers_live"]
    add("finalizers", "live", ["gomem", "bdwgc"], "finalizers", ["live"] + a.split(), est,
        check_tag("finalizers_live"))
    a, est = sz["latency"]
    add("latency", "", ["gomem", "bdwgc", "bdwgc-incr", "go"], "latency", a.split(), est,
        check_tag("latency"), sample=True)
    n, est = sz["spawn"]
    add("goroutines", "spawn", ["gomem", "go"], "goroutines", ["spawn", n], est, None)
    n, est = sz["pingpong"]
    add("goroutines", "pingpong", ["gomem", "go"], "goroutines", ["pingpong", n], est, None)
    n, est = sz["parked_g"]
    add("goroutines", "parked-copy", ["gomem"], "goroutines", ["parked", n, "copy"], est, None)
    add("goroutines", "parked", ["go"], "goroutines", ["parked", n], est, None)
    # growable stacks take two memory maps each: stay under vm.max_map_count
    try:
        with open("/proc/sys/vm/max_map_count") as f:
            maps = int(f.read())
    except (OSError, ValueError):
        maps = 65530
    ng = min(n, max((maps - 20000) // 2, 1000))
    add("goroutines", "parked-growable", ["gomem"], "goroutines", ["parked", ng, "growable"], est, None)
    add("goroutines", "recurse", ["gomem", "go"], "goroutines", ["recurse"], 1, None)
    if sz["parked_many"]:
        n, est = sz["parked_many"]
        add("goroutines", "parked-many", ["gomem"], "goroutines", ["parked", n, "copy"], est, None,
            sample=False)
    a, est = sz["gcparked"]
    args = a.split()
    add("gcparked", "parked", ["gomem"], "parked", args, est, check_tag("parked"))
    add("gcparked", "none", ["gomem"], "parked", ["0"] + args[1:], est, check_tag("parked"))
    mbs, est = sz["markheap"]
    for mb in mbs:
        add("markheap", str(mb), ["gomem", "bdwgc", "go"], "markheap", [mb, 5 if mode == "full" else 3],
            est, check_tag("markheap"))
    a, est = sz["stackheap"]
    add("stackheap", "", ["gomem"], "stackheap", a.split(), est, check_tag("stackheap", 16))
    if not only or "clients" in only:
        jobs += clients.build_jobs(mode, client_names)
    for j in jobs:
        if j.repeats is None:
            j.repeats = REPEATS[mode]
            if mode == "quick":
                j.repeats = QUICK_REPEATS.get(j.workload, j.repeats)
    return jobs



def main():
    ap = argparse.ArgumentParser(description="Runs gomem's benchmarks against its peers.")
    ap.add_argument("--build", default="build")
    ap.add_argument("--mode", choices=["full", "quick", "smoke"])
    ap.add_argument("--only", default="")
    ap.add_argument("--clients", default="")
    ap.add_argument("--repeat", type=int)
    ap.add_argument("--out")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    mode = a.mode or ("smoke" if os.environ.get("BENCH_SMOKE", "0") not in ("", "0") else
                      "quick" if os.environ.get("BENCH_QUICK", "0") not in ("", "0") else "full")
    if a.list:
        print(" ".join(WORKLOADS))
        return 0
    only = [w for w in a.only.split(",") if w]
    bad = [w for w in only if w not in WORKLOADS]
    if bad:
        print("bench.py: unknown workload(s) %s (workloads: %s)" % (", ".join(bad), " ".join(WORKLOADS)),
              file=sys.stderr)
        return 2
    chosen = [c for c in re.split(r"[,\s]+", a.clients) if c]
    if chosen:
        known = clients.names()
        bad = [c for c in chosen if c not in known]
        if bad:
            print("bench.py: unknown client program(s) %s (tests/clients/programs.sh has: %s)" %
                  (", ".join(bad), " ".join(known)), file=sys.stderr)
            return 2
    if a.repeat is not None and not 1 <= a.repeat <= 50:
        print("bench.py: --repeat %d: give 1 to 50" % a.repeat, file=sys.stderr)
        return 2
    build = os.path.abspath(a.build)
    if not os.path.isdir(os.path.join(build, "bench")):
        print("bench.py: %s/bench does not exist: build first (make build)" % build, file=sys.stderr)
        return 1
    logdir = os.path.join(build, "bench-results")
    os.makedirs(logdir, exist_ok=True)
    out = a.out or (os.path.join(logdir, "RESULTS.md") if mode == "smoke" else os.path.join(HERE, "RESULTS.md"))
    hist_path = os.path.join(logdir, "durations.json")
    try:
        with open(hist_path) as fh:
            history = json.load(fh)
    except (OSError, ValueError):
        history = {}

    jobs = build_jobs(mode, only, chosen)
    if a.repeat:
        for j in jobs:
            j.repeats = a.repeat
    if shutil.which("go") is None:
        print("bench.py: go is not installed: the Go peers are skipped", file=sys.stderr)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = loadavg()
    print("gomem benchmarks, %s mode, %d CPUs, load average %s; logs in %s" %
          (mode, os.cpu_count(), load_start, logdir), file=sys.stderr)
    t0 = time.monotonic()
    failed = run_all(jobs, build, mode, logdir, history)
    wall_s = time.monotonic() - t0
    with open(hist_path, "w") as fh:
        json.dump(history, fh, indent=0, sort_keys=True)
    sz = SIZES[mode]
    args_of = {"alloc": sz["alloc"][0], "gcalloc": sz["gcalloc"][0], "binarytrees": sz["binarytrees"][0],
               "holdup": sz["holdup"][0], "gcbench": sz["gcbench"][0], "finalizers": sz["finalizers"][0],
               "latency": sz["latency"][0]}
    rep = write_report(out, mode, jobs, started, load_start, wall_s, args_of)
    print("\nTargets:", file=sys.stderr)
    for w, text, verdict, detail in rep.targets:
        print("  %-12s %-70s %-11s %s" % (w, text, verdict, detail), file=sys.stderr)
    print("report: %s" % out, file=sys.stderr)
    if failed:
        print("bench.py: some programs failed or printed wrong output (see above and the report)",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
