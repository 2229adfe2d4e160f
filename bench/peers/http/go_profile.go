// SPDX-License-Identifier: MIT
//
// go_profile: the guide's GET /user/{id}/profile with net/http. Each request
// runs fetch_user and fetch_posts in two goroutines (0.5 s sleep each),
// waits for both with a sync.WaitGroup (~0.5 s in all), then answers
//
//	{"user":{"id":N},"posts":{"user_id":N,"posts":[]}}
//
// Any other path, or a non-integer id, is 404 / 422. Listens on
// 127.0.0.1:<port>, prints "listening <port>" once it accepts, runs until
// killed. GOMAXPROCS comes from the environment.
//
// Usage: go_profile <port>
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

func fetchUser(id int64) string {
	time.Sleep(500 * time.Millisecond)
	return fmt.Sprintf(`{"id":%d}`, id)
}

func fetchPosts(id int64) string {
	time.Sleep(500 * time.Millisecond)
	return fmt.Sprintf(`{"user_id":%d,"posts":[]}`, id)
}

func profile(w http.ResponseWriter, r *http.Request) {
	// Path: /user/{id}/profile
	parts := strings.Split(r.URL.Path, "/")
	if r.Method != http.MethodGet || len(parts) != 4 || parts[1] != "user" || parts[3] != "profile" {
		http.NotFound(w, r)
		return
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"detail":"user_id: not an integer"}`)
		return
	}
	var user, posts string
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); user = fetchUser(id) }()
	go func() { defer wg.Done(); posts = fetchPosts(id) }()
	wg.Wait()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"user":%s,"posts":%s}`, user, posts)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go_profile <port>")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_profile:", err)
		os.Exit(1)
	}
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	if err := http.Serve(ln, http.HandlerFunc(profile)); err != nil {
		fmt.Fprintln(os.Stderr, "go_profile:", err)
		os.Exit(1)
	}
}
