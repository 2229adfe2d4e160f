// SPDX-License-Identifier: MIT
//
// gather: one round spawns N goroutines that each call runtime.Gosched()
// once and finish, then waits for all of them with a sync.WaitGroup; a round
// is timed from before the first spawn until Wait returns. Runs R rounds and
// reports the median ns per task (round time / N); also prints the fastest
// and slowest rounds.
//
// Usage: gather [N [R]]   (default N = 100,000, R = 10)
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"
)

func arg(i, def int) int {
	if len(os.Args) <= i {
		return def
	}
	v, err := strconv.Atoi(os.Args[i])
	if err != nil || v <= 0 {
		fmt.Fprintf(os.Stderr, "usage: %s [N [ROUNDS]]\n", os.Args[0])
		os.Exit(2)
	}
	return v
}

func main() {
	n := arg(1, 100000)
	rounds := arg(2, 10)
	fmt.Printf("gomaxprocs %d\n", runtime.GOMAXPROCS(0))
	fmt.Printf("tasks %d\n", n)
	fmt.Printf("rounds %d\n", rounds)

	perTask := make([]float64, rounds)
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		start := time.Now()
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() {
				runtime.Gosched()
				wg.Done()
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		perTask[r] = float64(elapsed.Nanoseconds()) / float64(n)
	}

	sort.Float64s(perTask)
	median := perTask[rounds/2]
	if rounds%2 == 0 {
		median = (perTask[rounds/2-1] + perTask[rounds/2]) / 2
	}
	fmt.Printf("min %.1f ns\n", perTask[0])
	fmt.Printf("max %.1f ns\n", perTask[rounds-1])
	fmt.Printf("gather %.1f ns\n", median)
}
