// gcbench.go - GCBench (Ellis and Kovac, C version by Boehm) in Go, the same
// algorithm, parameters and output as bench/gcbench.c, for comparison with
// gomem.
//
// Parameters: stretch tree depth 18, long-lived tree depth 16, an array of
// 500000 float64, tree depths 4, 6, ..., 16; a node is two pointers and two
// int32 (24 bytes).  NumIters(d) = 2*TreeSize(18)/TreeSize(d) trees are built
// at each depth top-down (Populate) and as many bottom-up (MakeTree); all are
// dropped for the collector.  Usage and output as gcbench.c:
//   gcbench [STRETCH LONG_LIVED ARRAY_SIZE MIN_DEPTH MAX_DEPTH]
// deterministic lines on standard output, "phase: ..." timings and the
// "gcstats: num_gc=N max_pause_ns=M total_pause_ns=T" line and a
// "gcpauses_ns: P1 P2 ..." line (from
// runtime.ReadMemStats) on standard error.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

type node struct {
	left, right *node
	i, j        int32
}

var (
	stretchDepth   = 18
	longLivedDepth = 16
	arraySize      = 500000
	minDepth       = 4
	maxDepth       = 16
)

func treeSize(depth int) int { return (1 << uint(depth+1)) - 1 }

func populate(depth int, n *node) {
	if depth <= 0 {
		return
	}
	depth--
	n.left = &node{}
	n.right = &node{}
	populate(depth, n.left)
	populate(depth, n.right)
}

func makeTree(depth int) *node {
	if depth <= 0 {
		return &node{}
	}
	left := makeTree(depth - 1)
	right := makeTree(depth - 1)
	return &node{left: left, right: right}
}

func countNodes(n *node) int {
	if n == nil {
		return 0
	}
	return 1 + countNodes(n.left) + countNodes(n.right)
}

// sink keeps the compiler from deciding a tree's root need not be built on
// the heap; the Java and C originals also store each tree in a variable.
var sink *node

func timeConstruction(depth int) {
	iters := 2 * treeSize(stretchDepth) / treeSize(depth)
	fmt.Printf("Creating %d trees of depth %d\n", iters, depth)

	t0 := time.Now()
	for i := 0; i < iters; i++ {
		t := &node{}
		populate(depth, t)
		sink = t
	}
	t1 := time.Now()
	fmt.Printf("\tTop down construction\n")
	fmt.Fprintf(os.Stderr, "phase: depth %d top down %.1f ms\n", depth, float64(t1.Sub(t0).Nanoseconds())/1e6)

	for i := 0; i < iters; i++ {
		sink = makeTree(depth)
	}
	t2 := time.Now()
	fmt.Printf("\tBottom up construction\n")
	fmt.Fprintf(os.Stderr, "phase: depth %d bottom up %.1f ms\n", depth, float64(t2.Sub(t1).Nanoseconds())/1e6)
	sink = nil
}

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

func atoi(s string) int {
	v, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gcbench: bad number %q\n", s)
		os.Exit(2)
	}
	return v
}

func main() {
	if len(os.Args) == 6 {
		stretchDepth = atoi(os.Args[1])
		longLivedDepth = atoi(os.Args[2])
		arraySize = atoi(os.Args[3])
		minDepth = atoi(os.Args[4])
		maxDepth = atoi(os.Args[5])
	} else if len(os.Args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: gcbench [STRETCH LONG_LIVED ARRAY_SIZE MIN_DEPTH MAX_DEPTH]")
		os.Exit(2)
	}
	if stretchDepth < 1 || stretchDepth > 30 || longLivedDepth < 0 || longLivedDepth > 30 ||
		arraySize < 1001 || minDepth < 0 || maxDepth > stretchDepth || minDepth > maxDepth {
		fmt.Fprintln(os.Stderr, "gcbench: parameters out of range")
		os.Exit(2)
	}

	fmt.Printf("Garbage Collector Test\n")
	fmt.Printf(" Stretching memory with a binary tree of depth %d\n", stretchDepth)
	t0 := time.Now()
	sink = makeTree(stretchDepth)
	sink = nil

	fmt.Printf(" Creating a long-lived binary tree of depth %d\n", longLivedDepth)
	longLived := &node{}
	populate(longLivedDepth, longLived)

	fmt.Printf(" Creating a long-lived array of %d doubles\n", arraySize)
	array := make([]float64, arraySize)
	for i := 0; i < arraySize/2; i++ {
		array[i] = 1.0 / float64(i)
	}

	for d := minDepth; d <= maxDepth; d += 2 {
		timeConstruction(d)
	}

	nodes := countNodes(longLived)
	arrayOK := array[1000] == 1.0/1000.0
	okText := "WRONG"
	if arrayOK {
		okText = "ok"
	}
	fmt.Printf("long-lived tree: %d nodes (expected %d), array[1000] %s\n", nodes, treeSize(longLivedDepth), okText)
	fmt.Fprintf(os.Stderr, "phase: total %.1f ms\n", float64(time.Since(t0).Nanoseconds())/1e6)
	printGCStats()
	if nodes != treeSize(longLivedDepth) || !arrayOK {
		os.Exit(1)
	}
	runtime.KeepAlive(array)
}
