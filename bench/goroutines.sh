#!/bin/sh
# goroutines.sh - goroutine benchmarks, gomem and Go side by side.
#
#   bench/goroutines.sh [BUILD_DIR]     (default build; needs `make build`)
#
# Runs bench/goroutines.c (BUILD_DIR/bench/goroutines) and the same programs
# in Go (bench/go/goroutines.go, built with `go build`), prints each figure
# for both with the ratio gomem/Go, and checks the issue's targets:
#   spawn+exit <= 0.5x Go, switch <= 0.25x Go, copy-stack memory per parked
#   goroutine <= 0.25x Go's, 10 M parked copy goroutines in <= 4 GiB, a
#   growable stack <= 8 KiB resident at start.
# Environment: N_SPAWN, N_PINGPONG, N_PARKED (1000000), N_MANY (10000000);
# SKIP_MANY=1 skips the 10 M run.  The growable 1 M run needs
# vm.max_map_count >= 2.1 M: as root the script raises it for the run and
# restores it; otherwise that row is skipped.
set -e
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GM="$BUILD/bench/goroutines"
[ -x "$GM" ] || { echo "goroutines.sh: $GM missing (make build)"; exit 1; }
N_SPAWN=${N_SPAWN:-1000000}
N_PINGPONG=${N_PINGPONG:-1000000}
N_PARKED=${N_PARKED:-1000000}
N_MANY=${N_MANY:-10000000}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
GO=""
if command -v go >/dev/null 2>&1; then
  cp "$ROOT/bench/go/goroutines.go" "$TMP/main.go"
  (cd "$TMP" && GO111MODULE=off GOCACHE="$TMP/cache" go build -o goroutines-go main.go) && GO="$TMP/goroutines-go"
fi
[ -n "$GO" ] || echo "goroutines.sh: go not found, Go columns empty"

val() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f", a / b; else printf "-" }'; }
row() { printf "%-40s %14s %14s %8s  %s\n" "$1" "$2" "$3" "$4" "$5"; }
verdict() { awk -v v="$1" -v lim="$2" 'BEGIN { if (v == "" || v == "-") print "n/a"; else if (v + 0 <= lim + 0) print "ok (target <= " lim ")"; else print "MISSED (target <= " lim ")" }'; }

"$GM" spawn "$N_SPAWN" > "$TMP/c.spawn"
"$GM" pingpong "$N_PINGPONG" > "$TMP/c.pp"
"$GM" recurse > "$TMP/c.rec"
"$GM" parked "$N_PARKED" copy > "$TMP/c.parked"
: > "$TMP/g.spawn"; : > "$TMP/g.pp"; : > "$TMP/g.rec"; : > "$TMP/g.parked"
if [ -n "$GO" ]; then
  "$GO" spawn "$N_SPAWN" > "$TMP/g.spawn"
  "$GO" pingpong "$N_PINGPONG" > "$TMP/g.pp"
  "$GO" recurse > "$TMP/g.rec"
  "$GO" parked "$N_PARKED" > "$TMP/g.parked"
fi

# Growable stacks for 1 M goroutines need 2 maps each.
MAPS=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 0)
RESTORE=""
if [ "$MAPS" -lt $((2 * N_PARKED + 100000)) ] && [ -w /proc/sys/vm/max_map_count ]; then
  RESTORE=$MAPS
  echo $((2 * N_PARKED + 100000)) > /proc/sys/vm/max_map_count
fi
: > "$TMP/c.grow"
if [ "$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 0)" -ge $((2 * N_PARKED + 100000)) ]; then
  "$GM" parked "$N_PARKED" growable > "$TMP/c.grow" || true
fi
[ -n "$RESTORE" ] && echo "$RESTORE" > /proc/sys/vm/max_map_count
: > "$TMP/c.many"
[ -n "$SKIP_MANY" ] || "$GM" parked "$N_MANY" copy > "$TMP/c.many"

echo "goroutines: gomem vs Go $(go version 2>/dev/null | awk '{print $3}') on $(nproc) CPUs"
row "benchmark" "gomem" "Go" "gomem/Go" "target"
s_c=$(val spawn_exit "$TMP/c.spawn"); s_g=$(val spawn_exit "$TMP/g.spawn"); r=$(ratio "$s_c" "$s_g")
row "spawn+run+exit (ns/op)" "$s_c" "$s_g" "$r" "$(verdict "$r" 0.5)"
p_c=$(val pingpong "$TMP/c.pp"); p_g=$(val pingpong "$TMP/g.pp"); r=$(ratio "$p_c" "$p_g")
row "channel ping-pong (ns/switch)" "$p_c" "$p_g" "$r" "$(verdict "$r" 0.25)"
m_c=$(val parked_copy_per_goroutine "$TMP/c.parked"); m_g=$(val parked_go_per_goroutine "$TMP/g.parked"); r=$(ratio "$m_c" "$m_g")
row "$N_PARKED parked, copy (bytes each)" "$m_c" "$m_g" "$r" "$(verdict "$r" 0.25)"
g_c=$(val parked_growable_per_goroutine "$TMP/c.grow")
row "$N_PARKED parked, growable (bytes each)" "${g_c:-skipped}" "$m_g" "$(ratio "$g_c" "$m_g")" "$(verdict "$g_c" 8192) per stack"
t_c=$(val parked_copy_total_rss "$TMP/c.many")
row "$N_MANY parked copy (total RSS, MiB)" "$(awk -v b="$t_c" 'BEGIN { if (b != "") printf "%.0f", b / 1048576; else printf "skipped" }')" "-" "-" "$(verdict "$(awk -v b="$t_c" 'BEGIN { if (b != "") printf "%.0f", b / 1048576 }')" 4096)"
row "1 MiB recursion: stack before GC (bytes)" "$(val recurse_stack_before_gc "$TMP/c.rec")" "$(val recurse_stack_before_gc "$TMP/g.rec")" "" ""
row "1 MiB recursion: stack after GC (bytes)" "$(val recurse_stack_after_gc "$TMP/c.rec")" "$(val recurse_stack_after_gc "$TMP/g.rec")" "" ""
row "1 MiB recursion: RSS released by GC" "$(val recurse_rss_released "$TMP/c.rec")" "$(val recurse_rss_released "$TMP/g.rec")" "" ""
