// tests/integration/memory.test.mjs — a run's memory through the server
// (issue 12, fault 8): /api/validate reports the estimated peak memory part
// by part; validate and POST /api/runs refuse a run that cannot fit, with the
// estimate and the limit; --worker-memory lowers that limit and a worker
// whose real use outgrows it ends "failed", out of memory; a run shows as
// running while its data loads and stop ends it then, long before
// --stop-timeout; beside other CPU runs a worker may use what it was placed
// with and a quarter more; GPU runs are checked against the GPU's memory (a
// stand-in libnvidia-ml.so.1). Each case starts its own server (fixture.mjs).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { test } from 'node:test';
import { ROOT, allEvents, startServer, submitRun, tempDir, waitFor, waitStatus } from './fixture.mjs';

const T = { timeout: 120000 };

const SMALL = 'data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 256, test_size: 64, batch_size: 32}\n' +
	'model: [flatten, {linear: 16}, relu, {linear: 4}]\ntrain: {epochs: 1, device: cpu}\n';
/* 256e12 weights: the worker used to abort allocating 1,024,050,944,000,040 bytes. */
const HUGE = 'data: {dataset: synthetic, shape: [1, 4, 4]}\n' +
	'model: [flatten, {linear: 16000000}, {linear: 16000000}, {linear: 10}]\n';
/* 1e8 values to generate: seconds of loading before the first step. */
const SLOW_LOAD = 'data: {dataset: synthetic, shape: [1, 16, 16], train_size: 400000, batch_size: 1}\n' +
	'model: [flatten, {linear: 10}]\ntrain: {device: cpu}\n';

test('validate_memory: /api/validate returns the estimated peak memory, part by part', T, async (t) => {
	const h = await startServer(t);
	const v = await h.api('POST', 'api/validate', { spec: SMALL });
	assert.equal(v.ok, true, JSON.stringify(v));
	const m = v.memory;
	assert.equal(m.device, 'cpu');
	assert.equal(m.fits, true);
	for (const part of ['baseline', 'context', 'parameters', 'gradients', 'optimizer', 'activations', 'workspace', 'data',
		'loader', 'checkpoint', 'loading'])
		assert.ok(Number.isInteger(m.parts[part]) && m.parts[part] >= 0, `part ${part}: ${m.parts[part]}`);
	assert.equal(m.parts.parameters, (64 * 16 + 16 + 16 * 4 + 4) * 4, 'parameters of 64-16-4 in fp32');
	assert.equal(m.parts.optimizer, 2 * m.parts.parameters, 'Adam keeps two moments');
	assert.equal(m.parts.data, (256 + 64) * (64 * 4 + 4), 'f32 samples and int32 labels');
	assert.equal(Object.values(m.parts).reduce((a, b) => a + b, 0), m.total_bytes, 'the parts add up to the total');
	assert.equal(m.host_bytes, m.total_bytes);
	assert.ok(m.limit_bytes > m.total_bytes, `limit ${m.limit_bytes}`);
});

test('refuse_too_big: two linear: 16000000 layers are refused at validate and at POST /api/runs', T, async (t) => {
	const h = await startServer(t);
	const v = await h.api('POST', 'api/validate', { spec: HUGE });
	assert.equal(v.ok, false);
	assert.equal(v.errors.length, 1, JSON.stringify(v.errors));
	const e = v.errors[0];
	assert.deepEqual([e.line, e.column], [2, 39], 'at the costliest layer');
	assert.match(e.message, /^not enough memory: the run needs ~5\.5 PiB \(optimizer 1\.8 PiB, .*\), this machine has [0-9.]+ [GT]iB \(a run may use [0-9.]+ [GT]iB\)$/);
	assert.equal(v.memory.fits, false);
	assert.ok(v.memory.total_bytes > 6e15, String(v.memory.total_bytes));
	const r = await h.req('POST', 'api/runs', { json: { spec: HUGE } });
	assert.equal(r.status, 400, r.text);
	assert.equal(r.json.error, 'invalid_spec');
	assert.ok(r.json.message.includes('not enough memory: the run needs ~5.5 PiB'), r.json.message);
	assert.equal((await h.api('GET', 'api/runs')).runs.length, 0, 'a refused run is not recorded');
});

/* An RGB PNG of zeros written with zlib alone (6000×6000 is ~100 KB on disk, 103 MiB decoded). */
function writePng(path, w, h) {
	const crcTable = Array.from({ length: 256 }, (_, n) => {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		return c >>> 0;
	});
	const crc = (buf) => {
		let c = 0xffffffff;
		for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
		return (c ^ 0xffffffff) >>> 0;
	};
	const chunk = (kind, data) => {
		const len = Buffer.alloc(4);
		len.writeUInt32BE(data.length);
		const body = Buffer.concat([Buffer.from(kind), data]);
		const sum = Buffer.alloc(4);
		sum.writeUInt32BE(crc(body));
		return Buffer.concat([len, body, sum]);
	};
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(w, 0);
	ihdr.writeUInt32BE(h, 4);
	ihdr.set([8, 2, 0, 0, 0], 8); /* 8-bit RGB */
	const raw = Buffer.alloc((w * 3 + 1) * h); /* filter byte 0, then zeros */
	writeFileSync(path, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]));
}

