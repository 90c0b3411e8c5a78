// tests/slurm/slurm.test.mjs — the Slurm executor against a real
// one-node Slurm cluster (cluster.mjs): every run goes through sbatch,
// its worker (build/trainbook-engine under srun) sends its events home over
// HTTP with the run's secret, and Slurm's own reasons end runs it ends.
//
//   node --test tests/slurm/slurm.test.mjs      (as root; Debian's slurm-wlm and munge)
//
// If the cluster cannot start, every case fails with the reason: no skips.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { allEvents, assertGapless, ROOT, sleep, startServer, submitRun, tempDir, waitFor, waitStatus } from '../integration/fixture.mjs';
import { slurmCmd, startCluster } from './cluster.mjs';

const ENGINE = join(ROOT, 'build/trainbook-engine');
const spec = (epochs, extra = '') =>
	'data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 8192, test_size: 64, batch_size: 32}\n' +
	`model: [flatten, {linear: 64}, relu, {linear: 4}]\ntrain: {epochs: ${epochs}, device: cpu, threads: 1${extra}}\n` +
	'checkpoint: {every_steps: 200, keep: 2}\n';
const SMALL = 'data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 256, test_size: 64, batch_size: 32}\n' +
	'model: [flatten, {linear: 16}, relu, {linear: 4}]\ntrain: {epochs: 2, device: cpu}\n';

let cluster = null;
let clusterError = null;
before(async () => {
	try {
		cluster = await startCluster();
	} catch (e) {
		clusterError = e;
	}
});
after(async () => {
	if (cluster) await cluster.stop();
});

function needCluster() {
	if (!cluster) throw clusterError || new Error('Slurm cannot start: no cluster');
	return cluster;
}

/* A server whose runs go to the test cluster; `conf` lines are added to its config file. */
async function slurmServer(t, { conf = [], workspace, port } = {}) {
	const c = needCluster();
	const dir = tempDir(t, 'tb-slurm-conf-');
	const file = join(dir, 'trainbook.conf');
	writeFileSync(file, ['executor = slurm', 'slurm-poll = 1', 'slurm-cpus-per-task = 1', `slurm-worker = ${ENGINE}`, ...conf, ''].join('\n'));
	const h = await startServer(t, { args: ['--config', file, '--no-seed'], env: { SLURM_CONF: c.conf }, workspace, port });
	h.conf = file;
	return h;
}

function jobOf(c, id) {
	const out = slurmCmd(c, 'squeue', ['-h', '--states=all', '-n', `trainbook-${id}`, '-o', '%i']).trim().split('\n');
	return out[out.length - 1];
}

function runDir(h, id) {
	return join(h.workspace, '.trainbook', 'runs', id);
}

/*
 * Every line the worker wrote to its events file is stored exactly once, in
 * order (the server adds only its own "queued" statuses and its verdicts).
 */
