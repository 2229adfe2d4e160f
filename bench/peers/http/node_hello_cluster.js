// SPDX-License-Identifier: MIT
//
// node_hello_cluster: GET / -> {"message":"Hello"} with Node's http module
// on <workers> processes of the cluster module (Node's way to use several
// cores), with the cluster's default scheduling (on Linux the primary
// accepts and hands connections round-robin to the workers). Any other
// path is 404. Listens on 127.0.0.1:<port> with a backlog of 4096 (as
// cio's HTTP server); the primary prints "listening <port>" once every
// worker listens. SIGTERM to the primary stops the workers too.
//
// Usage: node node_hello_cluster.js <port> [workers]   (workers: 2)
'use strict';
const cluster = require('cluster');
const http = require('http');

const port = process.argv[2];
const workers = Number(process.argv[3] || 2);
if (!/^[0-9]+$/.test(port || '') || !(workers >= 1)) {
  process.stderr.write('usage: node node_hello_cluster.js <port> [workers]\n');
  process.exit(2);
}

if (cluster.isPrimary) {
  let up = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', () => {
    if (++up === workers) process.stdout.write(`listening ${port}\n`);
  });
  process.on('SIGTERM', () => {
    for (const id in cluster.workers) cluster.workers[id].kill();
    process.exit(0);
  });
} else {
  const body = JSON.stringify({ message: 'Hello' });
  http
    .createServer((req, res) => {
      if (req.url !== '/') {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        return res.end('{"detail":"Not Found"}');
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
      res.end(body);
    })
    .listen({ host: '127.0.0.1', port: Number(port), backlog: 4096 });
}
