#!/usr/bin/env bash
# run.sh - runs gomem's benchmarks against its peers and reports the figures.
#
# Usage: bench/run.sh BUILD_DIR [SECTION...]
#   BUILD_DIR   the CMake build folder (`make bench` passes "build"); the
#               programs are BUILD_DIR/bench/<program>-<peer>
#   SECTION     any of: alloc binarytrees gcbench, or NAME for another
#               bench/NAME.sh script (goroutines, finalizers...); default: all
# Environment:
#   BENCH_QUICK=1            small sizes, the whole run in under a minute
#                            (CI's smoke test)
#   BENCH_ALLOC_ARGS         arguments of alloc (BATCH ROUNDS MAX_BYTES)
#   BENCH_BT_DEPTH           binary-trees depth (default 21; quick 16)
#   BENCH_GCBENCH_ARGS       GCBench parameters (STRETCH LONG_LIVED ARRAY MIN MAX)
#   BENCH_PEERS              peers to run (default: gomem bdwgc glibc jemalloc
#                            mimalloc go; those not built are skipped)
#   BENCH_REPEAT=N           run each program N times and keep the run with
#                            the least wall time (default 1), for shared machines
#
# Each program runs as a child of BUILD_DIR/bench/measure, which reports its
# wall time, CPU time (user + sys) and peak RSS (wait4's ru_maxrss).
# Collected peers print "gcstats: num_gc=N max_pause_ns=M ..." on stderr at
# exit.  Outputs are checked: binary-trees against bench/binarytrees-21.expected
# (or text computed from the formula for other depths), GCBench against text
# computed from its formulas.  Logs go to BUILD_DIR/bench-results/.
#
# The Go programs (bench/go/*.go) are built with `go build` into
# BUILD_DIR/bench-go, module mode off, with GOCACHE under BUILD_DIR, no network.
# Every other bench/NAME.sh (goroutines.sh, finalizers.sh: other benchmarks'
# own runners) runs last as section NAME, given BUILD_DIR; with BENCH_QUICK
# their size variables (N_SPAWN, N_PINGPONG, N_PARKED, N_MANY, SKIP_MANY,
# N_FIN, FIN_ROUNDS) are shrunk unless already set.
#
# Exit status: 0 if every program ran and printed the right output (whether
# or not gomem met its targets), 1 otherwise.
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [alloc|binarytrees|gcbench|NAME of bench/NAME.sh ...]" >&2
    exit 2
fi
BUILD=$1
shift
SRC=$(cd "$(dirname "$0")" && pwd)
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
BIN=$BUILD/bench
GOBIN=$BUILD/bench-go
LOG=$BUILD/bench-results
mkdir -p "$LOG"

