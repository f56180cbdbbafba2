// markheap.go - bench/markheap.c in Go: a complete binary tree of 64-byte
// nodes (two pointers, six words), the largest within LIVE_MB megabytes, reachable
// from a global, then GCS forced collections (runtime.GC) timed one by one;
// then every node is checked.  GOMAXPROCS sets the mark threads.
//   markheap: peer=go live_mb=M nodes=N gc_min_ms=A gc_median_ms=B
//             ms_per_live_mb=C build_s=D
//
// Usage: markheap [LIVE_MB [GCS]]   (defaults 256 5)
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"
	"unsafe"
)

type node struct {
	left, right *node
	payload     [6]uint64
}

var root *node
var seq uint64

func build(depth int) *node {
	n := &node{}
	id := seq
	seq++
	for i := range n.payload {
		n.payload[i] = id*6 + uint64(i)
	}
	if depth > 0 {
		n.left = build(depth - 1)
		n.right = build(depth - 1)
	}
	return n
}

func check(n *node, bad *int) int {
	if n == nil {
		return 0
	}
	id := n.payload[0] / 6
	for i := range n.payload {
		if n.payload[i] != id*6+uint64(i) {
			*bad++
		}
	}
	return 1 + check(n.left, bad) + check(n.right, bad)
}

func arg(i, def int) int {
	if len(os.Args) > i {
		v, err := strconv.Atoi(os.Args[i])
		if err != nil {
			fmt.Fprintf(os.Stderr, "markheap: argument %q is not a number\n", os.Args[i])
			os.Exit(2)
		}
		return v
	}
	return def
}

func main() {
	liveMB, gcs := arg(1, 256), arg(2, 5)
	if liveMB < 1 || gcs < 1 || gcs > 100 {
		fmt.Fprintln(os.Stderr, "usage: markheap [LIVE_MB>=1 [GCS 1..100]]")
		os.Exit(2)
	}
	size := int(unsafe.Sizeof(node{}))
	want := liveMB << 20 / size
	depth := 0
	for (1<<(depth+2))-1 <= want {
		depth++
	}
	t0 := time.Now()
	root = build(depth)
	buildS := time.Since(t0).Seconds()
	runtime.GC()
	ns := make([]int64, gcs)
	for i := range ns {
		a := time.Now()
		runtime.GC()
		ns[i] = time.Since(a).Nanoseconds()
	}
	bad := 0
	nodes := check(root, &bad)
	if bad != 0 || nodes != (1<<(depth+1))-1 {
		fmt.Fprintf(os.Stderr, "markheap: tree damaged: %d nodes, %d bad words\n", nodes, bad)
		os.Exit(1)
	}
	mb := float64(nodes*size) / float64(1<<20)
	sort.Slice(ns, func(a, b int) bool { return ns[a] < ns[b] })
	fmt.Printf("markheap: peer=go live_mb=%.0f nodes=%d gc_min_ms=%.3f gc_median_ms=%.3f ms_per_live_mb=%.4f build_s=%.3f\n",
		mb, nodes, float64(ns[0])/1e6, float64(ns[gcs/2])/1e6, float64(ns[gcs/2])/1e6/mb, buildS)
}
