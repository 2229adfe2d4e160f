// SPDX-License-Identifier: MIT
//
// client_load: the client benchmark's Go peer, requests per second through
// net/http's client. ONE http.Client over one Transport that keeps up to N
// idle connections to the host (MaxIdleConns, MaxIdleConnsPerHost) and
// opens at most N (MaxConnsPerHost); N goroutines each loop GET URL, read
// the body whole (io.ReadAll) and close it, so the connection goes back to
// the pool; N requests are in flight at all times. Only status-200 answers
// count; any failure or other status fails the run. After WARMUP seconds
// (default 0.5) the count is taken over SECONDS (default 3). Prints the
// requests and last "client-<N> <req/s> req/s". GOMAXPROCS comes from the
// environment (run_peer.sh go1 sets 1; the benchmark uses go1).
//
// Usage: client_load URL N [SECONDS [WARMUP]]
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintf(os.Stderr, "usage: %s URL N [SECONDS [WARMUP]]\n", os.Args[0])
		os.Exit(2)
	}
	url := os.Args[1]
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "client_load: N must be a positive count")
		os.Exit(2)
	}
	seconds, warmup := 3.0, 0.5
	if len(os.Args) > 3 {
		seconds, _ = strconv.ParseFloat(os.Args[3], 64)
	}
	if len(os.Args) > 4 {
		warmup, _ = strconv.ParseFloat(os.Args[4], 64)
	}

	tr := &http.Transport{
		MaxIdleConns:        n,
		MaxIdleConnsPerHost: n,
		MaxConnsPerHost:     n,
		IdleConnTimeout:     90 * time.Second,
	}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	var done atomic.Int64
	var stop atomic.Bool
	var failOnce sync.Once
	var failure error
	fail := func(e error) {
		failOnce.Do(func() { failure = e })
		stop.Store(true)
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, err := client.Get(url)
				if err != nil {
					fail(err)
					return
				}
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					fail(err)
					return
				}
				if resp.StatusCode != 200 {
					fail(fmt.Errorf("status %d", resp.StatusCode))
					return
				}
				done.Add(1)
			}
		}()
	}
	time.Sleep(time.Duration(warmup * float64(time.Second)))
	n0, t0 := done.Load(), time.Now()
	time.Sleep(time.Duration(seconds * float64(time.Second)))
	n1, elapsed := done.Load(), time.Since(t0).Seconds()
	stop.Store(true)
	wg.Wait()
	if failure != nil {
		fmt.Fprintln(os.Stderr, "client_load:", failure)
		os.Exit(1)
	}
	fmt.Printf("requests %d in %.3f s\n", n1-n0, elapsed)
	fmt.Printf("client-%d %.0f req/s\n", n, float64(n1-n0)/elapsed)
}
