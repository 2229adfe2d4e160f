// SPDX-License-Identifier: MIT
//
// sem: a channel semaphore of 10 permits (make(chan struct{}, 10)), 1,000
// goroutines, each acquiring it M times; each acquisition holds the permit
// across one runtime.Gosched(): sem <- struct{}{}; runtime.Gosched(); <-sem.
// Tracks the most holders at once (atomically) and exits 1 if it ever
// exceeds 10. Timed from before the first spawn until all have finished
// (sync.WaitGroup). Reports ns per acquisition (elapsed / (1,000 * M)).
//
// Usage: sem [M]   (acquisitions per goroutine; default M = 1,000)
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

const (
	tasks   = 1000
	permits = 10
)

func arg(i, def int) int {
	if len(os.Args) <= i {
		return def
	}
	v, err := strconv.Atoi(os.Args[i])
	if err != nil || v <= 0 {
		fmt.Fprintf(os.Stderr, "usage: %s [PER_TASK]\n", os.Args[0])
		os.Exit(2)
	}
	return v
}

func main() {
	perTask := arg(1, 1000)
	total := perTask * tasks
	fmt.Printf("gomaxprocs %d\n", runtime.GOMAXPROCS(0))
	fmt.Printf("permits %d\n", permits)
	fmt.Printf("tasks %d\n", tasks)
	fmt.Printf("acquisitions %d\n", total)

	sem := make(chan struct{}, permits)
	var holders, maxHolders int32
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(tasks)
	for t := 0; t < tasks; t++ {
		go func() {
			for i := 0; i < perTask; i++ {
				sem <- struct{}{}
				h := atomic.AddInt32(&holders, 1)
				for {
					m := atomic.LoadInt32(&maxHolders)
					if h <= m || atomic.CompareAndSwapInt32(&maxHolders, m, h) {
						break
					}
				}
				runtime.Gosched()
				atomic.AddInt32(&holders, -1)
				<-sem
			}
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	fmt.Printf("max holders %d\n", maxHolders)
	if maxHolders > permits {
		fmt.Fprintf(os.Stderr, "sem: %d holders at once, limit %d\n", maxHolders, permits)
		os.Exit(1)
	}
	fmt.Printf("elapsed %.3f s\n", elapsed.Seconds())
	fmt.Printf("sem %.1f ns\n", float64(elapsed.Nanoseconds())/float64(total))
}
