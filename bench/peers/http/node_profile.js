// SPDX-License-Identifier: MIT
//
// node_profile: the guide's GET /user/{id}/profile with Node's http module.
// Each request awaits Promise.all of fetch_user and fetch_posts, two
// setTimeout promises of 0.5 s (~0.5 s in all), then answers
//   {"user":{"id":N},"posts":{"user_id":N,"posts":[]}}
// Any other path is 404, a non-integer id 422. Listens on 127.0.0.1:<port>
// with a listen backlog of 4096 (as cio's HTTP server; Node's default is
// 511), prints "listening <port>" once it accepts, runs until killed.
//
// Usage: node node_profile.js <port>
'use strict';
const http = require('http');

const arg = process.argv[2];
if (process.argv.length !== 3 || !/^[0-9]+$/.test(arg)) {
  process.stderr.write('usage: node node_profile.js <port>\n');
  process.exit(2);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function fetchUser(id) { await sleep(500); return { id }; }
async function fetchPosts(id) { await sleep(500); return { user_id: id, posts: [] }; }

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer(async (req, res) => {
  const m = /^\/user\/([^/]+)\/profile$/.exec(req.url);
  if (req.method !== 'GET' || !m) return send(res, 404, { detail: 'Not Found' });
  if (!/^-?[0-9]+$/.test(m[1])) return send(res, 422, { detail: 'user_id: not an integer' });
  const id = Number(m[1]);
  const [user, posts] = await Promise.all([fetchUser(id), fetchPosts(id)]);
  send(res, 200, { user, posts });
});
// Idle keep-alive connections close after 60 s, as in cio (Node: 5 s).
server.keepAliveTimeout = 60000;
server.on('error', (err) => {
  process.stderr.write(`node_profile: ${err.message}\n`);
  process.exit(1);
});
server.listen({ host: '127.0.0.1', port: Number(arg), backlog: 4096 }, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
