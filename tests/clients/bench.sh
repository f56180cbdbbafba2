#!/usr/bin/env bash
# bench.sh - time and peak memory of bdwgc programs under Debian's
# libgc.so.1 and under gomem's, side by side, in one run.
#
#   tests/clients/bench.sh [--lib DIR] [--runs N] [PROGRAM...]
#
# Programs (default: nix_heavy nix_medium w3m guile ecl) are programs.sh's.
# Each runs N times (default 3) under each library, alternating, so that a
# change in the machine's load hits both alike; the table shows the median
# wall time, the median CPU time (user + system, all threads) and the
# median peak RSS (GNU time's %M), and gomem/Debian ratios.  Every run's
# output is compared with the first Debian run's: a difference is reported
# and fails the script.  Needs /usr/bin/time (Debian package "time").
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=programs.sh
. "$HERE/programs.sh"

LIB="$ROOT/build/compat/bdwgc"
RUNS=3
WANT=()
while [ $# -gt 0 ]; do
    case "$1" in
    --lib) LIB=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --install) ;; # accepted for symmetry with run.sh
    -h|--help) sed -n 2,14p "$0"; exit 0 ;;
    *) WANT+=("$1") ;;
    esac
    shift
done
[ ${#WANT[@]} -gt 0 ] || WANT=(nix_heavy nix_medium w3m guile ecl)
LIB=$(cd "$LIB" 2>/dev/null && pwd) || { echo "bench.sh: no library folder $LIB" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
case "$RUNS" in ''|*[!0-9]*|0) echo "bench.sh: --runs wants a positive number, not '$RUNS'" >&2; exit 2 ;; esac

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gomem-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
bad=0

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

printf '%-11s | %9s %9s %9s | %9s %9s %9s | %6s %6s %6s\n' program "deb wall" "deb cpu" "deb MiB" \
    "gm wall" "gm cpu" "gm MiB" wall cpu rss
printf '%s\n' "------------+-------------------------------+-------------------------------+---------------------"
for p in "${WANT[@]}"; do
    if ! declare -F "prog_${p}_run" >/dev/null; then
        echo "$p: no such program"; bad=1; continue
    fi
    : >"$TMP/$p.debian.t"; : >"$TMP/$p.gomem.t"
    for i in $(seq 1 "$RUNS"); do
        for lib in debian gomem; do
            w="$TMP/$p.$lib.$i"
            mkdir -p "$w"
            "prog_${p}_setup" "$w" >/dev/null 2>&1 || { echo "$p: setup failed"; bad=1; continue 3; }
            if [ $lib = gomem ]; then
                env="LD_LIBRARY_PATH=$LIB"
            else
                env="GOMEM_BENCH_DEBIAN=1"
            fi
            (cd "$w" && env "$env" /usr/bin/time -o "$w.time" -f "%e %U %S %M" \
                bash -c ". '$HERE/programs.sh'; prog_${p}_run '$w'" >"$w.out" 2>&1)
            sed -i "s|$w|WORK|g" "$w.out"
            tail -1 "$w.time" >>"$TMP/$p.$lib.t"
            if ! cmp -s "$TMP/$p.debian.1.out" "$w.out"; then
                echo "$p: output of run $i under $lib differs from Debian's first run"; bad=1
            fi
        done
    done
    row=()
    for lib in debian gomem; do
        wall=$(awk '{ print $1 }' "$TMP/$p.$lib.t" | median)
        cpu=$(awk '{ print $2 + $3 }' "$TMP/$p.$lib.t" | median)
        rss=$(awk '{ print $4 / 1024 }' "$TMP/$p.$lib.t" | median)
        row+=("$wall" "$cpu" "$rss")
    done
    printf '%-11s | %9.2f %9.2f %9.0f | %9.2f %9.2f %9.0f | %5.2fx %5.2fx %5.2fx\n' "$p" "${row[@]}" \
        "$(echo "${row[3]} / ${row[0]}" | bc -l)" "$(echo "${row[4]} / ${row[1]}" | bc -l)" \
        "$(echo "${row[5]} / ${row[2]}" | bc -l)"
done
echo "(medians of $RUNS runs each; wall and cpu in seconds; ratios are gomem / Debian's bdwgc)"
exit $bad
