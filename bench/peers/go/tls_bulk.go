// SPDX-License-Identifier: MIT
//
// tls_bulk: the tls_bulk benchmark's Go peer, one crypto/tls connection
// between two processes, as cio's bench/tls_bulk.c. The client writes M MiB
// (default 2048) in 64 KiB conn.Write calls and closes (close_notify); the
// server reads with 64 KiB conn.Read calls and discards until the end of the
// stream, and reports the receiving side's MB/s (10^6 bytes per second),
// timed from the end of its handshake to the end of the stream; each side
// also prints the CPU time it spent meanwhile, as a share of that time
// (getrusage). crypto/tls's
// defaults otherwise (for TLS 1.3 it prefers TLS_AES_128_GCM_SHA256 on CPUs
// with AES instructions); the client verifies the server's certificate
// against the same PEM file. Each side prints the protocol and cipher suite
// its connection agreed on. The server prints "listening <port>" once it
// accepts (port 0 picks a free port). GOMAXPROCS comes from the environment
// (the benchmark sets 1).
//
// Usage: tls_bulk server <port> <cert.pem> <key.pem>
//
//	tls_bulk client <port> <ca.pem> [MiB]
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

const chunk = 64 * 1024

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tls_bulk:", err)
	os.Exit(1)
}

// cpuSeconds returns this process's CPU time so far (user + system, all
// threads), in seconds.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func version(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	}
	return fmt.Sprintf("0x%04x", v)
}

func sayAgreed(side string, c *tls.Conn) {
	cs := c.ConnectionState()
	fmt.Printf("%s tls %s %s\n", side, version(cs.Version), tls.CipherSuiteName(cs.CipherSuite))
}

func server(port, certFile, keyFile string) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		fail(err)
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		fail(err)
	}
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	raw, err := ln.Accept()
	if err != nil {
		fail(err)
	}
	ln.Close()
	c := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{cert}})
	if err := c.Handshake(); err != nil {
		fail(err)
	}
	buf := make([]byte, chunk)
	var total int64
	start, c0 := time.Now(), cpuSeconds()
	for {
		n, err := c.Read(buf)
		total += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			fail(err)
		}
	}
	dt, cpu := time.Since(start).Seconds(), cpuSeconds()-c0
	sayAgreed("server", c)
	c.Close()
	fmt.Printf("received %d bytes in %.3f s, CPU %.0f%%\n", total, dt, 100*cpu/dt)
	fmt.Printf("tls_bulk %.0f MB/s\n", float64(total)/dt/1e6)
}

func client(port, caFile string, mib int) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		fail(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fail(fmt.Errorf("%s: no certificate", caFile))
	}
	c, err := tls.Dial("tcp4", net.JoinHostPort("127.0.0.1", port),
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		fail(err)
	}
	sayAgreed("client", c)
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = 'b'
	}
	chunks := mib * (1024 * 1024 / chunk)
	start, c0 := time.Now(), cpuSeconds()
	for i := 0; i < chunks; i++ {
		if _, err := c.Write(buf); err != nil {
			fail(err)
		}
	}
	if err := c.Close(); err != nil { // close_notify: the server's end of stream
		fail(err)
	}
	dt, cpu := time.Since(start).Seconds(), cpuSeconds()-c0
	fmt.Printf("client sent %d MiB in %.3f s, CPU %.0f%%\n", mib, dt, 100*cpu/dt)
}

func main() {
	a := os.Args
	if len(a) == 5 && a[1] == "server" {
		server(a[2], a[3], a[4])
		return
	}
	if (len(a) == 4 || len(a) == 5) && a[1] == "client" {
		mib := 2048
		if len(a) == 5 {
			v, err := strconv.Atoi(a[4])
			if err != nil || v <= 0 {
				fail(fmt.Errorf("bad MiB %q", a[4]))
			}
			mib = v
		}
		client(a[2], a[3], mib)
		return
	}
	fmt.Fprintf(os.Stderr, "usage: %s server <port> <cert.pem> <key.pem>\n"+
		"       %s client <port> <ca.pem> [MiB]\n", a[0], a[0])
	os.Exit(2)
}
