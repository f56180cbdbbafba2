"""report.py - writes RESULTS.md: machine, versions, targets, tables, charts.

write_report() runs every workload's section (sections.py, and clients.py
for the drop-in programs) into one Report, writes the charts as SVG files
to a charts/ folder beside the report, then the markdown: how the run was
made (mode, date, duration), the machine and its load, the peers' versions
(Debian package versions, go, cc, gomem's git revision), the targets with a
count per verdict, the failed runs and the jobs that could not run, the
sections and links to the charts.  bench/scaling.py appends its own tables
after SCALING_MARK; a later report keeps whatever follows that line in the
file it replaces.
"""

import os
import shutil
import subprocess

import clients
import sections
from figures import Report
from runner import fmt_dur

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SCALING_MARK = "<!-- bench/scaling.py appends below this line -->"


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
    # The report's own outputs (written before this is read) do not count.
    dirty = sh(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--", ".",
                ":!bench/RESULTS.md", ":!bench/charts"])
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
    sections.section_alloc(rep, jobs, args_of["alloc"])
    sections.section_gcalloc(rep, jobs, args_of["gcalloc"])
    sections.section_binarytrees(rep, jobs, args_of["binarytrees"])
    sections.section_holdup(rep, jobs, args_of["holdup"])
    sections.section_gcbench(rep, jobs, args_of["gcbench"])
    sections.section_finalizers(rep, jobs, args_of["finalizers"])
    sections.section_latency(rep, jobs, args_of["latency"])
    sections.section_goroutines(rep, jobs)
    sections.section_gcparked(rep, jobs)
    sections.section_stackheap(rep, jobs)
    clients.section_clients(rep, jobs)

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

