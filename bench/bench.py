#!/usr/bin/env python3
"""bench.py - runs gomem's benchmarks against every peer and writes the report.

Usage: bench/bench.py [--build DIR] [--mode full|quick|smoke] [--only W,...]
                      [--repeat N] [--out FILE] [--list]

  --build DIR   the CMake build folder (default build); programs are
                DIR/bench/<program>-<peer> (CMake builds them, the Go ones
                with the target bench_go)
  --mode        full (default; `make bench`), quick (`make bench-quick`, a
                subset at smaller sizes, about two minutes on 2 CPUs) or smoke
                (a few seconds a workload, for CI); BENCH_QUICK=1 or
                BENCH_SMOKE=1 in the environment choose them too
  --only        only these workloads (names as --list prints them)
  --repeat N    run each program N times (default: 3 full, 1-3 quick, 1 smoke)
  --out FILE    the report (default bench/RESULTS.md for full and quick runs,
                DIR/bench-results/RESULTS.md for smoke runs); the charts go to
                a charts/ folder beside it

Mechanism.  Every benchmark program runs as a child of this script: started
with subprocess.Popen (stdout and stderr to files under
DIR/bench-results/) through DIR/bench/measure, a small C launcher that
forks it, reaps it with wait4 and writes its wall time, peak resident set
(ru_maxrss) and exit status to a file (run from Python directly, ru_maxrss
would include the Python process's own memory: see measure.c); this script
reaps the launcher with os.wait4(), whose rusage gives the CPU time
(ru_utime + ru_stime of the program and all its threads).  While it runs a watcher thread
reads /proc/PID/status VmRSS every 5 ms for the workloads that chart memory
over time, enforces a time limit, and the terminal shows which program, which
peer, n/N, elapsed and expected total time (the expected times come from the
previous run's durations, kept in DIR/bench-results/durations.json, or
built-in estimates).  Each program runs several times; tables give the median
and the min-max range.  Outputs are checked (binary-trees against
bench/binarytrees-21.expected or the same formula at other depths, GCBench
against its formulas, every other program's own consistency checks and exit
status).  gomem runs with GOMEM_DEBUG=gctrace=1 and Go with GODEBUG=gctrace=1;
their trace lines give each cycle's stops and heap sizes, and every collected
program prints its collector's own per-cycle pause list (gcpauses_ns).

The report gives the machine, the peers' versions, one table per workload
with the ratios gomem/peer, and every target as MET, NOT MET, NOT CHECKED (a
program failed or is missing) or UNAVAILABLE (a mode the library does not
accept yet).  Exit status: 0 if every program that ran exited cleanly with
the right output (targets not met are reported, not failures), 1 otherwise,
2 for bad usage.  bench/scaling.py reuses the runner (run_child, parsers).
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
import svgchart  # noqa: E402

SCALING_MARK = "<!-- bench/scaling.py appends below this line -->"

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
# Parsing the programs' output
# ---------------------------------------------------------------------------


def kv(line):
    """'tag: a=1 b=x' -> {'a': 1.0, 'b': 'x'} (numbers become floats)."""
    d = {}
    for w in line.split():
        if "=" in w:
            k, v = w.split("=", 1)
            try:
                d[k] = float(v)
            except ValueError:
                d[k] = v
    return d


def records(text, tag):
    """Every line that starts with tag (then ':' or ' '), parsed by kv()."""
    return [kv(line[len(tag):]) for line in text.splitlines()
            if line.startswith(tag + ":") or line.startswith(tag + " ")]


def last_record(text, tag):
    r = records(text, tag)
    return r[-1] if r else {}


def pause_list(err):
    """The collector's own per-cycle pauses (gcpauses_ns line), in ns."""
    for line in reversed(err.splitlines()):
        if line.startswith("gcpauses_ns:"):
            return [int(w) for w in line.split()[1:]]
    return []


# Go's and gomem's trace line: gc N @Ts P%: a+b+c ms clock, ..., S->E->L MB, ...
GCTRACE = re.compile(r"^gc (\d+) @([\d.]+)s \d+%: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock.*? "
                     r"(\d+)->(\d+)->(\d+) MB")


