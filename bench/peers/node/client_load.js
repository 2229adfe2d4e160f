// SPDX-License-Identifier: MIT
//
// client_load: the client benchmark's Node peer, requests per second
// through Node's global fetch (undici, bundled with Node 18 and later). All
// fetches share undici's global dispatcher, one Agent whose pool per origin
// has no connection limit and keeps connections alive (undici's default:
// an idle socket is kept 4 s, or what the server's Keep-Alive header says;
// Node 18 and 20 differ there in nothing that matters against nginx, which
// sends no Keep-Alive timeout and keeps connections 75 s). Node exposes no
// way to configure that dispatcher without the separate undici package, so
// none is used. N async loops each `await fetch(URL)` and read the body
// whole (`await res.text()`: an unread body would hold the connection), so
// N requests are in flight at all times. Only status-200 answers count; any
// failure or other status fails the run. After WARMUP seconds (default 0.5)
// the count is taken over SECONDS (default 3). Prints the Node and undici
// versions, the requests and last "client-<N> <req/s> req/s".
//
// Usage: node client_load.js URL N [SECONDS [WARMUP]]
'use strict';

const [url, nArg, secArg, warmArg] = process.argv.slice(2);
const n = Number(nArg);
if (!url || !Number.isInteger(n) || n < 1) {
  process.stderr.write('usage: node client_load.js URL N [SECONDS [WARMUP]]\n');
  process.exit(2);
}
if (typeof fetch !== 'function') {
  process.stderr.write('client_load: this Node has no global fetch (Node 18 or later)\n');
  process.exit(3);
}
const seconds = secArg === undefined ? 3 : Number(secArg);
const warmup = warmArg === undefined ? 0.5 : Number(warmArg);

let done = 0;
let stop = false;
let failure = null;

async function worker() {
  while (!stop) {
    let res, status;
    try {
      res = await fetch(url);
      await res.text();
      status = res.status;
    } catch (e) {
      failure = failure || String(e && e.cause ? `${e} (${e.cause})` : e);
      stop = true;
      return;
    }
    if (status !== 200) {
      failure = failure || `status ${status}`;
      stop = true;
      return;
    }
    done++;
  }
}

const sleep = (s) => new Promise((resolve) => setTimeout(resolve, s * 1000));

async function main() {
  console.log(`node ${process.version} undici ${process.versions.undici || '?'}`);
  const workers = [];
  for (let i = 0; i < n; i++) workers.push(worker());
  await sleep(warmup);
  const n0 = done;
  const t0 = process.hrtime.bigint();
  await sleep(seconds);
  const n1 = done;
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  stop = true;
  await Promise.all(workers);
  if (failure) {
    process.stderr.write(`client_load: ${failure}\n`);
    process.exit(1);
  }
  console.log(`requests ${n1 - n0} in ${elapsed.toFixed(3)} s`);
  console.log(`client-${n} ${((n1 - n0) / elapsed).toFixed(0)} req/s`);
}

main();
