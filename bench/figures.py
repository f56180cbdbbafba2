"""figures.py - from a job's runs to the report's figures, cells and charts.

Figures(job) gathers what the report needs from the job's good runs: the
process figures (wall, CPU, peak RSS as (median, min, max) over runs), the
collector's figures (number of cycles, every cycle's pause from the
program's gcpauses_ns line, the gctrace cycles) and rec(), any value a
program prints on a `tag: key=value ...` line.  Report collects what the
sections produce: targets (judged MET / NOT MET / NOT CHECKED / UNAVAILABLE
by Report.target), markdown blocks and SVG charts.  The formatting helpers
(f, fr, fspread) print "-" for a missing figure, so a failed or missing
program leaves gaps in a table rather than breaking it.  peer_table() is the
standard table of one workload's peers with the ratios gomem/peer;
wall_bars(), memory_chart() and pause_chart() the charts several sections
share (svgchart.py draws them).
"""

import statistics

import svgchart
from runner import gctrace, last_record, pause_list, records

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
