// SPDX-License-Identifier: MIT
//
// idle: N goroutines each sleep 1 s concurrently. Reports the resident
// memory added per sleeping task: (VmRSS while all sleep - VmRSS before) / N,
// sampled 0.5 s after spawning, plus the total wall time until all finish.
//
// Usage: idle [N]   (default N = 100,000)
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// vmRSS returns the VmRSS of this process in KiB, from /proc/self/status.
func vmRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "idle:", err)
		os.Exit(1)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line) // "VmRSS:", "<n>", "kB"
			if len(fields) >= 2 {
				if v, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
					return v
				}
			}
		}
	}
	fmt.Fprintln(os.Stderr, "idle: VmRSS not found in /proc/self/status")
	os.Exit(1)
	return 0
}

func main() {
	n := 100000
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

	before := vmRSS()
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			time.Sleep(time.Second)
			wg.Done()
		}()
	}
	time.Sleep(500 * time.Millisecond)
	during := vmRSS()
	wg.Wait()
	wall := time.Since(start)

	fmt.Printf("rss_before %d KiB\n", before)
	fmt.Printf("rss_during %d KiB\n", during)
	fmt.Printf("idle wall %.3f s\n", wall.Seconds())
	fmt.Printf("idle %.2f KiB\n", float64(during-before)/float64(n))
}
