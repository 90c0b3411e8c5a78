// tests/bench/slurm_latency.mjs — event-to-page latency through the Slurm
// executor: a real one-node cluster (tests/slurm/cluster.mjs), a run whose
// worker (trainbook-engine under srun) sends its events home over HTTP, and a
// WebSocket client subscribed to the run. Latency = the client's receipt time
// minus the event's own "time" (written by the worker), for every event that
// carries one. Prints p50/p99/max and the count; writes nothing else.
//
//   node tests/bench/slurm_latency.mjs [--epochs N]     (as root)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from '../integration/node_modules/ws/index.js';
import { ROOT, startServer, submitRun, waitStatus } from '../integration/fixture.mjs';
import { startCluster } from '../slurm/cluster.mjs';

const epochs = Number(process.argv[process.argv.indexOf('--epochs') + 1]) || 100;
const cleanups = [];
const t = { after: (fn) => cleanups.push(fn) };
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const cluster = await startCluster();
try {
	const conf = join(cluster.dir, 'trainbook.conf');
	writeFileSync(conf, `executor = slurm\nslurm-poll = 1\nslurm-cpus-per-task = 1\nslurm-worker = ${join(ROOT, 'build/trainbook-engine')}\n`);
	const h = await startServer(t, { args: ['--config', conf, '--no-seed'], env: { SLURM_CONF: cluster.conf } });
	const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws`, { headers: { Authorization: 'token ' + h.token } });
	await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
	const lat = [];
	ws.on('message', (m) => {
		const msg = JSON.parse(m.toString());
		const tm = msg.type === 'event' && msg.event && msg.event.time;
		if (typeof tm === 'number') lat.push(Date.now() - tm * 1000);
	});
	const spec = 'data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 8192, test_size: 64, batch_size: 32}\n' +
		`model: [flatten, {linear: 64}, relu, {linear: 4}]\ntrain: {epochs: ${epochs}, device: cpu, threads: 1}\n` +
		'checkpoint: {every_steps: 200, keep: 2}\n';
	const id = await submitRun(h, spec);
	ws.send(JSON.stringify({ type: 'subscribe', run: id, since: 0 }));
	await waitStatus(h, id, 'running', 120000);
	const skip = lat.length; // events replayed from the store at subscribe time are not live
	const run = await waitStatus(h, id, ['completed', 'failed', 'interrupted'], 3600 * 1000);
	ws.close();
	const live = lat.slice(skip);
	console.log(`run ${id} ${run.status}: ${live.length} live events, latency p50 ${pct(live, 50).toFixed(0)} ms, ` +
		`p99 ${pct(live, 99).toFixed(0)} ms, max ${Math.max(...live).toFixed(0)} ms`);
} finally {
	for (const fn of cleanups.reverse()) await fn();
	await cluster.stop();
}
