// binarytrees.go - the Benchmarks Game's binary-trees in Go, the same
// algorithm and structure as bench/binarytrees.c, for comparison with gomem.
//
// Nodes are two child pointers (16 bytes), allocated with & and never freed:
// Go's collector reclaims them.  For a depth argument N (default 21),
// min_depth 4, max_depth = max(min_depth+2, N): a stretch tree of depth
// max_depth+1 is built and counted, a long-lived tree of depth max_depth is
// kept, then for each depth d = 4, 6, ..., max_depth, 2^(max_depth-d+4) trees
// of depth d are built and counted, and finally the long-lived tree is
// counted.  Output is exactly the Game's format.
//
// Parallelism: like the C version, runtime.GOMAXPROCS(0) worker goroutines
// (BENCH_THREADS overrides the count, as in C) take the next depth from a
// shared atomic counter and build all of its trees; results are printed in
// depth order.  (The Game's Go #2 program starts one goroutine per depth
// instead; with 2 CPUs either keeps both busy.)
//
// At exit one line goes to standard error, in the format bench/bench.py parses
// for every collected peer, from runtime.ReadMemStats:
//   gcstats: num_gc=N max_pause_ns=M total_pause_ns=T
// (max over PauseNs, which holds the last 256 cycles' stop-the-world pauses),
// then "gcpauses_ns: P1 P2 ..." (those pauses, oldest first).
//
// Hold-ups: "binarytrees N holdup" runs one worker only and reads the clock
// every 256 node allocations, as bench/binarytrees.c does, and prints
//   holdup: max_gap_ns=G gaps_over_1ms=K readings=R
// on standard error (the longest interval between readings, and how many
// were over 1 ms).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Hold-up clock, read by one goroutine at a time (main, then the one worker).
var (
	holdupMode     bool
	holdupCount    uint
	holdupLast     time.Time
	holdupMax      time.Duration
	holdupOver1ms  int
	holdupReadings int
)

func holdupTick() {
	holdupCount++
	if holdupCount%256 != 0 {
		return
	}
	now := time.Now()
	gap := now.Sub(holdupLast)
	holdupLast = now
	holdupReadings++
	if gap > holdupMax {
		holdupMax = gap
	}
	if gap > time.Millisecond {
		holdupOver1ms++
	}
}

type node struct {
	left, right *node
}

func makeTree(depth int) *node {
	if holdupMode {
		holdupTick()
	}
	if depth <= 0 {
		return &node{}
	}
	return &node{makeTree(depth - 1), makeTree(depth - 1)}
}

func (n *node) check() int {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

const minDepth = 4

func printGCStats() {
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	n := int(st.NumGC)
	if n > len(st.PauseNs) {
		n = len(st.PauseNs)
	}
	var max uint64
	for i := 0; i < n; i++ {
		if st.PauseNs[i] > max {
			max = st.PauseNs[i]
		}
	}
	fmt.Fprintf(os.Stderr, "gcstats: num_gc=%d max_pause_ns=%d total_pause_ns=%d\n",
		st.NumGC, max, st.PauseTotalNs)
	fmt.Fprintf(os.Stderr, "gcpauses_ns:")
	for k := int(st.NumGC) - n; k < int(st.NumGC); k++ {
		fmt.Fprintf(os.Stderr, " %d", st.PauseNs[k%len(st.PauseNs)])
	}
	fmt.Fprintf(os.Stderr, "\n")
}

func main() {
	n := 21
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil {
			n = v
		}
	}
	if len(os.Args) > 2 {
		if os.Args[2] != "holdup" {
			fmt.Fprintln(os.Stderr, "usage: binarytrees [DEPTH [holdup]]")
			os.Exit(2)
		}
		holdupMode = true
	}
	holdupLast = time.Now()
	maxDepth := n
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}
	stretchDepth := maxDepth + 1
	fmt.Printf("stretch tree of depth %d\t check: %d\n", stretchDepth, makeTree(stretchDepth).check())

	longLived := makeTree(maxDepth)

	ndepths := (maxDepth-minDepth)/2 + 1
	iterations := make([]int, ndepths)
	checks := make([]int, ndepths)
	workers := runtime.GOMAXPROCS(0)
	if v, err := strconv.Atoi(os.Getenv("BENCH_THREADS")); err == nil && v > 0 {
		workers = v
	}
	if holdupMode {
		workers = 1
	}
	if workers > ndepths {
		workers = ndepths
	}
	var next int32 = -1
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(atomic.AddInt32(&next, 1))
				if k >= ndepths {
					return
				}
				depth := minDepth + 2*k
				iters := 1 << uint(maxDepth-depth+minDepth)
				check := 0
				for i := 0; i < iters; i++ {
					check += makeTree(depth).check()
				}
				iterations[k] = iters
				checks[k] = check
			}
		}()
	}
	wg.Wait()

	for k := 0; k < ndepths; k++ {
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", iterations[k], minDepth+2*k, checks[k])
	}
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, longLived.check())
	printGCStats()
	if holdupMode {
		fmt.Fprintf(os.Stderr, "holdup: max_gap_ns=%d gaps_over_1ms=%d readings=%d\n",
			holdupMax.Nanoseconds(), holdupOver1ms, holdupReadings)
	}
}
