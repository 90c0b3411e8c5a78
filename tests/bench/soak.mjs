// tests/bench/soak.mjs — `make soak`: a server left running under steady load.
//
// For SOAK_SECONDS (default 600) at once:
//   - 1,000 WebSocket clients following the run list and the system feed,
//   - wrk on /api/status, in slices of SLICE seconds so p99 is known per slice,
//   - a continuous stream of short real runs (two at a time),
//   - one client that reads its socket very slowly (it must be resynced,
//     never hold anyone up),
//   - one client that reconnects every second and resubscribes from the last
//     seq it saw (it must see every event of every run exactly once),
//   - one watcher that follows every run from seq 0 (likewise).
// It samples the server's RSS, open descriptors and WAL size every slice and
// prints a table of the first and last slices. A benchmark, not a test: the
// numbers go to tests/bench/results/soak-<date>.md (or --out).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import WebSocket from '../integration/node_modules/ws/index.js';
import { ROOT, startServer, sleep } from '../integration/fixture.mjs';
import { option } from './lib.mjs';

const SECONDS = Number(option('seconds', process.env.SOAK_SECONDS || 600));
const SLICE = Number(option('slice', 60));
const CLIENTS = Number(option('clients', 1000));
const OUT = option('out', join(ROOT, `tests/bench/results/soak-${new Date().toISOString().slice(0, 10)}.md`));

const hooks = [];
const t = { after: (fn) => hooks.push(fn) };
const h = await startServer(t, { args: ['--cpu-runs', '2', '--max-queued', '64'] });
const wsUrl = `ws://127.0.0.1:${h.port}/ws`;
const auth = { Authorization: 'token ' + h.token };
const errors = { ws: 0, api: 0, wrk_non2xx: 0, wrk_socket: 0, gaps: 0 };

// ---- measurements -----------------------------------------------------------------
const pid = h.proc.pid;
function sample() {
	const status = readFileSync(`/proc/${pid}/status`, 'utf8');
	const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
	const fds = readdirSync(`/proc/${pid}/fd`).length;
	const wal = join(h.workspace, '.trainbook/trainbook.db-wal');
	return { rss_mib: rss, fds, wal_mib: existsSync(wal) ? statSync(wal).size / 1048576 : 0 };
}

function wrkSlice(seconds) {
	return new Promise((resolve) => {
		const p = spawn('wrk', ['-t1', '-c8', `-d${seconds}s`, '--latency', '-H', `Authorization: token ${h.token}`,
			`${h.base}api/status`]);
		let out = '';
		p.stdout.on('data', (d) => (out += d));
		p.on('exit', () => {
			const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
			const scale = { us: 0.001, ms: 1, s: 1000 };
			const reqs = /Requests\/sec:\s+([\d.]+)/.exec(out);
			const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
			const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
			if (non2xx) errors.wrk_non2xx += Number(non2xx[1]);
			if (sock) errors.wrk_socket += sock.slice(1).reduce((a, b) => a + Number(b), 0);
			resolve({ p99_ms: p99 ? Number(p99[1]) * scale[p99[2]] : NaN, req_s: reqs ? Number(reqs[1]) : 0 });
		});
	});
}

// ---- 1,000 feed clients --------------------------------------------------------------
const idle = [];
for (let i = 0; i < CLIENTS; i++) {
	const ws = new WebSocket(wsUrl, { headers: auth });
	ws.on('open', () => {
		ws.send(JSON.stringify({ type: 'subscribe_runs' }));
		if (i % 10 === 0) ws.send(JSON.stringify({ type: 'subscribe_system' }));
	});
	ws.on('error', () => errors.ws++);
	ws.on('message', () => {});
	idle.push(ws);
	if (i % 100 === 99) await sleep(50);
}

// ---- followers that must see every event once ----------------------------------------
/* seen[run] = highest seq received in order; a gap or a repeat is counted. */
function follower(name, { reconnectMs = 0 } = {}) {
	const seen = new Map();
	let ws;
	let closed = false;
	function open() {
		ws = new WebSocket(wsUrl, { headers: auth });
		ws.on('open', () => {
			ws.send(JSON.stringify({ type: 'subscribe_runs' }));
			for (const [run, seq] of seen) ws.send(JSON.stringify({ type: 'subscribe', run, since: seq }));
		});
		ws.on('message', (m) => {
			const msg = JSON.parse(m.toString());
			if (msg.type === 'run' && msg.run && !seen.has(msg.run.id) && msg.run.status !== 'deleted') {
				seen.set(msg.run.id, 0);
				ws.send(JSON.stringify({ type: 'subscribe', run: msg.run.id, since: 0 }));
			} else if (msg.type === 'event') {
				const have = seen.get(msg.run) ?? 0;
				if (msg.seq !== have + 1) errors.gaps++;
				else seen.set(msg.run, msg.seq);
			} else if (msg.type === 'resync') {
				ws.send(JSON.stringify({ type: 'subscribe', run: msg.run, since: seen.get(msg.run) ?? 0 }));
			}
		});
		ws.on('error', () => {});
		ws.on('close', () => {
			if (!closed && !reconnectMs) errors.ws++;
		});
	}
	open();
	let timer = null;
	if (reconnectMs)
		timer = setInterval(() => {
			ws.terminate();
			open();
		}, reconnectMs);
	return {
		name,
		seen,
		forget(run) {
			seen.delete(run);
			if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'unsubscribe', run }));
		},
		stop() {
			closed = true;
			if (timer) clearInterval(timer);
			ws.close();
		},
	};
}
const watcher = follower('watcher');
const reconnector = follower('reconnects every second', { reconnectMs: 1000 });

