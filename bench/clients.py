"""clients.py - the drop-in programs: bdwgc's client programs (w3m, Nix, Guile,
ECL, ...) under Debian's libgc.so.1 and under gomem's drop-in libgc.so.1.

The programs are tests/clients/programs.sh's, the same ones
tests/clients/run.sh tests: each NAME has the shell functions
prog_NAME_setup WORK (prepares its inputs in the folder WORK) and
prog_NAME_run WORK (runs it from WORK, its output on stdout), and an entry
"NAME:packages:what it does" in CLIENT_PROGRAMS, which programs() reads by
sourcing the file in bash.

Mechanism.  Each program is two jobs of the runner (runner.py), peer
"bdwgc" (the plain environment: the dynamic linker finds Debian's
libgc.so.1) and peer "gomem" (LD_LIBRARY_PATH=DIR/compat/bdwgc), in one
group, so the two alternate run by run.  Before each run ClientJob.command
makes a fresh work folder and runs the setup there, untimed; the run itself
is `bash -c 'cd WORK && . programs.sh && prog_NAME_run WORK'` under the
measure launcher like every other program, so wall time, CPU time (every
process and thread of the run) and peak RSS (its largest process) are
measured alike.  gomem's collector trace is not asked for: the programs
print their stderr into their output.  Both peers run with
GOMEM_BDWGC_BANNER=FILE, to which gomem's library writes a line at start-up:
the gomem runs must leave the line and the bdwgc runs must not, so neither
run can silently get the other library.  Every run's stdout and stderr,
with the work folder's path replaced by WORK, must equal the first good
bdwgc run's; a difference is a failed run.  A program whose Debian packages
are not installed, or whose setup fails, is unavailable (with the reason),
not a failure.  section_clients() writes the report's table, chart and
targets (docs/dropin.md, issue 10's targets: Nix faster and not larger,
Guile and ECL no slower, identical output).
"""

import os
import shutil
import stat
import subprocess
import tempfile

import svgchart
from figures import Figures, f, fr, fspread, missing_text, ratio
from runner import Job, Unavailable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROGRAMS_SH = os.path.join(ROOT, "tests", "clients", "programs.sh")

# the programs of each mode, and seconds per run expected on the 2-CPU
# development machine (either library; refined from the previous run's history)
MODES = {
    "full": ["nix_heavy", "nix_medium", "w3m", "guile", "ecl", "gobjc", "gccpp"],
    "quick": ["nix_medium", "w3m", "guile", "ecl"],
    "smoke": ["w3m"],
}
EST = {"nix_heavy": 12, "nix_medium": 3, "w3m": 0.6, "guile": 3, "ecl": 3, "gobjc": 0.4,
       "gccpp": 0.2, "mmv": 1, "chase": 1, "debfoster": 2, "inkscape": 10}
PEER_ORDER = ["bdwgc", "gomem"]
BANNER = "gomem libgc.so.1"

_programs = None
_packages = {}


def programs():
    """[(name, [packages], what it does)] of CLIENT_PROGRAMS, in its order
    ([] when programs.sh cannot be read)."""
    global _programs
    if _programs is None:
        _programs = []
        try:
            p = subprocess.run(["bash", "-c", '. "$1" && printf "%s\\n" "${CLIENT_PROGRAMS[@]}"',
                                "bash", PROGRAMS_SH], capture_output=True, text=True, timeout=60)
            lines = p.stdout.splitlines() if p.returncode == 0 else []
        except (OSError, subprocess.SubprocessError):
            lines = []
        for line in lines:
            w = line.split(":", 2)
            if len(w) == 3:
                _programs.append((w[0], [x for x in w[1].split(",") if x], w[2]))
    return _programs


def package_version(pkg):
    """The installed Debian package's version, or None."""
    if pkg not in _packages:
        v = None
        try:
            p = subprocess.run(["dpkg-query", "-W", "-f", "${Status} ${Version}", pkg],
                               capture_output=True, text=True, timeout=20)
            if p.returncode == 0 and p.stdout.startswith("install ok installed "):
                v = p.stdout[len("install ok installed "):].strip()
        except (OSError, subprocess.SubprocessError):
            pass
        _packages[pkg] = v
    return _packages[pkg]


def lib_dir(build):
    return os.path.join(build, "compat", "bdwgc")


def remove_tree(path):
    """rm -rf, also through folders a program left read-only (Nix's store)."""
    def retry(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), stat.S_IRWXU)
            os.chmod(p, stat.S_IRWXU)
            func(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=retry)


def first_difference(a, b):
    la, lb = a.splitlines(), b.splitlines()
    for k in range(max(len(la), len(lb))):
        x = la[k] if k < len(la) else "(end)"
        y = lb[k] if k < len(lb) else "(end)"
        if x != y:
            return "line %d: %r, bdwgc's %r" % (k + 1, x[:80], y[:80])
    return "in line endings"


