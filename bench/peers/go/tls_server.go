// SPDX-License-Identifier: MIT
//
// tls_server: the tls_handshake benchmark's Go peer, crypto/tls on
// 127.0.0.1:<port>. A goroutine per connection makes the handshake, reads
// one request (one Read, whatever it holds), answers with a short HTTP/1.0
// response and closes (close_notify). Session tickets are off
// (SessionTicketsDisabled), as nginx's ssl_session_tickets off, so every
// handshake is a full one and none is followed by tickets; otherwise
// crypto/tls's defaults (TLS 1.2 and 1.3; for TLS 1.3 it prefers
// TLS_AES_128_GCM_SHA256 on CPUs with AES instructions). Prints
// "listening <port>" once it accepts (port 0 picks a free port) and runs
// until killed. GOMAXPROCS comes from the environment (the benchmark sets 1).
//
// Usage: tls_server <port> <cert.pem> <key.pem>
package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

var answer = []byte("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	if _, err := c.Read(buf); err != nil { // the handshake runs first
		return
	}
	c.Write(answer)
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintf(os.Stderr, "usage: %s <port> <cert.pem> <key.pem>\n", os.Args[0])
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil || port < 0 || port > 65535 {
		fmt.Fprintf(os.Stderr, "tls_server: bad port %q\n", os.Args[1])
		os.Exit(2)
	}
	cert, err := tls.LoadX509KeyPair(os.Args[2], os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tls_server:", err)
		os.Exit(1)
	}
	config := &tls.Config{
		Certificates:           []tls.Certificate{cert},
		SessionTicketsDisabled: true,
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tls_server:", err)
		os.Exit(1)
	}
	// os.Stdout is unbuffered: the line is written before Accept is called.
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	tln := tls.NewListener(ln, config)
	for {
		c, err := tln.Accept()
		if err != nil {
			// Out of descriptors and the like: back off briefly, as
			// net/http does, instead of spinning or exiting.
			if errors.Is(err, net.ErrClosed) {
				os.Exit(1)
			}
			fmt.Fprintf(os.Stderr, "tls_server: accept: %v\n", err)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go serve(c)
	}
}
