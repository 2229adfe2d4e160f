// SPDX-License-Identifier: MIT
//
// spawn: start N trivial goroutines (all spawned first), then wait for all
// of them with a sync.WaitGroup. Reports ns per task (elapsed / N).
//
// Usage: spawn [N]   (default N = 1,000,000)
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

	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	elapsed := time.Since(start)

	fmt.Printf("elapsed %.3f s\n", elapsed.Seconds())
	fmt.Printf("spawn %.1f ns\n", float64(elapsed.Nanoseconds())/float64(n))
}
