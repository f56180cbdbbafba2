// gcalloc.go - bench/gcalloc.c in Go: batches of BATCH objects (default
// 1 Mi) of 16 and 64 bytes, every word written, pointers kept in a slice
// until the batch is checked, then dropped for the collector.  THREADS
// goroutines (default 1) run their own batches together; a round lasts as
// long as the slowest.  Output lines are the C program's:
//   gcalloc peer=go threads=T size=S batch=B ns_per_alloc=X median_ns=M
//           cpu_ns_per_alloc=0 mallocs_per_s=Y
// (Go has no per-goroutine CPU clock: cpu_ns_per_alloc is 0.)
//
// Usage: gcalloc [BATCH [ROUNDS [THREADS]]]
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

type obj16 struct{ w [2]uint64 }
type obj64 struct{ w [8]uint64 }

func batch16(ptrs []unsafe.Pointer) bool {
	for i := range ptrs {
		p := &obj16{}
		for w := range p.w {
			p.w[w] = uint64(i)
		}
		ptrs[i] = unsafe.Pointer(p)
	}
	ok := true
	for i := range ptrs {
		p := (*obj16)(ptrs[i])
		ok = ok && p.w[0] == uint64(i) && p.w[1] == uint64(i)
	}
	return ok
}

func batch64(ptrs []unsafe.Pointer) bool {
	for i := range ptrs {
		p := &obj64{}
		for w := range p.w {
			p.w[w] = uint64(i)
		}
		ptrs[i] = unsafe.Pointer(p)
	}
	ok := true
	for i := range ptrs {
		p := (*obj64)(ptrs[i])
		ok = ok && p.w[0] == uint64(i) && p.w[7] == uint64(i)
	}
	return ok
}

func arg(i, def int) int {
	if len(os.Args) > i {
		v, err := strconv.Atoi(os.Args[i])
		if err != nil {
			fmt.Fprintf(os.Stderr, "gcalloc: argument %q is not a number\n", os.Args[i])
			os.Exit(2)
		}
		return v
	}
	return def
}

func main() {
	batch, rounds, threads := arg(1, 1048576), arg(2, 5), arg(3, 1)
	if batch < 1 || rounds < 1 || threads < 1 {
		fmt.Fprintln(os.Stderr, "usage: gcalloc [BATCH>=1 [ROUNDS>=1 [THREADS>=1]]]")
		os.Exit(2)
	}
	ptrs := make([][]unsafe.Pointer, threads)
	for t := range ptrs {
		ptrs[t] = make([]unsafe.Pointer, batch)
	}
	failed := false
	for _, size := range []int{16, 64} {
		times := make([]time.Duration, 0, rounds)
		for r := -1; r < rounds; r++ {
			var wg sync.WaitGroup
			bad := make([]bool, threads)
			t0 := time.Now()
			for t := 0; t < threads; t++ {
				wg.Add(1)
				go func(t int) {
					defer wg.Done()
					if size == 16 {
						bad[t] = !batch16(ptrs[t])
					} else {
						bad[t] = !batch64(ptrs[t])
					}
				}(t)
			}
			wg.Wait()
			if r >= 0 {
				times = append(times, time.Since(t0))
			}
			for _, b := range bad {
				failed = failed || b
			}
		}
		sort.Slice(times, func(a, b int) bool { return times[a] < times[b] })
		best := float64(times[0].Nanoseconds())
		fmt.Printf("gcalloc peer=go threads=%d size=%d batch=%d ns_per_alloc=%.2f median_ns=%.2f cpu_ns_per_alloc=0 mallocs_per_s=%.0f\n",
			threads, size, batch, best/float64(batch), float64(times[rounds/2].Nanoseconds())/float64(batch),
			float64(threads)*float64(batch)/best*1e9)
	}
	if failed {
		fmt.Fprintln(os.Stderr, "gcalloc: an object's contents were overwritten")
		os.Exit(1)
	}
}