/*
 * An image folder whose first image is 8×8 and a later one size×size: the
 * estimate sizes the decode buffer from the first, so the run fits a budget
 * its load then outgrows. Returns the spec.
 */
function outgrowingImages(t, size) {
	const dir = tempDir(t, 'tb-imgs-');
	for (const cls of ['a', 'b']) {
		mkdirSync(join(dir, cls));
		for (let i = 0; i < 4; i++) writePng(join(dir, cls, `${i}.png`), 8, 8);
	}
	writePng(join(dir, 'b', '9-large.png'), size, size);
	return `data: {dataset: image-folder, path: ${dir}, shape: [3, 8, 8], batch_size: 4}\n` +
		'model: [flatten, {linear: 2}]\ntrain: {device: cpu}\n';
}

/* The pid of run `id`'s worker, found by its spec's path on its command line; null when none runs. */
function workerPid(h, id) {
	for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
		try {
			if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`${h.workspace}/.trainbook/runs/${id}/spec.yaml`)) return p;
		} catch {
			/* gone meanwhile */
		}
	}
	return null;
}

const workerEnv = (pid) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');

test('worker_memory: --worker-memory refuses bigger runs, and a worker that outgrows it ends failed', T, async (t) => {
	const h = await startServer(t, { args: ['--worker-memory', '64M'] });
	// 60,000 images of 784 floats: ~190 MiB of data, more than 64 MiB.
	const big = 'data: {dataset: synthetic, shape: [1, 28, 28], train_size: 60000}\nmodel: mlp\ntrain: {device: cpu}\n';
	const v = await h.api('POST', 'api/validate', { spec: big });
	assert.equal(v.ok, false);
	assert.match(v.errors[0].message, /^not enough memory: the run needs ~1[89][0-9] MiB .*\(a run may use 64\.0 MiB\)$/);
	assert.equal(v.memory.limit_bytes, 64 << 20);

	// A 6000×6000 image the estimate does not see: it fits the budget; the load does not.
	const spec = outgrowingImages(t, 6000);
	assert.equal((await h.api('POST', 'api/validate', { spec })).ok, true, 'the estimate fits 64 MiB');
	const id = await submitRun(h, spec);
	const run = await waitStatus(h, id, ['failed', 'completed', 'stopped'], 60000);
	assert.equal(run.status, 'failed', JSON.stringify(run));
	assert.match(run.reason, /^out of memory: the run needs ~10[0-9] MiB \(.* this worker may use 64\.0 MiB\)$/);
});

/* memlimit_format's way: "135 MiB", "1.5 GiB". */
function sizeText(bytes) {
	const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
	let v = bytes;
	let u = 0;
	while (v >= 1024 && u + 1 < units.length) {
		v /= 1024;
		u++;
	}
	return u === 0 ? `${bytes} bytes` : `${v < 99.95 ? v.toFixed(1) : v.toFixed(0)} ${units[u]}`;
}

/* What a worker placed with `est` bytes beside other CPU runs may use (memlimit_packed). */
const packed = (est, allowance) => Math.min(allowance, est + Math.max(Math.floor(est / 4), 128 * 2 ** 20));

test('packed_share: beside other CPU runs a worker may use what it was placed with and a quarter more; one that outgrows it fails itself', T, async (t) => {
	const h = await startServer(t, { args: ['--cpu-runs', '2'] });
	const allowance = (await h.api('POST', 'api/validate', { spec: SLOW_LOAD })).memory.limit_bytes;
	const slow = await submitRun(h, SLOW_LOAD);
	await waitStatus(h, slow, 'running', 20000);
	const est = (await h.api('GET', `api/runs/${slow}`)).run.estimated_bytes;
	assert.ok(est > 0, `the run was placed with its estimate: ${est}`);
	const env = workerEnv(await waitFor(() => workerPid(h, slow), { what: 'the worker process' }));
	assert.ok(env.includes(`TRAINBOOK_MEMORY_LIMIT=${packed(est, allowance)}`),
		`TRAINBOOK_MEMORY_LIMIT is ${env.find((e) => e.startsWith('TRAINBOOK_MEMORY_LIMIT='))}, placed with ${est}, the machine allows ${allowance}`);
	assert.equal((await h.req('POST', `api/runs/${slow}/stop`)).status, 202);
	await waitStatus(h, slow, ['stopped', 'failed', 'completed'], 20000);
	// An 8000×8000 image the estimate does not see: alone on the CPU the run would fit the
	// machine; beside others it fails at its share, saying so.
	const spec = outgrowingImages(t, 8000);
	const id = await submitRun(h, spec);
	const run = await waitStatus(h, id, ['failed', 'completed', 'stopped'], 60000);
	assert.equal(run.status, 'failed', JSON.stringify(run));
	const share = sizeText(packed(run.estimated_bytes, allowance));
	assert.ok(run.reason.startsWith('out of memory: the run needs ~') && run.reason.endsWith(`this worker may use ${share})`),
		`${run.reason} (placed with ${run.estimated_bytes}: may use ${share})`);
});

