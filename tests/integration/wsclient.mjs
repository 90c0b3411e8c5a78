// wsclient.mjs — a real WebSocket client for the integration tests and the
// bench: connects to /ws, subscribes, prints every message it receives as
// one line of JSON on stdout, and exits when a condition is met.
//
//   node wsclient.mjs --url ws://127.0.0.1:PORT/ws [--token T] [--origin O]
//        [--host H] [--subscribe r1] [--since 0] [--system] [--runs]
//        [--until-status completed] [--until-seq N] [--count N] [--timeout S]
//
// Exit codes: 0 condition met (or connection closed by the server when no
// condition was given), 1 timeout, 3 refused (the upgrade failed), 4 other error.
import WebSocket from 'ws';

const args = process.argv.slice(2);
const opt = {};
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (!a.startsWith('--')) continue;
  const key = a.slice(2);
  const next = args[i + 1];
  if (next === undefined || next.startsWith('--')) opt[key] = true;
  else { opt[key] = next; i++; }
}

const headers = {};
if (opt.token) headers.Authorization = `token ${opt.token}`;
if (opt.host) headers.Host = opt.host;
const ws = new WebSocket(opt.url, { headers, origin: opt.origin, handshakeTimeout: 10000 });
const timeout = setTimeout(() => { console.error('timeout'); process.exit(1); },
  (Number(opt.timeout) || 30) * 1000);
let opened = false;
let received = 0;

ws.on('open', () => {
  opened = true;
  console.error('open');
  if (opt.subscribe) ws.send(JSON.stringify({ type: 'subscribe', run: opt.subscribe, since: Number(opt.since || 0) }));
  if (opt.system) ws.send(JSON.stringify({ type: 'subscribe_system' }));
  if (opt.runs) ws.send(JSON.stringify({ type: 'subscribe_runs' }));
  if (opt.send) ws.send(opt.send);
});
ws.on('unexpected-response', (req, res) => {
  console.error(`refused: HTTP ${res.statusCode}`);
  process.exit(3);
});
ws.on('error', (e) => {
  console.error(`error: ${e.message}`);
  process.exit(opened ? 4 : 3);
});
ws.on('close', (code) => {
  console.error(`closed ${code}`);
  process.exit(opened ? (opt['until-status'] || opt['until-seq'] || opt.count ? 4 : 0) : 3);
});
ws.on('message', (data) => {
  const text = data.toString();
  process.stdout.write(text + '\n');
  received++;
  let m;
  try { m = JSON.parse(text); } catch { return; }
  const done = () => { clearTimeout(timeout); ws.close(); process.stdout.end(() => process.exit(0)); };
  if (opt['until-status'] && m.type === 'event' && m.event.type === 'status' &&
      m.event.status === opt['until-status']) done();
  else if (opt['until-seq'] && m.type === 'event' && m.seq >= Number(opt['until-seq'])) done();
  else if (opt.count && received >= Number(opt.count)) done();
});
