// SPDX-License-Identifier: MIT
//
// echo_server: TCP echo server on 127.0.0.1:<port>, a goroutine per
// connection, each copying with a 16 KiB buffer (conn.Read, then conn.Write
// of everything read) until the client closes. Prints "listening <port>"
// once it accepts (port 0 picks a free port and prints it) and runs until
// killed. GOMAXPROCS comes from the environment (runtime default otherwise).
// Go sets TCP_NODELAY on accepted connections by default; the listen backlog
// is the kernel's net.core.somaxconn.
//
// Usage: echo_server <port>
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16384)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			// Write writes all n bytes or returns an error.
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // io.EOF when the client closes, or a reset
			return
		}
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s <port>\n", os.Args[0])
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil || port < 0 || port > 65535 {
		fmt.Fprintf(os.Stderr, "echo_server: bad port %q\n", os.Args[1])
		os.Exit(2)
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "echo_server: %v\n", err)
		os.Exit(1)
	}
	// os.Stdout is unbuffered: the line is written before Accept is called.
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)

	for {
		c, err := ln.Accept()
		if err != nil {
			// Out of descriptors and the like: back off briefly, as
			// net/http does, instead of spinning or exiting.
			if errors.Is(err, net.ErrClosed) {
				os.Exit(1)
			}
			fmt.Fprintf(os.Stderr, "echo_server: accept: %v\n", err)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go echo(c)
	}
}
