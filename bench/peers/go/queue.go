// SPDX-License-Identifier: MIT
//
// queue: one producer goroutine and one consumer (main) over a buffered
// channel of capacity 1024; the producer sends the integers 1..N, the
// consumer receives them all and checks their sum. Timed from before the
// producer is spawned until the consumer has the last item. Reports ns per
// item (elapsed / N).
//
// Usage: queue [N]   (default N = 5,000,000)
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func arg(i, def int) int {
	if len(os.Args) <= i {
		return def
	}
	v, err := strconv.Atoi(os.Args[i])
	if err != nil || v <= 0 {
		fmt.Fprintf(os.Stderr, "usage: %s [N]\n", os.Args[0])
		os.Exit(2)
	}
	return v
}

func main() {
	n := arg(1, 5000000)
	fmt.Printf("gomaxprocs %d\n", runtime.GOMAXPROCS(0))
	fmt.Printf("items %d\n", n)

	ch := make(chan int, 1024)
	start := time.Now()
	go func() {
		for i := 1; i <= n; i++ {
			ch <- i
		}
	}()
	sum := 0
	for i := 0; i < n; i++ {
		sum += <-ch
	}
	elapsed := time.Since(start)

	if want := n * (n + 1) / 2; sum != want {
		fmt.Fprintf(os.Stderr, "queue: sum %d, want %d\n", sum, want)
		os.Exit(1)
	}
	fmt.Printf("elapsed %.3f s\n", elapsed.Seconds())
	fmt.Printf("queue %.1f ns\n", float64(elapsed.Nanoseconds())/float64(n))
}
