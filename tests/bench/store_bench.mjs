// tests/bench/store_bench.mjs — what a long run costs the store: WAL size
// (sampled every 50 ms), database size, events stored per second, and the
// latency from a worker writing an event to a feed client receiving it.
//
//   node tests/bench/store_bench.mjs [--events N] [--baseline OLD_BIN] [--out FILE]
//
// Scenarios, side by side in one run:
//   worker-1M   the real worker, log_every: 1 on a tiny model, N steps (the
//               server thins train metrics past 50/s)
//   logs-1M     a stand-in worker writing N small log events as fast as a
//               pipe takes them (never thinned: every one is stored)
//   logs-100k   the same with 100,000 events, on this build and, with
//               --baseline, on an older binary (whose WAL grows without bound)
// A benchmark, not a test: it prints a table and writes it to --out.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from '../integration/node_modules/ws/index.js';
import { ROOT, BIN, startServer, submitRun, waitStatus, sleep } from '../integration/fixture.mjs';
import { option, context, percentile } from './lib.mjs';

const N = Number(option('events', 1000000));
const BASELINE = option('baseline', '');
const OUT = option('out', '');
const FAKE = join(ROOT, 'tests/integration/fake_worker.sh');
const MiB = 1048576;

const fileSize = (p) => (existsSync(p) ? statSync(p).size : 0);

async function scenario(name, { bin = BIN, env = {}, spec }) {
	const t = context();
	try {
		const h = await startServer(t, { bin, env: { TRAINBOOK_WORKER_CMD: '', ...env }, args: ['--cpu-runs', '1'] });
		const db = join(h.workspace, '.trainbook/trainbook.db');
		const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws`, { headers: { Authorization: 'token ' + h.token } });
		await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
		const lat = [];
		const latThinned = [];
		let received = 0;
		ws.on('message', (m) => {
			const msg = JSON.parse(m.toString());
			if (msg.type !== 'event') return;
			received++;
			const tm = msg.event && msg.event.time;
			if (typeof tm === 'number') (msg.event.thinned ? latThinned : lat).push(Date.now() - tm * 1000);
		});
		const t0 = Date.now();
		const id = await submitRun(h, spec);
		ws.send(JSON.stringify({ type: 'subscribe', run: id, since: 0 }));
		let peak = 0;
		let done = false;
		const sampler = (async () => {
			while (!done) {
				peak = Math.max(peak, fileSize(db + '-wal'));
				await sleep(50);
			}
		})();
		const run = await waitStatus(h, id, ['completed', 'failed'], 3600 * 1000);
		const secs = (Date.now() - t0) / 1000;
		done = true;
		await sampler;
		await sleep(500);
		ws.close();
		const check = execFileSync('sqlite3', [db, 'PRAGMA quick_check']).toString().trim();
		const row = {
			name, status: run.status, seconds: secs.toFixed(1), stored: run.last_seq,
			per_s: Math.round(run.last_seq / secs), wal_peak_mib: (peak / MiB).toFixed(1),
			db_mib: (fileSize(db) / MiB).toFixed(1), wal_end_mib: (fileSize(db + '-wal') / MiB).toFixed(1),
			feed_p50_ms: lat.length ? percentile(lat, 50).toFixed(0) : '-', feed_p99_ms: lat.length ? percentile(lat, 99).toFixed(0) : '-',
			thinned_p99_ms: latThinned.length ? percentile(latThinned, 99).toFixed(0) : '-',
			received, quick_check: check,
		};
		console.log(JSON.stringify(row));
		return row;
	} finally {
		await t.done();
	}
}

const workerSpec = (n) => `data: {dataset: synthetic, shape: [1,4,4], classes: 10, train_size: ${n}, test_size: 256, batch_size: 1}
model: [flatten, {linear: 10}]
train: {device: cpu, log_every: 1, epochs: 1, threads: 1}
checkpoint: {every: 0}
`;
const fakeSpec = 'data: {dataset: synthetic}\nmodel: [flatten, {linear: 10}]\n# fake: logflood\n';

const only = option('only', '');
const rows = [];
rows.push(await scenario(`worker, ${N} steps, log_every: 1`, { spec: workerSpec(N) }));
rows.push(await scenario(`log events x ${N}`, { env: { TRAINBOOK_WORKER_CMD: FAKE, FLOOD_EVENTS: String(N) }, spec: fakeSpec }));
rows.push(await scenario('log events x 100000', { env: { TRAINBOOK_WORKER_CMD: FAKE, FLOOD_EVENTS: '100000' }, spec: fakeSpec }));
if (BASELINE)
	rows.push(await scenario('log events x 100000 (baseline binary)', {
		bin: BASELINE, env: { TRAINBOOK_WORKER_CMD: FAKE, FLOOD_EVENTS: '100000' }, spec: fakeSpec,
	}));

const cols = ['name', 'status', 'seconds', 'stored', 'per_s', 'wal_peak_mib', 'wal_end_mib', 'db_mib', 'feed_p50_ms', 'feed_p99_ms', 'thinned_p99_ms', 'quick_check'];
const table = ['| ' + cols.join(' | ') + ' |', '|' + cols.map(() => '---').join('|') + '|',
	...rows.map((r) => '| ' + cols.map((c) => r[c]).join(' | ') + ' |')].join('\n');
console.log('\n' + table);
if (OUT) writeFileSync(OUT, table + '\n');
