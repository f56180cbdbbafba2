#!/usr/bin/env bash
# run.sh - real bdwgc programs, unmodified, on gomem's libgc.so.1.
#
#   tests/clients/run.sh [--install] [--lib DIR] [PROGRAM...]
#
# For each program (all of programs.sh's CLIENT_PROGRAMS by default) the
# inputs are generated, the program runs once under Debian's own
# libgc.so.1 and once with LD_LIBRARY_PATH=DIR (default build/compat/bdwgc)
# and GOMEM_BDWGC_BANNER=FILE; the test passes when both runs exit alike,
# their outputs are byte for byte equal, and FILE names the pid of a
# process of the second run (so gomem's library was the one loaded: it
# writes that line at start-up).  --install first installs the programs'
# Debian packages with apt-get (those not available are skipped).
# A program whose package is not installed is skipped, and said so.
# Each run is limited to CLIENT_TIMEOUT seconds (600).
# Ends with "N passed, N failed, N skipped"; exits 1 if any failed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=programs.sh
. "$HERE/programs.sh"

LIB="$ROOT/build/compat/bdwgc"
INSTALL=0
WANT=()
while [ $# -gt 0 ]; do
    case "$1" in
    --install) INSTALL=1 ;;
    --lib) LIB=$2; shift ;;
    -h|--help) sed -n 2,17p "$0"; exit 0 ;;
    *) WANT+=("$1") ;;
    esac
    shift
done
LIB=$(cd "$LIB" 2>/dev/null && pwd) || { echo "run.sh: no library folder $LIB (build first: make)" >&2; exit 2; }
[ -e "$LIB/libgc.so.1" ] || { echo "run.sh: $LIB/libgc.so.1 is missing (build first: make)" >&2; exit 2; }

pkgs_of() { local e; for e in "${CLIENT_PROGRAMS[@]}"; do [ "${e%%:*}" = "$1" ] && { e=${e#*:}; echo "${e%%:*}" | tr , ' '; }; done; }
what_of() { local e; for e in "${CLIENT_PROGRAMS[@]}"; do [ "${e%%:*}" = "$1" ] && { e=${e#*:}; echo "${e#*:}"; }; done; }
installed() { local p; for p in $(pkgs_of "$1"); do dpkg -s "$p" >/dev/null 2>&1 || return 1; done; }

if [ ${#WANT[@]} -eq 0 ]; then
    for e in "${CLIENT_PROGRAMS[@]}"; do WANT+=("${e%%:*}"); done
fi

if [ $INSTALL = 1 ]; then
    need=()
    for p in "${WANT[@]}"; do installed "$p" || need+=($(pkgs_of "$p")); done
    if [ ${#need[@]} -gt 0 ]; then
        echo "installing: ${need[*]}"
        for pkg in "${need[@]}"; do
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >/dev/null 2>&1 ||
                echo "  $pkg: not installable here"
        done
    fi
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gomem-clients.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
pass=0 fail=0 skip=0
for p in "${WANT[@]}"; do
    if ! declare -F "prog_${p}_run" >/dev/null; then
        echo "FAIL $p: no such program (see tests/clients/programs.sh)"; fail=$((fail + 1)); continue
    fi
    if ! installed "$p"; then
        echo "SKIP $p: package $(pkgs_of "$p") not installed"; skip=$((skip + 1)); continue
    fi
    for lib in debian gomem; do
        w="$TMP/$p.$lib"
        mkdir -p "$w"
        if ! "prog_${p}_setup" "$w" >"$TMP/$p.$lib.setup" 2>&1; then
            echo "FAIL $p: setup failed:"; sed 's/^/    /' "$TMP/$p.$lib.setup" | tail -5; fail=$((fail + 1)); continue 2
        fi
    done
    # Each run is bounded (CLIENT_TIMEOUT seconds, 600 by default): a hang
    # under either library is a failure, never a stuck test run.
    run_one() { # DIR, then the environment for the run
        local dir=$1
        shift
        (cd "$dir" && env "$@" timeout "${CLIENT_TIMEOUT:-600}" \
            bash -c ". '$HERE/programs.sh'; prog_${p}_run '$dir'")
    }
    run_one "$TMP/$p.debian" GOMEM_CLIENTS_RUN=debian >"$TMP/$p.debian.out" 2>"$TMP/$p.debian.err"
    rc_deb=$?
    banner="$TMP/$p.banner"
    run_one "$TMP/$p.gomem" "LD_LIBRARY_PATH=$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        "GOMEM_BDWGC_BANNER=$banner" >"$TMP/$p.gomem.out" 2>"$TMP/$p.gomem.err"
    rc_ours=$?
    sed -i "s|$TMP/$p.gomem|WORK|g" "$TMP/$p.gomem.out"
    sed -i "s|$TMP/$p.debian|WORK|g" "$TMP/$p.debian.out"
    why=""
    if [ $rc_ours = 124 ] || [ $rc_deb = 124 ]; then
        why="timed out after ${CLIENT_TIMEOUT:-600} s (gomem: exit $rc_ours, Debian's libgc: exit $rc_deb)"
    elif [ $rc_deb != $rc_ours ]; then
        why="exit status $rc_ours under gomem, $rc_deb under Debian's libgc"
    elif ! cmp -s "$TMP/$p.debian.out" "$TMP/$p.gomem.out"; then
        why="output differs: $(diff "$TMP/$p.debian.out" "$TMP/$p.gomem.out" | head -5 | tr '\n' ' ')"
    elif ! grep -q "gomem libgc.so.1" "$banner" 2>/dev/null; then
        why="gomem's libgc.so.1 was not loaded (no start-up line in $banner)"
    fi
    if [ -z "$why" ]; then
        echo "PASS $p: $(what_of "$p") ($(wc -c <"$TMP/$p.gomem.out") bytes of identical output, exit $rc_ours)"
        pass=$((pass + 1))
    else
        echo "FAIL $p: $why"
        sed 's/^/    stderr: /' "$TMP/$p.gomem.err" | tail -5
        fail=$((fail + 1))
    fi
done
echo "clients: $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
