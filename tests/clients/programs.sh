# programs.sh - the bdwgc client programs that run.sh tests and
# bench/clients.py times, each run under Debian's libgc.so.1 and gomem's.
#
# Sourced by run.sh and bench/clients.py.  Each program NAME has:
#   prog_NAME_setup WORK     prepares inputs in WORK (once)
#   prog_NAME_run WORK       runs the program from WORK, its output on
#                            stdout; runs under whatever libgc.so.1 the
#                            caller's LD_LIBRARY_PATH selects
# and an entry in CLIENT_PROGRAMS with the Debian packages it needs.
# Inputs are generated, never downloaded; every run starts from fresh
# inputs (setup runs again in a new WORK for each library).

DATA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/data" && pwd)

# name:packages (comma-separated):what it does
CLIENT_PROGRAMS=(
    "w3m:w3m:w3m -dump of a generated 3.5 MB HTML page"
    "mmv:mmv:mmv renames 2000 files by a pattern"
    "chase:chase:chase resolves 500 chains of symbolic links"
    "debfoster:debfoster:debfoster lists the installed packages it would remove"
    "nix_medium:nix-bin:nix-instantiate --eval --strict, about 330 MB allocated"
    "nix_heavy:nix-bin:nix-instantiate --eval --strict, several GB allocated"
    "guile:guile-3.0:guile conses trees on 4 threads (par-map), hash and weak tables, guardians"
    "ecl:ecl:ecl conses trees on 4 threads, hash tables, strings"
    "gobjc:gobjc:a GNU Objective-C program on libobjc_gc allocating 2M instances"
    "gccpp:libgc-dev,g++:a C++ program on Debian's libgccpp.so.1 (gc, gc_cleanup, NoGC)"
    "inkscape:inkscape:inkscape exports a generated SVG (3000 shapes, text) to PNG, headless"
)

# ------------------------------------------------------------------ w3m
prog_w3m_setup() {
    python3 - "$1/page.html" <<'EOF'
import random, sys
random.seed(7)
out = ['<html><head><title>generated</title></head><body><h1>A large page</h1>']
for i in range(9000):
    words = ' '.join('w%d' % random.randint(0, 10**6) for _ in range(30))
    out.append('<p>Paragraph <b>%d</b>: %s <a href="#p%d">link</a></p>' % (i, words, i))
    if i % 150 == 0:
        rows = ''.join('<tr>' + ''.join('<td>%d.%d</td>' % (r, c) for c in range(8)) + '</tr>' for r in range(12))
        out.append('<table border=1>%s</table><ul>%s</ul>' % (rows, ''.join('<li>item %d</li>' % k for k in range(20))))
out.append('</body></html>')
open(sys.argv[1], 'w').write('\n'.join(out))
EOF
}
prog_w3m_run() { w3m -dump -cols 100 -T text/html "$1/page.html"; }

# ------------------------------------------------------------------ mmv
prog_mmv_setup() {
    mkdir -p "$1/files"
    (cd "$1/files" && for i in $(seq 1 2000); do : > "file$i.txt"; done)
}
prog_mmv_run() {
    (cd "$1/files" && mmv '*.txt' 'renamed_#1.dat' && ls | sort | md5sum && ls | head -3)
}

# ---------------------------------------------------------------- chase
prog_chase_setup() {
    mkdir -p "$1/links"
    (cd "$1/links" && : > target && for c in $(seq 1 500); do
        prev=target
        for d in 1 2 3 4; do ln -s "$prev" "c${c}_$d"; prev="c${c}_$d"; done
    done)
}
prog_chase_run() { (cd "$1/links" && ls c*_4 | sort | xargs chase | sed "s|$1|WORK|"); }

# ------------------------------------------------------------ debfoster
prog_debfoster_setup() { : > "$1/keepers"; }
prog_debfoster_run() { debfoster -s -k "$1/keepers" 2>&1; }

# ------------------------------------------------------------------ nix
nix_env() {
    local w=$1
    mkdir -p "$w/nix/state" "$w/nix/log" "$w/nix/conf" "$w/nix/home" "$w/nix/store"
    export NIX_STATE_DIR="$w/nix/state" NIX_LOG_DIR="$w/nix/log" NIX_CONF_DIR="$w/nix/conf" HOME="$w/nix/home"
    export NIX_REMOTE=""
}
prog_nix_medium_setup() { :; }
prog_nix_medium_run() {
    (nix_env "$1" && nix-instantiate --eval --strict --store "local?root=$1/nix/root" "$DATA_DIR/nix-medium.nix" 2>&1 |
        grep -v "build-users-group")
}
prog_nix_heavy_setup() { :; }
prog_nix_heavy_run() {
    (nix_env "$1" && nix-instantiate --eval --strict --store "local?root=$1/nix/root" "$DATA_DIR/nix-heavy.nix" 2>&1 |
        grep -v "build-users-group")
}

# ---------------------------------------------------------------- guile
prog_guile_setup() { :; }
prog_guile_run() { HOME="$1" guile --no-auto-compile "$DATA_DIR/cons.scm" 2>&1; }

# ------------------------------------------------------------------ ecl
prog_ecl_setup() { :; }
prog_ecl_run() { HOME="$1" ecl --norc --shell "$DATA_DIR/cons.lisp" 2>&1; }

# ---------------------------------------------------------------- gobjc
prog_gobjc_setup() {
    local lib
    lib=$(ls /usr/lib/*/libobjc_gc.so.4 2>/dev/null | head -1)
    [ -n "$lib" ] || { echo "libobjc_gc.so.4 not found" >&2; return 1; }
    gcc -std=gnu11 -O1 -w -x objective-c "$DATA_DIR/objc_alloc.m" -x none -o "$1/objc_alloc" "$lib"
}
prog_gobjc_run() { "$1/objc_alloc"; }

# ---------------------------------------------------------------- gccpp
prog_gccpp_setup() { g++ -O2 -o "$1/gccpp_alloc" "$DATA_DIR/gccpp_alloc.cc" -lgccpp -lgc; }
prog_gccpp_run() { "$1/gccpp_alloc"; }

# ------------------------------------------------------------- inkscape
prog_inkscape_setup() {
    python3 - "$1/in.svg" <<'EOF2'
import random, sys
random.seed(3)
out = ['<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600">']
for i in range(3000):
    x, y, r = random.randint(0, 800), random.randint(0, 600), random.randint(2, 30)
    out.append('<circle cx="%d" cy="%d" r="%d" fill="#%06x" opacity="0.5"/>' % (x, y, r, random.randint(0, 0xffffff)))
out.append('<text x="20" y="40" font-size="30">gomem</text></svg>')
open(sys.argv[1], 'w').write('\n'.join(out))
EOF2
}
prog_inkscape_run() {
    HOME="$1" inkscape --export-type=png --export-filename="$1/out.png" "$1/in.svg" >/dev/null 2>&1
    local rc=$?
    md5sum <"$1/out.png"
    return $rc
}