class ClientJob(Job):
    """One program of programs.sh under one library (peer bdwgc or gomem).
    shared: what the two jobs of a program share, the reference output
    ("ref", the first good bdwgc run's) and the number of runs whose
    output differed from it ("differs")."""

    def __init__(self, name, what, packages, peer, est, shared):
        Job.__init__(self, "clients", name, peer, name, [], est)
        self.what, self.packages, self.shared = what, packages, shared
        self.group = name
        self.check = self.compare
        self.work = None

    def locate(self, build):
        if not os.path.exists(PROGRAMS_SH):
            return "%s missing" % PROGRAMS_SH
        missing = [p for p in self.packages if package_version(p) is None]
        if missing:
            return "Debian package %s not installed" % ", ".join(missing)
        if self.peer == "gomem" and not os.path.exists(os.path.join(lib_dir(build), "libgc.so.1")):
            return "not built (libgc.so.1 missing in %s)" % lib_dir(build)
        return None

    def command(self, build, i):
        self.work = tempfile.mkdtemp(prefix="gomem-%s-%s-%d." % (self.case, self.peer, i))
        try:
            p = subprocess.run(["bash", "-c", '. "$1" && prog_%s_setup "$2"' % self.case, "bash",
                                PROGRAMS_SH, self.work], cwd=self.work, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, errors="replace", timeout=600)
            why = None if p.returncode == 0 else "setup failed (exit status %d): %s" % (
                p.returncode, " | ".join((p.stdout + p.stderr).strip().splitlines()[-3:]))
        except (OSError, subprocess.SubprocessError) as e:
            why = "setup failed: %s" % e
        if why:
            remove_tree(self.work)
            raise Unavailable(why)
        env = dict(os.environ)
        env["GOMEM_BDWGC_BANNER"] = self.banner()
        if self.peer == "gomem":
            old = env.get("LD_LIBRARY_PATH")
            env["LD_LIBRARY_PATH"] = lib_dir(build) + (":" + old if old else "")
        return ["bash", "-c", 'cd "$2" && . "$1" && prog_%s_run "$2"' % self.case, "bash",
                PROGRAMS_SH, self.work], env

    def banner(self):
        return self.work + ".banner"

    def compare(self, run):
        run["out"] = run["out"].replace(self.work, "WORK")
        run["err"] = run["err"].replace(self.work, "WORK")
        try:
            with open(self.banner(), errors="replace") as fb:
                loaded = BANNER in fb.read()
        except OSError:
            loaded = False
        if self.peer == "gomem" and not loaded:
            return "gomem's libgc.so.1 was not loaded (no start-up line from GOMEM_BDWGC_BANNER)"
        if self.peer != "gomem" and loaded:
            return "gomem's libgc.so.1 was loaded instead of Debian's (LD_LIBRARY_PATH?)"
        ref = self.shared.get("ref")
        if ref is None:
            if self.peer == "bdwgc":
                self.shared["ref"] = (run["out"], run["err"])
                return None
            return "no good bdwgc run to compare the output with"
        if (run["out"], run["err"]) != ref:
            self.shared["differs"] = self.shared.get("differs", 0) + 1
            which = "stdout" if run["out"] != ref[0] else "stderr"
            a, b = (run["out"], ref[0]) if which == "stdout" else (run["err"], ref[1])
            return "%s differs from the first bdwgc run's, %s" % (which, first_difference(a, b))
        return None

    def after(self, run):
        if self.work:
            remove_tree(self.work)
            try:
                os.unlink(self.banner())
            except OSError:
                pass
            self.work = None


def names():
    return [n for n, _, _ in programs()]


def build_jobs(mode, chosen=None):
    """Two jobs (bdwgc, gomem) per program: chosen, or the mode's list."""
    known = {n: (pk, what) for n, pk, what in programs()}
    jobs = []
    for n in chosen or MODES[mode]:
        pk, what = known.get(n, ([], "?"))
        shared = {}
        for peer in PEER_ORDER:
            j = ClientJob(n, what, pk, peer, EST.get(n, 5), shared)
            if n not in known:
                j.unavailable = "not in tests/clients/programs.sh"
            jobs.append(j)
    return jobs


# ---------------------------------------------------------------------------
# The report's section
# ---------------------------------------------------------------------------


def identical(figs):
    """'yes' (every run of both libraries good, outputs equal), 'no' (an
    output differed) or '-' (not compared: a run failed or could not run)."""
    b, g = figs.get("bdwgc"), figs.get("gomem")
    if b is None or g is None:
        return "-"
    if b.job.shared.get("differs"):
        return "no"
    if b.job.unavailable or g.job.unavailable or b.job.errors or g.job.errors or not g.ok():
        return "-"
    return "yes"