def gctrace(err):
    """Cycles from gctrace lines: t (s since start), a/b/c (ms: the first
    stop, marking, the final stop), heap start/end/live (MB)."""
    out = []
    for line in err.splitlines():
        m = GCTRACE.match(line)
        if m:
            out.append({"n": int(m.group(1)), "t": float(m.group(2)), "a": float(m.group(3)),
                        "b": float(m.group(4)), "c": float(m.group(5)), "start": int(m.group(6)),
                        "end": int(m.group(7)), "live": int(m.group(8))})
    return out


# ---------------------------------------------------------------------------
# Running one child
# ---------------------------------------------------------------------------


def read_vmrss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def child_pid(pid):
    """The first child of process pid (measure's benchmark), or None."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            w = f.read().split()
            return int(w[0]) if w else None
    except (OSError, ValueError):
        return None


def run_child(argv, env, out_path, err_path, sample=False, timeout=None, tick=None, measure=None):
    """Runs argv as a child; returns a dict: wall, cpu (s), rss_kib (peak),
    status (exit code, or 128 + signal), timed_out, samples [(s, KiB)],
    out, err (text).  sample: read the program's VmRSS every 5 ms;
    tick(elapsed) is called about every 0.2 s from the watcher thread.

    measure: the path of build/bench/measure, which then runs argv as its
    own child: wait4 on it still gives the CPU time (a reaped grandchild's
    usage is included), and its result file gives the program's wall time
    and a peak RSS free of this script's memory (ru_maxrss counts what a
    process had before its exec: see measure.c).  Without it, rss_kib is
    wait4's ru_maxrss, which is at least this script's own peak.  The child
    runs in its own session so that a time limit kills the whole group."""
    res_path = out_path + ".measure"
    cmd = [measure, res_path] + argv if measure else argv
    t0 = time.monotonic()
    with open(out_path, "wb") as fo, open(err_path, "wb") as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, env=env,
                             start_new_session=True)
    done = threading.Event()
    samples = []
    state = {"timed_out": False}

    def watch():
        last_tick = 0.0
        target = None if measure else p.pid
        while not done.is_set():
            now = time.monotonic() - t0
            if sample:
                if target is None:
                    target = child_pid(p.pid)
                if target is not None:
                    rss = read_vmrss_kib(target)
                    if rss is not None:
                        samples.append((now, rss))
            if timeout is not None and now > timeout and not state["timed_out"]:
                state["timed_out"] = True
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
            if tick is not None and now - last_tick >= 0.2:
                last_tick = now
                tick(now)
            done.wait(0.005 if sample else 0.05)
    w = threading.Thread(target=watch, daemon=True)
    w.start()
    while True:
        try:
            _, status, ru = os.wait4(p.pid, 0)
            break
        except InterruptedError:
            continue
    wall = time.monotonic() - t0
    done.set()
    w.join()
    code = os.waitstatus_to_exitcode(status)
    p.returncode = code
    code = code if code >= 0 else 128 - code
    rss = ru.ru_maxrss
    if measure:
        m = {}
        try:
            with open(res_path) as f:
                m = kv(f.read().replace("measure:", ""))
        except OSError:
            pass
        if "wall_s" in m:
            wall, rss, code = m["wall_s"], int(m["maxrss_kib"]), int(m["status"])
    with open(out_path, errors="replace") as f:
        out = f.read()
    with open(err_path, errors="replace") as f:
        err = f.read()
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_kib": rss,
            "status": code, "timed_out": state["timed_out"], "samples": samples,
            "out": out, "err": err}


# ---------------------------------------------------------------------------
# Peers and jobs
# ---------------------------------------------------------------------------

# label -> (file suffix of the program, extra environment)
PEERS = {
    "gomem": ("gomem", {"GOMEM_DEBUG": "gctrace=1"}),
    "gomem-stw": ("gomem", {"GOMEM_DEBUG": "gctrace=1,gcstoptheworld=1"}),
    "bdwgc": ("bdwgc", {}),
    "bdwgc-incr": ("bdwgc", {"BENCH_BDWGC_INCREMENTAL": "1"}),
    "glibc": ("glibc", {}),
    "jemalloc": ("jemalloc", {}),
    "mimalloc": ("mimalloc", {}),
    "go": ("go", {"GODEBUG": "gctrace=1"}),
}
ALL_MALLOC = ["gomem", "bdwgc", "glibc", "jemalloc", "mimalloc"]


class Job:
    """One program with one peer and one argument list, run `repeats` times."""

    def __init__(self, workload, case, peer, prog, args, est, check=None, env=None,
                 sample=False, repeats=None):
        self.workload, self.case, self.peer, self.prog = workload, case, peer, prog
        self.args = [str(a) for a in args]
        self.est = est          # expected seconds per run, before any history
        self.check = check      # check(run) -> error text or None
        self.env = env or {}
        self.sample = sample
        self.repeats = repeats
        self.runs = []          # successful and failed runs
        self.errors = []        # what went wrong, per failed run
        self.unavailable = None  # why the mode could not run at all

    def key(self, mode):
        return "%s|%s|%s|%s|%s" % (mode, self.workload, self.case, self.peer, " ".join(self.args))

    def ok_runs(self):
        return [r for r in self.runs if r.get("ok")]


def check_status(run):
    if run["timed_out"]:
        return "killed after the time limit"
    if run["status"] != 0:
        tail = run["err"].strip().splitlines()[-3:]
        return "exit status %d: %s" % (run["status"], " | ".join(tail))
    return None


def check_text(expected):
    def check(run):
        if run["out"] != expected:
            return "output differs from the expected text"
        return None
    return check


def check_tag(tag, count=1):
    def check(run):
        recs = records(run["out"], tag)
        if len(recs) < count:
            return "expected %d '%s' lines, got %d" % (count, tag, len(recs))
        if "FAILED" in run["out"]:
            return "the program reported FAILED"
        return None
    return check


# Sizes per mode.  Each entry: the arguments, and seconds per run expected on
# the 2-CPU development machine (refined from the previous run's history).
SIZES = {
    "full": {
        "alloc": ("1048576 5 1073741824", 60), "gcalloc": ("1048576 5 1", 4),
        "binarytrees": (21, 20), "holdup": (20, 20), "gcbench": ("18 16 500000 4 16", 1),
        "finalizers": ("1000000 48 3", 2), "latency": ("200000 2000000 1024", 6),
        "spawn": (1000000, 2), "pingpong": (1000000, 2), "parked_g": (1000000, 5),
        "parked_many": (10000000, 40), "gcparked": ("100000 200 5", 5),
        "markheap": ([64, 256], 3), "stackheap": ("10000000 10000 1000", 3),
    },
    "quick": {
        "alloc": ("262144 3 67108864", 4), "gcalloc": ("1048576 3 1", 2),
        "binarytrees": (18, 3), "holdup": (18, 3), "gcbench": ("18 16 500000 4 16", 1),
        "finalizers": ("1000000 48 1", 1), "latency": ("200000 1000000 1024", 3),
        "spawn": (100000, 1), "pingpong": (100000, 1), "parked_g": (100000, 1),
        "parked_many": None, "gcparked": ("100000 200 3", 3),
        "markheap": ([64, 256], 2), "stackheap": ("10000000 10000 1000", 2),
    },
    "smoke": {
        "alloc": ("16384 1 4194304", 1), "gcalloc": ("65536 1 1", 1),
        "binarytrees": (12, 1), "holdup": (12, 1), "gcbench": ("14 12 50000 4 12", 1),
        "finalizers": ("20000 48 1", 1), "latency": ("5000 50000 1024", 1),
        "spawn": (10000, 1), "pingpong": (10000, 1), "parked_g": (10000, 1),
        "parked_many": None, "gcparked": ("2000 16 2", 1),
        "markheap": ([16], 1), "stackheap": ("100000 1000 50", 1),
    },
}
REPEATS = {"full": 3, "quick": 3, "smoke": 1}
# quick mode: fewer repeats where a run is long or measures many rounds itself
QUICK_REPEATS = {"alloc": 1, "latency": 2, "holdup": 2, "markheap": 1, "stackheap": 1,
                 "goroutines": 1, "gcparked": 2}

WORKLOADS = ["alloc", "gcalloc", "binarytrees", "holdup", "gcbench", "finalizers", "latency",
             "goroutines", "gcparked", "markheap", "stackheap"]


def build_jobs(mode, only):
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
    for j in jobs:
        if j.repeats is None:
            j.repeats = REPEATS[mode]
            if mode == "quick":
                j.repeats = QUICK_REPEATS.get(j.workload, j.repeats)
    return jobs


def program_path(build, job):
    suffix = PEERS[job.peer][0]
    path = os.path.join(build, "bench", "%s-%s" % (job.prog, suffix))
    return path if os.access(path, os.X_OK) else None


# ---------------------------------------------------------------------------
# Progress on the terminal
# ---------------------------------------------------------------------------


def fmt_dur(s):
    s = int(round(s))
    return "%dm%02ds" % (s // 60, s % 60) if s >= 60 else "%ds" % s


class Progress:
    def __init__(self, total_runs, expected_s):
        self.total, self.expected, self.n = total_runs, expected_s, 0
        self.t0 = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.label = ""
        self.lock = threading.Lock()

    def start(self, label, remaining_s):
        with self.lock:
            self.n += 1
            self.label = label
            self.expected = time.monotonic() - self.t0 + remaining_s
            if not self.tty:
                print("[%d/%d] %s (elapsed %s, expected total ~%s)" % (
                    self.n, self.total, label, fmt_dur(time.monotonic() - self.t0),
                    fmt_dur(self.expected)), file=sys.stderr, flush=True)
            self.show(0.0)

    def show(self, run_s):
        if not self.tty:
            return
        el = time.monotonic() - self.t0
        line = "[%d/%d] %s  %.1fs | elapsed %s of ~%s" % (
            self.n, self.total, self.label, run_s, fmt_dur(el), fmt_dur(max(self.expected, el)))
        with self.lock:
            sys.stderr.write("\r\033[K" + line[:150])
            sys.stderr.flush()

    def note(self, text):
        with self.lock:
            sys.stderr.write(("\r\033[K" if self.tty else "") + text + "\n")
            sys.stderr.flush()

    def done(self):
        if self.tty:
            sys.stderr.write("\r\033[K")
        print("ran %d programs in %s" % (self.n, fmt_dur(time.monotonic() - self.t0)),
              file=sys.stderr)


def run_all(jobs, build, mode, logdir, history):
    measure = os.path.join(build, "bench", "measure")
    if not os.access(measure, os.X_OK):
        raise SystemExit("bench.py: %s missing: build first (make build)" % measure)
    runnable = []
    for j in jobs:
        if program_path(build, j) is None:
            j.unavailable = "not built (%s-%s missing in %s/bench)" % (j.prog, PEERS[j.peer][0], build)
        else:
            runnable.append(j)

    def est(j):
        return history.get(j.key(mode), j.est)
    total_runs = sum(j.repeats for j in runnable)
    remaining = sum(est(j) * j.repeats for j in runnable)
    prog = Progress(total_runs, remaining)
    failed = False
    for j in runnable:
        exe = program_path(build, j)
        env = dict(os.environ)
        env.update(PEERS[j.peer][1])
        env.update(j.env)
        times = []
        for i in range(j.repeats):
            label = "%s%s  %s  run %d/%d" % (j.workload, " " + j.case if j.case else "", j.peer,
                                             i + 1, j.repeats)
            prog.start(label, remaining)
            stem = os.path.join(logdir, "%s%s-%s-%d" % (j.workload, "-" + j.case if j.case else "",
                                                       j.peer, i))
            limit = max(60.0, 20 * est(j))
            r = run_child([exe] + j.args, env, stem + ".out", stem + ".err", j.sample, limit,
                          prog.show, measure=measure)
            remaining = max(remaining - est(j), 0)
            times.append(r["wall"])
            err = check_status(r)
            if err and j.peer == "gomem-stw" and "GOMEM_DEBUG" in r["err"]:
                j.unavailable = ("the library rejects GOMEM_DEBUG=gcstoptheworld=1: "
                                 + (r["err"].strip().splitlines() or ["?"])[0][:200])
                prog.note("  %s: mode unavailable (%s)" % (j.peer, j.unavailable))
                remaining = max(remaining - est(j) * (j.repeats - i - 1), 0)
                prog.total -= j.repeats - i - 1
                break
            if err is None and j.check is not None:
                err = j.check(r)
            r["ok"] = err is None
            j.runs.append(r)
            if err:
                failed = True
                j.errors.append(err)
                prog.note("  FAILED: %s %s: %s (logs %s.*)" % (j.workload, j.peer, err, stem))
        if times and j.unavailable is None:
            history[j.key(mode)] = statistics.median(times)
    prog.done()
    return failed


# ---------------------------------------------------------------------------
# Figures from runs
# ---------------------------------------------------------------------------


def med(xs):
    return statistics.median(xs) if xs else None


def spread(xs):
    """(median, min, max) or (None, None, None)."""
    return (med(xs), min(xs), max(xs)) if xs else (None, None, None)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def f(v, digits=2):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if v != 0 and abs(v) < 10 ** -digits:
        return "%.2g" % v
    return "%.*f" % (digits, v)


def fr(v):
    return "-" if v is None else "%.2fx" % v


def fspread(t, digits=2, scale=1.0):
    m, lo, hi = t
    if m is None:
        return "-"
    if lo == hi:
        return f(m * scale, digits)
    return "%s (%s-%s)" % (f(m * scale, digits), f(lo * scale, digits), f(hi * scale, digits))


def percentile(xs, q):
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


class Figures:
    """Per job: process figures and collector figures over its good runs."""

    def __init__(self, job):
        self.job = job
        runs = job.ok_runs()
        self.runs = runs
        self.wall = spread([r["wall"] for r in runs])
        self.cpu = spread([r["cpu"] for r in runs])
        self.rss_mib = spread([r["rss_kib"] / 1024 for r in runs])
        gcs = [last_record(r["err"], "gcstats").get("num_gc") for r in runs]
        gcs = [g for g in gcs if g is not None]
        self.num_gc = med(gcs)
        self.pauses_ns = [p for r in runs for p in pause_list(r["err"])]
        self.trace = [gctrace(r["err"]) for r in runs]
        stops = [max(c["a"], c["c"]) for t in self.trace for c in t]
        self.max_stop_trace_ms = max(stops) if stops else None

    def ok(self):
        return bool(self.runs)

    def rec(self, tag, key, select=None):
        """(median, min, max) over runs of a value in the program's output."""
        vals = []
        for r in self.runs:
            for d in records(r["out"], tag):
                if select is None or all(d.get(k) == v for k, v in select.items()):
                    if key in d:
                        vals.append(d[key])
                    break
        return spread(vals)

    def err_rec(self, tag, key):
        return spread([last_record(r["err"], tag)[key] for r in self.runs
                       if key in last_record(r["err"], tag)])

    def pause_cols(self):
        if not self.pauses_ns:
            return "-", "-", "-"
        ms = [p / 1e6 for p in self.pauses_ns]
        return f(percentile(ms, 0.5), 3), f(percentile(ms, 0.99), 3), f(max(ms), 3)


