// SPDX-License-Identifier: MIT
//
// lock: 8 goroutines contend for one sync.Mutex, TOTAL acquisitions in all
// (TOTAL/8 each). Each acquisition holds the mutex across one
// runtime.Gosched(), so the others queue up on it:
// mu.Lock(); counter++; runtime.Gosched(); mu.Unlock(). Timed from before
// the first spawn until all have finished (sync.WaitGroup); checks the
// counter. Also counts hand-offs (acquisitions by a different goroutine than
// the previous one; sync.Mutex lets the releaser barge back in, so this can
// be far below the number of acquisitions). Reports ns per acquisition
// (elapsed / acquisitions).
//
// Usage: lock [TOTAL]   (default TOTAL = 1,000,000; at least 8)
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

const tasks = 8

func arg(i, def int) int {
	if len(os.Args) <= i {
		return def
	}
	v, err := strconv.Atoi(os.Args[i])
	if err != nil || v < tasks {
		fmt.Fprintf(os.Stderr, "usage: %s [TOTAL]   (TOTAL >= %d)\n", os.Args[0], tasks)
		os.Exit(2)
	}
	return v
}

func main() {
	perTask := arg(1, 1000000) / tasks
	total := perTask * tasks
	fmt.Printf("gomaxprocs %d\n", runtime.GOMAXPROCS(0))
	fmt.Printf("tasks %d\n", tasks)
	fmt.Printf("acquisitions %d\n", total)

	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	last, handoffs := -1, 0 // previous holder; acquisitions by a different task than the last one
	start := time.Now()
	wg.Add(tasks)
	for t := 0; t < tasks; t++ {
		go func(id int) {
			for i := 0; i < perTask; i++ {
				mu.Lock()
				counter++
				if last != id {
					last = id
					handoffs++
				}
				runtime.Gosched()
				mu.Unlock()
			}
			wg.Done()
		}(t)
	}
	wg.Wait()
	elapsed := time.Since(start)

	if counter != total {
		fmt.Fprintf(os.Stderr, "lock: counter %d, want %d\n", counter, total)
		os.Exit(1)
	}
	fmt.Printf("handoffs %d\n", handoffs)
	fmt.Printf("elapsed %.3f s\n", elapsed.Seconds())
	fmt.Printf("lock %.1f ns\n", float64(elapsed.Nanoseconds())/float64(total))
}
