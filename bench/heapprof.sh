#!/usr/bin/env bash
# The cost of heap profiling: binary-trees built against gomem, run with the
# default sampling rate (512 KiB) and with sampling off (memprofilerate=0),
# alternately, RUNS times each.  Prints wall and CPU seconds of every run
# and the medians and minimums; then times one allocation in isolation
# (bench/heapprof_cost.c) with sampling off, bookkeeping only, the default
# rate and every object sampled.
#
#   bench/heapprof.sh BUILD_DIR [DEPTH] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
depth=${2:-21}
runs=${3:-5}
bt="$build/bench/binarytrees-gomem"
measure="$build/bench/measure"
[ -x "$bt" ] && [ -x "$measure" ] || { echo "build $bt and $measure first (make build)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for i in $(seq "$runs"); do
  for rate in 524288 0; do
    GOMEM_DEBUG=memprofilerate=$rate "$measure" "$out/m" "$bt" "$depth" >/dev/null 2>&1
    line=$(cat "$out/m")
    wall=$(sed 's/.*wall_s=\([^ ]*\).*/\1/' <<<"$line")
    cpu=$(sed 's/.*cpu_s=\([^ ]*\).*/\1/' <<<"$line")
    echo "run $i memprofilerate=$rate wall_s=$wall cpu_s=$cpu"
    echo "$wall $cpu" >>"$out/r$rate"
  done
done
minimum() { sort -g | head -1; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for rate in 524288 0; do
  w=$(cut -d' ' -f1 "$out/r$rate" | median)
  c=$(cut -d' ' -f2 "$out/r$rate" | median)
  echo "median memprofilerate=$rate: wall_s=$w cpu_s=$c" \
    "(minimum wall_s=$(cut -d' ' -f1 "$out/r$rate" | minimum) cpu_s=$(cut -d' ' -f2 "$out/r$rate" | minimum))"
  echo "$w $c" >"$out/m$rate"
done
read -r w1 c1 <"$out/m524288"
read -r w0 c0 <"$out/m0"
awk -v w1="$w1" -v w0="$w0" -v c1="$c1" -v c0="$c0" \
  'BEGIN {printf "profiling cost (medians): wall %+.1f%%, cpu %+.1f%%\n", (w1/w0-1)*100, (c1/c0-1)*100}'
# Each run with profiling against the run without it that followed: on a
# machine shared with other work the median of these ratios is steadier.
paste -d' ' "$out/r524288" "$out/r0" | awk '{print $2 / $4}' | median |
  awk '{printf "profiling cost (median of paired cpu ratios): %+.1f%%\n", ($1 - 1) * 100}'

cc -O2 -I include bench/heapprof_cost.c -o "$out/heapprof_cost" "$build/libgomem.a" -lpthread -ldl -lm
for rate in 0 1073741824 524288 4096; do
  echo "memprofilerate=$rate, no collections: $(GOMEM_GC=off GOMEM_DEBUG=memprofilerate=$rate "$out/heapprof_cost" 4000000 16 20 5)"
done
echo "(at 4096 a 16-byte object is sampled every 256 allocations: the extra time times 256 is one sample's cost)"
