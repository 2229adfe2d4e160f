// SPDX-License-Identifier: MIT
//
// go_hello: GET / -> {"message":"Hello"} with net/http, the same answer as
// cio's demo service and nginx's in bench/http_workers.sh. Any other path
// is 404. Listens on 127.0.0.1:<port>, prints "listening <port>" once it
// accepts, runs until killed. GOMAXPROCS comes from the environment (the
// benchmark sets it to the number of workers).
//
// Usage: go_hello <port>
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

var body = []byte(`{"message":"Hello"}`)

func hello(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go_hello <port>")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_hello:", err)
		os.Exit(1)
	}
	fmt.Println("listening", ln.Addr().(*net.TCPAddr).Port)
	http.Serve(ln, http.HandlerFunc(hello))
}