# Sections: this script's own, then one per other bench/NAME.sh script
# (goroutines.sh, finalizers.sh, ...: other benchmarks' own runners, called
# with BUILD_DIR after this script's sections).
EXTRA=
for f in "$SRC"/*.sh; do
    n=$(basename "$f" .sh)
    [ "$n" = run ] || [ ! -f "$f" ] || EXTRA="$EXTRA $n"
done
EXTRA=${EXTRA# }
ALL="alloc binarytrees gcbench${EXTRA:+ $EXTRA}"
SECTIONS=${*:-$ALL}
for s in $SECTIONS; do
    case " $ALL goroutines " in *" $s "*) ;;
    *) echo "run.sh: unknown section '$s' (sections: $ALL)" >&2; exit 2 ;;
    esac
done
want() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }

QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
if [ -n "$QUICK" ]; then
    ALLOC_ARGS=${BENCH_ALLOC_ARGS:-"16384 1 4194304"}
    BT_DEPTH=${BENCH_BT_DEPTH:-16}
    GCBENCH_ARGS=${BENCH_GCBENCH_ARGS:-"14 12 50000 4 12"}
else
    ALLOC_ARGS=${BENCH_ALLOC_ARGS:-"1048576 5 1073741824"}
    BT_DEPTH=${BENCH_BT_DEPTH:-21}
    GCBENCH_ARGS=${BENCH_GCBENCH_ARGS:-"18 16 500000 4 16"}
fi
PEERS=${BENCH_PEERS:-"gomem bdwgc glibc jemalloc mimalloc go"}
REPEAT=${BENCH_REPEAT:-1}
FAILED=0
SUMMARY=()

if [ ! -x "$BIN/measure" ]; then
    echo "run.sh: $BIN/measure is missing: build first (make build)" >&2
    exit 1
fi

# The load average tells whether other processes shared the CPUs (then wall
# times stretch while CPU times hold; compare ratios from one run only).
loadavg() { local a b c rest; read -r a b c rest </proc/loadavg; echo "$a $b $c"; }
echo "gomem benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -sr)"
echo "load average at start: $(loadavg)$( [ "$REPEAT" -gt 1 ] && echo ", each program run $REPEAT times, best wall time kept")"
[ -n "$QUICK" ] && echo "BENCH_QUICK: reduced sizes, figures are a smoke test only"
echo

# ---------------------------------------------------------------------------
# Go programs
# ---------------------------------------------------------------------------
GO_OK=
build_go() {
    if ! command -v go >/dev/null 2>&1; then
        echo "go: not installed, Go peers skipped"
        return
    fi
    mkdir -p "$GOBIN/cache" "$GOBIN/path"
    local f name ok=1
    for f in "$SRC"/go/*.go; do
        [ -e "$f" ] || continue
        name=$(basename "$f" .go)
        if ! GO111MODULE=off GOPATH=$GOBIN/path GOCACHE=$GOBIN/cache GOPROXY=off GOFLAGS= \
            go build -o "$GOBIN/$name" "$f" >"$LOG/go-build-$name.log" 2>&1; then
            echo "go build $f failed (see $LOG/go-build-$name.log)"
            ok=
            FAILED=1
        fi
    done
    [ -n "$ok" ] && GO_OK=1
    echo "Go programs: $(go version | awk '{print $3}'), built into $GOBIN"
}
if want binarytrees || want gcbench; then
    build_go
    echo
fi

# ---------------------------------------------------------------------------
# Running one program
# ---------------------------------------------------------------------------
# prog_path PROGRAM PEER -> path of the executable, or nothing
prog_path() {
    if [ "$2" = go ]; then
        [ -n "$GO_OK" ] && [ -x "$GOBIN/$1" ] && echo "$GOBIN/$1"
    else
        [ -x "$BIN/$1-$2" ] && echo "$BIN/$1-$2"
    fi
}

# run_one SECTION PEER EXE ARGS... : runs under measure (BENCH_REPEAT times,
# keeping the run with the least wall time), fills WALL[PEER] and the rest.
declare -A WALL CPU RSS NGC PAUSE STATUS
run_one() {
    local sec=$1 peer=$2 exe=$3
    shift 3
    local base=$LOG/$sec-$peer try=$LOG/$sec-$peer.try i best= line
    for ((i = 0; i < REPEAT; i++)); do
        "$BIN/measure" "$try.res" "$exe" "$@" >"$try.out" 2>"$try.err"
        line=
        [ -f "$try.res" ] && read -r line <"$try.res"
        parse "$line"
        if [ -z "$best" ] || { [ "${KV[status]:-1}" = 0 ] && le "${KV[wall_s]:-0}" "$best"; }; then
            best=${KV[wall_s]:-0}
            [ "${KV[status]:-1}" = 0 ] || best=1e300
            mv "$try.res" "$base.res"
            mv "$try.out" "$base.out"
            mv "$try.err" "$base.err"
        fi
    done
    rm -f "$try.res" "$try.out" "$try.err"
    line=
    [ -f "$base.res" ] && read -r line <"$base.res"
    parse "$line"
    WALL[$peer]=${KV[wall_s]:-}
    CPU[$peer]=${KV[cpu_s]:-}
    RSS[$peer]=${KV[maxrss_kib]:-}
    STATUS[$peer]=${KV[status]:-}
    line=$(grep '^gcstats:' "$base.err" | tail -n 1)
    parse "$line"
    NGC[$peer]=${KV[num_gc]:-}
    PAUSE[$peer]=${KV[max_pause_ns]:-}
}
# parse "k=v k=v ..." -> KV[k]=v (no subprocess: forks are slow here)
declare -A KV
parse() {
    KV=()
    local w
    for w in $1; do
        case $w in *=*) KV[${w%%=*}]=${w#*=} ;; esac
    done
}

# ratio A B -> A/B with two decimals, or "-"
ratio() {
    if [ -z "$1" ] || [ -z "$2" ]; then echo "-"; return; fi
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}
# le A LIMIT -> true if A <= LIMIT (numbers)
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

# target TEXT VALUE OP LIMIT DETAILS: prints and records MET / NOT MET.
target() {
    local text=$1 value=$2 op=$3 limit=$4 details=$5 verdict
    if [ -z "$value" ] || [ "$value" = "-" ]; then
        verdict="NOT CHECKED"
    elif { [ "$op" = "<=" ] && le "$value" "$limit"; } || { [ "$op" = ">=" ] && ge "$value" "$limit"; }; then
        verdict="MET"
    else
        verdict="NOT MET"
    fi
    printf '  %-44s %-11s %s\n' "$text" "$verdict" "$details"
    SUMMARY+=("$(printf '%-13s %-44s %-11s %s' "$CURRENT" "$text" "$verdict" "$details")")
}

# Expected binary-trees output for depth N, computed from the Game's formula.
bt_expected() {
    awk -v n="$1" 'BEGIN {
        min = 4; max = (n > min + 2) ? n : min + 2
        printf "stretch tree of depth %d\t check: %d\n", max + 1, 2 ^ (max + 2) - 1
        for (d = min; d <= max; d += 2) {
            it = 2 ^ (max - d + min)
            printf "%d\t trees of depth %d\t check: %d\n", it, d, it * (2 ^ (d + 1) - 1)
        }
        printf "long lived tree of depth %d\t check: %d\n", max, 2 ^ (max + 1) - 1
    }'
}

# Expected GCBench output for its five parameters, from its formulas.
gcbench_expected() {
    awk -v s="$1" -v l="$2" -v a="$3" -v lo="$4" -v hi="$5" 'BEGIN {
        print "Garbage Collector Test"
        printf " Stretching memory with a binary tree of depth %d\n", s
        printf " Creating a long-lived binary tree of depth %d\n", l
        printf " Creating a long-lived array of %d doubles\n", a
        for (d = lo; d <= hi; d += 2) {
            printf "Creating %d trees of depth %d\n", int(2 * (2 ^ (s + 1) - 1) / (2 ^ (d + 1) - 1)), d
            print "\tTop down construction"
            print "\tBottom up construction"
        }
        printf "long-lived tree: %d nodes (expected %d), array[1000] ok\n", 2 ^ (l + 1) - 1, 2 ^ (l + 1) - 1
    }'
}

# Table of one whole-program benchmark, ratios and output check.
# whole_table SECTION EXPECTED_FILE PEERS...  (EXPECTED_FILE "-": no output
# check and no ratios)
declare -A OUTOK
whole_table() {
    local sec=$1 expected=$2 peer
    shift 2
    printf '  %-9s %8s %8s %11s %7s %13s  %s\n' peer wall_s cpu_s maxrss_MiB num_gc max_pause_ms output
    for peer in "$@"; do
        local out=$LOG/$sec-$peer.out ok=ok
        if [ "${STATUS[$peer]:-x}" != 0 ]; then
            ok="FAILED (exit ${STATUS[$peer]:-?}, see $LOG/$sec-$peer.err)"
        elif [ "$expected" != - ] && ! cmp -s "$out" "$expected"; then
            ok="WRONG (diff $out $expected)"
        fi
        [ "$ok" = ok ] || FAILED=1
        OUTOK[$peer]=$ok
        local rss_mib=- ngc=- pause=-
        [ -n "${RSS[$peer]}" ] && rss_mib=$(awk -v k="${RSS[$peer]}" 'BEGIN { printf "%.1f", k / 1024 }')
        if [ -n "${NGC[$peer]}" ]; then
            ngc=${NGC[$peer]}
            pause=$(awk -v n="${PAUSE[$peer]}" 'BEGIN { printf "%.3f", n / 1e6 }')
        fi
        printf '  %-9s %8s %8s %11s %7s %13s  %s\n' "$peer" "${WALL[$peer]:--}" "${CPU[$peer]:--}" \
            "$rss_mib" "$ngc" "$pause" "$ok"
    done
    if [ "$expected" != - ] && [ -n "${WALL[gomem]:-}" ]; then
        echo
        printf '  %-9s %10s %10s %10s\n' "gomem/peer" wall cpu maxrss
        for peer in "$@"; do
            [ "$peer" = gomem ] && continue
            printf '  %-9s %10s %10s %10s\n' "$peer" "$(ratio "${WALL[gomem]}" "${WALL[$peer]}")" \
                "$(ratio "${CPU[gomem]}" "${CPU[$peer]}")" "$(ratio "${RSS[gomem]}" "${RSS[$peer]}")"
        done
    fi
}

# gomem's figure for a target is only valid if its run succeeded.
gomem_ok() { [ "${OUTOK[gomem]:-}" = ok ]; }

# wall_target PEER LIMIT: gomem wall <= LIMIT x PEER's wall.
wall_target() {
    local peer=$1 limit=$2 r=-
    if gomem_ok && [ "${OUTOK[$peer]:-}" = ok ]; then r=$(ratio "${WALL[gomem]}" "${WALL[$peer]}"); fi
    target "wall <= ${limit}x $peer" "$r" "<=" "$limit" \
        "(gomem ${WALL[gomem]:-?} s, $peer ${WALL[$peer]:-?} s, ratio $r)"
}
rss_target() {
    local peer=$1 limit=$2 r=-
    if gomem_ok && [ "${OUTOK[$peer]:-}" = ok ]; then r=$(ratio "${RSS[gomem]}" "${RSS[$peer]}"); fi
    target "peak RSS <= ${limit}x $peer" "$r" "<=" "$limit" \
        "(gomem ${RSS[gomem]:-?} KiB, $peer ${RSS[$peer]:-?} KiB, ratio $r)"
}

# Runs PROGRAM for every peer that has it; sets RAN to those that did.
run_peers() {
    local sec=$1 prog=$2 peer exe
    shift 2
    RAN=()
    for peer in $PEERS; do
        exe=$(prog_path "$prog" "$peer")
        if [ -z "$exe" ]; then
            echo "  ($peer: no $prog program built, skipped)"
            continue
        fi
        run_one "$sec" "$peer" "$exe" "$@"
        RAN+=("$peer")
    done
}

# ---------------------------------------------------------------------------
# alloc: explicit allocate + free
# ---------------------------------------------------------------------------
if want alloc; then
    CURRENT=alloc
    echo "== alloc: allocate + touch + free batches, ns per pair (alloc $ALLOC_ARGS)"
    # shellcheck disable=SC2086
    run_peers alloc alloc $ALLOC_ARGS
    declare -A NS MOPS CNS
    apeers=()
    for peer in "${RAN[@]}"; do
        [ "$peer" = go ] && continue
        if [ "${STATUS[$peer]}" != 0 ] || grep -q FAILED "$LOG/alloc-$peer.out"; then
            echo "  $peer: FAILED (exit ${STATUS[$peer]}, see $LOG/alloc-$peer.err)"
            FAILED=1
            continue
        fi
        apeers+=("$peer")
        while read -r line; do
            case $line in "alloc "*) ;; *) continue ;; esac
            parse "$line"
            t=${KV[threads]}
            s=${KV[size]}
            NS[$peer,$t,$s]=${KV[ns_per_pair]}
            MOPS[$peer,$t,$s]=${KV[mpairs_per_s]}
            CNS[$peer,$t,$s]=${KV[cpu_ns_per_pair]:-}
        done <"$LOG/alloc-$peer.out"
    done
    batches=$(grep '^alloc .*threads=1 ' "$LOG/alloc-${apeers[0]:-none}.out" 2>/dev/null |
        sed -n 's/.* size=\([0-9]*\) batch=\([0-9]*\) .*/\1 B: \2,/p' | tr '\n' ' ')
    echo "  objects per batch: ${batches%, }"
    printf '  %-9s %5s' threads size
    for peer in "${apeers[@]}"; do printf ' %9s' "$peer"; done
    echo "   (ns per allocate+free pair, per thread, best round)"
    for t in 1 2; do
        for s in 16 64 256 4096; do
            printf '  %-9s %5s' "$t" "$s"
            for peer in "${apeers[@]}"; do printf ' %9s' "${NS[$peer,$t,$s]:--}"; done
            echo
        done
    done
    echo
    printf '  %-9s %5s' threads size
    for peer in "${apeers[@]}"; do printf ' %9s' "$peer"; done
    echo "   (the same in thread CPU time: steadier when the CPUs are shared)"
    for t in 1 2; do
        for s in 16 64 256 4096; do
            printf '  %-9s %5s' "$t" "$s"
            for peer in "${apeers[@]}"; do printf ' %9s' "${CNS[$peer,$t,$s]:--}"; done
            echo
        done
    done
    if [ -n "${NS[gomem,1,16]:-}" ]; then
        echo
        printf '  %-9s %5s' threads size
        for peer in "${apeers[@]}"; do [ "$peer" = gomem ] || printf ' %9s' "$peer"; done
        echo "   (ratio gomem/peer of ns per pair; < 1: gomem faster)"
        for t in 1 2; do
            for s in 16 64 256 4096; do
                printf '  %-9s %5s' "$t" "$s"
                for peer in "${apeers[@]}"; do
                    [ "$peer" = gomem ] || printf ' %9s' "$(ratio "${NS[gomem,$t,$s]:-}" "${NS[$peer,$t,$s]:-}")"
                done
                echo
            done
        done
    fi
    echo
    printf '  %-15s' "scaling 2T/1T"
    for peer in "${apeers[@]}"; do printf ' %9s' "$peer"; done
    echo "   (two-thread throughput / one-thread throughput)"
    for s in 16 64 256 4096; do
        printf '  %-15s' "size $s"
        for peer in "${apeers[@]}"; do printf ' %9s' "$(ratio "${MOPS[$peer,2,$s]:-}" "${MOPS[$peer,1,$s]:-}")"; done
        echo
    done
    echo
    echo "  Whole processes (every size and thread count; collectors off):"
    whole_table alloc - "${apeers[@]}"
    echo
    echo "  Targets (gomem, sizes 16 and 64 B):"
    for s in 16 64; do
        for pl in "glibc 1.0" "bdwgc 0.5"; do
            set -- $pl
            r=$(ratio "${NS[gomem,1,$s]:-}" "${NS[$1,1,$s]:-}")
            rc=$(ratio "${CNS[gomem,1,$s]:-}" "${CNS[$1,1,$s]:-}")
            target "1 thread, $s B: ns <= $2x $1" "$r" "<=" "$2" \
                "(gomem ${NS[gomem,1,$s]:-?} ns, $1 ${NS[$1,1,$s]:-?} ns, ratio $r; in CPU time $rc)"
        done
    done
    for s in 16 64; do
        r=$(ratio "${MOPS[gomem,2,$s]:-}" "${MOPS[gomem,1,$s]:-}")
        target "2 threads, $s B: throughput >= 1.8x 1 thread" "$r" ">=" 1.8 \
            "(gomem ${MOPS[gomem,1,$s]:-?} -> ${MOPS[gomem,2,$s]:-?} Mpairs/s, x$r)"
    done
    echo
