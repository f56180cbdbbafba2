// goroutines.go - the Go side of bench/goroutines.c: the same programs,
// the same output lines ("name value unit"), run by bench/bench.py.
//
//	goroutines spawn N | pingpong N | parked N | recurse
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var pages, resident int64
	fmt.Sscan(string(b), &pages, &resident)
	return resident * int64(os.Getpagesize())
}

func spawn(n int) {
	const batch = 100
	var wg sync.WaitGroup
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
	}
	wg.Wait()
	best := 1e30
	for round := 0; round < 5; round++ {
		t0 := time.Now()
		for i := 0; i < n; i += batch {
			wg.Add(batch)
			for j := 0; j < batch; j++ {
				go func() { wg.Done() }()
			}
			wg.Wait()
		}
		per := float64(time.Since(t0).Nanoseconds()) / float64(n)
		if per < best {
			best = per
		}
	}
	fmt.Printf("spawn_exit %.1f ns/op\n", best)
}

func pingpong(n int) {
	best := 1e30
	for round := 0; round < 5; round++ {
		in, out := make(chan int), make(chan int)
		go func() {
			for i := 0; i < n; i++ {
				v := <-in
				out <- v
			}
		}()
		v := 0
		t0 := time.Now()
		for i := 0; i < n; i++ {
			in <- v
			v = <-out
		}
		per := float64(time.Since(t0).Nanoseconds()) / float64(2*n)
		if per < best {
			best = per
		}
	}
	fmt.Printf("pingpong %.1f ns/switch\n", best)
}

func parked(n int) {
	c := make(chan struct{})
	var started sync.WaitGroup
	runtime.GC()
	before := rss()
	t0 := time.Now()
	started.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-c
		}()
	}
	started.Wait()
	t1 := time.Now()
	runtime.GC()
	after := rss()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Printf("parked_go_per_goroutine %.0f bytes\n", float64(after-before)/float64(n))
	fmt.Printf("parked_go_total_rss %d bytes\n", after)
	fmt.Printf("parked_go_stack_inuse %d bytes\n", m.StackInuse)
	fmt.Printf("parked_go_spawn %.1f ns/op\n", float64(t1.Sub(t0).Nanoseconds())/float64(n))
	os.Exit(0)
}

//go:noinline
func recurse(n int) int {
	var frame [1024]byte
	frame[0] = byte(n)
	frame[1023] = byte(n)
	if n == 0 {
		return 0
	}
	r := recurse(n - 1)
	if frame[0] != byte(n) || frame[1023] != byte(n) {
		r++
	}
	return r
}

func recurseBench() {
	c := make(chan struct{})
	done := make(chan struct{})
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base := m.StackInuse
	go func() {
		recurse(1024)
		done <- struct{}{}
		<-c
	}()
	<-done
	runtime.ReadMemStats(&m)
	rssDeep := rss()
	fmt.Printf("recurse_stack_before_gc %d bytes\n", m.StackInuse-base)
	runtime.GC()
	runtime.ReadMemStats(&m)
	fmt.Printf("recurse_stack_after_gc %d bytes\n", int64(m.StackInuse)-int64(base))
	fmt.Printf("recurse_rss_released %d bytes\n", rssDeep-rss())
	c <- struct{}{}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goroutines spawn N | pingpong N | parked N | recurse")
		os.Exit(2)
	}
	n := 1000000
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	switch os.Args[1] {
	case "spawn":
		spawn(n)
	case "pingpong":
		pingpong(n)
	case "parked":
		parked(n)
	case "recurse":
		recurseBench()
	default:
		os.Exit(2)
	}
}
