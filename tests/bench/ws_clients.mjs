// ws_clients.mjs — N WebSocket clients for the server bench. Each connects
// to /ws, subscribes to one run from seq 0, and records every event's seq
// and its latency (receive time minus the event's "time" stamp written by
// bench_worker.py). Prints one JSON summary line:
//   {"clients":N,"connected":n,"complete":n,"dropped":n,"closed_early":n,
//    "latency_ms":{"p50":…,"p99":…,"max":…,"samples":n}}
// A client is complete when it saw seq 1..last without a gap and the final
// status; "dropped" counts clients that missed or repeated an event.
//
//   node ws_clients.mjs URL TOKEN RUN N EXPECTED_METRICS TIMEOUT_S
import { createRequire } from 'module';
const require = createRequire(import.meta.url);
const WebSocket = require('../integration/node_modules/ws');

const [url, token, run, nStr, expectStr, timeoutStr] = process.argv.slice(2);
const n = Number(nStr), expected = Number(expectStr);
const lat = [];
let connected = 0, complete = 0, dropped = 0, closedEarly = 0, finished = 0, resyncs = 0;
const now = () => performance.timeOrigin + performance.now();

function done() {
  lat.sort((a, b) => a - b);
  const q = (p) => (lat.length ? Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2)) : null);
  console.log(JSON.stringify({
    clients: n, connected, complete, dropped, closed_early: closedEarly, resyncs,
    latency_ms: { p50: q(0.5), p99: q(0.99), max: q(1), samples: lat.length },
  }));
  process.exit(0);
}
setTimeout(done, Number(timeoutStr) * 1000);

function client(i) {
  const ws = new WebSocket(`${url}?token=${token}`);
  let next = 1, metrics = 0, ok = true, ended = false;
  ws.on('open', () => {
    connected++;
    ws.send(JSON.stringify({ type: 'subscribe', run, since: 0 }));
  });
  ws.on('message', (data) => {
    const t = now();
    const m = JSON.parse(data.toString());
    if (m.type === 'resync') { resyncs++; ok = false; return; }
    if (m.type !== 'event') return;
    if (m.seq !== next) ok = false;
    next = m.seq + 1;
    const ev = m.event;
    if (ev.type === 'metric') {
      metrics++;
      lat.push(t - ev.time * 1000);
    }
    if (ev.type === 'status' && ev.status === 'completed' && !ended) {
      ended = true;
      if (ok && metrics === expected) complete++;
      else dropped++;
      ws.close();
      if (++finished === n) done();
    }
  });
  ws.on('close', () => {
    if (!ended) {
      closedEarly++;
      if (++finished === n) done();
    }
  });
  ws.on('error', () => {});
}

// Open connections in batches so the accept queue never overflows.
let opened = 0;
const batch = () => {
  for (let k = 0; k < 50 && opened < n; k++) client(opened++);
  if (opened < n) setTimeout(batch, 20);
};
batch();
