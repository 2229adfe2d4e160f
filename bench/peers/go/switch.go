// SPDX-License-Identifier: MIT
//
// switch: two goroutines ping-pong through the scheduler, each calling
// runtime.Gosched() N times. Reports ns per single yield (elapsed / 2N).
// Runs with GOMAXPROCS=1 unless GOMAXPROCS is set in the environment.
//
// Usage: switch [N]   (default N = 10,000,000)
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func main() {
	n := 10000000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "usage: %s [N]\n", os.Args[0])
			os.Exit(2)
		}
		n = v
	}

	src := "env"
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
		src = "default"
	}
	fmt.Printf("gomaxprocs %d (%s)\n", runtime.GOMAXPROCS(0), src)
	fmt.Printf("iterations %d\n", n)

	var wg sync.WaitGroup
	wg.Add(2)
	worker := func() {
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		wg.Done()
	}
	start := time.Now()
	go worker()
	go worker()
	wg.Wait()
	elapsed := time.Since(start)

	fmt.Printf("elapsed %.3f s\n", elapsed.Seconds())
	fmt.Printf("switch %.1f ns\n", float64(elapsed.Nanoseconds())/float64(2*n))
}