function assertEachWorkerEventOnce(h, id, events) {
	const key = (e) => `${e.type}|${e.status ?? ''}|${e.split ?? ''}|${e.step ?? ''}|${e.file ?? ''}|${e.time ?? ''}`;
	const lines = readFileSync(join(runDir(h, id), 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
	const fromWorker = events.map((e) => e.event || e).filter((e) => !(e.type === 'status' && (e.status === 'queued' || e.status === 'interrupted')));
	const thinned = fromWorker.filter((e) => e.thinned).length;
	assert.equal(thinned, 0, 'this test keeps below the thinning rate');
	assert.deepEqual(fromWorker.map(key), lines.map(key), 'stored worker events differ from the worker\'s own');
}

function evs(events) {
	return events.map((e) => e.event || e);
}

test('a run goes through sbatch and completes with gapless events sent home over HTTP', async (t) => {
	const h = await slurmServer(t);
	const id = await submitRun(h, SMALL);
	const run = await waitStatus(h, id, ['completed', 'failed', 'interrupted'], 120000);
	assert.equal(run.status, 'completed', JSON.stringify(run));
	const events = await allEvents(h, id);
	assertGapless(events);
	assertEachWorkerEventOnce(h, id, events);
	const job = jobOf(cluster, id);
	assert.match(job, /^\d+$/, 'the run ran as a Slurm job');
	assert.match(h.log(), new RegExp(`Slurm job ${job} submitted`));
	// Not picked up from the file at the end: the worker had every event acknowledged.
	assert.doesNotMatch(readFileSync(join(runDir(h, id), 'worker.log'), 'utf8'), /not acknowledged/);
	const ck = await h.api('GET', `api/runs/${id}/checkpoints`);
	assert.ok(ck.checkpoints.length > 0, 'checkpoints are served from the run directory');
});

test('events reach the store while the job runs; stop checkpoints and ends the run stopped', async (t) => {
	const h = await slurmServer(t);
	const id = await submitRun(h, spec(300));
	await waitStatus(h, id, 'running', 120000);
	await waitFor(async () => evs(await allEvents(h, id)).some((e) => e.type === 'checkpoint'), { timeout: 60000, what: 'a checkpoint event while running' });
	await h.api('POST', `api/runs/${id}/stop`);
	const run = await waitStatus(h, id, ['stopped', 'failed', 'interrupted', 'completed'], 90000);
	assert.equal(run.status, 'stopped', JSON.stringify(run));
	const events = await allEvents(h, id);
	assertGapless(events);
	const last = evs(events).filter((e) => e.type === 'status').pop();
	assert.match(last.reason || '', /stopped at step \d+/, 'the worker itself said it stopped (after checkpointing)');
	assertEachWorkerEventOnce(h, id, events);
	const ck = await h.api('GET', `api/runs/${id}/checkpoints`);
	assert.ok(ck.checkpoints.length > 0);
});

test('scancel from outside ends the run interrupted with Slurm\'s reason, and it resumes', async (t) => {
	const h = await slurmServer(t);
	const id = await submitRun(h, spec(300));
	await waitStatus(h, id, 'running', 120000);
	await waitFor(async () => evs(await allEvents(h, id)).some((e) => e.type === 'checkpoint'), { timeout: 60000, what: 'a checkpoint' });
	slurmCmd(cluster, 'scancel', [jobOf(cluster, id)]);
	// The worker's own "stopped" (it checkpointed on Slurm's SIGTERM) is stored first;
	// Slurm's verdict follows at the next squeue poll.
	const run = await waitStatus(h, id, ['interrupted', 'failed', 'completed'], 90000);
	assert.equal(run.status, 'interrupted', JSON.stringify(run));
	assert.match(run.reason, /Slurm job \d+ was cancelled: CANCELLED/);
	assertGapless(await allEvents(h, id));
	await h.api('POST', `api/runs/${id}/resume`);
	const resumed = await waitStatus(h, id, 'running', 120000);
	assert.ok(resumed.progress.step > 0, 'resumed from its checkpoint, not from step 0');
	await h.api('POST', `api/runs/${id}/stop`);
	await waitStatus(h, id, ['stopped', 'failed', 'interrupted'], 90000);
});

test('a time limit ends the run interrupted with Slurm\'s TIMEOUT and a checkpoint to resume from', async (t) => {
	const h = await slurmServer(t, { conf: ['slurm-time-limit = 1'] });
	const id = await submitRun(h, spec(100000));
	const run = await waitStatus(h, id, ['interrupted', 'failed', 'completed'], 200000);
	assert.equal(run.status, 'interrupted', JSON.stringify(run));
	assert.match(run.reason, /reached its time limit: TIMEOUT/);
	const events = await allEvents(h, id);
	assertGapless(events);
	const worker = evs(events).filter((e) => e.type === 'status' && e.status === 'stopped');
	assert.equal(worker.length, 1, 'the worker got SIGTERM at the limit and checkpointed');
	const ck = await h.api('GET', `api/runs/${id}/checkpoints`);
	assert.ok(ck.checkpoints.length > 0);
	const r = await h.req('POST', `api/runs/${id}/resume`, { json: {} });
	assert.ok(r.status >= 200 && r.status < 300, `resume: HTTP ${r.status} ${r.text}`);
	await waitStatus(h, id, 'running', 120000);
	await h.api('POST', `api/runs/${id}/stop`);
	await waitStatus(h, id, ['stopped', 'failed', 'interrupted'], 90000);
});

test('kill -9 of the server mid-run: the restarted server re-attaches and every event is stored once', async (t) => {
	const h = await slurmServer(t);
	const id = await submitRun(h, spec(150));
	await waitStatus(h, id, 'running', 120000);
	await waitFor(async () => evs(await allEvents(h, id)).some((e) => e.type === 'checkpoint'), { timeout: 60000, what: 'a checkpoint' });
	await h.kill('SIGKILL');
	await sleep(3000); // the worker trains on and keeps its events until the server is back
	const h2 = await startServer(t, { args: ['--config', h.conf, '--no-seed'], env: { SLURM_CONF: cluster.conf }, workspace: h.workspace });
	assert.match(h2.log(), /re-attached to job \d+/);
	const run = await waitStatus(h2, id, ['completed', 'failed', 'interrupted', 'stopped'], 180000);
	assert.equal(run.status, 'completed', JSON.stringify(run));
	const events = await allEvents(h2, id);
	assertGapless(events);
	assertEachWorkerEventOnce(h2, id, events);
});

/* A TCP proxy between the worker and the server whose connections the test can cut. */
function proxy(target) {
	const socks = new Set();
	const server = net.createServer((c) => {
		const up = net.connect(target, '127.0.0.1');
		socks.add(c);
		socks.add(up);
		const drop = () => { c.destroy(); up.destroy(); socks.delete(c); socks.delete(up); };
		c.on('error', drop).on('close', drop);
		up.on('error', drop).on('close', drop);
		c.pipe(up);
		up.pipe(c);
	});
	return new Promise((res) => server.listen(0, '127.0.0.1', () => res({
		port: server.address().port,
		cut() {
			const n = socks.size;
			for (const s of socks) s.resetAndDestroy ? s.resetAndDestroy() : s.destroy();
			socks.clear();
			return n;
		},
		close: () => new Promise((r) => { for (const s of socks) s.destroy(); server.close(r); }),
	})));
}

test('the worker\'s connection cut mid-run: it reconnects and resends, no event lost or doubled', async (t) => {
	// The proxy forwards to the server's port, known only once it started: start
	// it on a fixed port of ours first, then point the worker at the proxy.
	const hold = await new Promise((res) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => res(s)); });
	const serverPort = hold.address().port;
	await new Promise((r) => hold.close(r));
	const p = await proxy(serverPort);
	t.after(() => p.close());
	const h = await slurmServer(t, { conf: [`slurm-report-url = http://127.0.0.1:${p.port}/`, 'port-retries = 0'], port: serverPort });
	const id = await submitRun(h, spec(150));
	await waitStatus(h, id, 'running', 120000);
	let cuts = 0;
	for (let i = 0; i < 3; i++) {
		await waitFor(async () => evs(await allEvents(h, id)).length > 20 * (i + 1), { timeout: 60000, what: 'more events' });
		cuts += p.cut();
	}
	assert.ok(cuts > 0, 'there was a connection to cut');
	const run = await waitStatus(h, id, ['completed', 'failed', 'interrupted', 'stopped'], 180000);
	assert.equal(run.status, 'completed', JSON.stringify(run));
	const events = await allEvents(h, id);
	assertGapless(events);
	assertEachWorkerEventOnce(h, id, events);
});