class Report:
    def __init__(self):
        self.targets = []     # (workload, text, verdict, detail)
        self.sections = []    # markdown text blocks
        self.charts = []      # (file name, svg text, caption)

    def target(self, workload, text, value, limit, detail, unavailable=None):
        if unavailable:
            verdict = "UNAVAILABLE"
        elif value is None:
            verdict = "NOT CHECKED"
        else:
            verdict = "MET" if value <= limit else "NOT MET"
        self.targets.append((workload, text, verdict, detail))


def by_peer(jobs, workload, case=""):
    return {j.peer: Figures(j) for j in jobs if j.workload == workload and j.case == case}


def peer_table(figs, note_missing, gomem="gomem"):
    """The standard process table with ratios gomem/peer."""
    g = figs.get(gomem)
    rows = ["| peer | wall s | CPU s | peak RSS MiB | GCs | pause p50 / p99 / max ms | "
            "gomem/peer wall | CPU | RSS |", "|---|---|---|---|---|---|---|---|---|"]
    for peer, fg in figs.items():
        if not fg.ok():
            rows.append("| %s | %s | | | | | | | |" % (peer, note_missing(fg.job)))
            continue
        p50, p99, pmax = fg.pause_cols()
        rw = rc = rr = "-"
        if g is not None and g.ok() and peer != gomem:
            rw = fr(ratio(g.wall[0], fg.wall[0]))
            rc = fr(ratio(g.cpu[0], fg.cpu[0]))
            rr = fr(ratio(g.rss_mib[0], fg.rss_mib[0]))
        rows.append("| %s | %s | %s | %s | %s | %s / %s / %s | %s | %s | %s |" % (
            peer, fspread(fg.wall, 3), fspread(fg.cpu, 3), fspread(fg.rss_mib, 1),
            f(fg.num_gc, 0), p50, p99, pmax, rw, rc, rr))
    return "\n".join(rows)