// A slow reader: a raw socket that upgrades, subscribes to every run and then reads 1 KB a second.
const slow = connect(h.port, '127.0.0.1');
slow.on('error', () => {});
slow.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${h.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
	`Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: token ${h.token}\r\n\r\n`);
function maskedFrame(text) {
	const payload = Buffer.from(text);
	const mask = Buffer.from([1, 2, 3, 4]);
	const head = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0xfe, payload.length >> 8, payload.length & 255]);
	const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]));
	return Buffer.concat([head, mask, body]);
}
setTimeout(() => slow.write(maskedFrame(JSON.stringify({ type: 'subscribe_runs' }))), 500);
slow.pause();
const slowTimer = setInterval(() => {
	slow.read(1024);
}, 1000);

// ---- a stream of short runs ----------------------------------------------------------
const runSpec = (i) => `data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 2048, test_size: 128, batch_size: 32}
model: [flatten, {linear: 32}, relu, {linear: 4}]
train: {epochs: 2, seed: ${i}, threads: 1}
checkpoint: {every: 1, keep: 1}
`;
let submitting = true;
let submitted = 0;
const runIds = [];
(async () => {
	while (submitting) {
		try {
			const st = await h.api('GET', 'api/status');
			const waiting = JSON.stringify(st).match(/"queued":(\d+)/);
			if (!waiting || Number(waiting[1]) < 2) {
				const r = await h.api('POST', 'api/runs', { spec: runSpec(submitted) });
				runIds.push(r.run.id);
				submitted++;
				// Keep the store from growing without bound: delete runs older than the last 20.
				if (runIds.length > 20) {
					const old = runIds.shift();
					const d = await h.req('DELETE', `api/runs/${old}`);
					if (d.status !== 204) errors.api++;
					// A client follows at most 64 runs: let go of the deleted one.
					watcher.forget(old);
					reconnector.forget(old);
				}
			}
		} catch {
			errors.api++;
		}
		await sleep(300);
	}
})();

// ---- the slices -------------------------------------------------------------------------
const rows = [];
const t0 = Date.now();
for (let s = 0; s * SLICE < SECONDS; s++) {
	const w = await wrkSlice(Math.min(SLICE, SECONDS - s * SLICE));
	const m = sample();
	const row = { minute: ((Date.now() - t0) / 60000).toFixed(1), ...m, status_p99_ms: w.p99_ms, status_req_s: w.req_s, runs: submitted };
	rows.push(row);
	console.log(JSON.stringify(row));
}
submitting = false;
clearInterval(slowTimer);
await sleep(3000);

// Every run the followers saw: received through its last seq?
let incomplete = 0;
for (const f of [watcher, reconnector]) {
	for (const [run, seq] of f.seen) {
		const r = await h.req('GET', `api/runs/${run}`);
		if (r.status !== 200) continue; // deleted in the meantime
		if (['completed', 'failed', 'stopped'].includes(r.json.run.status) && seq !== r.json.run.last_seq) {
			incomplete++;
			if (process.env.SOAK_DEBUG) console.log(f.name, run, 'seen', seq, 'last', r.json.run.last_seq, r.json.run.status);
		}
	}
}
watcher.stop();
reconnector.stop();
for (const ws of idle) ws.terminate();
slow.destroy();
for (const fn of hooks.reverse()) await fn();

const first = rows[0];
const last = rows[rows.length - 1];
const change = (k) => (first[k] ? `${(((last[k] - first[k]) / first[k]) * 100).toFixed(0)}%` : '-');
const fmt = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : v);
const keys = ['rss_mib', 'fds', 'wal_mib', 'status_p99_ms', 'status_req_s'];
const table = [
	`# Soak — ${new Date().toISOString().slice(0, 10)}`,
	'',
	`${SECONDS} s, ${CLIENTS} WebSocket clients on the run list (a tenth also on the system feed), wrk -c8 on /api/status`,
	`in ${SLICE}-s slices, ${submitted} short real runs two at a time (the last 20 kept), one slow-reading`,
	'client, one that reconnects every second, one watcher following every run. Load average at the end:',
	`${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} (2 cores).`,
	'',
	'| slice | ' + keys.join(' | ') + ' |',
	'|---|' + keys.map(() => '---').join('|') + '|',
	...rows.map((r) => `| ${r.minute} min | ` + keys.map((k) => fmt(r[k])).join(' | ') + ' |'),
	`| first → last | ${keys.map(change).join(' | ')} |`,
	'',
	`Errors: WebSocket ${errors.ws}, API ${errors.api}, wrk non-2xx ${errors.wrk_non2xx}, wrk socket ${errors.wrk_socket};`,
	`sequence gaps or repeats seen by the followers: ${errors.gaps}; ended runs not received to their last seq: ${incomplete}.`,
].join('\n');
console.log('\n' + table);
writeFileSync(OUT, table + '\n');
process.exit(0);