test('stop_while_loading: a run shows running while its data loads, and stop ends it at once', T, async (t) => {
	const h = await startServer(t, { args: ['--stop-timeout', '60'] });
	const id = await submitRun(h, SLOW_LOAD);
	// Not "queued" while a worker grows: running, and the reason says what it does.
	const loading = await waitFor(async () => {
		const run = (await h.api('GET', `api/runs/${id}`)).run;
		return run.status === 'running' && /^loading the data; estimated peak memory/.test(run.reason || '') ? run : false;
	}, { timeout: 20000, what: `run ${id} running with a loading reason` });
	assert.ok(loading.started, 'a started time');
	// The worker runs with its budget and, on the CPU, RLIMIT_DATA a little above it.
	const limit = (await h.api('POST', 'api/validate', { spec: SLOW_LOAD })).memory.limit_bytes;
	const pid = workerPid(h, id);
	assert.ok(pid, 'the worker process');
	const env = workerEnv(pid);
	assert.ok(env.includes(`TRAINBOOK_MEMORY_LIMIT=${limit}`), 'TRAINBOOK_MEMORY_LIMIT is the limit validate reports');
	const data = /^Max data size\s+(\d+)\s+(\d+)\s+bytes/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
	assert.ok(data && Number(data[1]) > limit && Number(data[1]) < limit + 2 ** 40, `RLIMIT_DATA ${data && data[1]}`);
	const stopped = Date.now();
	assert.equal((await h.req('POST', `api/runs/${id}/stop`)).status, 202);
	const run = await waitStatus(h, id, ['stopped', 'failed', 'completed'], 10000);
	const took = (Date.now() - stopped) / 1000;
	assert.equal(run.status, 'stopped', JSON.stringify(run));
	assert.equal(run.reason, 'stopped while loading the data, before any step');
	assert.ok(took < 5, `stop took ${took.toFixed(1)} s (the stop timeout is 60 s)`);
	const events = (await allEvents(h, id)).map((e) => e.event);
	assert.ok(events.some((e) => e.type === 'status' && e.phase === 'loading data'), 'a loading-phase status event');
	assert.ok(!events.some((e) => e.type === 'checkpoint'), 'no checkpoint: no step ran');
});

test('gpu_memory: a GPU run is estimated for the GPU and checked against its memory (stand-in NVML)', T, async (t) => {
	const dir = tempDir(t, 'tb-nvml-');
	execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', join(dir, 'libnvidia-ml.so.1'),
		join(ROOT, 'tests/integration/fake_nvml.c')]);
	const h = await startServer(t, { env: { LD_LIBRARY_PATH: dir, FAKE_NVML_PIDS: join(dir, 'pids') } });
	const v = await h.api('POST', 'api/validate', { spec: SMALL.replace('device: cpu', 'device: cuda') });
	assert.equal(v.ok, true, JSON.stringify(v.errors));
	assert.equal(v.memory.device, 'cuda');
	assert.equal(v.memory.gpu_limit_bytes, 80 * 2 ** 30, 'the stand-in GPU has 80 GiB');
	assert.ok(['context', 'parameters', 'activations'].every((p) => v.memory.device_parts.includes(p)), v.memory.device_parts);
	assert.equal(Object.values(v.memory.parts).reduce((a, b) => a + b, 0), v.memory.total_bytes, 'the parts add up');
	assert.ok(v.memory.device_bytes > 0 && v.memory.device_bytes + v.memory.host_bytes === v.memory.total_bytes);
	// Batches of a million samples through 4096-wide layers: 16 GiB per activation, more than
	// the GPU's 80 GiB in all, while the weights (68 MB) and the host's share stay small.
	const wide = 'data: {dataset: synthetic, shape: [1, 4, 4], batch_size: 1000000}\n' +
		'model: [flatten, {linear: 4096}, relu, {linear: 4096}, relu, {linear: 10}]\n' +
		'optimizer: {name: sgd, lr: 0.1}\ntrain: {device: cuda}\n';
	const w = await h.api('POST', 'api/validate', { spec: wide });
	assert.equal(w.ok, false, JSON.stringify(w.memory));
	assert.match(w.errors[0].message, /^not enough GPU memory: the run needs ~[0-9.]+ [GT]iB on each GPU \(.*\), the GPU has 80\.0 GiB$/);
});
