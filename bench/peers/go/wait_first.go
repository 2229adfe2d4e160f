// SPDX-License-Identifier: MIT
//
// wait_first: R rounds; each round creates a context.WithCancel and a
// buffered results channel, then spawns K goroutines: goroutine 0 calls
// runtime.Gosched() once and sends its index to the channel; goroutines
// 1..K-1 block on ctx.Done(). Main takes the first value from the channel,
// cancels the context and waits for all K goroutines with a sync.WaitGroup.
// No timers are involved. Reports microseconds per round (elapsed / R).
//
// Usage: wait_first [R [K]]   (default R = 10,000, K = 100)
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
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
		fmt.Fprintf(os.Stderr, "usage: %s [ROUNDS [TASKS]]\n", os.Args[0])
		os.Exit(2)
	}
	return v
}

func main() {
	rounds := arg(1, 10000)
	k := arg(2, 100)
	fmt.Printf("gomaxprocs %d\n", runtime.GOMAXPROCS(0))
	fmt.Printf("rounds %d\n", rounds)
	fmt.Printf("tasks %d\n", k)

	start := time.Now()
	for r := 0; r < rounds; r++ {
		ctx, cancel := context.WithCancel(context.Background())
		results := make(chan int, k)
		var wg sync.WaitGroup
		wg.Add(k)
		go func() {
			runtime.Gosched()
			results <- 0
			wg.Done()
		}()
		for i := 1; i < k; i++ {
			go func() {
				<-ctx.Done()
				wg.Done()
			}()
		}
		first := <-results
		cancel()
		wg.Wait()
		if first != 0 {
			fmt.Fprintf(os.Stderr, "round %d: first result %d, want 0\n", r, first)
			os.Exit(1)
		}
	}
	elapsed := time.Since(start)

	fmt.Printf("elapsed %.3f s\n", elapsed.Seconds())
	fmt.Printf("wait_first %.2f us\n", float64(elapsed.Nanoseconds())/1e3/float64(rounds))
}