def section_clients(rep, jobs):
    cj = [j for j in jobs if j.workload == "clients"]
    if not cj:
        return
    progs = {}
    for j in cj:
        progs.setdefault(j.case, {})[j.peer] = Figures(j)
    rows = ["## drop-in programs (libgc.so.1)", "",
            "bdwgc's client programs (tests/clients/programs.sh), unmodified, under Debian's libgc.so.1 "
            "(bdwgc) and under gomem's drop-in libgc.so.1 (gomem: `LD_LIBRARY_PATH=build/compat/bdwgc`), "
            "alternating run by run. Inputs are generated afresh in a new folder before each run (not "
            "timed). Wall and CPU time (user + system, every process and thread) of the whole run, peak "
            "RSS of its largest process. Output: every run's stdout and stderr (the work folder's path "
            "replaced) against the first bdwgc run's.", "",
            "| program | what it does | bdwgc wall s | CPU s | peak RSS MiB | gomem wall s | CPU s | "
            "peak RSS MiB | gomem/bdwgc wall | CPU | RSS | identical output |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    same = {}
    for name, figs in progs.items():
        cells = []
        for peer in PEER_ORDER:
            fg = figs.get(peer)
            if fg is not None and fg.ok():
                cells += [fspread(fg.wall, 3), fspread(fg.cpu, 3), fspread(fg.rss_mib, 1)]
            else:
                cells += [missing_text(fg.job) if fg is not None else "no run", "", ""]
        b, g = figs.get("bdwgc"), figs.get("gomem")
        both = b is not None and g is not None and b.ok() and g.ok()
        rats = [fr(ratio(g.wall[0], b.wall[0])), fr(ratio(g.cpu[0], b.cpu[0])),
                fr(ratio(g.rss_mib[0], b.rss_mib[0]))] if both else ["-", "-", "-"]
        same[name] = identical(figs)
        what = next(iter(figs.values())).job.what
        rows.append("| %s | %s | %s | %s | %s |" % (name, what, " | ".join(cells), " | ".join(rats),
                                                    same[name]))
    pkgs = []
    for j in cj:
        for p in j.packages:
            v = package_version(p)
            if v and (p, v) not in pkgs:
                pkgs.append((p, v))
    if pkgs:
        rows += ["", "Debian packages: " + ", ".join("%s %s" % pv for pv in pkgs) + "."]
    rep.sections.append("\n".join(rows))

    def wall(name, peer):
        fg = progs.get(name, {}).get(peer)
        return fg.wall[0] if fg is not None and fg.ok() else None

    def rss(name, peer):
        fg = progs.get(name, {}).get(peer)
        return fg.rss_mib[0] if fg is not None and fg.ok() else None
    nix = "nix_heavy" if "nix_heavy" in progs else "nix_medium" if "nix_medium" in progs else None
    label = "Nix evaluation (%s)" % (nix or "nix_heavy")
    if nix == "nix_medium":
        label = "Nix evaluation (nix_medium, no nix_heavy in this run)"
    for what, get, unit, digits, lim in (("wall", wall, "s", 3, 0.8), ("peak RSS", rss, "MiB", 1, 1.0)):
        g, b = get(nix, "gomem"), get(nix, "bdwgc")
        r = ratio(g, b)
        rep.target("clients", "%s %s <= %.1fx bdwgc" % (label, what, lim), r, lim,
                   "gomem %s %s, bdwgc %s %s: %s" % (f(g, digits), unit, f(b, digits), unit, fr(r))
                   if nix else "no Nix program in this run")
    for name in ("guile", "ecl"):
        g, b = wall(name, "gomem"), wall(name, "bdwgc")
        r = ratio(g, b)
        rep.target("clients", "%s no slower than under bdwgc (wall <= 1.0x)" % name, r, 1.0,
                   "gomem %s s, bdwgc %s s: %s" % (f(g, 3), f(b, 3), fr(r)) if name in progs
                   else "%s not in this run" % name)
    yes = [n for n, s in same.items() if s == "yes"]
    no = [n for n, s in same.items() if s == "no"]
    unknown = [n for n, s in same.items() if s == "-"]
    failed = [n for n in unknown if not any(fg.job.unavailable for fg in progs[n].values())]
    value = 1 if no else None if failed or not yes else 0
    detail = "identical: %s" % (", ".join(yes) or "none")
    if no:
        detail += "; differs: " + ", ".join(no)
    if unknown:
        detail += "; not compared (failed or unavailable): " + ", ".join(unknown)
    rep.target("clients", "identical output for every program", value, 0, detail)
    groups = [(name, {p: figs[p].wall for p in PEER_ORDER if p in figs and figs[p].ok()})
              for name, figs in progs.items() if any(fg.ok() for fg in figs.values())]
    rep.charts.append(("clients.svg", svgchart.bars("drop-in programs (libgc.so.1): wall time",
                                                    "wall time, s (median, min-max)", groups, PEER_ORDER),
                       "drop-in programs: wall time, bdwgc and gomem"))