/* {name: Float32Array} of a .safetensors file (F32 tensors only, as the engine writes). */
function loadSafetensors(path) {
	const buf = readFileSync(path);
	const n = Number(buf.readBigUInt64LE(0));
	const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
	const out = {};
	for (const [name, info] of Object.entries(header)) {
		if (name === '__metadata__') continue;
		const [a, b] = info.data_offsets;
		const bytes = buf.subarray(8 + n + a, 8 + n + b);
		out[name] = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
	}
	return out;
}

test('a data-parallel CPU run under srun (train.devices: 2) equals the 1-device run at the same batch', async (t) => {
	const h = await slurmServer(t);
	const dp = (devices) => 'data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 640, test_size: 64, batch_size: 64}\n' +
		'model: [flatten, {linear: 32}, relu, {linear: 4}]\noptimizer: {name: sgd, lr: 0.1}\n' +
		`train: {epochs: 1, max_steps: 10, seed: 3, device: cpu, devices: ${devices}, threads: 2}\ncheckpoint: {every_steps: 10, keep: 1}\n`;
	const ids = [await submitRun(h, dp(1)), await submitRun(h, dp(2))];
	const params = [];
	for (const id of ids) {
		const run = await waitStatus(h, id, ['completed', 'failed', 'interrupted', 'stopped'], 180000);
		assert.equal(run.status, 'completed', JSON.stringify(run));
		params.push(loadSafetensors(join(runDir(h, id), 'step-000000010.safetensors')));
	}
	const script = readFileSync(join(runDir(h, ids[1]), 'job.sh'), 'utf8');
	assert.match(script, /exec srun /);
	assert.deepEqual(Object.keys(params[1]).sort(), Object.keys(params[0]).sort());
	for (const name of Object.keys(params[0])) {
		const a = params[0][name], b = params[1][name];
		let worst = 0;
		for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1e-6, Math.abs(a[i])));
		assert.ok(worst < 1e-4, `${name}: relative difference ${worst}`);
	}
});

