// SPDX-License-Identifier: MIT
//
// procpool: the Go side of the process pool benchmark, as a Go program
// would do CPU-bound jobs: 64 goroutines (GOMAXPROCS = the CPUs), each
// running 10 us jobs (a spin on the monotonic clock) one after another and
// sending the result over a channel, for 3 s after a 0.5 s warm-up. No
// process boundary: this is the in-process bound cio's pool is compared to.
//
// Usage: procpool [SECONDS]
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

func work(v uint64) uint64 {
	end := time.Now().Add(10 * time.Microsecond)
	for time.Now().Before(end) {
	}
	return v
}

func main() {
	seconds := 3.0
	if len(os.Args) > 1 {
		if s, err := strconv.ParseFloat(os.Args[1], 64); err == nil {
			seconds = s
		}
	}
	warm := time.Now().Add(500 * time.Millisecond)
	stop := warm.Add(time.Duration(seconds * float64(time.Second)))
	var done int64
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results := make(chan uint64, 1)
			var v uint64
			for time.Now().Before(stop) {
				v++
				go func(x uint64) { results <- work(x) }(v)
				if <-results != v {
					panic("wrong result")
				}
				if time.Now().After(warm) {
					atomic.AddInt64(&done, 1)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("GOMAXPROCS %d, 64 in flight, 10 us jobs\n", runtime.GOMAXPROCS(0))
	fmt.Printf("procpool %.0f jobs/s\n", float64(done)/seconds)
}
