// SPDX-License-Identifier: MIT
//
// Node's http client, with a keep-alive agent, against the guide's demo
// service (run by tests/http_clients.py --demo with the port): every route,
// one request after another on one kept-alive socket, then ten profiles at
// once.  Prints "ok <checks>" and exits 0, or explains and exits 1.
'use strict';
const http = require('http');
const assert = require('assert');

const port = Number(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let checks = 0;

function get(path, agentToUse) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: agentToUse }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ res, reused: req.reusedSocket, body: Buffer.concat(chunks) }));
    });
    req.setTimeout(10000, () => req.destroy(new Error('timed out: ' + path)));
    req.on('error', reject);
  });
}

const profile = (i) => ({ user: { id: i }, posts: { user_id: i, posts: [] } });
const routes = [
  ['/', 200, { message: 'Hello' }],
  ['/user/7/profile', 200, profile(7)],
  ['/data', 200, { data: 'value' }],
  ['/user/abc/profile', 422, null],
  ['/nope', 404, { detail: 'Not Found' }],
];

async function main() {
  let first = true;
  for (const [path, status, want] of routes) {
    const { res, reused, body } = await get(path, agent);
    assert.strictEqual(res.statusCode, status, path);
    assert.match(res.headers['content-type'], /^application\/json/, path);
    assert.strictEqual(Number(res.headers['content-length']), body.length, path);
    const got = JSON.parse(body.toString());
    if (want) assert.deepStrictEqual(got, want, path);
    else assert.deepStrictEqual(got.detail[0].loc, ['path', 'user_id'], path);
    if (!first) assert.ok(reused, 'the kept-alive socket was reused for ' + path);
    first = false;
    checks += 1;
  }
  const t0 = Date.now();
  const many = await Promise.all([...Array(10).keys()].map((i) => get('/user/' + i + '/profile', new http.Agent({ keepAlive: true }))));
  many.forEach(({ res, body }, i) => {
    assert.strictEqual(res.statusCode, 200);
    assert.deepStrictEqual(JSON.parse(body.toString()), profile(i));
  });
  assert.ok(Date.now() - t0 < 2000, 'ten profiles at once took ' + (Date.now() - t0) + ' ms');
  checks += 1;
  agent.destroy();
  console.log('ok ' + checks + ' checks');
}

main().catch((e) => {
  console.log('FAILED: ' + e.message);
  process.exit(1);
});
