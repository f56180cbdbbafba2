// latency.go - the latency ring of bench/latency.c in Go: a ring of SLOTS
// []byte messages (default 200,000) in which each of PUSHES pushes (default
// 2,000,000) allocates a SIZE-byte message (default 1 KiB, make([]byte)),
// writes its sequence number into its first and last 8 bytes and replaces
// the oldest one.  Every push is timed alone (time.Now before the
// allocation and after the store: Go's monotonic clock).  At the end every
// slot is checked and the times sorted; the output lines are those of the C
// program:
//   latency: peer=go slots=S pushes=N size=B p50_ns=.. p99_ns=.. p999_ns=..
//            max_ns=.. mean_ns=.. total_s=..
//   latency_log2_hist: C0 C1 ... C32
// and gcstats / gcpauses_ns on standard error, from runtime.ReadMemStats.
//
// Usage: latency [SLOTS [PUSHES [SIZE]]]
package main

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"
)

func arg(i int, def int) int {
	if len(os.Args) > i {
		v, err := strconv.Atoi(os.Args[i])
		if err != nil {
			fmt.Fprintf(os.Stderr, "latency: argument %d %q is not a number\n", i, os.Args[i])
			os.Exit(2)
		}
		return v
	}
	return def
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

func main() {
	slots, pushes, size := arg(1, 200000), arg(2, 2000000), arg(3, 1024)
	if len(os.Args) > 4 || slots < 1 || pushes < slots || size < 16 || size%8 != 0 {
		fmt.Fprintf(os.Stderr, "usage: latency [SLOTS>=1 [PUSHES>=SLOTS [SIZE>=16, a multiple of 8]]] (got %d %d %d)\n",
			slots, pushes, size)
		os.Exit(2)
	}
	ring := make([][]byte, slots)
	lat := make([]uint32, pushes)
	var total time.Duration
	for i := 0; i < pushes; i++ {
		t0 := time.Now()
		m := make([]byte, size)
		binary.LittleEndian.PutUint64(m, uint64(i))
		binary.LittleEndian.PutUint64(m[size-8:], uint64(i))
		ring[i%slots] = m
		d := time.Since(t0)
		total += d
		if d > 0xffffffff {
			d = 0xffffffff
		}
		lat[i] = uint32(d)
	}
	bad := 0
	for s := 0; s < slots; s++ {
		last := uint64(pushes - 1 - (pushes-1-s)%slots)
		m := ring[s]
		if m == nil || binary.LittleEndian.Uint64(m) != last || binary.LittleEndian.Uint64(m[size-8:]) != last {
			bad++
		}
	}
	if bad > 0 {
		fmt.Fprintf(os.Stderr, "latency: %d of %d slots lost their message\n", bad, slots)
		os.Exit(1)
	}
	var hist [33]int
	for _, d := range lat {
		k := 0
		if d > 0 {
			k = 31 - bits.LeadingZeros32(d)
		}
		hist[k]++
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	fmt.Printf("latency: peer=go slots=%d pushes=%d size=%d p50_ns=%d p99_ns=%d p999_ns=%d max_ns=%d mean_ns=%.1f total_s=%.3f\n",
		slots, pushes, size, lat[pushes/2], lat[pushes*99/100], lat[pushes*999/1000], lat[pushes-1],
		float64(total.Nanoseconds())/float64(pushes), total.Seconds())
	fmt.Printf("latency_log2_hist:")
	for _, c := range hist {
		fmt.Printf(" %d", c)
	}
	fmt.Printf("\n")
	runtime.KeepAlive(ring)
	printGCStats()
}
