"""runner.py - runs the benchmark programs as children and measures them.

Mechanism.  Every benchmark program runs as a child of the runner: started
with subprocess.Popen (stdout and stderr to files under
DIR/bench-results/) through DIR/bench/measure, a small C launcher that
forks it, reaps it with wait4 and writes its wall time, peak resident set
(ru_maxrss) and exit status to a file (run from Python directly, ru_maxrss
would include the Python process's own memory: see measure.c); the runner
reaps the launcher with os.wait4(), whose rusage gives the CPU time
(ru_utime + ru_stime of the program and all its threads).  While it runs a
watcher thread reads /proc/PID/status VmRSS every 5 ms for the workloads that
chart memory over time, enforces a time limit, and the terminal shows which
program, which peer, n/N, elapsed and expected total time (the expected
times come from the previous run's durations, kept in
DIR/bench-results/durations.json, or built-in estimates).

A Job is one program with one peer, run `repeats` times.  run_all() asks
each job where its program is (Job.locate), what to run for run i
(Job.command: the argument vector and environment; a job may prepare inputs
there, untimed, or raise Unavailable), checks each run (exit status, then
Job.check on the output) and lets the job clean up (Job.after).  Jobs run one
after the other, each job's runs in a row, except that consecutive jobs of
one group (Job.group) alternate run by run, so that a change in the
machine's load hits them alike.

Also here: the parsers of the programs' output (kv lines, records, the
collectors' pause lists and gctrace lines), shared by the report and by
bench/scaling.py.
"""

import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

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


class Unavailable(Exception):
    """Raised by Job.command when the program cannot run here (the reason)."""


class Job:
    """One program with one peer and one argument list, run `repeats` times.
    A program of build/bench by default; a subclass changes locate(),
    command() and after() to run something else."""

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
        self.group = None       # consecutive jobs of one group alternate runs

    def key(self, mode):
        return "%s|%s|%s|%s|%s" % (mode, self.workload, self.case, self.peer, " ".join(self.args))

    def ok_runs(self):
        return [r for r in self.runs if r.get("ok")]

    def locate(self, build):
        """None when the program can run, else why not."""
        if program_path(build, self) is None:
            return "not built (%s-%s missing in %s/bench)" % (self.prog, PEERS[self.peer][0], build)
        return None

    def command(self, build, i):
        """(argv, environment) of run i (0-based)."""
        env = dict(os.environ)
        env.update(PEERS[self.peer][1])
        env.update(self.env)
        return [program_path(build, self)] + self.args, env

    def after(self, run):
        """Called after each run, once it is checked."""


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


def schedule(jobs):
    """[(job, run index)] in running order: each job's runs in a row, except
    that consecutive jobs of one group alternate run by run."""
    out = []
    k = 0
    while k < len(jobs):
        e = k + 1
        if jobs[k].group is not None:
            while e < len(jobs) and jobs[e].group == jobs[k].group:
                e += 1
        block = jobs[k:e]
        for i in range(max(j.repeats for j in block)):
            out += [(j, i) for j in block if i < j.repeats]
        k = e
    return out


def run_all(jobs, build, mode, logdir, history):
    """Runs every job (see the module's docstring); returns True if a run
    failed.  history: expected seconds per job key, updated with the
    median wall time of each job that ran."""
    measure = os.path.join(build, "bench", "measure")
    if not os.access(measure, os.X_OK):
        raise SystemExit("bench.py: %s missing: build first (make build)" % measure)
    runnable = []
    for j in jobs:
        if j.unavailable is None:
            j.unavailable = j.locate(build)
        if j.unavailable is None:
            runnable.append(j)

    def est(j):
        return history.get(j.key(mode), j.est)
    total_runs = sum(j.repeats for j in runnable)
    remaining = sum(est(j) * j.repeats for j in runnable)
    prog = Progress(total_runs, remaining)
    failed = False
    times = {}

    def give_up(j, i, why, ran):
        """j cannot run (why); its runs from i on (from i + 1 if run i ran) are dropped."""
        nonlocal remaining
        j.unavailable = why
        prog.note("  %s%s %s: unavailable (%s)" % (j.workload, " " + j.case if j.case else "", j.peer, why))
        left = j.repeats - i - (1 if ran else 0)
        remaining = max(remaining - est(j) * left, 0)
        prog.total -= j.repeats - i - 1
    for j, i in schedule(runnable):
        if j.unavailable is not None:
            continue
        name = "%s%s" % (j.workload, " " + j.case if j.case else "")
        prog.start("%s  %s  run %d/%d" % (name, j.peer, i + 1, j.repeats), remaining)
        stem = os.path.join(logdir, "%s%s-%s-%d" % (j.workload, "-" + j.case if j.case else "",
                                                   j.peer, i))
        try:
            argv, env = j.command(build, i)
        except Unavailable as e:
            give_up(j, i, str(e), False)
            continue
        limit = max(60.0, 20 * est(j))
        r = run_child(argv, env, stem + ".out", stem + ".err", j.sample, limit,
                      prog.show, measure=measure)
        remaining = max(remaining - est(j), 0)
        times.setdefault(j, []).append(r["wall"])
        err = check_status(r)
        if err and j.peer == "gomem-stw" and "GOMEM_DEBUG" in r["err"]:
            j.after(r)
            give_up(j, i, "the library rejects GOMEM_DEBUG=gcstoptheworld=1: "
                    + (r["err"].strip().splitlines() or ["?"])[0][:200], True)
            continue
        if err is None and j.check is not None:
            err = j.check(r)
        r["ok"] = err is None
        j.runs.append(r)
        j.after(r)
        if err:
            failed = True
            j.errors.append(err)
            prog.note("  FAILED: %s %s: %s (logs %s.*)" % (name, j.peer, err, stem))
    for j, t in times.items():
        if j.unavailable is None:
            history[j.key(mode)] = statistics.median(t)
    prog.done()
    return failed
