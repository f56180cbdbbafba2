#!/bin/sh
# finalizers.sh - 1 M objects with a finalizer each, allocated and collected:
# gomem's gm_set_finalizer beside bdwgc's GC_register_finalizer.
#
#   bench/finalizers.sh [BUILD_DIR]     (default build; needs `make build`)
#
# Builds bench/finalizers.c twice into BUILD_DIR/bench: finalizers-gomem
# (-DBENCH_GOMEM, BUILD_DIR/libgomem.a) and finalizers-bdwgc (-DBENCH_BDWGC,
# -lgc from Debian's libgc-dev), runs each (under BUILD_DIR/bench/measure
# when it exists, for CPU time and peak RSS), prints both with the ratio
# gomem/bdwgc and checks the issue's target: gomem <= 1.0x bdwgc (best
# round's wall time).  Logs go to BUILD_DIR/bench-results/finalizers-*.
# Environment: N_FIN (1000000 objects), FIN_SIZE (48 bytes), FIN_ROUNDS (3),
# CC (cc); BENCH_QUICK=1 (CI's smoke run) makes the defaults 100000 objects
# and 1 round.
# Exit status: 0 if both programs ran and finalized their objects (whether
# or not the target was met), 1 otherwise.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
CC=${CC:-cc}
if [ "${BENCH_QUICK:-0}" != 0 ]; then
    N=${N_FIN:-100000}
    ROUNDS=${FIN_ROUNDS:-1}
else
    N=${N_FIN:-1000000}
    ROUNDS=${FIN_ROUNDS:-3}
fi
SIZE=${FIN_SIZE:-48}
OUT=$BUILD/bench
LOG=$BUILD/bench-results
mkdir -p "$OUT" "$LOG"

[ -f "$BUILD/libgomem.a" ] || { echo "finalizers.sh: $BUILD/libgomem.a missing (make build)"; exit 1; }
CFLAGS="-O2 -g -Wall -Wextra -I$ROOT/bench -I$ROOT/include"
STATUS=0
$CC $CFLAGS -DBENCH_GOMEM "$ROOT/bench/finalizers.c" "$BUILD/libgomem.a" -lpthread -ldl -lm \
    -o "$OUT/finalizers-gomem" || { echo "finalizers.sh: building finalizers-gomem failed"; exit 1; }
BDW=1
$CC $CFLAGS -DBENCH_BDWGC "$ROOT/bench/finalizers.c" -lgc -lpthread -o "$OUT/finalizers-bdwgc" 2>"$LOG/finalizers-bdwgc.build" ||
    { echo "finalizers.sh: bdwgc not available (libgc-dev), its column stays empty"; BDW=; }

run() { # peer
    log=$LOG/finalizers-$1
    if [ -x "$OUT/measure" ]; then
        "$OUT/measure" "$log.measure" "$OUT/finalizers-$1" "$N" "$SIZE" "$ROUNDS" >"$log.out" 2>"$log.err"
    else
        : >"$log.measure"
        "$OUT/finalizers-$1" "$N" "$SIZE" "$ROUNDS" >"$log.out" 2>"$log.err"
    fi
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "finalizers.sh: finalizers-$1 failed (status $rc):"
        sed 's/^/    /' "$log.err"
        STATUS=1
    fi
}
field() { # file key
    tr ' ' '\n' <"$1" 2>/dev/null | awk -F= -v k="$2" '$1 == k { print $2; exit }'
}

run gomem
[ -n "$BDW" ] && run bdwgc

echo "== finalizers: $N objects of $SIZE bytes with a finalizer each, allocated and collected (best of $ROUNDS)"
printf "%-8s %9s %9s %10s %8s %9s %11s %7s\n" peer best_s alloc_s finish_s cpu_s rss_mib finalized num_gc
for peer in gomem bdwgc; do
    o=$LOG/finalizers-$peer.out
    [ -s "$o" ] || continue
    m=$LOG/finalizers-$peer.measure
    rss=$(field "$m" maxrss_kib)
    printf "%-8s %9s %9s %10s %8s %9s %11s %7s\n" "$peer" "$(field "$o" best_s)" "$(field "$o" alloc_s)" \
        "$(field "$o" finish_s)" "$(field "$m" cpu_s)" \
        "$(awk -v k="$rss" 'BEGIN { if (k != "") printf "%.1f", k / 1024; }')" \
        "$(field "$o" finalized)" "$(field "$LOG/finalizers-$peer.err" num_gc)"
done
G=$(field "$LOG/finalizers-gomem.out" best_s)
B=$(field "$LOG/finalizers-bdwgc.out" best_s)
awk -v g="$G" -v b="$B" 'BEGIN {
    if (g == "" || b == "" || b <= 0) { print "ratio gomem/bdwgc: n/a"; exit }
    r = g / b
    printf "ratio gomem/bdwgc: %.2fx  %s\n", r, (r <= 1.0 ? "ok (target <= 1.0x)" : "MISSED (target <= 1.0x)")
}'
exit $STATUS