def missing_text(job):
    if job.unavailable:
        return "unavailable (see Not run)" if "rejects" in job.unavailable else "unavailable: " + job.unavailable
    if job.errors:
        return "FAILED: " + job.errors[0]
    return "no run"


def wall_bars(rep, name, title, figs, key=None, unit="wall time, s (median, min-max)"):
    groups = []
    for peer, fg in figs.items():
        if fg.ok():
            t = key(fg) if key else fg.wall
            groups.append((peer, {"time": t}))
    rep.charts.append((name, svgchart.bars(title, unit, groups, ["time"]), title))


# ---------------------------------------------------------------------------
# One section per workload
# ---------------------------------------------------------------------------


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


def memory_chart(rep, name, title, figs):
    series = []
    for peer, fg in figs.items():
        if not fg.ok():
            continue
        run = fg.runs[len(fg.runs) // 2]
        series.append(("%s RSS" % peer, [(t, k / 1024) for t, k in run["samples"]], "solid"))
    for peer, fg in figs.items():
        if not fg.ok():
            continue
        trace = fg.trace[len(fg.runs) // 2]
        if trace:
            pts = []
            for c in trace:
                pts += [(c["t"], c["start"]), (c["t"] + (c["a"] + c["b"] + c["c"]) / 1e3, c["live"])]
            series.append(("%s heap (gctrace)" % peer, pts, "dashed"))
    rep.charts.append((name, svgchart.lines(title, "seconds since start", "MiB", series), title))


def pause_chart(rep, name, title, figs):
    series = []
    edges = [1e3 * 2 ** k for k in range(0, 21)]  # 1 us .. 1 s, log2 bins
    for peer, fg in figs.items():
        if not fg.pauses_ns:
            continue
        counts = [0] * len(edges)
        for p in fg.pauses_ns:
            k = 0
            while k + 1 < len(edges) and p >= edges[k + 1]:
                k += 1
            counts[k] += 1
        series.append((peer, [(edges[k] / 1e3, c) for k, c in enumerate(counts)], "solid"))
    # only the bins from the first to the last that any collector used, and one each side
    used = [k for _, pts, _ in series for k, (_, c) in enumerate(pts) if c]
    if used:
        lo, hi = max(min(used) - 1, 0), min(max(used) + 1, len(edges) - 1)
        series = [(n, pts[lo:hi + 1], st) for n, pts, st in series]
    rep.charts.append((name, svgchart.lines(title, "stop-the-world pause per cycle, us (log2 bins)",
                                            "cycles", series, log_x=True), title))


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


# ---------------------------------------------------------------------------
# Machine, versions, report
# ---------------------------------------------------------------------------


def sh(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fcpu:
            for line in fcpu:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as fm:
            mem = "%.0f GiB" % (int(fm.readline().split()[1]) / 2 ** 20)
    except (OSError, ValueError, IndexError):
        pass
    u = os.uname()
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": "%s %s %s" % (u.sysname, u.release, u.machine),
            "memory": mem}


def versions():
    out = []
    for pkg in ("libgc1", "libmimalloc2.0", "libjemalloc2", "libc6"):
        v = sh(["dpkg-query", "-W", "-f", "${Version}", pkg])
        out.append((pkg, v or "not installed / not a Debian system"))
    go = shutil.which("go")
    out.append(("go", sh([go, "version"]) if go else "not installed"))
    out.append(("cc", (sh(["cc", "--version"]).splitlines() or ["?"])[0]))
    rev = sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])
    out.append(("gomem", (rev or "?") + (" (with uncommitted changes)" if dirty else "")))
    return out


