// SPDX-License-Identifier: MIT
//
// timers: N goroutines each sleep a pseudo-random duration, uniform in
// 0..1000 ms (microsecond resolution, xorshift64 with a fixed seed, same
// sequence as the Python peer). Reports wall time from before spawning the
// first goroutine until all have finished.
//
// Usage: timers [N]   (default N = 1,000,000)
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// xorshift64 (Marsaglia 13/7/17); fixed seed for reproducible runs.
type xorshift64 uint64

func (s *xorshift64) next() uint64 {
	x := uint64(*s)
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	*s = xorshift64(x)
	return x
}

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "usage: %s [N]\n", os.Args[0])
			os.Exit(2)
		}
		n = v
	}
	fmt.Printf("gomaxprocs %d\n", runtime.GOMAXPROCS(0))
	fmt.Printf("tasks %d\n", n)

	rng := xorshift64(0x9E3779B97F4A7C15)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		d := time.Duration(rng.next()%1000001) * time.Microsecond
		go func() {
			time.Sleep(d)
			wg.Done()
		}()
	}
	wg.Wait()
	wall := time.Since(start)

	fmt.Printf("timers %.3f s\n", wall.Seconds())
}