fi

# ---------------------------------------------------------------------------
# binary-trees
# ---------------------------------------------------------------------------
if want binarytrees; then
    CURRENT=binarytrees
    echo "== binary-trees, depth $BT_DEPTH ($(nproc) worker threads / goroutines)"
    expected=$LOG/binarytrees-$BT_DEPTH.expected
    bt_expected "$BT_DEPTH" >"$expected"
    if [ "$BT_DEPTH" = 21 ] && ! cmp -s "$expected" "$SRC/binarytrees-21.expected"; then
        echo "  run.sh: the formula disagrees with bench/binarytrees-21.expected" >&2
        FAILED=1
    fi
    run_peers binarytrees binarytrees "$BT_DEPTH"
    whole_table binarytrees "$expected" "${RAN[@]}"
    echo
    echo "  Targets (gomem):"
    wall_target bdwgc 0.5
    wall_target go 0.5
    rss_target go 1.0
    echo
fi

# ---------------------------------------------------------------------------
# GCBench
# ---------------------------------------------------------------------------
if want gcbench; then
    CURRENT=gcbench
    echo "== GCBench ($GCBENCH_ARGS: stretch, long-lived, array, min, max depth)"
    expected=$LOG/gcbench.expected
    # shellcheck disable=SC2086
    gcbench_expected $GCBENCH_ARGS >"$expected"
    # shellcheck disable=SC2086
    run_peers gcbench gcbench $GCBENCH_ARGS
    whole_table gcbench "$expected" "${RAN[@]}"
    echo
    echo "  Targets (gomem):"
    wall_target bdwgc 0.5
    echo
fi

# ---------------------------------------------------------------------------
# Summary, then the goroutines benchmark (another script's section)
# ---------------------------------------------------------------------------
if [ ${#SUMMARY[@]} -gt 0 ]; then
    echo "== Targets"
    printf '%s\n' "${SUMMARY[@]}"
    echo
fi

# Quick mode shrinks the other scripts through their own variables, unless
# the caller set them.
if [ -n "$QUICK" ]; then
    export N_SPAWN=${N_SPAWN:-10000} N_PINGPONG=${N_PINGPONG:-10000}
    export N_PARKED=${N_PARKED:-10000} N_MANY=${N_MANY:-100000} SKIP_MANY=${SKIP_MANY:-1}
    export N_FIN=${N_FIN:-10000} FIN_ROUNDS=${FIN_ROUNDS:-1}
fi
for n in $EXTRA; do
    want "$n" || continue
    echo "== $n (bench/$n.sh)"
    sh "$SRC/$n.sh" "$BUILD" || { echo "bench/$n.sh failed"; FAILED=1; }
    echo
done

echo "load average at end: $(loadavg)"
echo "Logs: $LOG"
[ "$FAILED" = 0 ] || echo "run.sh: some programs failed or printed wrong output (see above)"
exit "$FAILED"
