// SPDX-License-Identifier: MIT
//
// xloop_queue: nanoseconds per item through a buffered channel (1024)
// between two goroutines, GOMAXPROCS=2 (so the two can run on two
// threads): one sends N items, one receives them, timed until the last
// receive.
//
// Usage: xloop_queue [N]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func main() {
	n := 5000000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil {
			n = v
		}
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(2)
	}
	ch := make(chan int, 1024)
	done := make(chan bool)
	start := time.Now()
	go func() {
		for i := 1; i <= n; i++ {
			if <-ch != i {
				panic("out of order")
			}
		}
		done <- true
	}()
	go func() {
		for i := 1; i <= n; i++ {
			ch <- i
		}
	}()
	<-done
	el := time.Since(start)
	fmt.Printf("GOMAXPROCS %d\n", runtime.GOMAXPROCS(0))
	fmt.Printf("xloop_queue %.1f ns/item\n", float64(el.Nanoseconds())/float64(n))
}