test('the worker route takes only its run\'s secret: not the token, not another run\'s', async (t) => {
	const h = await slurmServer(t);
	const id = await submitRun(h, spec(300));
	await waitStatus(h, id, 'running', 120000);
	const secret = readFileSync(join(runDir(h, id), 'worker.secret'), 'utf8').trim();
	const path = `api/worker/runs/${id}/events?first=1`;
	assert.equal((await h.req('POST', path, { body: '' })).status, 403, 'the user token is not a worker secret');
	assert.equal((await h.req('POST', path, { body: '', token: false, headers: { 'X-Trainbook-Run-Secret': secret + 'x' } })).status, 403);
	assert.equal((await h.req('POST', 'api/worker/runs/r999/events?first=1', { body: '', token: false, headers: { 'X-Trainbook-Run-Secret': secret } })).status, 403);
	const ok = await h.req('POST', path, { body: '', token: false, headers: { 'X-Trainbook-Run-Secret': secret } });
	assert.equal(ok.status, 200, ok.text);
	assert.ok(ok.json.have >= 1 && ok.json.taken >= ok.json.have, ok.text);
	// A resend of event 1 is skipped; a jump past what the server holds is refused.
	const gap = await h.req('POST', `api/worker/runs/${id}/events?first=${ok.json.taken + 1000}`, { body: '{"type":"log"}\n', token: false, headers: { 'X-Trainbook-Run-Secret': secret } });
	assert.equal(gap.status, 409, gap.text);
	await h.api('POST', `api/runs/${id}/stop`);
	await waitStatus(h, id, ['stopped', 'failed', 'interrupted'], 90000);
	// Once the job's end is seen (next squeue poll), the run has no worker to post for.
	await waitFor(async () => (await h.req('POST', path, { body: '', token: false, headers: { 'X-Trainbook-Run-Secret': secret } })).status === 410,
		{ timeout: 30000, what: 'an ended run to answer 410 (its worker may stop sending)' });
});