def loadavg():
    try:
        with open("/proc/loadavg") as fl:
            return " ".join(fl.read().split()[:3])
    except OSError:
        return "?"


def write_report(path, mode, jobs, started, load_start, wall_s, args_of):
    rep = Report()
    section_alloc(rep, jobs, args_of["alloc"])
    section_gcalloc(rep, jobs, args_of["gcalloc"])
    section_binarytrees(rep, jobs, args_of["binarytrees"])
    section_holdup(rep, jobs, args_of["holdup"])
    section_gcbench(rep, jobs, args_of["gcbench"])
    section_finalizers(rep, jobs, args_of["finalizers"])
    section_latency(rep, jobs, args_of["latency"])
    section_goroutines(rep, jobs)
    section_gcparked(rep, jobs)
    section_stackheap(rep, jobs)

    outdir = os.path.dirname(os.path.abspath(path))
    chartdir = os.path.join(outdir, "charts")
    os.makedirs(chartdir, exist_ok=True)
    for name, svg, _ in rep.charts:
        with open(os.path.join(chartdir, name), "w") as fc:
            fc.write(svg)

    m = machine()
    kind = {"full": "a full run (`make bench`)",
            "quick": "a QUICK run (`make bench-quick`: smaller sizes and fewer repeats than `make bench`; "
                     "figures are indicative only)",
            "smoke": "a SMOKE run (tiny sizes, CI's check that everything runs; the figures mean nothing)"}[mode]
    L = ["# gomem benchmark results", "",
         "Written by `bench/bench.py` (%s) on %s UTC, in %s. Ratios are gomem/peer from this one run "
         "(below 1: gomem faster or smaller); compare ratios, not absolute figures across runs." %
         (kind, started.strftime("%Y-%m-%d %H:%M"), fmt_dur(wall_s)), "",
         "## Machine", "",
         "- CPU: %s, %s cores; memory %s" % (m["cpu"], m["cores"], m["memory"]),
         "- kernel: %s" % m["kernel"],
         "- load average at start: %s, at end: %s (above the core count, other processes shared the CPUs "
         "and wall times stretch)" % (load_start, loadavg()), "",
         "## Versions", ""]
    L += ["- %s: %s" % (k, v) for k, v in versions()]
    L += ["", "## Targets", "", "| workload | target | result | figures |", "|---|---|---|---|"]
    L += ["| %s | %s | %s | %s |" % t for t in rep.targets]
    counts = {}
    for t in rep.targets:
        counts[t[2]] = counts.get(t[2], 0) + 1
    L += ["", ", ".join("%s: %d" % kv_ for kv_ in sorted(counts.items())), ""]
    failed = [(j, e) for j in jobs for e in j.errors]
    if failed:
        L += ["## Failed runs", ""]
        L += ["- %s %s %s: %s" % (j.workload, j.case, j.peer, e) for j, e in failed]
        L.append("")
    unav = [j for j in jobs if j.unavailable]
    if unav:
        L += ["## Not run", ""]
        L += ["- %s %s %s: %s" % (j.workload, j.case, j.peer, j.unavailable) for j in unav]
        L.append("")
    L += ["Tables: median over runs, (min-max) where runs differ. Pauses: each collected "
          "program's own per-cycle stop-the-world record (gomem `pause_ns`, Go `PauseNs`: the last "
          "256 cycles; bdwgc: timed from its stop-world events; bdwgc in incremental mode reports "
          "no stop events, so its pause columns are empty or zero and its push times are the "
          "figure to read).", ""]
    L += [s + "\n" for s in rep.sections]
    L += ["## Charts", ""]
    rel = os.path.relpath(chartdir, outdir)
    for name, _, caption in rep.charts:
        L.append("- [%s](%s/%s)" % (caption, rel, name))
    L.append("")
    # keep what bench/scaling.py appended to an earlier report
    tail = ""
    if os.path.exists(path):
        with open(path) as fo:
            old = fo.read()
        if SCALING_MARK in old:
            tail = old[old.index(SCALING_MARK) + len(SCALING_MARK):]
    L += [SCALING_MARK + tail.rstrip("\n"), ""]
    with open(path, "w") as fo:
        fo.write("\n".join(L))
    return rep


def main():
    ap = argparse.ArgumentParser(description="Runs gomem's benchmarks against its peers.")
    ap.add_argument("--build", default="build")
    ap.add_argument("--mode", choices=["full", "quick", "smoke"])
    ap.add_argument("--only", default="")
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

    jobs = build_jobs(mode, only)
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
