// tests/bench/frontdoor_idle.mjs — how fast a normal client is answered
// while thousands of idle sockets hold the front door (issue 12, fault 4:
// 4,100 idle sockets made the first /api/status take 8.9 s).
//
//   node tests/bench/frontdoor_idle.mjs [--bin build/trainbook] [--idle 4000] [--requests 300]
//        [--label after] [--sustained]
//
// For each layout of idle sockets (all from 127.0.0.1, or spread over 80
// loopback addresses) it starts a fresh server, opens the idle sockets
// (they never send a byte; with --sustained each one the server closes is
// opened again, as a flood would), then times GET /api/status on a new
// connection from another address, one after the other, and prints the
// first, p50, p99 and max latency, how many answered, and the server's open
// descriptors at the end. A benchmark, not a test: numbers go to
// tests/bench/results/frontdoor-idle-DATE.md. Run the old and new binaries in
// the same sitting on the same machine to compare them.
import net from 'node:net';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { startServer, sleep } from '../integration/fixture.mjs';
import { rawRequest } from '../integration/rawhttp.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
	const i = args.indexOf('--' + name);
	return i >= 0 ? args[i + 1] : dflt;
};
const BIN = resolve(opt('bin', 'build/trainbook'));
const IDLE = Number(opt('idle', 4000));
const REQUESTS = Number(opt('requests', 300));
const LABEL = opt('label', BIN);
const SUSTAINED = args.includes('--sustained');

function openIdle(port, n, addressOf) {
	const socks = new Set();
	let reopened = 0;
	let stopped = false;
	const open = (i) => new Promise((done) => {
		const s = net.connect({ port, host: '127.0.0.1', localAddress: addressOf(i) });
		socks.add(s);
		s.on('connect', done);
		s.on('error', done);
		s.on('close', () => {
			socks.delete(s);
			done();
			if (SUSTAINED && !stopped) {
				reopened++;
				setTimeout(() => open(i), 50);
			}
		});
	});
	return {
		async start() {
			for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, k) => open(i + k)));
		},
		open: () => socks.size,
		reopened: () => reopened,
		stop() {
			stopped = true;
			for (const s of socks) s.destroy();
		},
	};
}

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((xs.length - 1) * p))];

async function scenario(name, addressOf) {
	const h = await startServer(null, { bin: BIN });
	const idle = openIdle(h.port, IDLE, addressOf);
	const t0 = Date.now();
	await idle.start();
	const opened = Date.now() - t0;
	const lat = [];
	let failed = 0;
	const tEnd = Date.now() + 120000;
	for (let i = 0; i < REQUESTS && Date.now() < tEnd; i++) {
		const t = process.hrtime.bigint();
		try {
			const r = await rawRequest(h.port, 'GET', '/api/status', { localAddress: '127.0.0.200', headers: { Authorization: `token ${h.token}` }, timeout: 30000 });
			if (r.status !== 200) failed++;
		} catch {
			failed++;
		}
		lat.push(Number(process.hrtime.bigint() - t) / 1e6);
	}
	const fds = readdirSync(`/proc/${h.proc.pid}/fd`).length;
	const stillOpen = idle.open();
	idle.stop();
	await h.kill();
	rmSync(h.workspace, { recursive: true, force: true });
	rmSync(dirname(h.logPath), { recursive: true, force: true });
	const sorted = [...lat].sort((a, b) => a - b);
	const row = {
		binary: LABEL, scenario: name, idle: IDLE, sustained: SUSTAINED, requests: lat.length, failed,
		first_ms: +lat[0].toFixed(1), p50_ms: +pct(sorted, 0.5).toFixed(1), p99_ms: +pct(sorted, 0.99).toFixed(1),
		max_ms: +sorted[sorted.length - 1].toFixed(1), idle_open_at_end: stillOpen, reopened: idle.reopened(),
		server_fds_at_end: fds, open_idle_s: +(opened / 1000).toFixed(1),
	};
	console.log(JSON.stringify(row));
	await sleep(500);
}

await scenario('one address', () => '127.0.0.1');
await scenario('80 addresses', (i) => `127.0.${10 + (i % 80)}.1`);
