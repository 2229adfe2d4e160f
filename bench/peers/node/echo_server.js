// SPDX-License-Identifier: MIT
//
// echo_server: TCP echo server on 127.0.0.1:<port> with Node's net module:
// each connection is piped into itself (socket.pipe(socket), which pauses
// reading while the write side is backed up and ends it when the client
// closes). Node reads in chunks of up to 64 KiB; there is no per-connection
// buffer size to set. TCP_NODELAY is set on accepted connections (Node's
// default is off) and the listen backlog is 4096 (default 511), as in the
// cio server. Prints only "listening <port>" (port 0 picks a free port and
// prints it) once it accepts, then runs until killed.
//
// Usage: node echo_server.js <port>
'use strict';
const net = require('net');

const arg = process.argv[2];
const port = Number(arg);
if (process.argv.length !== 3 || !/^[0-9]+$/.test(arg) || port > 65535) {
  process.stderr.write('usage: node echo_server.js <port>\n');
  process.exit(2);
}

const server = net.createServer({ noDelay: true }, (sock) => {
  // Resets and broken pipes would otherwise be unhandled 'error' events and
  // kill the whole server.
  sock.on('error', () => sock.destroy());
  sock.pipe(sock);
});

server.on('error', (err) => {
  process.stderr.write(`echo_server: ${err.message}\n`);
  process.exit(1);
});

server.listen({ host: '127.0.0.1', port, backlog: 4096 }, () => {
  // Writes to pipes and files are synchronous on Linux, so this is flushed.
  process.stdout.write(`listening ${server.address().port}\n`);
});
